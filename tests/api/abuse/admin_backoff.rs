//! Admin login backoff, for HTTP Basic and for the console's login form.

use std::time::Duration;

use futures_util::future::join_all;

use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, AppOptions, TestApp, eventually, spawn_app_with};

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

/// `GET /admin` with the admin's user name and `password`, from `forwarded_for` when given (the
/// app trusts 127.0.0.1 as a proxy in the tests that pass one).
async fn basic_login(app: &TestApp, password: &str, forwarded_for: Option<&str>) -> u16 {
    let mut request = app
        .client
        .get(app.url("/admin"))
        .basic_auth(ADMIN_USER, Some(password));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.send().await.unwrap().status().as_u16()
}

fn trusting_localhost(config: &mut ccbridge::Config) {
    config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

backends!(parallel_wrong_logins_get_no_more_checks_than_the_threshold: sqlite, postgres);
async fn parallel_wrong_logins_get_no_more_checks_than_the_threshold(backend: Backend) {
    let app = spawn_app_with(
        backend,
        "[rate_limit]\nadmin_failures = 5\nadmin_lockout = \"1m\"\n",
    )
    .await;
    let passwords: Vec<String> = (0..30).map(|n| format!("wrong-{n}")).collect();

    let statuses = join_all(passwords.iter().map(|p| basic_login(&app, p, None))).await;

    let refused = statuses.iter().filter(|s| **s == 401).count();
    let held = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        (1..=5).contains(&refused),
        "at most admin_failures guesses are checked, got {refused} 401s: {statuses:?}"
    );
    // 503: no password-check slot came free in time (the machine is busy); not counted.
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)) && held > 0,
        "{statuses:?}"
    );
    if refused == 5 {
        assert_eq!(
            basic_login(&app, ADMIN_PASSWORD, None).await,
            429,
            "locked out, even with the right password"
        );
    }
    let peak = ccbridge::password::peak_concurrent_verifications();
    assert!(
        (1..=2).contains(&peak),
        "at most two password checks at once, saw {peak}"
    );
    app.stop().await;
}

backends!(many_clients_at_once_never_run_more_than_two_password_checks: sqlite, postgres);
async fn many_clients_at_once_never_run_more_than_two_password_checks(backend: Backend) {
    let app = AppOptions::fresh(backend, "[rate_limit]\nadmin_failures = 100\n")
        .configure(trusting_localhost)
        .spawn()
        .await;
    let clients: Vec<String> = (0..12).map(|n| format!("198.51.100.{n}")).collect();

    let statuses = join_all(clients.iter().map(|c| basic_login(&app, "wrong", Some(c)))).await;

    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "each is checked, or told to come back when no slot comes free: {statuses:?}"
    );
    let peak = ccbridge::password::peak_concurrent_verifications();
    assert!(
        (1..=2).contains(&peak),
        "at most two password checks at once, saw {peak}"
    );
    app.stop().await;
}

backends!(an_ipv6_client_is_its_64_for_the_admin_backoff: sqlite, postgres);
async fn an_ipv6_client_is_its_64_for_the_admin_backoff(backend: Backend) {
    let app = AppOptions::fresh(
        backend,
        "[rate_limit]\nadmin_failures = 2\nadmin_lockout = \"1m\"\n",
    )
    .configure(trusting_localhost)
    .spawn()
    .await;

    assert_eq!(
        basic_login(&app, "guess-1", Some("2001:db8:1:2::1")).await,
        401
    );
    assert_eq!(
        basic_login(&app, "guess-2", Some("2001:db8:1:2::2")).await,
        401
    );
    let same_64 = basic_login(&app, "guess-3", Some("2001:db8:1:2:ffff::3")).await;
    let next_64 = basic_login(&app, "guess-4", Some("2001:db8:1:3::1")).await;

    assert_eq!(
        same_64, 429,
        "a new address in the same /64 is the same client"
    );
    assert_eq!(next_64, 401, "another /64 is another client");
    app.stop().await;
}

// PostgreSQL only: replicas share one database, which SQLite cannot be.
backends!(replicas_share_the_admin_lockout: postgres);
async fn replicas_share_the_admin_lockout(backend: Backend) {
    const LIMITS: &str = "[rate_limit]\nadmin_failures = 3\nadmin_lockout = \"1m\"\n";
    let first = AppOptions::fresh(backend, LIMITS).spawn().await;
    let second = AppOptions::new(
        backend,
        tempfile::tempdir().unwrap(),
        first.db_path.clone(),
        LIMITS,
    )
    .spawn()
    .await;

    let mut statuses = Vec::new();
    for n in 0..6 {
        let replica = if n % 2 == 0 { &first } else { &second };
        statuses.push(basic_login(replica, &format!("wrong-{n}"), None).await);
    }

    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);
    second.stop().await;
    first.stop().await;
}
