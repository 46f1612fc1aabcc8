//! Unsubscribes respected (invariant 6): a signup on a single opt-in form for an address that
//! unsubscribed is never sent to `sign_up_form` on its own; the mirror of unsubscribed addresses
//! is complete before single opt-in deliveries go, and stays inside the API budget.

use std::sync::Arc;
use std::time::Duration;

use ccbridge::Config;
use ccbridge::alerts::AlertKind;
use ccbridge::clock::{Clock as _, ManualClock, SharedClock};
use ccbridge::delivery::{Delivery, Pause};
use ccbridge::domain::SignupState;
use ccbridge::unsubscribes::SyncOutcome;
use ccbridge_sandbox::{Faults, Permission, Sandbox};
use chrono::Utc;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, fast_sandbox_on, raw_pool, start_sandbox};

const FAST: &str = "[constant_contact]\nrequests_per_second = 1000\nrequest_timeout = \"5s\"\n[delivery]\nretry_base = \"50ms\"\nretry_max = \"500ms\"";

/// A connected app on a manual clock whose delivery worker and sync the test steps, against a
/// sandbox on the same clock; the account check that connecting starts has finished.
async fn stepped(backend: Backend, extra: &str) -> (ManualClock, Sandbox, TestApp) {
    stepped_with(backend, extra, |_| {}).await
}

async fn stepped_with(
    backend: Backend,
    extra: &str,
    change: impl FnOnce(&mut Config),
) -> (ManualClock, Sandbox, TestApp) {
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let app = AppOptions::against(backend, &sandbox, &format!("{FAST}\n{extra}"))
        .configure(change)
        .clock(shared)
        .without_background_delivery()
        .spawn()
        .await;
    app.connect_ok().await;
    app.account_checked().await;
    (clock, sandbox, app)
}

async fn post(app: &TestApp, email: &str) {
    let response = app
        .post_json("newsletter", &json!({ "email": email }))
        .await;
    assert_eq!(response.status(), 202);
}

async fn signup_of(app: &TestApp, email: &str) -> ccbridge::store::SignupRecord {
    app.signups()
        .await
        .into_iter()
        .rev()
        .find(|s| s.email.as_deref() == Some(email))
        .expect("the signup is stored")
}

backends!(an_unsubscribed_address_is_never_sent_and_constant_contact_is_asked_once: sqlite, postgres);
async fn an_unsubscribed_address_is_never_sent_and_constant_contact_is_asked_once(
    backend: Backend,
) {
    let (_clock, sandbox, app) = stepped(backend, "").await;
    sandbox.add_contact("Gone@example.com", Permission::Unsubscribed);
    post(&app, "gone@example.com").await;

    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Held { .. })),
        "{outcome:?}"
    );
    let signup = signup_of(&app, "gone@example.com").await;
    assert_eq!(signup.state, SignupState::Suppressed);
    assert_eq!(
        signup.hold_reason.as_deref(),
        Some("unsubscribed; Constant Contact sent its resubscribe email")
    );
    assert_eq!(sandbox.sign_up_calls_for("gone@example.com"), 0);
    assert_eq!(sandbox.resubscribe_requests().len(), 1);
    // The status names the reason (`last_errors` of `ccbridge status --json`).
    let errors = app.store.recent_errors(5).await.unwrap();
    assert_eq!(
        (errors[0].state.as_str(), errors[0].error.as_str()),
        (
            "suppressed",
            "unsubscribed; Constant Contact sent its resubscribe email"
        )
    );

    // A second signup for the address: Constant Contact is not asked again.
    post(&app, "gone@example.com").await;
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Held { .. })),
        "{outcome:?}"
    );
    let again = signup_of(&app, "gone@example.com").await;
    assert_eq!(again.state, SignupState::Suppressed);
    assert!(again.hold_reason.unwrap().contains("already asked once"));
    assert_eq!(sandbox.resubscribe_requests().len(), 1);
    assert_eq!(sandbox.sign_up_calls_for("gone@example.com"), 0);
    assert_eq!(app.store.queue_counts().await.unwrap().suppressed, 2);
}

backends!(a_refused_resubscribe_request_makes_the_signup_dead_and_is_not_recorded: sqlite, postgres);
async fn a_refused_resubscribe_request_makes_the_signup_dead_and_is_not_recorded(backend: Backend) {
    // A list the account does not have: Constant Contact answers 400, which is not "already asked".
    let wrong = "[[forms]]\nid = \"wrong\"\nlist_ids = [\"99999999-662a-11eb-af0a-fa163e56c9b0\"]";
    let (_clock, sandbox, app) = stepped(backend, wrong).await;
    sandbox.add_contact("gone@example.com", Permission::Unsubscribed);
    let response = app
        .post_json("wrong", &json!({ "email": "gone@example.com" }))
        .await;
    assert_eq!(response.status(), 202);

    let outcome = app.delivery.deliver_next().await.unwrap();
    let Some(Delivery::Dead { error }) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(error.contains("400"), "{error}");
    let signup = signup_of(&app, "gone@example.com").await;
    assert_eq!(signup.state, SignupState::Dead);
    assert!(signup.last_error.unwrap().contains("400"));
    assert!(sandbox.resubscribe_requests().is_empty());
    assert_eq!(sandbox.sign_up_calls_for("gone@example.com"), 0);
    let pool = raw_pool(app.backend, &app.db_path).await;
    let (recorded,): (i64,) = sqlx::query_as("select count(*) from resubscribe_requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0, "a refused request is not an ask");
    assert!(
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::SignupDead)
    );
}

backends!(a_suppressed_signup_is_never_retried_and_is_purged_after_the_retention: sqlite, postgres);
async fn a_suppressed_signup_is_never_retried_and_is_purged_after_the_retention(backend: Backend) {
    let (clock, sandbox, app) = stepped(backend, "").await;
    sandbox.add_contact("gone@example.com", Permission::Unsubscribed);
    post(&app, "gone@example.com").await;
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Held { .. })),
        "{outcome:?}"
    );
    let signup = signup_of(&app, "gone@example.com").await;
    assert_eq!(signup.state, SignupState::Suppressed);
    // `ccbridge retry --id` (and `--dead`) would re-subscribe the address: refused.
    let now = clock.now();
    assert_eq!(
        app.store.requeue(true, Some(signup.id), now).await.unwrap(),
        0
    );
    assert_eq!(app.store.requeue(true, None, now).await.unwrap(), 0);

    let pool = raw_pool(app.backend, &app.db_path).await;
    let records = || async {
        let (n,): (i64,) =
            sqlx::query_as("select count(*) from consent_records where signup_id = $1")
                .bind(signup.id.to_string())
                .fetch_one(&pool)
                .await
                .unwrap();
        n
    };
    assert_eq!(records().await, 1);
    clock.advance(chrono::Duration::days(29));
    app.delivery.purge_old().await.unwrap();
    assert_eq!(app.store.queue_counts().await.unwrap().suppressed, 1);
    clock.advance(chrono::Duration::days(2));
    app.delivery.purge_old().await.unwrap();
    assert_eq!(app.store.queue_counts().await.unwrap().suppressed, 0);
    assert!(app.signups().await.iter().all(|s| s.id != signup.id));
    assert_eq!(records().await, 0, "its consent record goes with it");
}

backends!(with_smtp_an_unsubscribed_address_is_asked_to_confirm_by_mail: sqlite, postgres);
async fn with_smtp_an_unsubscribed_address_is_asked_to_confirm_by_mail(backend: Backend) {
    // The mail worker sends what is queued; here it is enough that the mail is queued.
    let smtp = crate::mail::smtp_toml(2525, "none", "");
    let (_clock, sandbox, app) = stepped(backend, &smtp).await;
    sandbox.add_contact("gone@example.com", Permission::Unsubscribed);
    post(&app, "gone@example.com").await;

    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Held { .. })),
        "{outcome:?}"
    );
    let signup = signup_of(&app, "gone@example.com").await;
    assert_eq!(signup.state, SignupState::AwaitingConfirmation);
    assert_eq!(signup.hold_reason.as_deref(), Some("unsubscribed"));
    assert!(signup.confirm_expires_at.is_some());
    let pool = raw_pool(app.backend, &app.db_path).await;
    let queued: Vec<(String, String)> =
        sqlx::query_as("select to_address, state from mail_outbox where signup_id = $1")
            .bind(signup.id.to_string())
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        queued,
        [("gone@example.com".to_owned(), "queued".to_owned())]
    );
    assert_eq!(sandbox.sign_up_calls_for("gone@example.com"), 0);
    assert!(
        sandbox.resubscribe_requests().is_empty(),
        "the person is asked by ccbridge's mail"
    );
}

backends!(single_opt_in_waits_for_the_first_full_sync_after_connecting: sqlite, postgres);
async fn single_opt_in_waits_for_the_first_full_sync_after_connecting(backend: Backend) {
    let (clock, sandbox, app) = stepped(backend, "").await;
    // The first sync fails: until one completes, nothing goes.
    sandbox.set_faults(Faults {
        fail_next: 1,
        ..Faults::default()
    });
    post(&app, "new@example.com").await;
    let outcome = app.delivery.deliver_next().await.unwrap();
    let Some(Delivery::Paused(Pause::Until { reason, until })) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("first complete list"), "{reason}");
    assert!(!app.unsubscribes.fresh().await.unwrap());
    assert_eq!(sandbox.sign_up_calls_for("new@example.com"), 0);
    let signup = signup_of(&app, "new@example.com").await;
    assert_eq!(signup.state, SignupState::Pending);
    assert_eq!(signup.attempts, 0, "waiting is not an attempt");
    assert!(
        app.delivery.deliver_next().await.unwrap().is_none(),
        "released until {until}"
    );
    let state = app.unsubscribes.sync_state().await.unwrap();
    assert!(state.failing_since.is_some() && state.last_full_sync_at.is_none());

    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(matches!(synced, SyncOutcome::Full { .. }), "{synced:?}");
    clock.advance(until - clock.now() + chrono::Duration::seconds(1));
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Delivered { .. })),
        "{outcome:?}"
    );
    assert!(app.unsubscribes.fresh().await.unwrap());
    assert_eq!(sandbox.sign_up_calls_for("new@example.com"), 1);
}

backends!(single_opt_in_waits_while_the_last_sync_is_too_old: sqlite, postgres);
async fn single_opt_in_waits_while_the_last_sync_is_too_old(backend: Backend) {
    // Nothing failed for long, but nothing synced either (a restart after a long stop): the
    // mirror's age alone closes the gate. The delivery tries a sync itself; it fails here.
    let (clock, sandbox, app) = stepped_with(backend, "", |config| {
        config.delivery.unsubscribes_stale_after = Duration::from_secs(600);
    })
    .await;
    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(matches!(synced, SyncOutcome::Full { .. }), "{synced:?}");
    clock.advance(chrono::Duration::minutes(11));
    post(&app, "new@example.com").await;
    sandbox.set_faults(Faults {
        fail_next: 1,
        ..Faults::default()
    });
    let outcome = app.delivery.deliver_next().await.unwrap();
    let Some(Delivery::Paused(Pause::Until { reason, until })) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("the last sync was at"), "{reason}");
    assert_eq!(sandbox.sign_up_calls_for("new@example.com"), 0);
    assert!(!app.unsubscribes.fresh().await.unwrap());

    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(
        matches!(synced, SyncOutcome::Incremental { .. }),
        "{synced:?}"
    );
    clock.advance(until - clock.now() + chrono::Duration::seconds(1));
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Delivered { .. })),
        "{outcome:?}"
    );
    assert_eq!(sandbox.sign_up_calls_for("new@example.com"), 1);
}

backends!(the_claim_is_renewed_while_a_delivery_runs_the_first_sync: sqlite, postgres);
async fn the_claim_is_renewed_while_a_delivery_runs_the_first_sync(backend: Backend) {
    // A slow first full sync run by a delivery must not outlive the group's claim (on a shared
    // database another replica would take the group meanwhile).
    let (clock, sandbox, app) = stepped_with(backend, "", |config| {
        config.delivery.claim_lease = Duration::from_millis(300);
    })
    .await;
    post(&app, "slow@example.com").await;
    sandbox.set_faults(Faults {
        latency_ms: 700,
        ..Faults::default()
    });
    let worker = app.delivery.clone();
    let delivering = tokio::spawn(async move { worker.deliver_next().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    clock.advance(chrono::Duration::seconds(2));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pool = raw_pool(app.backend, &app.db_path).await;
    let (until,): (Option<i64>,) =
        sqlx::query_as("select claimed_until from signups where email = $1")
            .bind("slow@example.com")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        until.is_some_and(|until| until > clock.now().timestamp_millis()),
        "the claim is still held during the sync"
    );
    let outcome = delivering.await.unwrap().unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Delivered { .. })),
        "{outcome:?}"
    );
}

backends!(the_sync_follows_every_page_inside_the_budget: sqlite, postgres);
async fn the_sync_follows_every_page_inside_the_budget(backend: Backend) {
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    // The real limits: 4 calls a second, counted by the sandbox.
    let sandbox = start_sandbox(Default::default(), shared.clone()).await;
    let app = AppOptions::against(backend, &sandbox, "")
        .clock(shared)
        .without_background_delivery()
        .spawn()
        .await;
    app.connect_ok().await;
    app.account_checked().await;
    for i in 0..1_100 {
        sandbox.add_contact(&format!("left{i}@example.com"), Permission::Unsubscribed);
    }
    let before = sandbox.stats();
    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    let after = sandbox.stats();
    // 1,100 unsubscribed contacts are 3 pages of 500; the deleted ones 1 page.
    assert_eq!(
        synced,
        SyncOutcome::Full {
            entries: 1_100,
            calls: 4
        }
    );
    assert_eq!(after.api_requests - before.api_requests, 4);
    assert_eq!(after.throttled, 0, "never over 4 calls a second");
    assert_eq!(app.unsubscribes.sync_state().await.unwrap().size, 1_100);
    assert!(
        app.store
            .is_unsubscribed("LEFT7@example.com")
            .await
            .unwrap()
    );
    let used = app.readyz().await["api_usage"]["used"].as_u64().unwrap();
    assert!(used <= 10_000);

    // Nothing due right after; the next look is incremental.
    assert_eq!(
        app.unsubscribes.sync_step(clock.now()).await.unwrap(),
        SyncOutcome::NotDue
    );
}

backends!(a_full_sync_never_takes_more_than_its_share_of_the_day: sqlite, postgres);
async fn a_full_sync_never_takes_more_than_its_share_of_the_day(backend: Backend) {
    // 40 calls a day: the sync may take 4. Six pages are needed, so it stops and keeps the old list.
    let (clock, sandbox, app) = stepped_with(backend, "", |config| {
        config.constant_contact.requests_per_day = 40;
    })
    .await;
    for i in 0..2_600 {
        sandbox.add_contact(&format!("left{i}@example.com"), Permission::Unsubscribed);
    }
    let before = sandbox.stats().api_requests;
    let error = app.unsubscribes.sync_step(clock.now()).await.unwrap_err();
    assert!(error.to_string().contains("share"), "{error}");
    assert_eq!(sandbox.stats().api_requests - before, 4);
    let state = app.unsubscribes.sync_state().await.unwrap();
    assert_eq!(state.size, 0);
    assert!(state.last_full_sync_at.is_none() && state.failing_since.is_some());
    // A signup waits rather than going out unchecked, and the deliveries' budget is left.
    post(&app, "someone@example.com").await;
    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Paused(_))
    ));
    assert_eq!(sandbox.sign_up_calls_for("someone@example.com"), 0);
}

backends!(an_incomplete_contacts_answer_keeps_the_old_mirror: sqlite, postgres);
async fn an_incomplete_contacts_answer_keeps_the_old_mirror(backend: Backend) {
    // A 202 ("accepted, not fully completed; retry") is not an empty list: the full sync fails and
    // the opt-outs already mirrored stay.
    let (clock, sandbox, app) = stepped_with(backend, "", |config| {
        config.delivery.unsubscribes_full_sync_interval = Duration::from_secs(600);
    })
    .await;
    sandbox.add_contact("kept@example.com", Permission::Unsubscribed);
    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(
        matches!(synced, SyncOutcome::Full { entries: 1, .. }),
        "{synced:?}"
    );
    clock.advance(chrono::Duration::minutes(11));
    sandbox.set_faults(Faults {
        accepted_next: 1,
        ..Faults::default()
    });
    let error = app.unsubscribes.sync_step(clock.now()).await.unwrap_err();
    assert!(error.to_string().contains("202"), "{error}");
    assert!(app.store.is_unsubscribed("kept@example.com").await.unwrap());
    let state = app.unsubscribes.sync_state().await.unwrap();
    assert_eq!(state.size, 1);
    assert!(state.failing_since.is_some());

    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(
        matches!(synced, SyncOutcome::Full { entries: 1, .. }),
        "{synced:?}"
    );
}

backends!(an_unsubscribe_after_the_full_sync_is_caught_by_the_next_incremental_one: sqlite, postgres);
async fn an_unsubscribe_after_the_full_sync_is_caught_by_the_next_incremental_one(
    backend: Backend,
) {
    let (clock, sandbox, app) = stepped(backend, "").await;
    sandbox.add_contact("early@example.com", Permission::Unsubscribed);
    sandbox.add_contact("later@example.com", Permission::Explicit);
    let full = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(
        matches!(full, SyncOutcome::Full { entries: 1, .. }),
        "{full:?}"
    );
    assert!(
        !app.store
            .is_unsubscribed("later@example.com")
            .await
            .unwrap()
    );

    clock.advance(chrono::Duration::minutes(3));
    sandbox.unsubscribe("later@example.com");
    clock.advance(chrono::Duration::minutes(3));
    let incremental = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(
        matches!(incremental, SyncOutcome::Incremental { .. }),
        "{incremental:?}"
    );
    assert!(
        app.store
            .is_unsubscribed("later@example.com")
            .await
            .unwrap()
    );

    post(&app, "later@example.com").await;
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Held { .. })),
        "{outcome:?}"
    );
    assert_eq!(sandbox.sign_up_calls_for("later@example.com"), 0);
}

backends!(a_confirmed_signup_goes_and_its_address_leaves_the_mirror: sqlite, postgres);
async fn a_confirmed_signup_goes_and_its_address_leaves_the_mirror(backend: Backend) {
    let (_clock, sandbox, app) = stepped(backend, "").await;
    sandbox.add_contact("back@example.com", Permission::Unsubscribed);
    post(&app, "back@example.com").await;
    // The person confirmed by mail (the confirmation pages are another part's; the column is
    // what delivery reads).
    let pool = raw_pool(app.backend, &app.db_path).await;
    sqlx::query("update signups set confirmed_at = $1 where email = $2")
        .bind(Utc::now().timestamp_millis())
        .bind("back@example.com")
        .execute(&pool)
        .await
        .unwrap();
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Delivered { .. })),
        "{outcome:?}"
    );
    assert_eq!(sandbox.sign_up_calls_for("back@example.com"), 1);
    assert!(!app.store.is_unsubscribed("back@example.com").await.unwrap());
}

backends!(a_confirmation_older_than_the_opt_out_does_not_resubscribe: sqlite, postgres);
async fn a_confirmation_older_than_the_opt_out_does_not_resubscribe(backend: Backend) {
    // The person confirmed, then unsubscribed before the signup was delivered (a pause, a
    // `retry --dead` days later): the old confirmation no longer speaks for them.
    let (clock, sandbox, app) = stepped(backend, "").await;
    sandbox.add_contact("late@example.com", Permission::Explicit);
    assert!(matches!(
        app.unsubscribes.sync_step(clock.now()).await.unwrap(),
        SyncOutcome::Full { entries: 0, .. }
    ));
    post(&app, "late@example.com").await;
    let pool = raw_pool(app.backend, &app.db_path).await;
    sqlx::query("update signups set confirmed_at = $1 where email = $2")
        .bind(clock.now().timestamp_millis())
        .bind("late@example.com")
        .execute(&pool)
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(6));
    sandbox.unsubscribe("late@example.com");
    clock.advance(chrono::Duration::minutes(1));
    let synced = app.unsubscribes.sync_step(clock.now()).await.unwrap();
    assert!(
        matches!(synced, SyncOutcome::Incremental { entries: 1, .. }),
        "{synced:?}"
    );

    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Held { .. })),
        "{outcome:?}"
    );
    assert_eq!(sandbox.sign_up_calls_for("late@example.com"), 0);
    assert_eq!(
        signup_of(&app, "late@example.com").await.state,
        SignupState::Suppressed
    );
    assert!(
        app.store.is_unsubscribed("late@example.com").await.unwrap(),
        "still in the mirror"
    );
}

backends!(without_the_mirror_an_unsubscribed_contact_is_opted_back_in: sqlite, postgres);
async fn without_the_mirror_an_unsubscribed_contact_is_opted_back_in(backend: Backend) {
    // Why the feature exists: sign_up_form sets the contact to explicit, whoever typed the address.
    let (_clock, sandbox, app) = stepped_with(backend, "", |config| {
        config.delivery.respect_unsubscribes = false;
    })
    .await;
    sandbox.add_contact("gone@example.com", Permission::Unsubscribed);
    post(&app, "gone@example.com").await;
    let outcome = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(outcome, Some(Delivery::Delivered { .. })),
        "{outcome:?}"
    );
    let contact = sandbox.contact("gone@example.com").expect("the contact");
    assert_eq!(contact.permission_to_send, Permission::Explicit);
    assert_eq!(
        app.unsubscribes.sync_state().await.unwrap().last_sync_at,
        None,
        "no sync calls at all"
    );
}
