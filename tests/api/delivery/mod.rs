//! Delivery against the sandbox: every stored signup reaches Constant Contact, within its limits,
//! whatever fails on the way (invariants 1 and 3 on the outbound side).

mod addresses;
mod many_lists;
mod quota;

use std::sync::Arc;
use std::time::Duration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{Clock as _, ManualClock, SharedClock, SystemClock};
use ccbridge::delivery::{Delivery, Pause};
use ccbridge::domain::SignupState;
use ccbridge_sandbox::{Faults, Sandbox, SandboxConfig};
use chrono::Utc;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually, start_sandbox};
use crate::helpers::{fast_sandbox, fast_sandbox_on};

/// Quick retries, and a short claim: a delivery whose outcome could not be recorded (a database
/// too busy under the whole suite's load) is taken again within ten seconds, as another replica
/// would take over a dead one's claim, instead of after the default 90 s.
const FAST: &str = "[constant_contact]\nrequests_per_second = 1000\nrequest_timeout = \"5s\"\n[delivery]\nretry_base = \"50ms\"\nretry_max = \"500ms\"\nclaim_lease = \"10s\"";

async fn post(app: &TestApp, email: &str) {
    let response = app
        .post_json("newsletter", &json!({ "email": email }))
        .await;
    assert_eq!(response.status(), 202);
}

/// A connected app on a manual clock whose delivery worker the test steps itself, against a sandbox
/// on the same clock.
async fn stepped_app(backend: Backend) -> (ManualClock, Sandbox, TestApp) {
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let app = AppOptions::against(backend, &sandbox, FAST)
        .clock(shared)
        .without_background_delivery()
        .spawn()
        .await;
    app.connect_ok().await;
    // Single opt-in deliveries wait for the first list of unsubscribed addresses: fetch it now,
    // before a test sets faults meant for sign_up_form.
    app.unsubscribes
        .sync_now()
        .await
        .expect("the first sync of unsubscribed addresses");
    (clock, sandbox, app)
}

/// Connecting starts a check of lists and fields and the first sync of unsubscribed addresses (API
/// calls): let both finish before faults are set.
async fn wait_account_check(app: &TestApp) {
    app.account_checked().await;
    app.unsubscribes
        .sync_now()
        .await
        .expect("the first sync of unsubscribed addresses");
}

async fn wait_delivered(app: &TestApp, count: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(counts) = app.store.queue_counts().await
            && counts.delivered >= count
        {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            // What the worker was doing, so that a failure here says why.
            let signups: Vec<String> = app
                .signups()
                .await
                .iter()
                .map(|s| {
                    format!(
                        "{} {:?} attempts {} next {} error {:?}",
                        s.email.as_deref().unwrap_or("-"),
                        s.state,
                        s.attempts,
                        s.next_attempt_at,
                        s.last_error
                    )
                })
                .collect();
            panic!(
                "timed out waiting for {count} delivered signups; worker pause: {:?}; signups:\n{}",
                app.delivery.pause(),
                signups.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

backends!(two_hundred_signups_through_20_percent_5xx_all_arrive_and_never_above_4_per_second: sqlite, postgres);
async fn two_hundred_signups_through_20_percent_5xx_all_arrive_and_never_above_4_per_second(
    backend: Backend,
) {
    let sandbox = start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[delivery]\nretry_base = \"200ms\"\nretry_max = \"2s\"",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    sandbox.set_faults(Faults {
        error_rate: 0.2,
        ..Faults::default()
    });

    for i in 0..200 {
        post(&app, &format!("load{i}@example.com")).await;
    }
    wait_delivered(&app, 200, Duration::from_secs(180)).await;

    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!(
        (counts.delivered, counts.dead, counts.pending, counts.failed),
        (200, 0, 0, 0)
    );
    let stats = sandbox.stats();
    assert_eq!(
        sandbox.contacts().len(),
        200,
        "every signup arrived, none lost"
    );
    assert!(
        stats.peak_requests_per_second <= 4,
        "peak was {}",
        stats.peak_requests_per_second
    );
    assert_eq!(stats.throttled, 0);
    assert!(stats.api_requests > 200, "the 5xx faults really happened");
    app.stop().await;
}

backends!(a_401_in_the_middle_of_a_stream_costs_exactly_one_refresh: sqlite, postgres);
async fn a_401_in_the_middle_of_a_stream_costs_exactly_one_refresh(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, FAST).spawn().await;
    app.connect_ok().await;
    for i in 0..10 {
        post(&app, &format!("before{i}@example.com")).await;
    }
    wait_delivered(&app, 10, Duration::from_secs(20)).await;

    sandbox.expire_access_tokens();
    for i in 0..20 {
        post(&app, &format!("after{i}@example.com")).await;
    }
    wait_delivered(&app, 30, Duration::from_secs(20)).await;

    let stats = sandbox.stats();
    assert!(
        stats.unauthorized >= 1,
        "the stream did hit the revoked token"
    );
    assert_eq!(stats.refreshes, 1);
    assert_eq!(stats.invalid_grants, 0);
    app.stop().await;
}

backends!(signups_wait_without_a_token_and_coalesce_into_one_call_per_email: sqlite, postgres);
async fn signups_wait_without_a_token_and_coalesce_into_one_call_per_email(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, FAST).spawn().await;
    let events = ccbridge_sandbox::EVENTS_LIST_ID.to_string();
    for (first, list) in [
        ("Ann", None),
        ("Anne", Some(events.as_str())),
        ("Anna", None),
    ] {
        let mut body = json!({ "email": "same@example.com", "first_name": first });
        if let Some(list) = list {
            body["list"] = json!(list);
        }
        assert_eq!(app.post_json("newsletter", &body).await.status(), 202);
    }
    // The worker has looked at the queue and holds it for a connection: all three still pending
    // (a wrong, eager worker would have sent them, and they would never be pending again).
    eventually(
        Duration::from_secs(10),
        "the worker to wait for a connection with nothing sent",
        || async {
            let awaiting = matches!(app.delivery.pause(), Some(Pause::AwaitingConnection(_)));
            let pending = app.store.queue_counts().await.ok()?.pending;
            (awaiting && pending == 3).then_some(())
        },
    )
    .await;
    assert_eq!(
        sandbox.stats().contacts_created,
        0,
        "nothing is sent before connecting"
    );

    app.connect_ok().await;
    wait_delivered(&app, 3, Duration::from_secs(20)).await;

    let stats = sandbox.stats();
    assert_eq!(
        (stats.contacts_created, stats.contacts_updated),
        (1, 0),
        "one call for three signups"
    );
    let contact = sandbox.contacts().into_iter().next().unwrap();
    assert_eq!(
        contact.first_name.as_deref(),
        Some("Anna"),
        "the latest value wins"
    );
    assert!(
        contact
            .list_memberships
            .contains(&ccbridge_sandbox::EVENTS_LIST_ID),
        "lists are merged"
    );
    app.stop().await;
}

backends!(upstream_throttling_slows_delivery_down_and_loses_nothing: sqlite, postgres);
async fn upstream_throttling_slows_delivery_down_and_loses_nothing(backend: Backend) {
    // ccbridge misconfigured to 10/s against an upstream that allows 4/s.
    let sandbox = start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 10\n[delivery]\nretry_base = \"100ms\"\nretry_max = \"1s\"",
    )
    .spawn()
    .await;
    app.connect_ok().await;

    for i in 0..30 {
        post(&app, &format!("burst{i}@example.com")).await;
    }
    wait_delivered(&app, 30, Duration::from_secs(60)).await;

    assert!(sandbox.stats().throttled > 0, "the upstream did throttle");
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.delivered, counts.dead), (30, 0));
    app.stop().await;
}

backends!(a_validation_error_upstream_makes_the_signup_dead_with_the_message_and_an_alert: sqlite, postgres);
async fn a_validation_error_upstream_makes_the_signup_dead_with_the_message_and_an_alert(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    // A list id the account does not have: only Constant Contact can tell.
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\n[[forms]]\nid = \"wrong\"\nlist_ids = [\"99999999-662a-11eb-af0a-fa163e56c9b0\"]",
    )
    .spawn()
    .await;
    app.connect_ok().await;

    let response = app
        .post_json("wrong", &json!({ "email": "dead@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    eventually(Duration::from_secs(20), "the signup to be dead", || async {
        let counts = app.store.queue_counts().await.ok()?;
        (counts.dead == 1).then_some(())
    })
    .await;

    let dead = app
        .signups()
        .await
        .into_iter()
        .find(|s| s.state == SignupState::Dead)
        .unwrap();
    let error = dead.last_error.unwrap();
    assert!(
        error.contains("400") && error.contains("contacts.api.validation.error"),
        "{error}"
    );
    assert!(
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::SignupDead)
    );
    // The account check runs in the background after connecting, alongside the delivery.
    eventually(
        Duration::from_secs(10),
        "the account check to name the missing list at connect time",
        || async {
            app.alerts
                .lock()
                .unwrap()
                .iter()
                .any(|a| a.kind == AlertKind::ConfigurationMismatch)
                .then_some(())
        },
    )
    .await;
    let status = app.readyz().await;
    assert_eq!(
        status["account_check"]["missing_lists"],
        json!(["99999999-662a-11eb-af0a-fa163e56c9b0"])
    );
    assert!(
        status["account_check"].get("list_names").is_none(),
        "the account's lists stay private"
    );
    assert_eq!(
        status["last_errors"],
        json!([]),
        "upstream error texts are not public"
    );
    let recent = app.store.recent_errors(5).await.unwrap();
    assert_eq!(recent[0].state, "dead", "the admin's status shows them");
    assert!(recent[0].error.contains("400"));
    // `ccbridge status` reads the check from the database: connected, but a list is missing.
    let config = app.dir.path().join("status.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{}\"\n", app.db_url)).unwrap();
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let shown = String::from_utf8_lossy(&cli.stdout);
    assert_eq!(cli.status.code(), Some(3), "{shown}");
    assert!(
        shown.contains("MISSING from the account")
            && shown.contains("99999999-662a-11eb-af0a-fa163e56c9b0"),
        "{shown}"
    );
    app.stop().await;
}

backends!(server_errors_back_off_and_a_signup_past_its_max_age_is_dead_and_can_be_requeued: sqlite, postgres);
async fn server_errors_back_off_and_a_signup_past_its_max_age_is_dead_and_can_be_requeued(
    backend: Backend,
) {
    let (clock, sandbox, app) = stepped_app(backend).await;
    post(&app, "flaky@example.com").await;
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });

    let first = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(first, Some(Delivery::Retrying { .. })),
        "{first:?}"
    );
    let failed = &app.signups().await[0];
    assert_eq!((failed.state, failed.attempts), (SignupState::Failed, 1));
    assert!(failed.next_attempt_at > clock.now(), "a retry waits");
    assert!(
        app.delivery.deliver_next().await.unwrap().is_none(),
        "not due yet"
    );

    clock.advance(chrono::Duration::days(8));
    // Eight days without a sync close the unsubscribes gate (the loop is not running here): sync
    // once while the sandbox answers, so the delivery itself is what fails.
    sandbox.set_faults(Faults::default());
    app.unsubscribes.sync_now().await.unwrap();
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let last = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(last, Some(Delivery::Dead { ref error }) if error.contains("gave up")),
        "{last:?}"
    );

    sandbox.set_faults(Faults::default());
    assert_eq!(app.store.requeue(true, None, clock.now()).await.unwrap(), 1);
    let again = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(again, Some(Delivery::Delivered { .. })),
        "a requeued signup gets a fresh age: {again:?}"
    );
    app.stop().await;
}

backends!(dropped_connections_and_timeouts_are_retried: sqlite, postgres);
async fn dropped_connections_and_timeouts_are_retried(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, FAST).spawn().await;
    app.connect_ok().await;
    wait_account_check(&app).await;
    sandbox.set_faults(Faults {
        drop_next: 3,
        fail_next: 2,
        ..Faults::default()
    });

    for i in 0..5 {
        post(&app, &format!("drop{i}@example.com")).await;
    }
    wait_delivered(&app, 5, Duration::from_secs(30)).await;

    assert_eq!(sandbox.contacts().len(), 5);
    app.stop().await;
}

backends!(delivered_personal_data_is_erased_after_the_retention_period_but_counts_stay: sqlite, postgres);
async fn delivered_personal_data_is_erased_after_the_retention_period_but_counts_stay(
    backend: Backend,
) {
    let (clock, _sandbox, app) = stepped_app(backend).await;
    post(&app, "forget@example.com").await;
    app.delivery.deliver_next().await.unwrap();

    clock.advance(chrono::Duration::days(29));
    assert_eq!(app.delivery.purge_old().await.unwrap(), 0);
    clock.advance(chrono::Duration::days(2));
    assert_eq!(app.delivery.purge_old().await.unwrap(), 1);

    let signup = &app.signups().await[0];
    assert_eq!(
        (signup.email.as_deref(), signup.client_ip.as_deref()),
        (None, None)
    );
    assert_eq!(signup.state, SignupState::Delivered);
    assert_eq!(app.store.queue_counts().await.unwrap().delivered, 1);
    app.stop().await;
}

backends!(a_403_pauses_all_deliveries_with_one_alert_and_nothing_counts_as_an_attempt: sqlite, postgres);
async fn a_403_pauses_all_deliveries_with_one_alert_and_nothing_counts_as_an_attempt(
    backend: Backend,
) {
    let (clock, sandbox, app) = stepped_app(backend).await;
    wait_account_check(&app).await;
    post(&app, "one@example.com").await;
    post(&app, "two@example.com").await;
    sandbox.set_faults(Faults {
        forbidden_next: 2,
        ..Faults::default()
    });

    let first = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(first, Some(Delivery::Paused(Pause::Until { .. }))),
        "{first:?}"
    );
    assert!(app.delivery.pause().is_some());
    assert!(
        app.signups().await.iter().all(|s| s.attempts == 0),
        "a pause is not a failed attempt"
    );
    clock.advance(chrono::Duration::minutes(16));
    let again = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(again, Some(Delivery::Paused(_))),
        "still forbidden: {again:?}"
    );
    let forbidden_alerts = app
        .alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind == AlertKind::DeliveryPaused)
        .count();
    assert_eq!(forbidden_alerts, 1, "one alert for one 403 episode");

    clock.advance(chrono::Duration::minutes(16));
    while let Some(outcome) = app.delivery.deliver_next().await.unwrap() {
        assert!(matches!(outcome, Delivery::Delivered { .. }), "{outcome:?}");
    }
    assert_eq!(app.store.queue_counts().await.unwrap().delivered, 2);
    app.stop().await;
}

backends!(a_409_is_retried_soon: sqlite, postgres);
async fn a_409_is_retried_soon(backend: Backend) {
    let (clock, sandbox, app) = stepped_app(backend).await;
    wait_account_check(&app).await;
    post(&app, "busy@example.com").await;
    sandbox.set_faults(Faults {
        conflict_next: 1,
        ..Faults::default()
    });

    let first = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(first, Some(Delivery::Retrying { ref error }) if error.contains("409")),
        "{first:?}"
    );
    let failed = &app.signups().await[0];
    assert!(
        failed.next_attempt_at <= clock.now() + chrono::Duration::seconds(2),
        "soon, not backed off"
    );
    clock.advance(chrono::Duration::seconds(3));
    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Delivered { .. })
    ));
    app.stop().await;
}
