//! Connecting to Constant Contact through `/connect` and `/oauth/callback` (through the sandbox, on
//! real sockets): who may start it, and every way the OAuth flow can fail without storing anything.

use std::sync::Arc;

use ccbridge::clock::ManualClock;
use chrono::Utc;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{
    ADMIN_USER, AppOptions, TestApp, cookie_pair, fast_sandbox, list_count, sandbox,
};

backends!(the_admin_connects_and_readyz_reports_the_account: sqlite, postgres);
async fn the_admin_connects_and_readyz_reports_the_account(backend: Backend) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nscopes = [\"contact_data\", \"offline_access\", \"account_read\"]",
    )
    .spawn()
    .await;

    let response = app.connect().await;

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Sandbox Organization"), "{page}");
    let status = app.readyz().await;
    assert_eq!(status["connection"]["state"], "connected");
    assert_eq!(status["connection"]["account"], "Sandbox Organization");
    assert_eq!(
        status["connection"]["scopes"],
        json!(["contact_data", "offline_access", "account_read"])
    );
    assert!(status["connection"]["access_token_expires_at"].is_string());
    // The sandbox verified PKCE and HTTP Basic client authentication to get here.
    assert_eq!(sandbox.stats().codes_exchanged, 1);
    assert_eq!(list_count(&app).await.unwrap(), 3);
    app.stop().await;
}

backends!(connect_without_admin_credentials_is_401_and_reveals_nothing: sqlite, postgres);
async fn connect_without_admin_credentials_is_401_and_reveals_nothing(backend: Backend) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;

    let anonymous = app.client.get(app.url("/connect")).send().await.unwrap();
    let wrong = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some("guess"))
        .send()
        .await
        .unwrap();

    for response in [anonymous, wrong] {
        assert_eq!(response.status(), 401);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert!(response.headers().get("location").is_none());
        assert!(response.headers().get("set-cookie").is_none());
    }
    assert_eq!(sandbox.stats().token_requests, 0);
    app.stop().await;
}

/// Start an authorization and return (cookie, callback URL with code and state).
async fn authorize(app: &TestApp) -> (String, String) {
    let start = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(crate::helpers::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(&start);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let approved = app.client.get(&authorize).send().await.unwrap();
    (
        cookie,
        approved.headers()["location"].to_str().unwrap().to_owned(),
    )
}

backends!(a_wrong_reused_or_foreign_state_is_refused_and_nothing_is_stored: sqlite, postgres);
async fn a_wrong_reused_or_foreign_state_is_refused_and_nothing_is_stored(backend: Backend) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;

    let bogus = app
        .client
        .get(app.url("/oauth/callback?code=x&state=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 400);
    let (cookie, callback) = authorize(&app).await;
    let other_browser = app.client.get(&callback).send().await.unwrap();
    assert_eq!(other_browser.status(), 400, "no cookie: another browser");
    let (cookie2, callback2) = authorize(&app).await;
    let swapped = app
        .client
        .get(&callback2)
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), 400, "a cookie from another authorization");
    assert!(app.store.token_set().await.unwrap().is_none());
    assert_eq!(sandbox.stats().token_requests, 0, "no code was exchanged");

    let (cookie3, callback3) = authorize(&app).await;
    let first = app
        .client
        .get(&callback3)
        .header("cookie", cookie3.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let replay = app
        .client
        .get(&callback3)
        .header("cookie", cookie3)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "a state is single-use");
    assert_eq!(
        app.store.token_set().await.unwrap().unwrap().generation,
        generation
    );
    assert_eq!(sandbox.stats().codes_exchanged, 1);
    drop(cookie2);
    app.stop().await;
}

backends!(an_expired_state_is_refused: sqlite, postgres);
async fn an_expired_state_is_refused(backend: Backend) {
    let sandbox = sandbox().await;
    let clock = ManualClock::new(Utc::now());
    let app = AppOptions::against(backend, &sandbox, "")
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;

    let (cookie, callback) = authorize(&app).await;
    clock.advance(chrono::Duration::minutes(11));
    let late = app
        .client
        .get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(late.status(), 400);
    assert!(late.text().await.unwrap().contains("expired"));
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}

backends!(a_refusal_by_the_provider_shows_a_clear_page_and_stores_nothing: sqlite, postgres);
async fn a_refusal_by_the_provider_shows_a_clear_page_and_stores_nothing(backend: Backend) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    let (cookie, callback) = authorize(&app).await;
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    let denied = app
        .client
        .get(app.url(&format!(
            "/oauth/callback?error=access_denied&error_description=The+user+said+no&state={state}"
        )))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(denied.status(), 403);
    let page = denied.text().await.unwrap();
    assert!(
        page.contains("access_denied") && page.contains("The user said no"),
        "{page}"
    );
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}

backends!(a_failed_code_exchange_shows_a_clear_page_and_stores_nothing: sqlite, postgres);
async fn a_failed_code_exchange_shows_a_clear_page_and_stores_nothing(backend: Backend) {
    let sandbox = sandbox().await;
    let mut options = AppOptions::against(backend, &sandbox, "");
    options.extra = String::new();
    let app = options.spawn().await;
    let (cookie, callback) = authorize(&app).await;
    sandbox.revoke_all_tokens(); // the code dies with the grant

    let response = app
        .client
        .get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("invalid_grant"));
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}

backends!(a_public_url_with_a_path_prefix_still_connects: sqlite, postgres);
async fn a_public_url_with_a_path_prefix_still_connects(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    // Behind a reverse proxy that strips /forms, the redirect URI and the cookie carry the prefix.
    let start = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(crate::helpers::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let cookie = start.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Path=/oauth/callback;"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    app.stop().await;

    let mut config = ccbridge::Config::from_toml("").unwrap();
    config.server.public_url = "https://example.org/forms/".parse().unwrap();
    assert_eq!(
        config.server.redirect_uri().as_str(),
        "https://example.org/forms/oauth/callback"
    );
}
