//! Connecting to Constant Contact through `/connect` and `/oauth/callback` (through the sandbox, on
//! real sockets): who may start it, and every way the OAuth flow can fail without storing anything.

use std::sync::Arc;

use ccbridge::clock::ManualClock;
use chrono::Utc;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{
    ADMIN_PASSWORD, ADMIN_USER, AppOptions, TestApp, cookie_pair, csrf_in, fast_sandbox,
    list_count, sandbox, start_connect,
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

backends!(a_cross_site_get_of_connect_changes_nothing_and_only_a_same_origin_post_with_the_token_starts: sqlite, postgres);
async fn a_cross_site_get_of_connect_changes_nothing_and_only_a_same_origin_post_with_the_token_starts(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;
    let connected = app.store.token_set().await.unwrap().unwrap();
    // What a link or an auto-submitting page on another site makes the admin's browser send: a
    // top-level navigation carrying the Basic credentials the browser remembers.
    let navigation = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .header("accept", "text/html")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();

    assert_eq!(
        navigation.status(),
        200,
        "a confirmation page, not a redirect"
    );
    assert!(navigation.headers().get("location").is_none());
    let session = cookie_pair(&navigation);
    assert!(session.starts_with("ccbridge_admin="), "{session}");
    let page = navigation.text().await.unwrap();
    assert!(
        page.contains(r#"<form method="post" action="/connect">"#),
        "{page}"
    );
    assert!(page.contains("replaces that connection"), "{page}");
    let csrf = csrf_in(&page);
    let post = |token: Option<&str>, site: &str| {
        let mut request = app
            .client
            .post(app.url("/connect"))
            .header("cookie", &session)
            .header("sec-fetch-site", site);
        if let Some(token) = token {
            request = request.form(&[("csrf", token)]);
        }
        request.send()
    };
    let without_token = post(None, "cross-site").await.unwrap();
    let forged_token = post(Some("forged"), "cross-site").await.unwrap();
    let from_another_site = post(Some(&csrf), "cross-site").await.unwrap();
    let basic_only = app
        .client
        .post(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    for (what, response) in [
        ("no token", without_token),
        ("a forged token", forged_token),
        ("a cross-site request", from_another_site),
        ("Basic credentials alone", basic_only),
    ] {
        assert_eq!(response.status(), 403, "{what}");
        assert!(response.headers().get("location").is_none(), "{what}");
    }
    let unchanged = app.store.token_set().await.unwrap().unwrap();
    assert_eq!(unchanged.generation, connected.generation);
    assert_eq!(sandbox.stats().codes_exchanged, 1, "no new authorization");

    let button = post(Some(&csrf), "same-origin").await.unwrap();

    assert_eq!(button.status(), 303);
    let authorize = button.headers()["location"].to_str().unwrap();
    assert!(
        authorize.starts_with(sandbox.authorize_url().as_str()),
        "{authorize}"
    );
    app.stop().await;
}

/// Start an authorization and return (cookie, callback URL with code and state).
async fn authorize(app: &TestApp) -> (String, String) {
    let start = start_connect(&app.client, &app.url("")).await;
    let cookie = cookie_pair(&start);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let approved = app.client.get(&authorize).send().await.unwrap();
    (
        cookie,
        approved.headers()["location"].to_str().unwrap().to_owned(),
    )
}

/// The value of `name` in `url`'s query string.
fn query_value(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("{name} missing from {url}"))
        .1
        .into_owned()
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
    let state = query_value(&callback, "state");

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
    let start = start_connect(&app.client, &app.url("")).await;
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

/// `server.public_url` with a path prefix (the proxy strips it, so the requests here go without).
fn under_cc(config: &mut ccbridge::Config) {
    let prefixed = format!("{}cc/", config.server.public_url);
    config.server.public_url = prefixed.parse().unwrap();
}

backends!(the_connect_page_keeps_the_public_urls_path_prefix: sqlite, postgres);
async fn the_connect_page_keeps_the_public_urls_path_prefix(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "")
        .configure(under_cc)
        .spawn()
        .await;

    let confirm = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();

    assert_eq!(confirm.status(), 200);
    let session = cookie_pair(&confirm);
    let page = confirm.text().await.unwrap();
    assert!(
        page.contains(r#"<form method="post" action="/cc/connect">"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<a href="/cc/admin">Back to the admin console</a>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"href="/cc/admin/signups""#),
        "the console's nav"
    );
    for unprefixed in ["href=\"/admin", "action=\"/admin", "action=\"/connect"] {
        assert!(!page.contains(unprefixed), "{unprefixed} in {page}");
    }
    let button = app
        .client
        .post(app.url("/connect"))
        .header("cookie", session)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", csrf_in(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(button.status(), 303);
    let cookie = button.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Path=/cc/oauth/callback;"), "{cookie}");
    app.stop().await;
}

backends!(the_device_flows_page_keeps_the_public_urls_path_prefix: sqlite, postgres);
async fn the_device_flows_page_keeps_the_public_urls_path_prefix(backend: Backend) {
    let sandbox = crate::connecting::realtime_device_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "")
        .configure(|config| {
            crate::connecting::device_flow(config);
            under_cc(config);
        })
        .spawn()
        .await;

    let start = start_connect(&app.client, &app.url("")).await;

    assert_eq!(start.status(), 303);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .strip_prefix("/cc/connect/device/")
        .unwrap_or_else(|| panic!("the prefix is kept: {location}"));
    let cookie = start.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains(&format!("Path={location};")), "{cookie}");
    let waiting = app
        .client
        .get(app.url(&format!("/connect/device/{id}")))
        .header("cookie", cookie_pair(&start))
        .send()
        .await
        .unwrap();
    assert_eq!(waiting.status(), 200);
    let page = waiting.text().await.unwrap();
    assert!(page.contains(r#"id="user_code"><strong>"#), "{page}");
    app.stop().await;
}

backends!(the_providers_error_and_description_are_shown_escaped: sqlite, postgres);
async fn the_providers_error_and_description_are_shown_escaped(backend: Backend) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    let (cookie, callback) = authorize(&app).await;
    let state = query_value(&callback, "state");

    let denied = app
        .client
        .get(app.url("/oauth/callback"))
        .query(&[
            ("error", "<b>access_denied</b>"),
            ("error_description", "<script>alert(\"no\")</script> & more"),
            ("state", state.as_str()),
        ])
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(denied.status(), 403);
    let page = denied.text().await.unwrap();
    assert!(
        page.contains(
            "&lt;b&gt;access_denied&lt;/b&gt;: &lt;script&gt;alert(&quot;no&quot;)&lt;/script&gt; &amp; more"
        ),
        "{page}"
    );
    assert!(
        !page.contains("<script>") && !page.contains("<b>"),
        "{page}"
    );
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}
