//! Several processes on one database (see the spec's "Scale-out"). These tests are about a
//! database shared by replicas, so they run on PostgreSQL only: every app here gets a PostgreSQL
//! schema URL (a missing server fails them, it never skips them). And SQLite's side of the same
//! rule, on SQLite only: a second process on one file is refused.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ccbridge::clock::SystemClock;
use ccbridge::delivery::Pause;
use ccbridge::domain::SignupState;
use ccbridge_sandbox::{Faults, SandboxConfig};
use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{Value, json};
use sqlx::AnyPool;

use crate::database::Backend;
use crate::helpers::{
    AppOptions, Server, TestApp, client, config_toml, connect_at, eventually, fast_sandbox,
    free_port, serve_config, sqlite_url, start_sandbox,
};

/// The `database.url` of a PostgreSQL schema named by `path`.
async fn postgres_url(path: &Path) -> String {
    crate::database::postgres_schema_url(path).await
}

/// A fresh PostgreSQL schema for a test's replicas to share.
async fn shared_database(dir: &Path) -> String {
    postgres_url(&dir.join("shared.db")).await
}

/// A pool on the shared database, to look at rows the store does not expose (`claimed_by`).
async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url)
        .await
        .unwrap_or_else(|e| panic!("the shared PostgreSQL schema must open ({e})"))
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().expect("a valid time")
}

async fn post(app: &TestApp, email: &str) {
    let response = app
        .post_json("newsletter", &json!({ "email": email }))
        .await;
    assert_eq!(response.status(), 202, "{email} accepted");
}

/// Access tokens live 8 s and are refreshed 2 s (plus up to a quarter of that) before expiry.
const LIFETIME: f64 = 8.0;
const MARGIN: f64 = 2.0;

// PostgreSQL only: replicas share one database, which SQLite cannot be.
backends!(three_replicas_share_one_refresh_per_lifetime_and_one_rate_limit: postgres);
async fn three_replicas_share_one_refresh_per_lifetime_and_one_rate_limit(backend: Backend) {
    let sandbox = start_sandbox(
        SandboxConfig {
            expires_in: LIFETIME as u64,
            rotating_refresh_tokens: true,
            requests_per_second: 4,
            ..SandboxConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = shared_database(dir.path()).await;
    let extra = format!(
        "[constant_contact]\nrequests_per_second = 4\nrefresh_margin = \"{}s\"",
        MARGIN as u64
    );
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let url = url.clone();
        replicas.push(
            AppOptions::against(backend, &sandbox, &extra)
                .configure(move |c| c.database.url = url.parse().unwrap())
                .spawn()
                .await,
        );
    }
    replicas[0].connect_ok().await;
    let connected_at = replicas[1]
        .store
        .token_set()
        .await
        .unwrap()
        .expect("the other replicas see the connection")
        .obtained_at;

    // 54 signups, one every 500 ms, round-robin: 26.5 s, over three token lifetimes.
    const SIGNUPS: usize = 54;
    let emails: Vec<String> = (0..SIGNUPS)
        .map(|i| format!("replica{i}@example.com"))
        .collect();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    for (i, email) in emails.iter().enumerate() {
        tick.tick().await;
        post(&replicas[i % 3], email).await;
    }
    eventually(
        Duration::from_secs(20),
        "every signup delivered",
        || async {
            let counts = replicas[2].store.queue_counts().await.ok()?;
            (counts.delivered == SIGNUPS as u64).then_some(())
        },
    )
    .await;
    let stats = sandbox.stats();
    let elapsed = (Utc::now() - connected_at).as_seconds_f64();

    // Refresh k is due at least LIFETIME − MARGIN − MARGIN/4 after refresh k − 1 was obtained
    // (the first after the connection), so at most ⌊elapsed / 5.5 s⌋ fit; one is due at most
    // LIFETIME − MARGIN after the last, and a second of slack covers the wake-ups and the call.
    let most = (elapsed / (LIFETIME - MARGIN - MARGIN / 4.0)).floor() as u64;
    let least = ((elapsed / (LIFETIME - MARGIN + 1.0)).floor() as u64).max(2);
    println!(
        "replicas: {elapsed:.1}s since connecting, {} refreshes (expected {least}..={most}), \
         peak {}/s, {} API requests, {} throttled, {} invalid grants, {} contacts created",
        stats.refreshes,
        stats.peak_requests_per_second,
        stats.api_requests,
        stats.throttled,
        stats.invalid_grants,
        stats.contacts_created,
    );
    assert!(
        elapsed >= 3.0 * LIFETIME,
        "ran {elapsed:.1}s: three lifetimes"
    );
    assert_eq!(stats.invalid_grants, 0, "no refresh token was ever burnt");
    assert!(
        (least..=most).contains(&stats.refreshes),
        "{} refreshes in {elapsed:.1}s with {LIFETIME}s tokens: one per lifetime for all three \
         replicas together means {least}..={most}",
        stats.refreshes
    );
    assert!(
        stats.peak_requests_per_second <= 4,
        "three replicas together peaked at {}/s",
        stats.peak_requests_per_second
    );
    assert_eq!(stats.throttled, 0);

    let contacts = sandbox.contacts();
    for email in &emails {
        let arrived = contacts
            .iter()
            .filter(|c| &c.email_address == email)
            .count();
        assert_eq!(arrived, 1, "{email} arrived once");
    }
    assert_eq!(contacts.len(), SIGNUPS);
    assert_eq!(
        stats.contacts_created, SIGNUPS as u64,
        "one call per signup"
    );
    let stored = replicas[0].signups().await;
    assert_eq!(stored.len(), SIGNUPS);
    assert!(
        stored.iter().all(|s| s.state == SignupState::Delivered),
        "every stored signup is delivered"
    );
    let token_set = replicas[0].store.token_set().await.unwrap().unwrap();
    assert_eq!(token_set.state, "connected");
    assert_eq!(
        token_set.generation,
        1 + stats.refreshes as i64,
        "every refresh was committed"
    );
    for replica in replicas {
        replica.stop().await;
    }
}

/// One row of `signups`, with the claim columns the store does not expose.
#[derive(sqlx::FromRow, Debug)]
struct ClaimRow {
    id: String,
    email: String,
    state: String,
    claimed_by: Option<String>,
    claimed_until: Option<i64>,
}

async fn claims(pool: &AnyPool) -> Vec<ClaimRow> {
    sqlx::query_as("select id, email, state, claimed_by, claimed_until from signups order by id")
        .fetch_all(pool)
        .await
        .expect("signups readable")
}

// PostgreSQL only: replicas share one database, which SQLite cannot be.
backends!(a_replica_killed_mid_delivery_leaves_its_signups_to_another: postgres);
async fn a_replica_killed_mid_delivery_leaves_its_signups_to_another(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let url = shared_database(dir.path()).await;
    const TUNING: &str = "[constant_contact]\nrequest_timeout = \"2s\"\nrequests_per_second = 1000\n[delivery]\nclaim_lease = \"4s\"\nconcurrency = 8";

    // Replica A: the real binary, so that it can really die.
    let port = free_port();
    let config = dir.path().join("a.toml");
    let text = serve_config(
        port,
        &url,
        &sandbox,
        "request_timeout = \"2s\"",
        "claim_lease = \"4s\"\nconcurrency = 8",
    );
    std::fs::write(&config, text).unwrap();
    let mut a = Server::start(&config, port, &dir.path().join("a.log"));
    a.wait_ready().await;
    let http = client();
    assert_eq!(connect_at(&http, &a.base).await.status(), 200);
    let db = pool(&url).await;
    // Connecting starts the first sync of unsubscribed addresses (real calls), which single opt-in
    // deliveries wait for: let it finish before the upstream hangs.
    eventually(
        Duration::from_secs(20),
        "the first unsubscribe sync",
        || async {
            let (done,): (Option<i64>,) =
                sqlx::query_as("select last_full_sync_at from unsubscribed_sync where id = 1")
                    .fetch_one(&db)
                    .await
                    .ok()?;
            done
        },
    )
    .await;

    // Upstream hangs far longer than anything: A's deliveries are in flight until it dies.
    sandbox.set_faults(Faults {
        latency_ms: 60_000,
        ..Faults::default()
    });
    const SIGNUPS: usize = 5;
    let emails: Vec<String> = (0..SIGNUPS)
        .map(|i| format!("orphan{i}@example.com"))
        .collect();
    for email in &emails {
        let response = http
            .post(format!("{}/signup/newsletter", a.base))
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let claimed = eventually(
        Duration::from_secs(10),
        "A to claim every signup",
        || async {
            let rows = claims(&db).await;
            (rows.len() == SIGNUPS && rows.iter().all(|r| r.claimed_by.is_some())).then_some(rows)
        },
    )
    .await;
    a.kill();
    let killed_at = Utc::now();

    // A died holding its claims: nothing settled them, nothing released them.
    let after_kill = claims(&db).await;
    let owner = claimed[0].claimed_by.clone().unwrap();
    for (row, before) in after_kill.iter().zip(&claimed) {
        assert_eq!(
            (row.state.as_str(), row.claimed_by.as_ref()),
            ("pending", Some(&owner)),
            "{} is still claimed by the dead replica",
            row.email
        );
        assert_eq!(row.claimed_until, before.claimed_until);
    }
    let lease_ends: Vec<DateTime<Utc>> = after_kill
        .iter()
        .map(|r| millis(r.claimed_until.unwrap()))
        .collect();
    let first_lease_end = *lease_ends.iter().min().unwrap();
    assert!(
        killed_at < first_lease_end,
        "A was killed while its claims were live"
    );

    // Replica B, in process, on the same database; upstream well again.
    sandbox.set_faults(Faults::default());
    let b_url = url.clone();
    let b = AppOptions::against(backend, &sandbox, TUNING)
        .configure(move |c| c.database.url = b_url.parse().unwrap())
        .spawn()
        .await;
    let b_started = Utc::now();
    assert!(
        b_started < first_lease_end,
        "B runs while A's claims are still live (started {b_started}, first lease ends {first_lease_end})"
    );
    eventually(
        Duration::from_secs(20),
        "B to deliver every signup A had claimed",
        || async {
            let counts = b.store.queue_counts().await.ok()?;
            (counts.delivered == SIGNUPS as u64).then_some(())
        },
    )
    .await;

    // Both lists are ordered by id.
    let stored = b.signups().await;
    assert_eq!(stored.len(), SIGNUPS);
    for ((signup, row), lease_end) in stored.iter().zip(&after_kill).zip(&lease_ends) {
        assert_eq!(signup.id.to_string(), row.id);
        assert_eq!(signup.state, SignupState::Delivered);
        let delivered_at = signup.delivered_at.expect("delivered_at");
        assert!(
            delivered_at >= *lease_end,
            "{:?} delivered at {delivered_at}, before A's claim ran out at {lease_end}",
            signup.email
        );
    }
    let first_delivery = stored.iter().filter_map(|s| s.delivered_at).min().unwrap();
    let last_lease_end = *lease_ends.iter().max().unwrap();
    println!(
        "replicas: A killed {:.2}s before its first claim ran out; claims ran out by +{:.2}s; \
         B delivered {SIGNUPS} signups from +{:.2}s (times after the kill)",
        (first_lease_end - killed_at).as_seconds_f64(),
        (last_lease_end - killed_at).as_seconds_f64(),
        (first_delivery - killed_at).as_seconds_f64(),
    );
    let contacts = sandbox.contacts();
    for email in &emails {
        let arrived = contacts
            .iter()
            .filter(|c| &c.email_address == email)
            .count();
        assert_eq!(arrived, 1, "{email} arrived once");
    }
    assert_eq!(contacts.len(), SIGNUPS);
    let remaining = claims(&db).await;
    assert!(
        remaining.iter().all(|r| r.claimed_by.is_none()),
        "B settled its claims: {remaining:?}"
    );
    db.close().await;
    b.stop().await;
}

// PostgreSQL only: replicas share one database, which SQLite cannot be.
backends!(a_connection_made_through_one_replica_resumes_deliveries_on_every_replica: postgres);
async fn a_connection_made_through_one_replica_resumes_deliveries_on_every_replica(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let url = shared_database(dir.path()).await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let url = url.clone();
        replicas.push(
            AppOptions::against(
                backend,
                &sandbox,
                "[constant_contact]\nrequests_per_second = 1000",
            )
            .configure(move |c| c.database.url = url.parse().unwrap())
            .spawn()
            .await,
        );
    }
    let (a, b) = (&replicas[0], &replicas[1]);
    // Signups before anyone connected: each replica's worker finds no token and waits.
    post(a, "first@example.com").await;
    eventually(
        Duration::from_secs(10),
        "replica A to wait for a connection",
        || async { matches!(a.delivery.pause(), Some(Pause::AwaitingConnection(_))).then_some(()) },
    )
    .await;
    post(b, "second@example.com").await;
    eventually(
        Duration::from_secs(10),
        "replica B to wait for a connection",
        || async { matches!(b.delivery.pause(), Some(Pause::AwaitingConnection(_))).then_some(()) },
    )
    .await;

    // The admin's browser lands on replica A only.
    a.connect_ok().await;

    eventually(
        Duration::from_secs(15),
        "replica B to notice the connection made through A",
        || async { b.delivery.pause().is_none().then_some(()) },
    )
    .await;
    eventually(
        Duration::from_secs(15),
        "both signups delivered",
        || async {
            let counts = b.store.queue_counts().await.ok()?;
            (counts.delivered == 2).then_some(())
        },
    )
    .await;
    post(b, "third@example.com").await;
    eventually(
        Duration::from_secs(15),
        "a signup posted to B after the connection",
        || async {
            let counts = b.store.queue_counts().await.ok()?;
            (counts.delivered == 3).then_some(())
        },
    )
    .await;
    for replica in replicas {
        replica.stop().await;
    }
}

// SQLite only: about SQLite's own file.
backends!(a_second_process_on_one_sqlite_file_is_refused_with_a_pointer_to_postgres: sqlite);
async fn a_second_process_on_one_sqlite_file_is_refused_with_a_pointer_to_postgres(
    backend: Backend,
) {
    let first = AppOptions::fresh(backend, "").spawn().await;
    let db_url = sqlite_url(&first.db_path);
    let port = free_port();
    let config = first.dir.path().join("second.toml");
    let text = config_toml(&db_url, "").replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&config, text).unwrap();

    let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("the second process exits promptly instead of serving")
        .expect("ccbridge runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "refused: {stderr}");
    assert!(
        stderr.contains("PostgreSQL") && stderr.contains("postgres://"),
        "the refusal points at PostgreSQL: {stderr}"
    );
    assert!(
        http_refused(port).await,
        "the second process never served on port {port}"
    );
    let readyz = first.readyz().await;
    assert_eq!(readyz["database"], Value::from("ok"), "{readyz}");

    let (dir, db_path) = first.stop().await;
    let again = AppOptions::new(backend, dir, db_path, "").spawn().await;
    let response = again.client.get(again.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200, "a new process on the file starts");
    again.stop().await;
}

async fn http_refused(port: u16) -> bool {
    client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
}
