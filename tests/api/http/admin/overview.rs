//! The overview's worker state and failing deliveries, on a manual clock: idle, backing off until
//! the next attempt (shown in amber with the error in words), running once it is due.

use std::sync::Arc;

use ccbridge::clock::{Clock as _, ManualClock, SharedClock};
use ccbridge::delivery::Delivery;
use ccbridge_sandbox::{Faults, Sandbox};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{get_page, login};
use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, fast_sandbox_on};

/// The service on a manual clock, delivering only when a test says so, connected, with the
/// connection's own API calls (the account check, the first sync of unsubscribes) done.
async fn stepped(backend: Backend) -> (ManualClock, Sandbox, TestApp) {
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .clock(shared)
    .without_background_delivery()
    .spawn()
    .await;
    app.connect_ok().await;
    app.account_checked().await;
    app.unsubscribes.sync_now().await.unwrap();
    (clock, sandbox, app)
}

backends!(the_worker_state_follows_the_queue_and_the_clock: sqlite, postgres);
async fn the_worker_state_follows_the_queue_and_the_clock(backend: Backend) {
    let (clock, _sandbox, app) = stepped(backend).await;
    let session = login(&app).await;
    let overview = || get_page(&app, "/admin", &session.cookie);

    let page = overview().await;
    assert!(page.contains("<span class=\"ok\">idle</span>"), "{page}");
    assert!(!page.contains("id=\"failing\""), "{page}");

    let accepted = app
        .post_json("newsletter", &json!({ "email": "slow@example.com" }))
        .await;
    assert_eq!(accepted.status(), 202);
    let next = clock.now().timestamp_millis() + 10 * 60 * 1000;
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    sqlx::query(
        "update signups set state = 'failed', attempts = 1, next_attempt_at = $1,
            last_error = 'Constant Contact answered 503 Service Unavailable: busy'",
    )
    .bind(next)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let at = DateTime::from_timestamp_millis(next).unwrap();

    let page = overview().await;
    for needle in [
        format!(
            "<span class=\"warn\">backing off until <time datetime=\"{}\">",
            at.to_rfc3339()
        ),
        "(in 10m)".to_owned(),
        "<strong>1 signup(s) failing to deliver.</strong>".to_owned(),
        "Last error: Constant Contact had a server error (5xx)".to_owned(),
        "<code>Constant Contact answered 503 Service Unavailable: busy</code>".to_owned(),
        format!(
            "id=\"next-attempt\">Next attempt: <time datetime=\"{}\">",
            at.to_rfc3339()
        ),
        "href=\"/admin/signups?state=failed\"".to_owned(),
    ] {
        assert!(page.contains(&needle), "{needle} missing from {page}");
    }

    clock.advance(chrono::Duration::minutes(11));
    let page = overview().await;
    assert!(page.contains("<span class=\"ok\">running</span>"), "{page}");
    app.stop().await;
}

backends!(the_last_error_is_the_most_recently_tried_signups: sqlite, postgres);
async fn the_last_error_is_the_most_recently_tried_signups(backend: Backend) {
    let (clock, sandbox, app) = stepped(backend).await;
    let fail_once = |faults: Faults| {
        sandbox.set_faults(faults);
        async { app.delivery.deliver_next().await.unwrap() }
    };

    // The old signup fails three times on 503s: its next attempt is pushed far out (10 s or more).
    let accepted = app
        .post_json("newsletter", &json!({ "email": "old@example.com" }))
        .await;
    assert_eq!(accepted.status(), 202);
    for attempt in 0..3 {
        if attempt > 0 {
            // Past the wait so far (at most 10 s), well inside the 5-minute sync interval.
            clock.advance(chrono::Duration::seconds(30));
        }
        let outcome = fail_once(Faults {
            fail_next: 1,
            ..Faults::default()
        })
        .await;
        assert!(
            matches!(outcome, Some(Delivery::Retrying { .. })),
            "{outcome:?}"
        );
    }
    // Now the new one is tried last and fails differently; its first retry comes sooner (5 s or
    // less), so "the failed signup retried last" would name the old one's 503.
    let accepted = app
        .post_json("newsletter", &json!({ "email": "new@example.com" }))
        .await;
    assert_eq!(accepted.status(), 202);
    let outcome = fail_once(Faults {
        drop_next: 1,
        ..Faults::default()
    })
    .await;
    assert!(
        matches!(outcome, Some(Delivery::Retrying { .. })),
        "{outcome:?}"
    );
    sandbox.set_faults(Faults::default());

    let session = login(&app).await;
    let page = get_page(&app, "/admin", &session.cookie).await;
    assert!(
        page.contains("<strong>2 signup(s) failing to deliver.</strong>"),
        "{page}"
    );
    assert!(
        page.contains("Last error: Constant Contact did not answer in time"),
        "the newest error is the dropped connection: {page}"
    );
    let recent = app.store.recent_errors(5).await.unwrap();
    assert_eq!(recent.len(), 2, "{recent:?}");
    assert!(!recent[0].error.contains("503"), "newest first: {recent:?}");
    assert!(recent[1].error.contains("503"), "{recent:?}");
    app.stop().await;
}
