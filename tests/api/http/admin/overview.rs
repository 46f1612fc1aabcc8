//! The overview's worker state and failing deliveries, on a manual clock: idle, backing off until
//! the next attempt (shown in amber with the error in words), running once it is due.

use std::sync::Arc;

use ccbridge::clock::{Clock as _, ManualClock, SharedClock};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{get_page, login};
use crate::database::Backend;
use crate::helpers::{AppOptions, fast_sandbox_on};

backends!(the_worker_state_follows_the_queue_and_the_clock: sqlite, postgres);
async fn the_worker_state_follows_the_queue_and_the_clock(backend: Backend) {
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
    app.unsubscribes.sync_now().await.unwrap();
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
