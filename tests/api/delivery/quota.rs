//! The daily API budget and upstream quota answers: delivery pauses until UTC midnight.

use std::sync::Arc;
use std::time::Duration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{ManualClock, SharedClock};
use ccbridge::delivery::{Delivery, Pause};
use ccbridge_sandbox::{Faults, Sandbox, SandboxConfig};
use chrono::{TimeZone, Utc};

use super::post;
use crate::database::Backend;
use crate::helpers::fast_sandbox_on;
use crate::helpers::{AppOptions, TestApp, eventually, start_sandbox};

backends!(the_daily_budget_pauses_delivery_until_utc_midnight_and_survives_a_restart: sqlite, postgres);
async fn the_daily_budget_pauses_delivery_until_utc_midnight_and_survives_a_restart(
    backend: Backend,
) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 22, 0, 0).unwrap());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let extra = "[constant_contact]\nrequests_per_second = 1000\nrequests_per_day = 8";
    let app = AppOptions::against(backend, &sandbox, extra)
        .clock(shared.clone())
        .without_background_delivery()
        .spawn()
        .await;
    app.connect_ok().await;
    // Connecting used calls too (account summary, lists and fields check): wait for them.
    eventually(Duration::from_secs(10), "the account check", || async {
        let used = app.readyz().await["api_usage"]["used"].as_u64()?;
        (used >= 3).then_some(())
    })
    .await;
    for i in 0..5 {
        post(&app, &format!("quota{i}@example.com")).await;
    }

    let mut delivered = 0;
    let paused = loop {
        match app.delivery.deliver_next().await.unwrap() {
            Some(Delivery::Delivered { .. }) => delivered += 1,
            Some(Delivery::Paused(pause)) => break pause,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        delivered, 3,
        "8 calls a day, 3 spent on connecting, 2 on the first sync of unsubscribed addresses"
    );
    let midnight = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    assert!(
        matches!(paused, Pause::Until { until, .. } if until == midnight),
        "{paused:?}"
    );
    assert!(
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::QuotaExhausted)
    );
    assert_eq!(app.readyz().await["api_usage"]["used"], 8);
    let (dir, db_path) = app.stop().await;

    let mut options = AppOptions::new(backend, dir, db_path, extra)
        .clock(shared)
        .without_background_delivery();
    options.sandbox = Some(&sandbox);
    let app = options.spawn().await;
    assert_eq!(
        app.readyz().await["api_usage"]["used"],
        8,
        "the count survives a restart"
    );
    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Paused(_))
    ));
    assert_eq!(app.store.queue_counts().await.unwrap().pending, 2);

    clock.set(midnight + chrono::Duration::seconds(1));
    while let Some(outcome) = app.delivery.deliver_next().await.unwrap() {
        assert!(matches!(outcome, Delivery::Delivered { .. }), "{outcome:?}");
    }
    assert_eq!(app.store.queue_counts().await.unwrap().delivered, 5);
    assert_eq!(
        sandbox.stats().quota_exceeded,
        0,
        "the budget was kept locally; upstream never said 429"
    );
    app.stop().await;
}

/// A sandbox with a daily quota of 6 and a connected app (stepped by hand) whose account check has
/// used 3 of them and the first sync of unsubscribed addresses 2: one call is left upstream, while
/// the app's own budget is far larger.
async fn one_call_left_upstream(
    backend: Backend,
    app_clock: SharedClock,
    sandbox_clock: SharedClock,
) -> (Sandbox, TestApp) {
    let sandbox = start_sandbox(
        SandboxConfig {
            requests_per_second: 1000,
            requests_per_day: 6,
            ..SandboxConfig::default()
        },
        sandbox_clock,
    )
    .await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .clock(app_clock)
    .without_background_delivery()
    .spawn()
    .await;
    app.connect_ok().await;
    eventually(Duration::from_secs(10), "the account check", || async {
        let used = app.readyz().await["api_usage"]["used"].as_u64()?;
        (used >= 3).then_some(())
    })
    .await;
    app.unsubscribes
        .sync_now()
        .await
        .expect("the first sync of unsubscribed addresses");
    (sandbox, app)
}

backends!(a_quota_answer_arriving_after_midnight_spends_the_day_of_the_call_not_the_new_one: sqlite, postgres);
async fn a_quota_answer_arriving_after_midnight_spends_the_day_of_the_call_not_the_new_one(
    backend: Backend,
) {
    let before_midnight = Utc.with_ymd_and_hms(2026, 11, 26, 23, 59, 59).unwrap();
    let after_midnight = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 1).unwrap();
    let app_clock = ManualClock::new(before_midnight);
    let sandbox_clock = ManualClock::new(before_midnight);
    let (sandbox, app) = one_call_left_upstream(
        backend,
        Arc::new(app_clock.clone()),
        Arc::new(sandbox_clock.clone()),
    )
    .await;
    post(&app, "one@example.com").await;
    post(&app, "two@example.com").await;
    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Delivered { .. })
    ));

    // The next call is counted on the 26th and answered quota_exceeded for the 26th, but the
    // answer only arrives after midnight.
    sandbox.set_faults(Faults {
        latency_ms: 500,
        ..Faults::default()
    });
    let arrived_before = sandbox.stats().api_requests;
    let delivery = app.delivery.clone();
    let attempt = tokio::spawn(async move { delivery.deliver_next().await });
    eventually(Duration::from_secs(5), "the call to arrive", || async {
        (sandbox.stats().api_requests > arrived_before).then_some(())
    })
    .await;
    app_clock.set(after_midnight);
    let outcome = attempt.await.unwrap().unwrap();

    assert_eq!(sandbox.stats().quota_exceeded, 1);
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    assert_eq!(app.store.api_calls_on(day(26)).await.unwrap(), 10_000);
    assert_eq!(
        app.store.api_calls_on(day(27)).await.unwrap(),
        0,
        "the new day's budget is untouched"
    );
    assert!(
        !matches!(outcome, Some(Delivery::Paused(Pause::Until { until, .. })) if until > after_midnight),
        "no pause into the new day: {outcome:?}"
    );
    sandbox_clock.set(after_midnight);
    sandbox.set_faults(Faults::default());
    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Delivered { .. })
    ));
    app.stop().await;
}

backends!(an_upstream_quota_exceeded_also_pauses_until_midnight: sqlite, postgres);
async fn an_upstream_quota_exceeded_also_pauses_until_midnight(backend: Backend) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap());
    let shared: SharedClock = Arc::new(clock.clone());
    let (sandbox, app) = one_call_left_upstream(backend, shared.clone(), shared).await;
    post(&app, "one@example.com").await;
    post(&app, "two@example.com").await;

    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Delivered { .. })
    ));
    let paused = app.delivery.deliver_next().await.unwrap();

    assert!(
        matches!(paused, Some(Delivery::Paused(Pause::Until { .. }))),
        "{paused:?}"
    );
    assert_eq!(sandbox.stats().quota_exceeded, 1);
    assert_eq!(
        app.readyz().await["api_usage"]["used"],
        10_000,
        "the day counts as spent"
    );
    clock.set(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 1).unwrap());
    assert!(matches!(
        app.delivery.deliver_next().await.unwrap(),
        Some(Delivery::Delivered { .. })
    ));
    app.stop().await;
}
