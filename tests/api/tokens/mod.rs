//! Keeping the token set fresh without ever burning a refresh token (invariant 2): one refresh
//! for many callers, ahead of expiry, across restarts, crashes and a database refusing writes, and
//! an invalid grant reported as needing a reconnect (`ccbridge status --json`, exit code 2).

mod cipher;
mod generation;
mod interrupted;

use std::sync::Arc;
use std::time::Duration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{ManualClock, SharedClock, SystemClock};
use ccbridge::tokens::TokenError;
use ccbridge_sandbox::SandboxConfig;
use chrono::Utc;
use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{
    AppOptions, TestApp, eventually, fast_sandbox, list_count, sandbox, start_sandbox,
};

/// How often, so far in this process, a refreshed token set was refused by the database and
/// retried (`ccbridge_token_commit_retries_total` from `/metrics`). The counter is process-wide
/// and has no label to tell apps apart, so a test that reads it holds `COMMIT_RETRIES`: its twin
/// on the other backend, in the same process, waits its turn.
async fn commit_retries(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("ccbridge_token_commit_retries_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Held by the tests that read `commit_retries` (see there).
static COMMIT_RETRIES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

backends!(fifty_concurrent_callers_that_need_a_fresh_token_cause_exactly_one_refresh: sqlite, postgres);
async fn fifty_concurrent_callers_that_need_a_fresh_token_cause_exactly_one_refresh(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    sandbox.expire_access_tokens();

    let app = Arc::new(app);
    let mut callers = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        callers.push(tokio::spawn(async move { list_count(&app).await }));
    }
    for caller in callers {
        assert_eq!(
            caller.await.unwrap().unwrap(),
            3,
            "every caller got through"
        );
    }

    let stats = sandbox.stats();
    assert_eq!(stats.refreshes, 1, "one refresh for fifty callers");
    assert_eq!(stats.invalid_grants, 0);
    assert_eq!(app.store.token_set().await.unwrap().unwrap().generation, 2);
    Arc::into_inner(app).unwrap().stop().await;
}

backends!(a_restart_after_a_refresh_keeps_working_with_the_rotated_token: sqlite, postgres);
async fn a_restart_after_a_refresh_keeps_working_with_the_rotated_token(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let first = AppOptions::against(backend, &sandbox, "").spawn().await;
    first.connect_ok().await;
    let generation = first.store.token_set().await.unwrap().unwrap().generation;
    first.keeper.refresh(generation).await.unwrap();
    let (dir, db_path) = first.stop().await;

    let mut options = AppOptions::new(backend, dir, db_path, "");
    options.sandbox = Some(&sandbox);
    let second = options.spawn().await;
    let generation = second.store.token_set().await.unwrap().unwrap().generation;
    second
        .keeper
        .refresh(generation)
        .await
        .expect("the committed rotated token refreshes");
    assert_eq!(list_count(&second).await.unwrap(), 3);

    let stats = sandbox.stats();
    assert_eq!(stats.refreshes, 2);
    assert_eq!(stats.invalid_grants, 0);
    second.stop().await;
}

backends!(the_keeper_refreshes_ahead_of_expiry_over_many_lifetimes: sqlite, postgres);
async fn the_keeper_refreshes_ahead_of_expiry_over_many_lifetimes(backend: Backend) {
    // One clock for both sides: the sandbox expires tokens by it, the keeper schedules by it.
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = start_sandbox(
        SandboxConfig {
            expires_in: 3600,
            ..SandboxConfig::default()
        },
        shared.clone(),
    )
    .await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrefresh_margin = \"10m\"",
    )
    .clock(shared)
    // The unsubscribe sync's loop sleeps on this clock too: woken by a jump, its call could take
    // the token just before the next jump and arrive expired, a 401 that says nothing about the
    // keeper. This test is about the keeper alone.
    .configure(|config| config.delivery.respect_unsubscribes = false)
    .spawn()
    .await;
    app.connect_ok().await;
    // Connecting starts the account check in the background; its calls must not straddle the
    // clock jumps below (a call that took its token before a jump would arrive expired).
    app.account_checked().await;

    for lifetime in 1..=6u64 {
        let due = app
            .keeper
            .refresh_if_due()
            .await
            .unwrap()
            .expect("connected: a refresh is scheduled");
        let set = app.store.token_set().await.unwrap().unwrap();
        assert!(
            due < set.expires_at - chrono::Duration::minutes(10),
            "due before the margin"
        );
        assert!(
            due > set.expires_at - chrono::Duration::minutes(13),
            "jitter stays within a quarter margin"
        );
        clock.set(due);
        app.keeper.refresh_if_due().await.unwrap();
        assert_eq!(sandbox.stats().refreshes, lifetime);
        assert_eq!(
            list_count(&app).await.unwrap(),
            3,
            "the token in use is never expired"
        );
    }
    let stats = sandbox.stats();
    assert_eq!((stats.invalid_grants, stats.unauthorized), (0, 0));
    app.stop().await;
}

backends!(with_a_short_lifetime_the_background_task_keeps_the_token_fresh: sqlite, postgres);
async fn with_a_short_lifetime_the_background_task_keeps_the_token_fresh(backend: Backend) {
    let sandbox = start_sandbox(
        SandboxConfig {
            expires_in: 4,
            ..SandboxConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;

    eventually(Duration::from_secs(30), "four background refreshes", || {
        let refreshes = sandbox.stats().refreshes;
        async move { (refreshes >= 4).then_some(()) }
    })
    .await;

    let stats = sandbox.stats();
    assert_eq!(stats.invalid_grants, 0);
    let set = app.store.token_set().await.unwrap().unwrap();
    assert!(
        set.expires_at > Utc::now(),
        "the stored token is never left to expire"
    );
    app.stop().await;
}

backends!(invalid_grant_means_needs_reconnect_while_signups_are_still_accepted_until_reconnected: sqlite, postgres);
async fn invalid_grant_means_needs_reconnect_while_signups_are_still_accepted_until_reconnected(
    backend: Backend,
) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;
    sandbox.revoke_all_tokens();

    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let result = app.keeper.refresh(generation).await;

    assert!(
        matches!(result, Err(TokenError::NeedsReconnect(ref r)) if r == "invalid_grant"),
        "{result:?}"
    );
    let readyz = app.readyz_as_admin().await;
    assert_eq!(
        readyz.status(),
        200,
        "a broken connection does not make the instance unready"
    );
    let status: Value = readyz.json().await.unwrap();
    assert_eq!(status["connection"]["state"], "needs_reconnect");
    assert_eq!(status["connection"]["reason"], "invalid_grant");
    assert!(
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::ConnectionNeedsReconnect)
    );
    let (code, cli_status) = status_json(&app).await;
    assert_eq!(code, Some(2), "status exits 2 when a reconnect is needed");
    assert_eq!(
        cli_status["connection"], status["connection"],
        "`status --json` and /readyz share one shape"
    );
    let signup = app
        .post_json("newsletter", &json!({ "email": "queued@example.com" }))
        .await;
    assert_eq!(signup.status(), 202);

    app.connect_ok().await;

    assert_eq!(app.readyz().await["connection"]["state"], "connected");
    assert!(
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::ConnectionRestored)
    );
    eventually(
        Duration::from_secs(20),
        "the queued signup to arrive",
        || {
            let arrived = sandbox
                .contacts()
                .iter()
                .any(|c| c.email_address == "queued@example.com");
            async move { arrived.then_some(()) }
        },
    )
    .await;
    app.stop().await;
}

/// Run `ccbridge status --json` against the app's database.
async fn status_json(app: &TestApp) -> (Option<i32>, Value) {
    let config = app.dir.path().join("status.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{}\"\n", app.db_url)).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(["status", "--json", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).expect("status --json prints JSON");
    (output.status.code(), json)
}

backends!(a_refresh_interrupted_by_a_crash_is_reported_precisely: sqlite, postgres);
async fn a_refresh_interrupted_by_a_crash_is_reported_precisely(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let first = AppOptions::against(backend, &sandbox, "").spawn().await;
    first.connect_ok().await;
    let set = first.store.token_set().await.unwrap().unwrap();
    let stored_refresh = first
        .keeper
        .cipher()
        .open(&set.refresh_token, "refresh_token")
        .unwrap();
    let (dir, db_path) = first.stop().await;
    // The crash: the lease was committed, the token call went out and Constant Contact rotated the
    // token, but the process died before committing the answer.
    let pool = crate::helpers::raw_pool(backend, &db_path).await;
    sqlx::query("update token_set set refresh_started_at = 1, refresh_owner = 'crashed', refresh_lease_until = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    use secrecy::ExposeSecret as _;
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

    let mut options = AppOptions::new(backend, dir, db_path, "");
    options.sandbox = Some(&sandbox);
    let second = options.spawn().await;
    eventually(
        Duration::from_secs(10),
        "the interrupted refresh to be reported",
        || {
            let reported = second
                .alerts
                .lock()
                .unwrap()
                .iter()
                .any(|a| a.kind == AlertKind::RefreshInterrupted);
            async move { reported.then_some(()) }
        },
    )
    .await;
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

backends!(a_refreshed_token_set_survives_a_database_that_refuses_writes_for_a_while: sqlite, postgres);
async fn a_refreshed_token_set_survives_a_database_that_refuses_writes_for_a_while(
    backend: Backend,
) {
    let _turn = COMMIT_RETRIES.lock().await;
    let sandbox = sandbox().await;
    let clock = ManualClock::new(Utc::now());
    let app = AppOptions::against(backend, &sandbox, "")
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    app.connect_ok().await;
    let before = app.store.token_set().await.unwrap().unwrap();
    sandbox.set_faults(ccbridge_sandbox::Faults {
        latency_ms: 1_000,
        ..Default::default()
    });
    let keeper = app.keeper.clone();
    let refresh = tokio::spawn(async move { keeper.refresh(before.generation).await });

    // The lease is committed before the token call; while the call is out, the database stops
    // taking writes, so the rotated token set cannot be committed when it arrives.
    eventually(Duration::from_secs(5), "the refresh lease", || async {
        app.store.token_set().await.ok()??.refresh_owner.map(|_| ())
    })
    .await;
    let lock = crate::helpers::WriteLock::take(backend, &app.db_path).await;
    let retries_before = commit_retries(&app).await;
    eventually(Duration::from_secs(10), "the upstream refresh", || async {
        (sandbox.stats().refreshes == 1).then_some(())
    })
    .await;
    eventually(Duration::from_secs(10), "a refused commit", || async {
        (commit_retries(&app).await > retries_before).then_some(())
    })
    .await;
    // The outage lasts almost all of the keeper's patience (5 minutes on its clock; the earlier
    // version gave up after 11 s): it keeps offering the set to the database.
    clock.advance(chrono::Duration::seconds(290));
    let retries_late = commit_retries(&app).await;
    eventually(
        Duration::from_secs(10),
        "commit attempts late in the outage",
        || async { (commit_retries(&app).await >= retries_late + 2).then_some(()) },
    )
    .await;
    assert!(!refresh.is_finished(), "still trying to commit");
    lock.release().await;

    let refreshed = tokio::time::timeout(Duration::from_secs(10), refresh)
        .await
        .expect("the commit goes through once the database takes writes")
        .unwrap()
        .expect("the refresh succeeds");
    let after = app.store.token_set().await.unwrap().unwrap();
    assert_eq!(after.generation, before.generation + 1);
    assert_eq!(refreshed.generation, after.generation);
    assert_eq!(after.state, "connected");
    sandbox.set_faults(ccbridge_sandbox::Faults::default());
    assert!(list_count(&app).await.is_ok(), "the new set works upstream");
    assert_eq!(
        sandbox.stats().invalid_grants,
        0,
        "no refresh token was burnt"
    );
    assert_eq!(sandbox.stats().refreshes, 1);
    app.stop().await;
}
