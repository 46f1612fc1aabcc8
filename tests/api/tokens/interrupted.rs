//! A refresh interrupted by a crash is reported even when the process comes back while the dead
//! refresh's lease is still live (a container restart takes seconds): when the lease runs out
//! without a new generation, whoever notices raises the alert, once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{Clock as _, ManualClock};
use ccbridge::store::StoredTokenSet;
use ccbridge::tokens::TokenError;
use ccbridge_sandbox::Sandbox;
use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret as _;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually, fast_sandbox, raw_pool};

fn interruptions(app: &TestApp) -> usize {
    app.alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind == AlertKind::RefreshInterrupted)
        .count()
}

backends!(a_refresh_interrupted_by_a_quick_restart_is_reported_when_its_lease_runs_out: sqlite, postgres);
async fn a_refresh_interrupted_by_a_quick_restart_is_reported_when_its_lease_runs_out(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let first = AppOptions::against(backend, &sandbox, "")
        .clock(clock.clone())
        .spawn()
        .await;
    first.connect_ok().await;
    let set = first.store.token_set().await.unwrap().unwrap();
    let (dir, db_path) = first.stop().await;
    // An older crash, long over: its lapsed lease is what the start check reports. Waiting for
    // that report is how the test knows the start check is behind it.
    set_lease(
        backend,
        &db_path,
        "crashed-long-ago",
        clock.now() - Duration::minutes(10),
    )
    .await;
    let mut options = AppOptions::new(backend, dir, db_path, "").clock(clock.clone());
    options.sandbox = Some(&sandbox);
    let second = options.spawn().await;
    eventually(StdDuration::from_secs(10), "the start check", || async {
        (interruptions(&second) == 1).then_some(())
    })
    .await;
    // The crash of the issue: a process (the previous container) committed its lease, the token
    // call went out and Constant Contact rotated the token, then it was SIGKILLed before
    // committing the answer; this process came up seconds later, while that lease still runs.
    let now = clock.now();
    assert!(
        second
            .store
            .claim_refresh(set.generation, "killed", now, now + Duration::seconds(30))
            .await
            .unwrap()
    );
    rotate(&sandbox, &second, &set).await;
    clock.advance(Duration::seconds(5));
    second.keeper.refresh_if_due().await.unwrap();
    assert_eq!(
        interruptions(&second),
        1,
        "a live lease may be a refresh in progress"
    );

    clock.advance(Duration::seconds(26));
    // The background task's step, which it runs when the lease runs out (its next look is set to
    // then); the task itself may get there first.
    eventually(
        StdDuration::from_secs(10),
        "the lapsed lease to be reported",
        || async {
            second.keeper.refresh_if_due().await.unwrap();
            (interruptions(&second) == 2).then_some(())
        },
    )
    .await;
    second.keeper.refresh_if_due().await.unwrap();

    assert_eq!(
        interruptions(&second),
        2,
        "the lapsed lease is reported once, without waiting for a restart"
    );
    let result = second.keeper.refresh(set.generation).await;
    assert!(
        matches!(result, Err(TokenError::NeedsReconnect(ref r)) if r == "refresh_interrupted"),
        "{result:?}"
    );
    assert_eq!(
        second.readyz().await["connection"]["reason"],
        "refresh_interrupted"
    );
    second.stop().await;
}

/// Write a refresh lease held by `owner` until `until` straight into the stopped app's database.
async fn set_lease(backend: Backend, db_path: &Path, owner: &str, until: DateTime<Utc>) {
    let pool = raw_pool(backend, db_path).await;
    sqlx::query(
        "update token_set set refresh_started_at = $1, refresh_owner = $2, refresh_lease_until = $3",
    )
    .bind((until - Duration::seconds(30)).timestamp_millis())
    .bind(owner)
    .bind(until.timestamp_millis())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

/// Use the stored refresh token at the token endpoint, as the killed process did: with rotating
/// refresh tokens, the stored one is dead afterwards.
async fn rotate(sandbox: &Sandbox, app: &TestApp, set: &StoredTokenSet) {
    let stored_refresh = app
        .keeper
        .cipher()
        .open(&set.refresh_token, "refresh_token")
        .unwrap();
    let rotated = crate::helpers::client()
        .post(sandbox.token_url())
        .basic_auth(sandbox.client_id(), Some(sandbox.client_secret()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", stored_refresh.expose_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
}

backends!(the_background_task_looks_again_when_a_live_lease_runs_out: sqlite, postgres);
async fn the_background_task_looks_again_when_a_live_lease_runs_out(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = AppOptions::against(backend, &sandbox, "")
        .clock(clock.clone())
        .spawn()
        .await;
    app.connect_ok().await;
    let set = app.store.token_set().await.unwrap().unwrap();
    let now = clock.now();
    let lease_until = now + Duration::seconds(30);
    assert!(
        app.store
            .claim_refresh(set.generation, "elsewhere", now, lease_until)
            .await
            .unwrap()
    );

    let next = app.keeper.refresh_if_due().await.unwrap();

    assert_eq!(
        next.map(|at| at.timestamp_millis()),
        Some(lease_until.timestamp_millis()),
        "the next look is when the lease runs out, not at the token's refresh time"
    );
    app.stop().await;
}
