//! Rate limits per client and per form, and who the client is behind proxies.

use super::post_with;
use crate::database::Backend;
use crate::helpers::{AppOptions, error_code, spawn_app_with};

const LIMITS: &str = "[rate_limit]\nper_ip_per_minute = 10\nper_ip_burst = 3\n";

fn trusting_localhost(config: &mut ccbridge::Config) {
    config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

backends!(a_client_past_its_burst_gets_429_with_retry_after_and_nothing_more_is_stored: sqlite, postgres);
async fn a_client_past_its_burst_gets_429_with_retry_after_and_nothing_more_is_stored(
    backend: Backend,
) {
    let app = spawn_app_with(backend, LIMITS).await;
    for n in 0..3 {
        let response = post_with(&app, "newsletter", &format!("n{n}@example.com"), &[]).await;
        assert_eq!(response.status(), 202);
    }

    let limited = post_with(&app, "newsletter", "n3@example.com", &[]).await;

    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 10 per minute: the next token is at most 6 seconds away.
    assert!((1..=6).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(limited).await.1, "rate_limited");
    // Browsers: the form's error page, or the built-in page with the status.
    let page = app
        .post_form("newsletter", &[("email", "b@example.com")])
        .await;
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    let redirected = app.post_form("site", &[("email", "b@example.com")]).await;
    assert_eq!(redirected.status(), 303);
    assert_eq!(
        redirected.headers()["location"],
        "https://example.org/oops?lang=en&error=rate_limited"
    );
    assert_eq!(app.signups().await.len(), 3);
    app.stop().await;
}

backends!(a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit: sqlite, postgres);
async fn a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(
    backend: Backend,
) {
    let app = spawn_app_with(backend, LIMITS).await;

    let mut statuses = Vec::new();
    for n in 0..5 {
        let forged = format!("198.51.100.{n}");
        let response = post_with(
            &app,
            "newsletter",
            &format!("n{n}@example.com"),
            &[
                ("x-forwarded-for", &forged),
                ("forwarded", &format!("for={forged}")),
            ],
        )
        .await;
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    let stored = app.signups().await;
    assert!(
        stored
            .iter()
            .all(|s| s.client_ip.as_deref() == Some("127.0.0.1"))
    );
    app.stop().await;
}

backends!(behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket: sqlite, postgres);
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(backend: Backend) {
    let app = AppOptions::fresh(backend, LIMITS)
        .configure(trusting_localhost)
        .spawn()
        .await;
    let first = [("x-forwarded-for", "203.0.113.7, 198.51.100.1")];
    let second = [("x-forwarded-for", "198.51.100.2")];

    for n in 0..3 {
        let response = post_with(&app, "newsletter", &format!("a{n}@example.com"), &first).await;
        assert_eq!(response.status(), 202);
    }
    let limited = post_with(&app, "newsletter", "a3@example.com", &first).await;
    let other = post_with(&app, "newsletter", "b@example.com", &second).await;

    assert_eq!(limited.status(), 429);
    assert_eq!(other.status(), 202);
    let stored = app.signups().await;
    assert_eq!(stored[0].client_ip.as_deref(), Some("198.51.100.1"));
    assert_eq!(stored[3].client_ip.as_deref(), Some("198.51.100.2"));
    app.stop().await;
}

backends!(the_per_form_limit_holds_across_clients: sqlite, postgres);
async fn the_per_form_limit_holds_across_clients(backend: Backend) {
    let app = AppOptions::fresh(
        backend,
        "[rate_limit]\nper_ip_per_minute = 0\nper_form_per_minute = 60\nper_form_burst = 2\n",
    )
    .configure(trusting_localhost)
    .spawn()
    .await;

    let mut statuses = Vec::new();
    for n in 0..3 {
        let client = format!("198.51.100.{n}");
        let response = post_with(
            &app,
            "newsletter",
            &format!("n{n}@example.com"),
            &[("x-forwarded-for", &client)],
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    let other_form = post_with(&app, "site", "s@example.com", &[]).await;

    assert_eq!(statuses, [202, 202, 429]);
    assert_eq!(other_form.status(), 202);
    app.stop().await;
}
