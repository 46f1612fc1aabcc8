//! The overview's charts tell the truth: the hourly counts they are drawn from equal the signups
//! stored and delivered through real HTTP and the sandbox, refusals reach the database only when
//! the once-a-minute flush runs (all of them, in one row per hour, form and reason), and every
//! count survives a restart on the same database.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ccbridge::clock::{ManualClock, SharedClock};
use ccbridge::store::{HourlySignups, rollup_hour};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::database::Backend;
use crate::helpers::{
    ADMIN_PASSWORD, ADMIN_USER, AppOptions, TestApp, eventually, fast_sandbox, raw_pool,
    spawn_app_in,
};

/// Per hour: (accepted, delivered) as the signups table says.
fn expected_from_signups(
    app_signups: &[ccbridge::store::SignupRecord],
) -> BTreeMap<DateTime<Utc>, (u64, u64)> {
    let mut hours: BTreeMap<DateTime<Utc>, (u64, u64)> = BTreeMap::new();
    for signup in app_signups {
        hours.entry(rollup_hour(signup.created_at)).or_default().0 += 1;
        if let Some(at) = signup.delivered_at {
            hours.entry(rollup_hour(at)).or_default().1 += 1;
        }
    }
    hours
}

fn counted(hours: &[HourlySignups]) -> BTreeMap<DateTime<Utc>, (u64, u64)> {
    hours
        .iter()
        .map(|h| (h.hour, (h.accepted, h.delivered)))
        .collect()
}

fn week_ago() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(7)
}

async fn wait_delivered(app: &TestApp, count: u64) {
    eventually(
        Duration::from_secs(30),
        "every signup delivered",
        || async {
            let counts = app.store.queue_counts().await.ok()?;
            (counts.delivered == count).then_some(())
        },
    )
    .await;
}

/// Rows of `hourly_counts` of `kind` as the database holds them: (form, reason, n).
async fn rows(app: &TestApp, kind: &str) -> Vec<(String, String, i64)> {
    let pool = raw_pool(app.backend, &app.db_path).await;
    let rows = sqlx::query_as(
        "select form_id, reason, n from hourly_counts where kind = $1 order by form_id, reason",
    )
    .bind(kind.to_owned())
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

backends!(accepted_and_delivered_counts_equal_the_signups_stored_and_delivered: sqlite, postgres);
async fn accepted_and_delivered_counts_equal_the_signups_stored_and_delivered(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;

    for n in 0..5 {
        let response = app
            .post_json(
                "newsletter",
                &json!({ "email": format!("chart{n}@example.com") }),
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    for n in 0..2 {
        let response = app
            .post_json("site", &json!({ "email": format!("site{n}@example.com") }))
            .await;
        assert_eq!(response.status(), 202);
    }
    wait_delivered(&app, 7).await;

    let signups = app.signups().await;
    let hours = app.store.hourly_signups(week_ago()).await.unwrap();
    assert_eq!(counted(&hours), expected_from_signups(&signups));
    let per_form = |rows: Vec<(String, String, i64)>| -> Vec<(String, i64)> {
        rows.into_iter().map(|(form, _, n)| (form, n)).fold(
            Vec::new(),
            |mut sums: Vec<(String, i64)>, (form, n)| {
                match sums.iter_mut().find(|(f, _)| *f == form) {
                    Some((_, sum)) => *sum += n,
                    None => sums.push((form, n)),
                }
                sums
            },
        )
    };
    let expected = vec![("newsletter".to_owned(), 5), ("site".to_owned(), 2)];
    assert_eq!(per_form(rows(&app, "accepted").await), expected);
    assert_eq!(per_form(rows(&app, "delivered").await), expected);

    // The overview draws the same numbers.
    let page = app
        .client
        .get(app.url("/admin"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sum = |attribute: &str| -> u64 {
        page.split(&format!(" {attribute}=\""))
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(page.matches("<g class=\"hour\"").count(), 168, "{page}");
    assert_eq!(sum("data-accepted"), 7);
    assert_eq!(sum("data-delivered"), 7);
    assert_eq!(sum("data-refused"), 0);
}

backends!(fifty_refusals_are_written_once_at_the_flush_as_one_row: sqlite, postgres);
async fn fifty_refusals_are_written_once_at_the_flush_as_one_row(backend: Backend) {
    // The clock stands still, so the once-a-minute loop never flushes by itself here.
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let app = AppOptions::fresh(backend, "").clock(shared).spawn().await;

    for _ in 0..50 {
        let response = app
            .post_json("newsletter", &json!({ "email": "not-an-address" }))
            .await;
        assert_eq!(response.status(), 422);
    }

    assert_eq!(app.refusals.unwritten(), 50);
    assert!(
        rows(&app, "refused").await.is_empty(),
        "nothing written before the flush"
    );

    assert_eq!(app.refusals.flush(&app.store).await.unwrap(), 50);
    assert_eq!(
        rows(&app, "refused").await,
        vec![("newsletter".to_owned(), "invalid_email".to_owned(), 50)]
    );
    assert_eq!(app.refusals.unwritten(), 0);
    // A flush with nothing new writes nothing more.
    assert_eq!(app.refusals.flush(&app.store).await.unwrap(), 0);
    let by_form = app.store.refusals_by_form(week_ago()).await.unwrap();
    assert_eq!(by_form["newsletter"]["invalid_email"], 50);
    assert_eq!(by_form.len(), 1);
}

backends!(the_counts_survive_a_restart_on_the_same_database: sqlite, postgres);
async fn the_counts_survive_a_restart_on_the_same_database(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;
    for n in 0..3 {
        let response = app
            .post_json(
                "newsletter",
                &json!({ "email": format!("again{n}@example.com") }),
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    wait_delivered(&app, 3).await;
    for _ in 0..4 {
        let response = app
            .post_json("no-such-form", &json!({ "email": "a@example.com" }))
            .await;
        assert_eq!(response.status(), 404);
    }
    let set = app.store.token_set().await.unwrap().expect("connected");
    app.keeper.refresh(set.generation).await.expect("a refresh");
    let before = app.store.hourly_signups(week_ago()).await.unwrap();
    let refreshes = app.store.token_refreshes(week_ago()).await.unwrap();
    assert_eq!(refreshes.iter().map(|(_, n)| n).sum::<u64>(), 1);
    let unwritten = app.refusals.unwritten();
    assert_eq!(unwritten, 4, "not flushed before the stop");

    // Stopping writes the refusals of the last minute.
    let backend = app.backend;
    let (dir, db_path) = app.stop().await;
    let again = spawn_app_in(backend, dir, db_path, "").await;

    let after = again.store.hourly_signups(week_ago()).await.unwrap();
    let totals = |hours: &[HourlySignups]| {
        hours.iter().fold((0, 0, 0), |(a, d, r), h| {
            (a + h.accepted, d + h.delivered, r + h.refused)
        })
    };
    assert_eq!(totals(&after), (3, 3, 4));
    assert_eq!(counted(&after), counted(&before));
    assert_eq!(
        again.store.token_refreshes(week_ago()).await.unwrap(),
        refreshes
    );
    let by_form = again.store.refusals_by_form(week_ago()).await.unwrap();
    assert_eq!(by_form["-"]["unknown_form"], 4);
}

backends!(every_kind_of_refusal_is_counted_and_the_minute_loop_writes_it: sqlite, postgres);
async fn every_kind_of_refusal_is_counted_and_the_minute_loop_writes_it(backend: Backend) {
    let clock = ManualClock::new(Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    // Three requests per client, then a refusal for a minute.
    let limits = "[rate_limit]\nper_ip_per_minute = 1\nper_ip_burst = 3\nper_form_per_minute = 0\n";
    let app = AppOptions::fresh(backend, limits)
        .clock(shared)
        .spawn()
        .await;

    let from_elsewhere = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("origin", "https://elsewhere.example")
        .json(&json!({ "email": "a@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status(), 403);
    for _ in 0..2 {
        let invalid = app
            .post_json("newsletter", &json!({ "email": "not-an-address" }))
            .await;
        assert_eq!(invalid.status(), 422);
    }
    let unknown = app
        .post_json("no-such-form", &json!({ "email": "a@example.com" }))
        .await;
    assert_eq!(unknown.status(), 404);
    let limited = app
        .post_json("newsletter", &json!({ "email": "a@example.com" }))
        .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(app.refusals.unwritten(), 5);

    // A minute later the background loop writes them.
    clock.advance(chrono::Duration::seconds(61));
    let by_form = eventually(Duration::from_secs(10), "the minute's flush", || async {
        let by_form = app.store.refusals_by_form(week_ago()).await.ok()?;
        (!by_form.is_empty()).then_some(by_form)
    })
    .await;
    let expected: BTreeMap<String, BTreeMap<String, u64>> = [
        (
            "newsletter",
            vec![
                ("invalid_email", 2),
                ("origin_not_allowed", 1),
                ("rate_limited", 1),
            ],
        ),
        ("-", vec![("unknown_form", 1)]),
    ]
    .into_iter()
    .map(|(form, reasons)| {
        (
            form.to_owned(),
            reasons
                .into_iter()
                .map(|(reason, n)| (reason.to_owned(), n))
                .collect(),
        )
    })
    .collect();
    assert_eq!(by_form, expected);
    assert_eq!(app.refusals.unwritten(), 0);
}

backends!(hourly_counts_older_than_8_days_are_purged_by_the_retention_task: sqlite, postgres);
async fn hourly_counts_older_than_8_days_are_purged_by_the_retention_task(backend: Backend) {
    let start = Utc::now();
    let clock = ManualClock::new(start);
    let shared: SharedClock = Arc::new(clock.clone());
    let app = AppOptions::fresh(backend, "")
        .clock(shared)
        .without_background_delivery()
        .spawn()
        .await;
    let post = |email: &'static str| {
        let app = &app;
        async move {
            let response = app
                .post_json("newsletter", &json!({ "email": email }))
                .await;
            assert_eq!(response.status(), 202);
        }
    };
    post("old@example.com").await;
    clock.advance(chrono::Duration::days(9));
    post("new@example.com").await;

    app.delivery.purge_old().await.unwrap();

    let kept = app
        .store
        .hourly_signups(start - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].hour, rollup_hour(start + chrono::Duration::days(9)));
    assert_eq!(kept[0].accepted, 1);
}
