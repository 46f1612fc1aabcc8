//! Getting into the console and out: the session cookie, logout and expiry, HTTP Basic for
//! scripts, and a session for `/connect`.

use std::sync::Arc;

use ccbridge::clock::ManualClock;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::{BROWSER_ACCEPT, Session, csrf_of, login};
use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, AppOptions, fast_sandbox, spawn_app};

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
    assert_eq!(via_get.status(), 200, "the confirmation page");
    let via_button = session.post(&app, "/connect", Some(&session.csrf)).await;
    assert_eq!(via_button.status(), 303);
    let authorize = via_button.headers()["location"].to_str().unwrap();
    assert!(authorize.starts_with(sandbox.authorize_url().as_str()));
    app.stop().await;
}

async fn session_rows(app: &crate::helpers::TestApp) -> i64 {
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    let (rows,): (i64,) = sqlx::query_as("select count(*) from admin_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

async fn browser_status(app: &crate::helpers::TestApp, cookie: &str) -> u16 {
    app.client
        .get(app.url("/admin"))
        .header("accept", BROWSER_ACCEPT)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

backends!(a_browser_sending_basic_credentials_without_its_cookie_reuses_one_session: sqlite, postgres);
async fn a_browser_sending_basic_credentials_without_its_cookie_reuses_one_session(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let mut cookies = Vec::new();

    for _ in 0..3 {
        let page = app
            .client
            .get(app.url("/admin"))
            .header("accept", BROWSER_ACCEPT)
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        cookies.push(crate::helpers::cookie_pair(&page));
    }

    assert_eq!(
        session_rows(&app).await,
        1,
        "one session, not one per page view"
    );
    assert!(cookies.iter().all(|c| *c == cookies[0]), "{cookies:?}");
    assert_eq!(browser_status(&app, &cookies[0]).await, 200);
    let logged_in = login(&app).await;
    assert_ne!(
        logged_in.cookie, cookies[0],
        "the login form still opens its own"
    );
    app.stop().await;
}

backends!(changing_the_password_ends_every_console_session: sqlite, postgres);
async fn changing_the_password_ends_every_console_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = login(&app).await;
    assert_eq!(browser_status(&app, &session.cookie).await, 200);
    let (dir, db_path) = app.stop().await;

    let new_hash =
        ccbridge::password::hash(&secrecy::SecretString::from("a new password".to_owned()))
            .unwrap();
    let restarted = AppOptions::new(backend, dir, db_path, "")
        .configure(move |config| config.admin.password_hash = new_hash.into())
        .spawn()
        .await;

    assert_eq!(
        browser_status(&restarted, &session.cookie).await,
        303,
        "a session of the old password is void"
    );
    let posted = session
        .post(&restarted, "/admin/disconnect", Some(&session.csrf))
        .await;
    assert_eq!(posted.status(), 401, "and cannot press buttons");
    restarted.stop().await;
}

backends!(log_out_everywhere_ends_every_session: sqlite, postgres);
async fn log_out_everywhere_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let here = login(&app).await;
    let elsewhere = login(&app).await;
    let page = app
        .client
        .get(app.url("/admin"))
        .header("cookie", &here.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Log out everywhere"),
        "the console has the button"
    );

    let response = app
        .client
        .post(app.url("/admin/logout"))
        .header("cookie", &here.cookie)
        .form(&[("csrf", here.csrf.as_str()), ("everywhere", "1")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(browser_status(&app, &here.cookie).await, 303);
    assert_eq!(
        browser_status(&app, &elsewhere.cookie).await,
        303,
        "the other browser too"
    );
    assert_eq!(session_rows(&app).await, 0);
    app.stop().await;
}
