//! Admin login backoff, for HTTP Basic and for the console's login form.

use std::time::Duration;

use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, eventually, spawn_app_with};

backends!(admin_logins_back_off_after_repeated_failures_with_growing_waits: sqlite, postgres);
async fn admin_logins_back_off_after_repeated_failures_with_growing_waits(backend: Backend) {
    let app = spawn_app_with(
        backend,
        "[rate_limit]\nadmin_failures = 2\nadmin_lockout = \"1s\"\nadmin_lockout_max = \"10s\"\n",
    )
    .await;
    let login = |password: &'static str| {
        app.client
            .get(app.url("/connect"))
            .basic_auth(ADMIN_USER, Some(password))
            .send()
    };
    // Without Constant Contact credentials configured, a good login answers 503 "not configured".
    const LOGGED_IN: u16 = 503;

    assert_eq!(login("guess-1").await.unwrap().status(), 401);
    assert_eq!(login("guess-2").await.unwrap().status(), 401);
    let locked = login(ADMIN_PASSWORD).await.unwrap();
    let anonymous = app.client.get(app.url("/connect")).send().await.unwrap();

    assert_eq!(locked.status(), 429, "even the right password waits");
    assert_eq!(locked.headers()["retry-after"], "1");
    assert_eq!(
        anonymous.status(),
        401,
        "requests without credentials are not held up"
    );
    eventually(Duration::from_secs(5), "the first wait to end", || async {
        (login(ADMIN_PASSWORD).await.unwrap().status() == LOGGED_IN).then_some(())
    })
    .await;
    assert_eq!(login("guess-3").await.unwrap().status(), 401);
    let doubled = login(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(doubled.status(), 429);
    assert_eq!(doubled.headers()["retry-after"], "2");
    app.stop().await;
}

backends!(the_console_login_form_backs_off_after_repeated_failures_too: sqlite, postgres);
async fn the_console_login_form_backs_off_after_repeated_failures_too(backend: Backend) {
    let app = spawn_app_with(
        backend,
        "[rate_limit]\nadmin_failures = 2\nadmin_lockout = \"1m\"\n",
    )
    .await;
    let login = |password: &'static str| {
        app.client
            .post(app.url("/admin/login"))
            .form(&[("username", ADMIN_USER), ("password", password)])
            .send()
    };

    assert_eq!(login("guess-1").await.unwrap().status(), 403);
    assert_eq!(login("guess-2").await.unwrap().status(), 403);
    let locked = login(ADMIN_PASSWORD).await.unwrap();

    assert_eq!(locked.status(), 429, "the form is held up like HTTP Basic");
    assert!(
        locked.headers().get("set-cookie").is_none(),
        "no session while locked out"
    );
    app.stop().await;
}
