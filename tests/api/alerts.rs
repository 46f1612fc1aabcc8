//! The alert webhook, against a small receiver in the test: the connection needing a human, its
//! recovery, no repeat within `alerts.min_interval`, and a webhook that never answers slows
//! nothing down.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use ccbridge::alerts::AlertKind;
use ccbridge::tokens::TokenError;
use ccbridge_sandbox::{Faults, Sandbox};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually, fast_sandbox};

pub(crate) type Received = Arc<Mutex<Vec<Value>>>;

/// An HTTP server that records every JSON body POSTed to `/hook`.
pub(crate) async fn receiver() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(seen): State<Received>, Json(body): Json<Value>| async move {
                    seen.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

/// Revoke every token upstream and make the app refresh: the connection needs a reconnect.
pub(crate) async fn break_connection(app: &TestApp, sandbox: &Sandbox) {
    sandbox.revoke_all_tokens();
    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let refreshed = app.keeper.refresh(generation).await;
    assert!(
        matches!(refreshed, Err(TokenError::NeedsReconnect(_))),
        "{refreshed:?}"
    );
}

/// How many alerts of `kind` the app raised (whether or not the webhook sent them).
fn raised(app: &TestApp, kind: AlertKind) -> usize {
    app.alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind == kind)
        .count()
}

pub(crate) fn kinds(received: &Received) -> Vec<String> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|alert| alert["kind"].as_str().unwrap_or("?").to_owned())
        .collect()
}

backends!(the_webhook_hears_of_a_broken_connection_and_its_recovery_once_per_interval: sqlite, postgres);
async fn the_webhook_hears_of_a_broken_connection_and_its_recovery_once_per_interval(
    backend: Backend,
) {
    let (hook, received) = receiver().await;
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!(
            "[constant_contact]\nrequests_per_second = 1000\n[alerts]\nwebhook_url = \"http://{hook}/hook\"\nmin_interval = \"1h\""
        ),
    )
    .spawn()
    .await;
    app.connect_ok().await;

    break_connection(&app, &sandbox).await;
    eventually(
        Duration::from_secs(10),
        "the needs-reconnect alert",
        || async { (kinds(&received) == ["connection_needs_reconnect"]).then_some(()) },
    )
    .await;
    app.connect_ok().await;
    eventually(Duration::from_secs(10), "the recovery alert", || async {
        (kinds(&received) == ["connection_needs_reconnect", "connection_restored"]).then_some(())
    })
    .await;

    // The same again within the hour: logged and raised, but not sent again.
    break_connection(&app, &sandbox).await;
    let reconnected_at = Utc::now();
    app.connect_ok().await;
    eventually(
        Duration::from_secs(10),
        "both alerts raised again and the new connection's account check done",
        || async {
            // Published once its API calls are done, so none of them can meet the 403 below.
            let checked_at = app.readyz().await["account_check"]["checked_at"].clone();
            let rechecked = checked_at
                .as_str()
                .and_then(|at| at.parse::<DateTime<Utc>>().ok())
                .is_some_and(|at| at >= reconnected_at);
            (raised(&app, AlertKind::ConnectionNeedsReconnect) == 2
                && raised(&app, AlertKind::ConnectionRestored) == 2
                && rechecked)
                .then_some(())
        },
    )
    .await;
    // The webhook sends in the order alerts are raised: once an alert raised after those two (a
    // 403 pausing deliveries) has arrived, either of them sent again would have arrived before it.
    sandbox.set_faults(Faults {
        forbidden_next: 1,
        ..Faults::default()
    });
    let signup = app
        .post_json("newsletter", &json!({ "email": "paused@example.com" }))
        .await;
    assert_eq!(signup.status(), 202);
    eventually(
        Duration::from_secs(20),
        "the delivery-paused alert",
        || async {
            kinds(&received)
                .contains(&"delivery_paused".to_owned())
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        kinds(&received),
        [
            "connection_needs_reconnect",
            "connection_restored",
            "delivery_paused"
        ]
    );
    assert_eq!(
        raised(&app, AlertKind::ConnectionNeedsReconnect),
        2,
        "both were raised; only the webhook held one back"
    );

    let first = received.lock().unwrap()[0].clone();
    let text = first["text"].as_str().unwrap();
    assert!(text.contains("reconnect"), "{text}");
    assert_eq!(first["ccbridge"]["url"], app.url("/"));
    assert!(first["ccbridge"]["version"].is_string());
    app.stop().await;
}

backends!(a_webhook_that_never_answers_does_not_slow_anything_down: sqlite, postgres);
async fn a_webhook_that_never_answers_does_not_slow_anything_down(backend: Backend) {
    // Accepts connections (the kernel's backlog) but never reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = silent.local_addr().unwrap();
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!(
            "[constant_contact]\nrequests_per_second = 1000\n[alerts]\nwebhook_url = \"http://{hook}/hook\"\ntimeout = \"30s\""
        ),
    )
    .spawn()
    .await;
    app.connect_ok().await;

    let started = Instant::now();
    break_connection(&app, &sandbox).await;

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "raising an alert waited for the webhook: {:?}",
        started.elapsed()
    );
    assert_eq!(app.readyz().await["connection"]["state"], "needs_reconnect");
    app.stop().await;
    drop(silent);
}
