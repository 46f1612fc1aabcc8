//! The admin console over HTTP: who gets in (sessions, Basic), what strangers get (never data),
//! CSRF on every state-changing request, and what the buttons do. This file: what a request
//! without credentials or without the session's CSRF token gets; `sessions`: getting in and out;
//! `console`: the pages and buttons.

mod console;
mod overview;
mod prefix;
mod sessions;
mod signups;

use ccbridge::domain::SignupState;
use ccbridge_sandbox::Sandbox;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, AppOptions, TestApp, fast_sandbox};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
const SECRET_EMAIL: &str = "private.person@example.com";

/// A logged-in console session: its cookie (`name=value`) and CSRF token.
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) async fn login(app: &TestApp) -> Session {
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

pub(crate) async fn get_page(app: &TestApp, path: &str, cookie: &str) -> String {
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
    pub(crate) async fn post(
        &self,
        app: &TestApp,
        path: &str,
        csrf: Option<&str>,
    ) -> reqwest::Response {
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

const PAGES: [&str; 4] = [
    "/admin",
    "/admin/signups",
    "/admin/forms",
    "/admin/disconnect",
];

fn posts(id: &str) -> Vec<String> {
    vec![
        "/admin/logout".into(),
        "/connect".into(),
        "/admin/disconnect".into(),
        "/admin/signups/retry".into(),
        format!("/admin/signups/{id}/retry"),
        "/admin/signups/release".into(),
        format!("/admin/signups/{id}/release"),
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

backends!(anything_below_admin_asks_a_stranger_to_authenticate_before_saying_not_found: sqlite, postgres);
async fn anything_below_admin_asks_a_stranger_to_authenticate_before_saying_not_found(
    backend: Backend,
) {
    let app = crate::helpers::spawn_app(backend).await;
    let get = |path: &str| app.client.get(app.url(path));

    for path in ["/admin/no-such-page", "/admin/signups/x/y", "/admin/.env"] {
        let script = get(path).send().await.unwrap();
        assert_eq!(script.status(), 401, "{path}");
        assert!(script.headers().contains_key("www-authenticate"), "{path}");
        let browser = get(path)
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(browser.status(), 303, "{path}");
        assert_eq!(browser.headers()["location"], "/admin/login");
        let admin = get(path)
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(
            admin.status(),
            404,
            "{path}: the admin learns it does not exist"
        );
        assert_eq!(admin.headers()["cache-control"], "no-store");
    }
    let stranger = app
        .client
        .delete(app.url("/admin/signups"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401, "a method the page lacks");
    let admin = app
        .client
        .delete(app.url("/admin/signups"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 405);
    assert_eq!(
        get("/no-such-page").send().await.unwrap().status(),
        404,
        "outside the console nothing is asked"
    );
    app.stop().await;
}
