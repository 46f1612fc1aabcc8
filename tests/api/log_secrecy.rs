//! Secrets and personal data stay out of the logs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use ccbridge::clock::SystemClock;
use ccbridge_sandbox::SandboxConfig;
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, AppOptions, eventually, start_sandbox};

/// A log sink the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every log line of this thread (at `trace` for ccbridge and its HTTP layers), while it lives.
struct LogCapture {
    logs: Captured,
    _guard: tracing::subscriber::DefaultGuard,
    _second_dispatcher: tracing::Dispatch,
}

impl LogCapture {
    fn start() -> Self {
        let logs = Captured::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,ccbridge=trace,tower_http=trace,ccbridge_sandbox=off",
            ))
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // Other tests hit the same callsites at the same time, on threads without a subscriber.
        // While only one dispatcher exists, tracing-core decides a new callsite's interest by
        // asking the *registering thread's* default alone, so a callsite first reached by another
        // test would be "never" for this subscriber too, and its lines silently missing. A second
        // live dispatcher (interested in nothing) makes every registration ask all of them.
        let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        tracing::callsite::rebuild_interest_cache();
        Self {
            logs,
            _guard: guard,
            _second_dispatcher: second,
        }
    }
}

backends!(secrets_and_personal_data_never_reach_the_logs: sqlite, postgres);
/// Everything ccbridge does with secrets and personal data, with every log line captured (at
/// `trace` for ccbridge and its HTTP layers), then searched for them. A current-thread runtime
/// keeps every task of the app on this thread, under this test's subscriber.
async fn secrets_and_personal_data_never_reach_the_logs(backend: Backend) {
    let capture = LogCapture::start();
    let logs = capture.logs.clone();
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let sandbox = start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!("[security]\ntoken_encryption_key = \"{key}\"\n"),
    )
    .spawn()
    .await;
    let local_part = "zq7-private-local";
    let email = format!("{local_part}@example.org");

    app.connect_ok().await;
    let wrong = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some("not-the-password-zq7"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let invalid = app
        .post_json(
            "newsletter",
            &json!({ "email": format!("{local_part}@"), "first_name": "Zq7first" }),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let accepted = app
        .post_json(
            "newsletter",
            &json!({ "email": email, "first_name": "Zq7first", "phone": "+1 555 0199" }),
        )
        .await;
    assert_eq!(accepted.status(), 202);
    eventually(Duration::from_secs(20), "the delivery", || async {
        (sandbox.contacts().len() == 1).then_some(())
    })
    .await;
    let access = app.keeper.access_token().await.unwrap();
    let stored = app.store.token_set().await.unwrap().unwrap();
    let refresh = app
        .keeper
        .cipher()
        .open(&stored.refresh_token, "refresh_token")
        .unwrap();
    let client_secret = sandbox.client_secret().to_owned();
    app.stop().await;
    sandbox.shutdown().await;

    let text = logs.text();
    assert!(
        text.contains("signup stored"),
        "the logs were captured:\n{text}"
    );
    assert!(
        text.contains("z***@example.org"),
        "emails appear redacted:\n{text}"
    );
    let secrets = [
        ("the email's local part", local_part.to_owned()),
        ("the first name", "Zq7first".to_owned()),
        ("the phone number", "555 0199".to_owned()),
        ("the access token", access.secret.expose_secret().to_owned()),
        ("the refresh token", refresh.expose_secret().to_owned()),
        ("the client secret", client_secret),
        ("the admin password", ADMIN_PASSWORD.to_owned()),
        ("a guessed password", "not-the-password-zq7".to_owned()),
        ("the encryption key", key),
    ];
    for (what, secret) in secrets {
        assert!(
            !text.contains(&secret),
            "{what} appears in the logs:\n{text}"
        );
    }
}

/// The SMTP password, through a failing mail server (a refused login where aiosmtpd is
/// available, nothing listening otherwise) and the `alert_mail_failing` alert that follows.
/// No database: runs on neither backend.
#[tokio::test]
async fn the_smtp_password_never_reaches_the_logs() {
    use ccbridge::alerts::{AlertKind, Alerts, EmailSettings, EmailSink};
    use ccbridge::config::Config;
    use ccbridge::mail::Mailer;

    use crate::mail::{CA_FILE, Security, ServerOptions, SmtpServer, smtp_toml};

    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,ccbridge=trace"))
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // As above: make every callsite ask this thread's subscriber too.
    let _second_dispatcher = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();
    let password = "smtp-secret-zq5";
    let options = ServerOptions {
        security: Security::Starttls,
        login: Some("ccbridge:the-right-one"),
        ..ServerOptions::default()
    };
    let server = SmtpServer::start("the_smtp_password_never_reaches_the_logs", options).await;
    let port = server
        .as_ref()
        .map_or_else(crate::helpers::free_port, |s| s.port);
    let config = Config::from_toml(&smtp_toml(
        port,
        "starttls",
        &format!("username = \"ccbridge\"\npassword = \"{password}\"\nca_file = \"{CA_FILE}\""),
    ))
    .unwrap();
    let mailer = Mailer::from_config(&config.smtp).unwrap().unwrap();
    let (base, raised) = Alerts::recording();
    let settings = EmailSettings {
        retry_delay: Duration::from_millis(20),
        ..EmailSettings::new(
            vec!["ops@example.org".parse().unwrap()],
            "https://forms.example.org/".parse().unwrap(),
            Duration::from_secs(3600),
        )
    };
    let alerts = base
        .clone()
        .with_sink(EmailSink::start(mailer, settings, base));

    alerts.raise(AlertKind::SignupDead, "A signup was refused.");
    eventually(Duration::from_secs(20), "alert_mail_failing", || async {
        raised
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::AlertMailFailing)
            .then_some(())
    })
    .await;

    let text = logs.text();
    assert!(text.contains("alert mail failed"), "{text}");
    assert!(!text.contains(password), "{text}");
    tracing::info!(config = ?config.smtp, "the config's Debug");
    assert!(!logs.text().contains(password), "{}", logs.text());
}

backends!(connect_links_never_reach_the_logs: sqlite, postgres);
/// A connect link is a password-free way in: neither one made in the console (and opened), nor
/// the fresh one a reconnect alert carries, may be readable in the log.
async fn connect_links_never_reach_the_logs(backend: Backend) {
    let capture = LogCapture::start();
    let sandbox = start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await;
    let app = AppOptions::against(backend, &sandbox, "[alerts]\ninclude_connect_link = true")
        .spawn()
        .await;
    app.connect_ok().await;
    let session = crate::http::admin::login(&app).await;
    let created = app
        .client
        .post(app.url("/admin/links"))
        .header("cookie", &session.cookie)
        .form(&[("csrf", session.csrf.as_str()), ("expires", "24h")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "/connect/link/";
    let start = created.find(marker).expect("the new link is shown") + marker.len();
    let console_secret = created[start..].split('"').next().unwrap().to_owned();
    let page = app
        .client
        .get(app.url(&format!("/connect/link/{console_secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    crate::alerts::break_connection(&app, &sandbox).await;
    let alert_link = app
        .alerts
        .lock()
        .unwrap()
        .iter()
        .find_map(|a| a.link.clone())
        .expect("the reconnect alert carries a link");
    let alert_secret = alert_link.path().rsplit('/').next().unwrap().to_owned();
    app.stop().await;
    sandbox.shutdown().await;

    let text = capture.logs.text();
    assert!(
        text.contains("/connect/link/(secret)"),
        "the request was logged:\n{text}"
    );
    assert!(
        text.contains("a connect link, not logged"),
        "the alert was logged:\n{text}"
    );
    for (what, secret) in [
        ("the console's link", console_secret),
        ("the alert's link", alert_secret),
    ] {
        assert!(secret.len() > 20, "{what}: {secret}");
        assert!(
            !text.contains(&secret),
            "{what} appears in the logs:\n{text}"
        );
    }
}
