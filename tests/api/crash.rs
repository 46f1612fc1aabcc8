//! The real binary, killed with SIGKILL in the middle of a stream of signups: after a restart,
//! every signup that got a success answer is in the store. On either backend.

use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccbridge::config::DatabaseConfig;
use ccbridge::store::Store;
use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{
    Server, client, config_toml, database_url, eventually, fast_sandbox, free_port, raw_pool,
};

fn write_config(dir: &Path, db_url: &str, port: u16) -> PathBuf {
    let text = config_toml(db_url, "").replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let path = dir.join("ccbridge.toml");
    std::fs::write(&path, text).unwrap();
    path
}

backends!(every_acknowledged_signup_survives_a_sigkill_mid_stream: sqlite, postgres);
async fn every_acknowledged_signup_survives_a_sigkill_mid_stream(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database_url(backend, &dir.path().join("ccbridge.db")).await;
    let port = free_port();
    let config = write_config(dir.path(), &db, port);
    let mut server = Server::start(&config, port, &dir.path().join("first.log"));
    server.wait_ready().await;

    let acknowledged: Arc<Mutex<Vec<(uuid::Uuid, String)>>> = Arc::default();
    let mut senders = Vec::new();
    for worker in 0..8 {
        let acknowledged = acknowledged.clone();
        let url = format!("{}/signup/newsletter", server.base);
        senders.push(tokio::spawn(async move {
            let http = client();
            for n in 0..10_000 {
                let email = format!("w{worker}n{n}@example.com");
                let Ok(response) = http
                    .post(&url)
                    .json(&json!({ "email": email }))
                    .send()
                    .await
                else {
                    return; // the server is gone
                };
                if response.status() != 202 {
                    return;
                }
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                let id = body["id"].as_str().unwrap().parse().unwrap();
                acknowledged.lock().unwrap().push((id, email));
            }
        }));
    }
    let ack = acknowledged.clone();
    eventually(Duration::from_secs(60), "200 acknowledged signups", || {
        let n = ack.lock().unwrap().len();
        async move { (n >= 200).then_some(()) }
    })
    .await;

    server.kill();
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(30), sender)
            .await
            .expect("senders stop")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let restarted = Server::start(&config, port, &dir.path().join("second.log"));
    restarted.wait_ready().await;
    let store = Store::connect(&DatabaseConfig {
        url: db.parse().unwrap(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    let mut missing = Vec::new();
    for (id, email) in &acknowledged {
        match store.signup(*id).await.unwrap() {
            Some(stored) => assert_eq!(stored.email.as_ref(), Some(email)),
            None => missing.push(email.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged signups lost: {missing:?}",
        missing.len()
    );
    assert!(acknowledged.len() >= 200);
    store.close().await;
}

backends!(a_signup_being_delivered_when_the_process_is_killed_is_delivered_after_the_restart: sqlite, postgres);
async fn a_signup_being_delivered_when_the_process_is_killed_is_delivered_after_the_restart(
    backend: Backend,
) {
    use ccbridge::domain::SignupState;
    use ccbridge_sandbox::Faults;

    let sandbox = fast_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("ccbridge.db");
    let db = database_url(backend, &db_path).await;
    let port = free_port();
    let config = dir.path().join("ccbridge.toml");
    // On PostgreSQL the restart does not release the killed process's claim (another replica may
    // hold it); the lease must run out first.
    let text = crate::helpers::serve_config(
        port,
        &db,
        &sandbox,
        "request_timeout = \"5s\"",
        "claim_lease = \"10s\"",
    );
    std::fs::write(&config, text).unwrap();
    let mut server = Server::start(&config, port, &dir.path().join("first.log"));
    server.wait_ready().await;
    let http = client();
    assert_eq!(
        crate::helpers::connect_at(&http, &server.base)
            .await
            .status(),
        200
    );
    let store = Store::connect(&DatabaseConfig {
        url: db.parse().unwrap(),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    // Connecting starts the first sync of unsubscribed addresses (real calls): let it finish, so
    // that what the slow upstream holds up below is the delivery.
    crate::helpers::eventually(
        Duration::from_secs(20),
        "the first unsubscribe sync",
        || async { store.sync_state().await.ok()?.last_full_sync_at },
    )
    .await;

    // Slow the upstream so the kill lands while the delivery is in flight.
    sandbox.set_faults(Faults {
        latency_ms: 3_000,
        ..Faults::default()
    });
    let response = http
        .post(format!("{}/signup/newsletter", server.base))
        .json(&json!({ "email": "inflight@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id: uuid::Uuid = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let pool = raw_pool(backend, &db_path).await;
    eventually(
        Duration::from_secs(10),
        "the delivery to be in flight",
        || {
            let pool = pool.clone();
            async move {
                let claimed: (Option<String>,) =
                    sqlx::query_as("select claimed_by from signups where id = $1")
                        .bind(id.to_string())
                        .fetch_one(&pool)
                        .await
                        .ok()?;
                claimed.0.map(|_| ())
            }
        },
    )
    .await;
    pool.close().await;
    server.kill();
    assert_eq!(
        store.signup(id).await.unwrap().unwrap().state,
        SignupState::Pending
    );

    sandbox.set_faults(Faults::default());
    let restarted = Server::start(&config, port, &dir.path().join("second.log"));
    restarted.wait_ready().await;
    eventually(Duration::from_secs(30), "the signup to be delivered after the restart", || {
        let store = store.clone();
        async move { (store.signup(id).await.ok()??.state == SignupState::Delivered).then_some(()) }
    })
    .await;
    let arrived = sandbox
        .contacts()
        .into_iter()
        .filter(|c| c.email_address == "inflight@example.com")
        .count();
    assert_eq!(
        arrived, 1,
        "delivered once more, as one contact (an upsert by email)"
    );
    store.close().await;
}
