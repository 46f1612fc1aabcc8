//! Consent you can prove, and privacy requests: the consent record of a signup made over real
//! HTTP and delivered to the sandbox (`record`), and an address's data exported and erased from
//! the command line and the console (`requests`).

mod record;
mod requests;

use std::time::Duration;

use ccbridge::config::Keep;
use ccbridge_sandbox::Sandbox;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually};

pub(crate) const CONSENT_TEXT: &str =
    "Yes, send me the monthly newsletter. I can unsubscribe at any time.";
pub(crate) const PAGE: &str = "https://www.example.org/join?from=footer";
pub(crate) const AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
const FAST: &str = "[constant_contact]\nrequests_per_second = 1000\nrequest_timeout = \"5s\"\n[delivery]\nretry_base = \"50ms\"\nretry_max = \"500ms\"";

/// An app against `sandbox` whose `newsletter` form shows a consent text and may be posted from
/// www.example.org (`site` is double opt-in), behind a trusted proxy on 127.0.0.1 (so `X-Forwarded-For` names the client),
/// keeping client addresses and user agents as told.
pub(crate) async fn app_keeping(
    backend: Backend,
    sandbox: &Sandbox,
    address: Keep,
    agent: Keep,
) -> TestApp {
    let app = AppOptions::against(backend, sandbox, FAST)
        .configure(move |config| {
            config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            config.privacy.client_address = address;
            config.privacy.user_agent = agent;
            let form = &mut config.forms[0];
            form.consent_text = Some(CONSENT_TEXT.to_owned());
            form.allowed_origins = vec!["https://www.example.org".parse().unwrap()];
            // `site` holds its signups for a confirmation by mail (a queued mail row); the mail
            // itself is not these tests' business.
            config.forms[1].consent = ccbridge::domain::ConsentMode::Double;
        })
        .spawn()
        .await;
    app.connect_ok().await;
    app
}

/// Sign `email` up on `newsletter` as a browser behind the proxy would, from `client`.
pub(crate) async fn sign_up(app: &TestApp, email: &str, client: &str) {
    let response = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("referer", PAGE)
        .header("accept-language", "de-CH, de;q=0.9, en;q=0.5")
        .header("user-agent", AGENT)
        .header("x-forwarded-for", client)
        .json(&json!({ "email": email, "first_name": "Ada" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
}

/// Wait until `n` signups are delivered.
pub(crate) async fn delivered(app: &TestApp, n: u64) {
    eventually(Duration::from_secs(20), "the deliveries", || async {
        (app.store.queue_counts().await.ok()?.delivered >= n).then_some(())
    })
    .await;
}
