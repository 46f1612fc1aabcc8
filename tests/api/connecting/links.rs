//! Connect links: created in the console (or by `ccbridge connect --link`), shown once, used once
//! by the account owner through the same PKCE flow as the console's Connect, consumed when the
//! callback completes; used, expired and revoked links change nothing; a link that connects
//! another account than before holds deliveries until an admin confirms.

use std::sync::Arc;
use std::time::Duration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{Clock as _, ManualClock, SharedClock};
use ccbridge::store::LinkState;
use ccbridge::tokens::TokenError;
use ccbridge_sandbox::Sandbox;
use chrono::Utc;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, connect_at, cookie_pair, eventually, fast_sandbox_on};
use crate::http::admin::{Session, get_page, login};

/// An app connected from the console to the sandbox's account (the confirmed one), and an
/// admin's console session.
async fn connected(backend: Backend) -> (Sandbox, TestApp, Session) {
    let clock: SharedClock = Arc::new(ccbridge::clock::SystemClock);
    let sandbox = fast_sandbox_on(clock).await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    assert_eq!(connect_at(&app.client, &app.url("")).await.status(), 200);
    let session = login(&app).await;
    (sandbox, app, session)
}

/// The overview's **Confirm the switch**, from a page that showed `account`.
async fn confirm_switch(app: &TestApp, session: &Session, account: &str) -> reqwest::Response {
    app.client
        .post(app.url("/admin/connection/confirm-switch"))
        .header("cookie", &session.cookie)
        .form(&[("csrf", session.csrf.as_str()), ("account", account)])
        .send()
        .await
        .unwrap()
}

/// Create a link in the console; returns its URL (shown once) and the page.
async fn create_link(app: &TestApp, session: &Session, note: &str) -> String {
    let response = app
        .client
        .post(app.url("/admin/links"))
        .header("cookie", &session.cookie)
        .form(&[
            ("csrf", session.csrf.as_str()),
            ("note", note),
            ("expires", "24h"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let marker = "id=\"link-url\" readonly size=\"80\" value=\"";
    let start = page.find(marker).expect("the link is shown") + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2F;", "/")
}

/// The account owner's browser: the link's page, its button, Constant Contact (the sandbox
/// approves at once), back to the callback with the cookie the button set.
async fn use_link(app: &TestApp, link: &str) -> reqwest::Response {
    let page = app.client.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Connect your Constant Contact account")
    );
    let start = app.client.post(link).send().await.unwrap();
    assert_eq!(start.status(), 303, "the button starts the authorization");
    let cookie = cookie_pair(&start);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.contains("code_challenge="), "PKCE as on /connect");
    let approved = app.client.get(&authorize).send().await.unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    app.client
        .get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

backends!(a_link_connects_once_and_a_stranger_with_it_changes_nothing: sqlite, postgres);
async fn a_link_connects_once_and_a_stranger_with_it_changes_nothing(backend: Backend) {
    let clock: SharedClock = Arc::new(ccbridge::clock::SystemClock);
    let sandbox = fast_sandbox_on(clock).await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    let session = login(&app).await;
    let link = create_link(&app, &session, "Pat at Example Org").await;
    assert!(link.starts_with(&app.url("/connect/link/")), "{link}");
    // Opening the page changes nothing: the link is still active.
    let links = app.store.connect_links().await.unwrap();
    assert_eq!(links[0].state(Utc::now()), LinkState::Active);
    assert_eq!(links[0].note.as_deref(), Some("Pat at Example Org"));

    let done = use_link(&app, &link).await;
    assert_eq!(done.status(), 200);
    let text = done.text().await.unwrap();
    assert!(text.contains("Sandbox Organization"), "{text}");
    let set = app.store.token_set().await.unwrap().unwrap();
    assert_eq!(set.authorized_via.as_deref(), Some("link"));
    assert!(!set.switch_unconfirmed, "the first connection is no switch");
    assert_eq!(
        app.store.connect_links().await.unwrap()[0].state(Utc::now()),
        LinkState::Used
    );
    let alerts = app.alerts.lock().unwrap().clone();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == AlertKind::ConnectedThroughLink
                && a.text.contains("Sandbox Organization")),
        "{alerts:?}"
    );

    // A stranger holding the used link: a clear page, and the connection is untouched.
    let generation = set.generation;
    for method in ["GET", "POST"] {
        let answer = app
            .client
            .request(method.parse().unwrap(), &link)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 410, "{method}");
        assert!(answer.text().await.unwrap().contains("already used"));
    }
    let unknown = app
        .client
        .get(app.url("/connect/link/not-a-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        app.store.token_set().await.unwrap().unwrap().generation,
        generation
    );
    app.stop().await;
}

backends!(revoked_and_expired_links_are_refused: sqlite, postgres);
async fn revoked_and_expired_links_are_refused(backend: Backend) {
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let app = AppOptions::against(backend, &sandbox, "")
        .clock(shared)
        .spawn()
        .await;
    let session = login(&app).await;
    let revoked = create_link(&app, &session, "revoked").await;
    let id = app.store.connect_links().await.unwrap()[0].id.clone();
    let answer = session
        .post(
            &app,
            &format!("/admin/links/{id}/revoke"),
            Some(&session.csrf),
        )
        .await;
    assert_eq!(answer.status(), 303);
    let page = app.client.post(&revoked).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("revoked"));

    let expiring = create_link(&app, &session, "expiring").await;
    // Started in time, finished after expiry: the callback refuses and stores nothing.
    let start = app.client.post(&expiring).send().await.unwrap();
    assert_eq!(start.status(), 303);
    clock.advance(chrono::Duration::hours(25));
    let later = app.client.get(&expiring).send().await.unwrap();
    assert_eq!(later.status(), 410);
    assert!(later.text().await.unwrap().contains("expired"));
    assert!(
        app.store.token_set().await.unwrap().is_none(),
        "nothing connected"
    );
    let states: Vec<_> = app
        .store
        .connect_links()
        .await
        .unwrap()
        .iter()
        .map(|l| l.state(clock.now()))
        .collect();
    assert_eq!(
        states,
        [LinkState::Expired, LinkState::Revoked],
        "newest first"
    );
    app.stop().await;
}

backends!(a_link_to_another_account_holds_deliveries_until_an_admin_confirms: sqlite, postgres);
async fn a_link_to_another_account_holds_deliveries_until_an_admin_confirms(backend: Backend) {
    let (sandbox, app, session) = connected(backend).await;
    let link = create_link(&app, &session, "").await;
    sandbox.set_account_name("Stranger Inc");
    assert_eq!(use_link(&app, &link).await.status(), 200);
    let set = app.store.token_set().await.unwrap().unwrap();
    assert!(set.switch_unconfirmed);
    assert_eq!(set.account_name.as_deref(), Some("Stranger Inc"));
    assert_eq!(
        set.previous_account_name.as_deref(),
        Some("Sandbox Organization")
    );
    let alerts = app.alerts.lock().unwrap().clone();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == AlertKind::ConnectedThroughLink
                && a.text.contains("Stranger Inc")
                && a.text.contains("paused")),
        "{alerts:?}"
    );
    // No token of the held set leaves the keeper, whichever way it is asked for.
    let refreshed = app.keeper.refresh(set.generation).await;
    assert!(
        matches!(refreshed, Err(TokenError::SwitchUnconfirmed(_))),
        "{refreshed:?}"
    );
    assert!(app.keeper.access_token().await.is_err());
    let status = app
        .readyz_as_admin()
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(status["connection"]["state"], "awaiting_confirmation");

    // A signup waits: nothing goes to the stranger's account.
    let accepted = app
        .post_json("newsletter", &json!({"email": "held@example.org"}))
        .await;
    assert_eq!(accepted.status(), 202);
    let overview = get_page(&app, "/admin", &session.cookie).await;
    assert!(
        overview.contains("waiting for your confirmation"),
        "{overview}"
    );
    eventually(
        Duration::from_secs(20),
        "the worker says it waits",
        || async {
            let overview = get_page(&app, "/admin", &session.cookie).await;
            overview.contains("waiting for a connection").then_some(())
        },
    )
    .await;
    assert!(sandbox.contacts().is_empty());

    // A button from a page that showed another account confirms nothing.
    let stale = confirm_switch(&app, &session, "Someone Else").await;
    assert_eq!(stale.headers()["location"], "/admin?switch-changed");
    assert!(
        app.store
            .token_set()
            .await
            .unwrap()
            .unwrap()
            .switch_unconfirmed
    );
    let confirmed = confirm_switch(&app, &session, "Stranger Inc").await;
    assert_eq!(confirmed.headers()["location"], "/admin?switch-confirmed");
    eventually(
        Duration::from_secs(20),
        "the held signup is delivered",
        || async {
            sandbox
                .contacts()
                .iter()
                .any(|c| c.email_address == "held@example.org")
                .then_some(())
        },
    )
    .await;
    app.stop().await;
}

backends!(a_link_to_the_same_account_holds_nothing: sqlite, postgres);
async fn a_link_to_the_same_account_holds_nothing(backend: Backend) {
    let (_sandbox, app, session) = connected(backend).await;
    let link = create_link(&app, &session, "").await;
    assert_eq!(use_link(&app, &link).await.status(), 200);
    let set = app.store.token_set().await.unwrap().unwrap();
    assert!(
        !set.switch_unconfirmed,
        "same account: no confirmation needed"
    );
    app.stop().await;
}

// The hold compares with the confirmed account, not with whatever is stored: a second link to the
// same stranger's account, or one after a Disconnect, is held just the same. A connection that
// needed a reconnect is announced as restored only once the held switch is confirmed.
backends!(a_stranger_cannot_lift_the_hold_with_a_second_link_or_after_a_disconnect: sqlite, postgres);
async fn a_stranger_cannot_lift_the_hold_with_a_second_link_or_after_a_disconnect(
    backend: Backend,
) {
    let clock: SharedClock = Arc::new(ccbridge::clock::SystemClock);
    let sandbox = fast_sandbox_on(clock).await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    assert_eq!(connect_at(&app.client, &app.url("")).await.status(), 200);
    crate::alerts::break_connection(&app, &sandbox).await;
    let session = login(&app).await;
    sandbox.set_account_name("Stranger Inc");
    for _ in 0..2 {
        let link = create_link(&app, &session, "").await;
        assert_eq!(use_link(&app, &link).await.status(), 200);
        let set = app.store.token_set().await.unwrap().unwrap();
        assert!(set.switch_unconfirmed, "held again");
        assert_eq!(
            set.previous_account_name.as_deref(),
            Some("Sandbox Organization")
        );
    }
    let restored = |app: &TestApp| {
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.kind == AlertKind::ConnectionRestored)
            .count()
    };
    assert_eq!(restored(&app), 0, "nothing is restored while held");
    let links_alerts = app
        .alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind == AlertKind::ConnectedThroughLink)
        .count();
    assert_eq!(links_alerts, 2, "every link connection is reported");

    // Disconnect, then a link again: still not the confirmed account.
    let disconnected = session
        .post(&app, "/admin/disconnect", Some(&session.csrf))
        .await;
    assert_eq!(disconnected.status(), 303);
    let link = create_link(&app, &session, "").await;
    assert_eq!(use_link(&app, &link).await.status(), 200);
    assert!(
        app.store
            .token_set()
            .await
            .unwrap()
            .unwrap()
            .switch_unconfirmed
    );

    // The admin confirms: from now on the stranger's account is the confirmed one.
    let confirmed = confirm_switch(&app, &session, "Stranger Inc").await;
    assert_eq!(confirmed.headers()["location"], "/admin?switch-confirmed");
    assert_eq!(
        app.store
            .confirmed_account()
            .await
            .unwrap()
            .and_then(|(_, name)| name)
            .as_deref(),
        Some("Stranger Inc")
    );
    let link = create_link(&app, &session, "").await;
    assert_eq!(use_link(&app, &link).await.status(), 200);
    assert!(
        !app.store
            .token_set()
            .await
            .unwrap()
            .unwrap()
            .switch_unconfirmed
    );
    app.stop().await;
}

// The authorization a link starts is bound to the browser that pressed its button, as on
// /connect: the callback in another browser is refused, and the link, not consumed by a failed
// callback, still works for its owner.
backends!(a_link_authorization_finished_in_another_browser_is_refused_and_the_link_kept: sqlite, postgres);
async fn a_link_authorization_finished_in_another_browser_is_refused_and_the_link_kept(
    backend: Backend,
) {
    let (_sandbox, app, session) = connected(backend).await;
    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let link = create_link(&app, &session, "").await;
    let start = app.client.post(&link).send().await.unwrap();
    assert_eq!(start.status(), 303);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let approved = app.client.get(&authorize).send().await.unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    // Without the cookie the button set: another browser.
    let elsewhere = app.client.get(&callback).send().await.unwrap();
    assert_eq!(elsewhere.status(), 400);
    assert!(
        elsewhere
            .text()
            .await
            .unwrap()
            .contains("different browser")
    );
    assert_eq!(
        app.store.token_set().await.unwrap().unwrap().generation,
        generation,
        "nothing changed"
    );
    assert_eq!(
        app.store.connect_links().await.unwrap()[0].state(Utc::now()),
        LinkState::Active,
        "a refused callback does not use the link up"
    );
    assert_eq!(
        use_link(&app, &link).await.status(),
        200,
        "its owner can still use it"
    );
    app.stop().await;
}
