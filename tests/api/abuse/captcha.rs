//! CAPTCHA against the sandbox's test verifier.

use std::sync::Arc;

use ccbridge::clock::SystemClock;
use ccbridge::domain::SignupState;
use ccbridge_sandbox::{CAPTCHA_SECRET, Sandbox, SandboxConfig};
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{FIXED_LIST, error_code, spawn_app_with, start_sandbox};

fn captcha_form(id: &str, table: &str) -> String {
    format!("[[forms]]\nid = \"{id}\"\nlist_ids = [\"{FIXED_LIST}\"]\n[forms.captcha]\n{table}\n")
}

fn verifier(sandbox: &Sandbox, provider: &str) -> String {
    format!(
        "provider = \"{provider}\"\nsecret = \"{CAPTCHA_SECRET}\"\nverify_url = \"{}\"",
        sandbox.captcha_verify_url()
    )
}

async fn captcha_sandbox() -> Sandbox {
    start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

backends!(a_solved_captcha_is_accepted_and_a_failed_or_missing_one_is_refused_unstored: sqlite, postgres);
async fn a_solved_captcha_is_accepted_and_a_failed_or_missing_one_is_refused_unstored(
    backend: Backend,
) {
    let sandbox = captcha_sandbox().await;
    let app = spawn_app_with(
        backend,
        &captcha_form("human", &verifier(&sandbox, "turnstile")),
    )
    .await;
    let client = &app;
    let post = |token: Option<&str>| {
        let mut body = json!({ "email": "a@example.com" });
        if let Some(token) = token {
            body["cf-turnstile-response"] = json!(token);
        }
        async move { client.post_json("human", &body).await }
    };

    let passed = post(Some("pass")).await;
    let failed = post(Some("fail")).await;
    let missing = post(None).await;

    assert_eq!(passed.status(), 202);
    let field = Some("cf-turnstile-response".to_owned());
    assert_eq!(
        error_code(failed).await,
        (422, "captcha_failed".into(), field.clone())
    );
    assert_eq!(
        error_code(missing).await,
        (422, "captcha_failed".into(), field)
    );
    let stored = app.signups().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, SignupState::Pending);
    app.stop().await;
    sandbox.shutdown().await;
}

backends!(recaptcha_v3_needs_a_score_above_the_threshold_and_the_expected_action: sqlite, postgres);
async fn recaptcha_v3_needs_a_score_above_the_threshold_and_the_expected_action(backend: Backend) {
    let sandbox = captcha_sandbox().await;
    let table = format!(
        "{}\nmin_score = 0.5\naction = \"signup\"",
        verifier(&sandbox, "recaptcha_v3")
    );
    let app = spawn_app_with(backend, &captcha_form("scored", &table)).await;
    let client = &app;
    let post = |token: &str| {
        let body = json!({ "email": "a@example.com", "g-recaptcha-response": token });
        async move { client.post_json("scored", &body).await }
    };

    let human = post("score-0.9").await;
    let bot = post("score-0.1").await;
    let other_action = post("score-0.9:login").await;

    assert_eq!(human.status(), 202);
    assert_eq!(error_code(bot).await.1, "captcha_failed");
    assert_eq!(error_code(other_action).await.1, "captcha_failed");
    assert_eq!(app.signups().await.len(), 1);
    app.stop().await;
    sandbox.shutdown().await;
}

backends!(an_unreachable_captcha_provider_rejects_or_keeps_the_signup_as_spam_as_configured: sqlite, postgres);
async fn an_unreachable_captcha_provider_rejects_or_keeps_the_signup_as_spam_as_configured(
    backend: Backend,
) {
    let sandbox = captcha_sandbox().await;
    let closed = format!("http://127.0.0.1:{}/siteverify", closed_port());
    let forms = [
        captcha_form(
            "strict",
            &format!("provider = \"hcaptcha\"\nsecret = \"x\"\nverify_url = \"{closed}\""),
        ),
        captcha_form(
            "lenient",
            &format!(
                "provider = \"hcaptcha\"\nsecret = \"x\"\nverify_url = \"{closed}\"\non_unreachable = \"accept_and_mark\""
            ),
        ),
        // The sandbox's verifier failing (HTTP 500), and one configured with the wrong secret.
        captcha_form("outage", &verifier(&sandbox, "hcaptcha")),
        captcha_form(
            "misconfigured",
            &verifier(&sandbox, "hcaptcha").replace(CAPTCHA_SECRET, "wrong-secret"),
        ),
    ]
    .concat();
    let app = spawn_app_with(backend, &forms).await;
    let client = &app;
    let post = |form: &'static str, token: &'static str| {
        let body = json!({ "email": "a@example.com", "h-captcha-response": token });
        async move { client.post_json(form, &body).await }
    };

    let strict = post("strict", "pass").await;
    let lenient = post("lenient", "pass").await;
    let outage = post("outage", "server-error").await;
    let misconfigured = post("misconfigured", "pass").await;

    assert_eq!(strict.headers()["retry-after"], "5");
    assert_eq!(
        error_code(strict).await,
        (503, "captcha_unavailable".into(), None)
    );
    assert_eq!(lenient.status(), 202);
    assert_eq!(error_code(outage).await.1, "captcha_unavailable");
    assert_eq!(error_code(misconfigured).await.1, "captcha_unavailable");
    // A secret the provider refuses needs an admin: it is an alert, an outage is not.
    let alerts = app.alerts.lock().unwrap().clone();
    let misconfigured: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == ccbridge::alerts::AlertKind::CaptchaMisconfigured)
        .collect();
    assert_eq!(misconfigured.len(), 1, "{alerts:?}");
    assert!(
        misconfigured[0].text.contains("form `misconfigured`")
            && misconfigured[0].text.contains("captcha.secret"),
        "{alerts:?}"
    );
    let stored = app.signups().await;
    assert_eq!(stored.len(), 1, "only the lenient form kept its signup");
    assert_eq!(stored[0].form_id, "lenient");
    assert_eq!(stored[0].state, SignupState::Spam);
    assert_eq!(
        stored[0].spam_reason.as_deref(),
        Some("captcha_unreachable")
    );
    app.stop().await;
    sandbox.shutdown().await;
}
