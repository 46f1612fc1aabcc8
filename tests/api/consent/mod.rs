//! Double opt-in end to end, over real HTTP: the confirmation mail through a real SMTP server
//! (aiosmtpd, see `mail`), the link's pages, delivery to the sandbox only after the POST.

use std::sync::Arc;

use ccbridge::clock::{ManualClock, SharedClock};
use ccbridge::domain::SignupState;
use ccbridge_sandbox::Sandbox;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, Backend, FIXED_LIST, TestApp, fast_sandbox_on};
use crate::mail::{CA_FILE, Security, ServerOptions, SmtpServer, smtp_toml};

mod caps;
mod flow;
mod outage;

/// Two double opt-in forms: `double` (built-in pages) and `landing` (its own `confirmed_url`).
fn double_forms() -> String {
    format!(
        r#"
        [[forms]]
        id = "double"
        list_ids = ["{FIXED_LIST}"]
        consent = "double"

        [[forms]]
        id = "landing"
        list_ids = ["{FIXED_LIST}"]
        consent = "double"
        confirmed_url = "https://example.org/confirmed"
        "#
    )
}

/// `[smtp]` for a server on `port` (STARTTLS with the test CA, or plain) and the double forms.
fn double_opt_in_toml(port: u16, security: Security) -> String {
    let smtp = match security {
        Security::Starttls => smtp_toml(port, "starttls", &format!("ca_file = \"{CA_FILE}\"")),
        _ => smtp_toml(port, "none", ""),
    };
    format!("{smtp}\n{}", double_forms())
}

/// A test's world: the sandbox, the SMTP server (`None`: SKIPPED) and the app, connected.
struct World {
    app: TestApp,
    smtp: SmtpServer,
    sandbox: Sandbox,
    clock: ManualClock,
}

impl World {
    /// Everything on one manual clock (`None`: aiosmtpd is not there, SKIPPED).
    async fn start(test: &str, backend: Backend, security: Security) -> Option<Self> {
        let options = ServerOptions {
            security,
            ..ServerOptions::default()
        };
        Self::start_with(test, backend, options, true).await
    }

    /// The same, with the mail worker only stepped by the test (`background_mail: false`).
    async fn start_stepped(test: &str, backend: Backend) -> Option<Self> {
        Self::start_with(test, backend, ServerOptions::default(), false).await
    }

    async fn start_with(
        test: &str,
        backend: Backend,
        options: ServerOptions,
        background_mail: bool,
    ) -> Option<Self> {
        let security = options.security;
        let smtp = SmtpServer::start(test, options).await?;
        let clock = ManualClock::new(chrono::Utc::now());
        let shared: SharedClock = Arc::new(clock.clone());
        let sandbox = fast_sandbox_on(shared.clone()).await;
        let mut options =
            AppOptions::against(backend, &sandbox, &double_opt_in_toml(smtp.port, security))
                .clock(shared);
        if !background_mail {
            options = options.without_background_mail();
        }
        let app = options.spawn().await;
        app.connect_ok().await;
        Some(Self {
            app,
            smtp,
            sandbox,
            clock,
        })
    }

    async fn stop(self) {
        self.app.stop().await;
        self.sandbox.shutdown().await;
    }
}

/// A signup on `form`, answered as accepted (whatever happens to it next).
async fn sign_up(app: &TestApp, form: &str, email: &str) {
    let answer = app
        .post_json(
            form,
            &json!({"email": email, "first_name": "Zebediah", "last_name": "Quux"}),
        )
        .await;
    assert!(
        answer.status().is_success(),
        "{}: {}",
        answer.status(),
        answer.text().await.unwrap()
    );
}

/// The path of the confirmation link in a received mail (`/confirm/<token>`).
fn link_in(message: &Value) -> String {
    let text = message["text"].as_str().expect("a plain-text part");
    let at = text
        .find("/confirm/")
        .expect("a confirmation link in the mail");
    let token: String = text[at + "/confirm/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "{text}");
    format!("/confirm/{token}")
}

/// The answer to a GET or POST of a link: status and page.
async fn open(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, String) {
    let answer = app
        .client
        .request(method, app.url(path))
        .send()
        .await
        .expect("request sent");
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = answer.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// The states of every signup, in order.
async fn states(app: &TestApp) -> Vec<SignupState> {
    app.signups().await.into_iter().map(|s| s.state).collect()
}
