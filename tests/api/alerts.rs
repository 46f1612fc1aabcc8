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
use ccbridge_sandbox::Sandbox;
use serde_json::Value;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually, fast_sandbox};

type Received = Arc<Mutex<Vec<Value>>>;

/// An HTTP server that records every JSON body POSTed to `/hook`.
async fn receiver() -> (SocketAddr, Received) {
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
async fn break_connection(app: &TestApp, sandbox: &Sandbox) {
    sandbox.revoke_all_tokens();
    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let refreshed = app.keeper.refresh(generation).await;
    assert!(
        matches!(refreshed, Err(TokenError::NeedsReconnect(_))),
        "{refreshed:?}"
    );
}

fn kinds(received: &Received) -> Vec<String> {
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
    let app = AppOptions::against(backend,
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
    app.connect_ok().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        kinds(&received),
        ["connection_needs_reconnect", "connection_restored"]
    );
    let raised = app
        .alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind == AlertKind::ConnectionNeedsReconnect)
        .count();
    assert_eq!(
        raised, 2,
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
    let app = AppOptions::against(backend,
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
