//! The admin console over HTTP: who gets in (sessions, Basic), what strangers get (never data),
//! CSRF on every state-changing request, and what the buttons do.

use std::sync::Arc;
use std::time::Duration;

use ccbridge::clock::ManualClock;
use ccbridge::domain::SignupState;
use ccbridge_sandbox::Sandbox;
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::database::Backend;
use crate::helpers::{
    ADMIN_PASSWORD, ADMIN_USER, AppOptions, TestApp, eventually, fast_sandbox, spawn_app,
};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
const SECRET_EMAIL: &str = "private.person@example.com";

/// A logged-in console session: its cookie (`name=value`) and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn login(app: &TestApp) -> Session {
    let response = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin");
    let cookie = crate::helpers::cookie_pair(&response);
    let page = get_page(app, "/admin", &cookie).await;
    Session {
        csrf: csrf_of(&page),
        cookie,
    }
}

async fn get_page(app: &TestApp, path: &str, cookie: &str) -> String {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.unwrap()
}

/// The value of the first hidden `csrf` field on a page.
fn csrf_of(page: &str) -> String {
    let start = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    page[start..].split('"').next().unwrap().to_owned()
}

impl Session {
    async fn post(&self, app: &TestApp, path: &str, csrf: Option<&str>) -> reqwest::Response {
        let form: Vec<(&str, &str)> = csrf.map(|t| vec![("csrf", t)]).unwrap_or_default();
        app.client
            .post(app.url(path))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

const PAGES: [&str; 3] = ["/admin", "/admin/signups", "/admin/forms"];

fn posts(id: &str) -> Vec<String> {
    vec![
        "/admin/logout".into(),
        "/admin/connect".into(),
        "/admin/disconnect".into(),
        "/admin/signups/retry".into(),
        format!("/admin/signups/{id}/retry"),
    ]
}

/// A connected app with one dead signup whose email must never leak.
async fn app_with_data(backend: Backend, sandbox: &Sandbox) -> (TestApp, String) {
    let app = AppOptions::against(
        backend,
        sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .without_background_delivery()
    .spawn()
    .await;
    app.connect_ok().await;
    let response = app
        .post_json("newsletter", &json!({ "email": SECRET_EMAIL }))
        .await;
    assert_eq!(response.status(), 202);
    let id: String = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    mark_dead(&app, "upstream said no").await;
    (app, id)
}

async fn mark_dead(app: &TestApp, error: &str) {
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    sqlx::query("update signups set state = 'dead', last_error = $1, attempts = 3")
        .bind(error)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

fn leaks(body: &str) -> bool {
    body.contains(SECRET_EMAIL) || body.contains("Sandbox Organization") || body.contains("csrf")
}

backends!(every_admin_page_without_credentials_is_401_or_the_login_page_and_never_data: sqlite, postgres);
async fn every_admin_page_without_credentials_is_401_or_the_login_page_and_never_data(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, id) = app_with_data(backend, &sandbox).await;

    for path in PAGES {
        let script = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(script.status(), 401, "{path}");
        assert!(
            script.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert!(!leaks(&script.text().await.unwrap()), "{path}");

        let browser = app
            .client
            .get(app.url(path))
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(browser.status(), 303, "{path}");
        assert_eq!(browser.headers()["location"], "/admin/login");
        assert!(browser.headers().get("set-cookie").is_none());
        assert!(!leaks(&browser.text().await.unwrap()), "{path}");

        for (user, password) in [(ADMIN_USER, "wrong"), ("root", ADMIN_PASSWORD)] {
            let wrong = app
                .client
                .get(app.url(path))
                .header("accept", BROWSER_ACCEPT)
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap();
            assert_eq!(wrong.status(), 401, "{path}");
            assert!(!leaks(&wrong.text().await.unwrap()), "{path}");
        }

        let forged = app
            .client
            .get(app.url(path))
            .header("accept", BROWSER_ACCEPT)
            .header("cookie", "ccbridge_admin=forged-session-id")
            .send()
            .await
            .unwrap();
        assert_eq!(
            forged.status(),
            303,
            "{path}: a made-up session is no session"
        );
    }
    for path in posts(&id) {
        let response = app
            .client
            .post(app.url(&path))
            .form(&[("csrf", "guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(!leaks(&response.text().await.unwrap()), "{path}");
    }

    let signup = app.store.all_signups().await.unwrap().remove(0);
    assert_eq!(signup.state, SignupState::Dead, "nothing was changed");
    assert!(app.store.token_set().await.unwrap().is_some());
    app.stop().await;
}

backends!(a_state_changing_post_without_the_sessions_csrf_token_is_refused_with_403: sqlite, postgres);
async fn a_state_changing_post_without_the_sessions_csrf_token_is_refused_with_403(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, id) = app_with_data(backend, &sandbox).await;
    let session = login(&app).await;
    let other = login(&app).await;
    assert_ne!(session.csrf, other.csrf, "the token is per session");

    for path in posts(&id) {
        for token in [None, Some(""), Some("forged"), Some(other.csrf.as_str())] {
            let response = session.post(&app, &path, token).await;
            assert_eq!(response.status(), 403, "{path} with {token:?}");
        }
        // Basic credentials alone cannot act: a browser would send them with a forged form too.
        let basic = app
            .client
            .post(app.url(&path))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .form(&[("csrf", "guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 403, "{path} with Basic only");
    }

    let signup = app.store.all_signups().await.unwrap().remove(0);
    assert_eq!(signup.state, SignupState::Dead, "nothing was changed");
    assert!(app.store.token_set().await.unwrap().is_some());
    assert_eq!(sandbox.stats().codes_exchanged, 1);
    get_page(&app, "/admin", &session.cookie).await; // still logged in
    app.stop().await;
}

backends!(login_sets_a_strict_http_only_cookie_whose_id_is_stored_only_as_a_hash: sqlite, postgres);
async fn login_sets_a_strict_http_only_cookie_whose_id_is_stored_only_as_a_hash(backend: Backend) {
    let app = spawn_app(backend).await;

    let wrong = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("username", ADMIN_USER), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert!(wrong.headers().get("set-cookie").is_none());
    let response = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "public_url is http in tests: {set_cookie}"
    );
    let id = set_cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("ccbridge_admin=")
        .unwrap()
        .to_owned();
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    let stored: Vec<(String,)> = sqlx::query_as("select id_hash from admin_sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let hash: String = Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, vec![(hash,)]);
    app.stop().await;
}

backends!(logout_ends_the_session_and_sessions_expire: sqlite, postgres);
async fn logout_ends_the_session_and_sessions_expire(backend: Backend) {
    let clock = ManualClock::new(Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ccbridge.db");
    let app = AppOptions::new(backend, dir, db, "")
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let browser = |cookie: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/admin"))
                .header("accept", BROWSER_ACCEPT)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    let first = login(&app).await;
    let logout = first.post(&app, "/admin/logout", Some(&first.csrf)).await;
    assert_eq!(logout.status(), 303);
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(browser(first.cookie.clone()).await, 303, "logged out");

    let second = login(&app).await;
    clock.advance(chrono::Duration::hours(11));
    assert_eq!(browser(second.cookie.clone()).await, 200);
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        browser(second.cookie.clone()).await,
        303,
        "expired after 12 h"
    );
    app.stop().await;
}

backends!(basic_credentials_work_for_scripts_and_give_a_browser_a_session: sqlite, postgres);
async fn basic_credentials_work_for_scripts_and_give_a_browser_a_session(backend: Backend) {
    let app = spawn_app(backend).await;

    let script = app
        .client
        .get(app.url("/admin"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers().get("set-cookie").is_none());
    let page = script.text().await.unwrap();
    assert!(page.contains("Not connected"));
    assert!(page.contains("Read-only"));

    let browser = app
        .client
        .get(app.url("/admin"))
        .header("accept", BROWSER_ACCEPT)
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 200);
    let cookie = crate::helpers::cookie_pair(&browser);
    let page = browser.text().await.unwrap();
    let csrf = csrf_of(&page);
    let session = Session { cookie, csrf };
    let logout = session
        .post(&app, "/admin/logout", Some(&session.csrf))
        .await;
    assert_eq!(logout.status(), 303, "the buttons work with that session");
    app.stop().await;
}

backends!(connect_accepts_a_console_session_as_well_as_basic_credentials: sqlite, postgres);
async fn connect_accepts_a_console_session_as_well_as_basic_credentials(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    let session = login(&app).await;

    let via_get = app
        .client
        .get(app.url("/connect"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(via_get.status(), 303);
    let via_button = session
        .post(&app, "/admin/connect", Some(&session.csrf))
        .await;
    assert_eq!(via_button.status(), 303);
    let authorize = via_button.headers()["location"].to_str().unwrap();
    assert!(authorize.starts_with(sandbox.authorize_url().as_str()));
    app.stop().await;
}

backends!(the_overview_shows_the_connection_queue_usage_and_account_check: sqlite, postgres);
async fn the_overview_shows_the_connection_queue_usage_and_account_check(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\nscopes = [\"contact_data\", \"offline_access\", \"account_read\"]",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    let response = app
        .post_json("newsletter", &json!({ "email": "someone@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    eventually(Duration::from_secs(20), "a delivery", || async {
        (app.store.queue_counts().await.ok()?.delivered == 1).then_some(())
    })
    .await;
    let session = login(&app).await;

    let page = eventually(Duration::from_secs(10), "the account check", || {
        let app = &app;
        let cookie = session.cookie.clone();
        async move {
            let page = get_page(app, "/admin", &cookie).await;
            page.contains("id=\"account-check\"").then_some(page)
        }
    })
    .await;

    for needle in [
        "<strong id=\"connection-state\" class=\"ok\">Connected</strong>",
        "Sandbox Organization",
        "contact_data offline_access account_read",
        "Access token expires",
        "All configured lists and custom fields exist",
        "<dt>Delivered, last hour</dt><dd>1</dd>",
        "API calls today",
        "of 10000",
        "id=\"disconnect\"",
        ">Reconnect<",
        "running",
    ] {
        assert!(page.contains(needle), "{needle} missing from {page}");
    }
    let signups = get_page(&app, "/admin/signups", &session.cookie).await;
    assert!(signups.contains("someone@example.com"));
    assert!(signups.contains("delivered"));
    app.stop().await;
}

backends!(disconnect_forgets_the_tokens_and_signups_keep_queueing: sqlite, postgres);
async fn disconnect_forgets_the_tokens_and_signups_keep_queueing(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    let session = login(&app).await;

    let response = session
        .post(&app, "/admin/disconnect", Some(&session.csrf))
        .await;

    assert_eq!(response.status(), 303);
    assert!(app.store.token_set().await.unwrap().is_none());
    assert_eq!(app.readyz().await["connection"]["state"], "not_connected");
    let page = get_page(&app, "/admin?disconnected", &session.cookie).await;
    assert!(page.contains("Not connected"), "{page}");
    assert!(page.contains("Disconnected"), "{page}");
    let signup = app
        .post_json("newsletter", &json!({ "email": "waiting@example.com" }))
        .await;
    assert_eq!(signup.status(), 202);
    // The console shows the worker holding the signup for a connection; it is still pending.
    eventually(
        Duration::from_secs(10),
        "the console to show deliveries waiting for a connection",
        || async {
            let page = get_page(&app, "/admin", &session.cookie).await;
            let pending = app.store.queue_counts().await.ok()?.pending;
            (page.contains("paused until an admin connects") && pending == 1).then_some(())
        },
    )
    .await;
    assert!(sandbox.contacts().is_empty());

    app.connect_ok().await;
    eventually(
        Duration::from_secs(20),
        "delivery after reconnecting",
        || async { (sandbox.contacts().len() == 1).then_some(()) },
    )
    .await;
    app.stop().await;
}

backends!(dead_signups_show_their_upstream_error_and_the_retry_buttons_requeue_them: sqlite, postgres);
async fn dead_signups_show_their_upstream_error_and_the_retry_buttons_requeue_them(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, id) = app_with_data(backend, &sandbox).await;
    let response = app
        .post_json("newsletter", &json!({ "email": "second@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    mark_dead(&app, "upstream said no").await;
    let session = login(&app).await;

    let page = get_page(&app, "/admin/signups", &session.cookie).await;
    assert!(page.contains(SECRET_EMAIL));
    assert!(page.contains("upstream said no"));
    assert!(page.contains(&format!("action=\"/admin/signups/{id}/retry\"")));

    let one = session
        .post(
            &app,
            &format!("/admin/signups/{id}/retry"),
            Some(&session.csrf),
        )
        .await;
    assert_eq!(one.status(), 303);
    assert_eq!(one.headers()["location"], "/admin/signups?requeued=1");
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (1, 1));

    let all = session
        .post(&app, "/admin/signups/retry", Some(&session.csrf))
        .await;
    assert_eq!(all.headers()["location"], "/admin/signups?requeued=1");
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (2, 0));
    let page = get_page(&app, "/admin/signups?requeued=1", &session.cookie).await;
    assert!(page.contains("1 signup(s) requeued"));
    app.stop().await;
}

backends!(the_forms_page_gives_a_snippet_per_form_with_the_public_url_and_list_names: sqlite, postgres);
async fn the_forms_page_gives_a_snippet_per_form_with_the_public_url_and_list_names(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .spawn()
    .await;
    let session = login(&app).await;
    let before = get_page(&app, "/admin/forms", &session.cookie).await;
    // Before the account is checked, lists are shown by id.
    assert!(before.contains("value=&quot;17936f78-662a-11eb-af0a-fa163e56c9b0&quot;&gt; 17936f78"));

    app.connect_ok().await;
    let page = eventually(Duration::from_secs(10), "list names", || {
        let app = &app;
        let cookie = session.cookie.clone();
        async move {
            let page = get_page(app, "/admin/forms", &cookie).await;
            page.contains("&gt; Events&lt;/label&gt;").then_some(page)
        }
    })
    .await;

    let action = format!("action=&quot;{}/signup/newsletter&quot;", app.url(""));
    for needle in [
        action.as_str(),
        "id=\"snippet-newsletter-plain\"",
        "id=\"snippet-newsletter-fetch\"",
        "id=\"snippet-site-plain\"",
        "name=&quot;topic&quot;",
        "name=&quot;website&quot;",
        "&quot;Accept&quot;: &quot;application/json&quot;",
        "General Interest",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    app.stop().await;
}

backends!(the_landing_page_says_what_this_is_and_reveals_nothing_private: sqlite, postgres);
async fn the_landing_page_says_what_this_is_and_reveals_nothing_private(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let (app, _) = app_with_data(backend, &sandbox).await;

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Constant Contact"));
    assert!(page.contains("href=\"/admin\""));
    assert!(!leaks(&page));
    assert!(!page.contains("newsletter"), "no form ids");
    app.stop().await;
}
