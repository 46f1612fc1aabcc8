//! Connecting to Constant Contact (through the sandbox, on real sockets) and keeping the token set
//! fresh without ever burning a refresh token (invariant 2).

use std::sync::Arc;
use std::time::Duration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{ManualClock, SharedClock, SystemClock};
use ccbridge::tokens::TokenError;
use ccbridge_sandbox::{Sandbox, SandboxConfig};
use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_USER, AppOptions, TestApp, cookie_pair, eventually, fast_sandbox, start_sandbox,
};

async fn sandbox() -> Sandbox {
    start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await
}

/// How often, so far in this process, a refreshed token set was refused by the database and
/// retried (`ccbridge_token_commit_retries_total` from `/metrics`).
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

/// An API call through the keeper (refreshing on 401), for tests.
async fn list_count(app: &TestApp) -> Result<usize, ccbridge::tokens::CallError> {
    let api = app_api(app);
    app.keeper
        .call(|token| {
            let api = api.clone();
            async move { api.contact_lists(&token).await.map(|l| l.len()) }
        })
        .await
}

fn app_api(app: &TestApp) -> ccbridge::constant_contact::ApiClient {
    app.api.clone()
}

#[tokio::test]
async fn the_admin_connects_and_readyz_reports_the_account() {
    let sandbox = sandbox().await;
    let app = AppOptions::against(
        &sandbox,
        "[constant_contact]\nscopes = [\"contact_data\", \"offline_access\", \"account_read\"]",
    )
    .spawn()
    .await;

    let response = app.connect().await;

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Sandbox Organization"), "{page}");
    let status = app.readyz().await;
    assert_eq!(status["connection"]["state"], "connected");
    assert_eq!(status["connection"]["account"], "Sandbox Organization");
    assert_eq!(
        status["connection"]["scopes"],
        json!(["contact_data", "offline_access", "account_read"])
    );
    assert!(status["connection"]["access_token_expires_at"].is_string());
    // The sandbox verified PKCE and HTTP Basic client authentication to get here.
    assert_eq!(sandbox.stats().codes_exchanged, 1);
    assert_eq!(list_count(&app).await.unwrap(), 3);
    app.stop().await;
}

#[tokio::test]
async fn connect_without_admin_credentials_is_401_and_reveals_nothing() {
    let sandbox = sandbox().await;
    let app = AppOptions::against(&sandbox, "").spawn().await;

    let anonymous = app.client.get(app.url("/connect")).send().await.unwrap();
    let wrong = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some("guess"))
        .send()
        .await
        .unwrap();

    for response in [anonymous, wrong] {
        assert_eq!(response.status(), 401);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert!(response.headers().get("location").is_none());
        assert!(response.headers().get("set-cookie").is_none());
    }
    assert_eq!(sandbox.stats().token_requests, 0);
    app.stop().await;
}

/// Start an authorization and return (cookie, callback URL with code and state).
async fn authorize(app: &TestApp) -> (String, String) {
    let start = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(crate::helpers::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(&start);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let approved = app.client.get(&authorize).send().await.unwrap();
    (
        cookie,
        approved.headers()["location"].to_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_wrong_reused_or_foreign_state_is_refused_and_nothing_is_stored() {
    let sandbox = sandbox().await;
    let app = AppOptions::against(&sandbox, "").spawn().await;

    let bogus = app
        .client
        .get(app.url("/oauth/callback?code=x&state=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 400);
    let (cookie, callback) = authorize(&app).await;
    let other_browser = app.client.get(&callback).send().await.unwrap();
    assert_eq!(other_browser.status(), 400, "no cookie: another browser");
    let (cookie2, callback2) = authorize(&app).await;
    let swapped = app
        .client
        .get(&callback2)
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), 400, "a cookie from another authorization");
    assert!(app.store.token_set().await.unwrap().is_none());
    assert_eq!(sandbox.stats().token_requests, 0, "no code was exchanged");

    let (cookie3, callback3) = authorize(&app).await;
    let first = app
        .client
        .get(&callback3)
        .header("cookie", cookie3.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let replay = app
        .client
        .get(&callback3)
        .header("cookie", cookie3)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "a state is single-use");
    assert_eq!(
        app.store.token_set().await.unwrap().unwrap().generation,
        generation
    );
    assert_eq!(sandbox.stats().codes_exchanged, 1);
    drop(cookie2);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let sandbox = sandbox().await;
    let clock = ManualClock::new(Utc::now());
    let app = AppOptions::against(&sandbox, "")
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;

    let (cookie, callback) = authorize(&app).await;
    clock.advance(chrono::Duration::minutes(11));
    let late = app
        .client
        .get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(late.status(), 400);
    assert!(late.text().await.unwrap().contains("expired"));
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_by_the_provider_shows_a_clear_page_and_stores_nothing() {
    let sandbox = sandbox().await;
    let app = AppOptions::against(&sandbox, "").spawn().await;
    let (cookie, callback) = authorize(&app).await;
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    let denied = app
        .client
        .get(app.url(&format!(
            "/oauth/callback?error=access_denied&error_description=The+user+said+no&state={state}"
        )))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(denied.status(), 403);
    let page = denied.text().await.unwrap();
    assert!(
        page.contains("access_denied") && page.contains("The user said no"),
        "{page}"
    );
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_failed_code_exchange_shows_a_clear_page_and_stores_nothing() {
    let sandbox = sandbox().await;
    let mut options = AppOptions::against(&sandbox, "");
    options.extra = String::new();
    let app = options.spawn().await;
    let (cookie, callback) = authorize(&app).await;
    sandbox.revoke_all_tokens(); // the code dies with the grant

    let response = app
        .client
        .get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("invalid_grant"));
    assert!(app.store.token_set().await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_callers_that_need_a_fresh_token_cause_exactly_one_refresh() {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(&sandbox, "[constant_contact]\nrequests_per_second = 1000")
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

#[tokio::test]
async fn a_restart_after_a_refresh_keeps_working_with_the_rotated_token() {
    let sandbox = fast_sandbox().await;
    let first = AppOptions::against(&sandbox, "").spawn().await;
    first.connect_ok().await;
    let generation = first.store.token_set().await.unwrap().unwrap().generation;
    first.keeper.refresh(generation).await.unwrap();
    let (dir, db_path) = first.stop().await;

    let mut options = AppOptions::new(dir, db_path, "");
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

#[tokio::test]
async fn the_keeper_refreshes_ahead_of_expiry_over_many_lifetimes() {
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
    let app = AppOptions::against(&sandbox, "[constant_contact]\nrefresh_margin = \"10m\"")
        .clock(shared)
        .spawn()
        .await;
    app.connect_ok().await;
    // Connecting starts the account check in the background; its calls must not straddle the
    // clock jumps below (a call that took its token before a jump would arrive expired).
    eventually(Duration::from_secs(10), "the account check", || async {
        (!app.readyz().await["account_check"].is_null()).then_some(())
    })
    .await;

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

#[tokio::test]
async fn with_a_short_lifetime_the_background_task_keeps_the_token_fresh() {
    let sandbox = start_sandbox(
        SandboxConfig {
            expires_in: 4,
            ..SandboxConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;
    let app = AppOptions::against(&sandbox, "").spawn().await;
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

#[tokio::test]
async fn invalid_grant_means_needs_reconnect_while_signups_are_still_accepted_until_reconnected() {
    let sandbox = sandbox().await;
    let app = AppOptions::against(&sandbox, "").spawn().await;
    app.connect_ok().await;
    sandbox.revoke_all_tokens();

    let generation = app.store.token_set().await.unwrap().unwrap().generation;
    let result = app.keeper.refresh(generation).await;

    assert!(
        matches!(result, Err(TokenError::NeedsReconnect(ref r)) if r == "invalid_grant"),
        "{result:?}"
    );
    let readyz = app.client.get(app.url("/readyz")).send().await.unwrap();
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

#[tokio::test]
async fn with_an_encryption_key_no_token_appears_in_the_database_files() {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let sandbox = sandbox().await;
    let app = AppOptions::against(
        &sandbox,
        &format!("[security]\ntoken_encryption_key = \"{key}\""),
    )
    .spawn()
    .await;
    app.connect_ok().await;

    let access = app.keeper.access_token().await.unwrap();
    let set = app.store.token_set().await.unwrap().unwrap();
    let refresh = app
        .keeper
        .cipher()
        .open(&set.refresh_token, "refresh_token")
        .unwrap();
    let (dir, db_path) = app.stop().await;

    let bytes = stored_bytes(&db_path).await;
    use secrecy::ExposeSecret as _;
    for token in [access.secret.expose_secret(), refresh.expose_secret()] {
        assert!(token.len() > 20);
        assert!(
            !contains(&bytes, token.as_bytes()),
            "a token is readable in the database file"
        );
    }
    drop(dir);
}

/// What a copy of the database would show: on SQLite the file and its WAL byte for byte (free
/// pages included); on PostgreSQL every stored token column.
async fn stored_bytes(db_path: &std::path::Path) -> Vec<u8> {
    if !crate::database::on_postgres() {
        let mut bytes = std::fs::read(db_path).unwrap();
        bytes.extend(std::fs::read(db_path.with_extension("db-wal")).unwrap_or_default());
        return bytes;
    }
    let pool = crate::helpers::raw_pool(db_path).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("select access_token, refresh_token from token_set")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter()
        .flat_map(|(access, refresh)| [access, refresh])
        .flat_map(String::into_bytes)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn without_a_key_tokens_are_stored_readable_which_the_encryption_test_relies_on() {
    let sandbox = sandbox().await;
    let app = AppOptions::against(&sandbox, "").spawn().await;
    app.connect_ok().await;
    let access = app.keeper.access_token().await.unwrap();
    let (dir, db_path) = app.stop().await;

    let bytes = stored_bytes(&db_path).await;
    use secrecy::ExposeSecret as _;
    assert!(contains(&bytes, access.secret.expose_secret().as_bytes()));
    drop(dir);
}

#[tokio::test]
async fn a_refresh_interrupted_by_a_crash_is_reported_precisely() {
    let sandbox = fast_sandbox().await;
    let first = AppOptions::against(&sandbox, "").spawn().await;
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
    let pool = crate::helpers::raw_pool(&db_path).await;
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

    let mut options = AppOptions::new(dir, db_path, "");
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

#[tokio::test]
async fn a_changed_encryption_key_is_reported_as_needing_a_reconnect_not_retried_forever() {
    use base64::Engine as _;
    let key = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let sandbox = fast_sandbox().await;
    let first = AppOptions::against(
        &sandbox,
        &format!("[security]\ntoken_encryption_key = \"{}\"", key(1)),
    )
    .spawn()
    .await;
    first.connect_ok().await;
    let (dir, db_path) = first.stop().await;

    let mut options = AppOptions::new(
        dir,
        db_path,
        &format!("[security]\ntoken_encryption_key = \"{}\"", key(2)),
    );
    options.sandbox = Some(&sandbox);
    let second = options.spawn().await;
    let result = second.keeper.access_token().await;

    assert!(
        matches!(result, Err(TokenError::NeedsReconnect(ref r)) if r == "token_undecryptable"),
        "{result:?}"
    );
    assert_eq!(
        second.readyz().await["connection"]["reason"],
        "token_undecryptable"
    );
    assert!(
        second
            .alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::ConnectionNeedsReconnect)
    );
    second.stop().await;
}

#[tokio::test]
async fn a_public_url_with_a_path_prefix_still_connects() {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(&sandbox, "").spawn().await;
    // Behind a reverse proxy that strips /forms, the redirect URI and the cookie carry the prefix.
    let start = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some(crate::helpers::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let cookie = start.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Path=/oauth/callback;"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    app.stop().await;

    let mut config = ccbridge::Config::from_toml("").unwrap();
    config.server.public_url = "https://example.org/forms/".parse().unwrap();
    assert_eq!(
        config.server.redirect_uri().as_str(),
        "https://example.org/forms/oauth/callback"
    );
}

#[tokio::test]
async fn a_refreshed_token_set_survives_a_database_that_refuses_writes_for_a_while() {
    let sandbox = sandbox().await;
    let clock = ManualClock::new(Utc::now());
    let app = AppOptions::against(&sandbox, "")
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
    let lock = crate::helpers::WriteLock::take(&app.db_path).await;
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
