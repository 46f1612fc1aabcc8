//! The overview's charts in Chromium: the numbers each mark carries are the database's.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::database::Backend;
use crate::helpers::{AppOptions, eventually, raw_pool};

/// Per hour (unix ms): accepted, delivered, refused, as `hourly_counts` holds them.
async fn database_hours(app: &TestApp) -> BTreeMap<i64, [u64; 3]> {
    let pool = raw_pool(app.backend, &app.db_path).await;
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "select hour, kind, cast(sum(n) as bigint) from hourly_counts
         where kind <> 'token_refresh' group by hour, kind",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut hours: BTreeMap<i64, [u64; 3]> = BTreeMap::new();
    for (hour, kind, n) in rows {
        let column = ["accepted", "delivered", "refused"]
            .iter()
            .position(|k| *k == kind)
            .unwrap();
        hours.entry(hour).or_default()[column] = n as u64;
    }
    hours
}

fn millis(stamp: &Value) -> i64 {
    DateTime::parse_from_rfc3339(stamp.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
        .timestamp_millis()
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_overview_charts_show_the_databases_numbers: sqlite);
async fn the_overview_charts_show_the_databases_numbers(backend: Backend) {
    let sandbox = fast_sandbox(false).await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;
    for n in 0..4 {
        let response = app
            .post_json(
                "newsletter",
                &json!({ "email": format!("chart{n}@example.com") }),
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    for _ in 0..3 {
        let response = app
            .post_json("site", &json!({ "email": "not-an-address" }))
            .await;
        assert_eq!(response.status(), 422);
    }
    assert_eq!(app.refusals.flush(&app.store).await.unwrap(), 3);
    eventually(Duration::from_secs(30), "4 signups delivered", || async {
        let counts = app.store.queue_counts().await.ok()?;
        (counts.delivered == 4).then_some(())
    })
    .await;
    let set = app.store.token_set().await.unwrap().expect("connected");
    app.keeper.refresh(set.generation).await.expect("a refresh");
    let set = app.store.token_set().await.unwrap().expect("connected");
    let calls_before = app
        .store
        .api_calls_on(Utc::now().date_naive())
        .await
        .unwrap();

    with_browser("console-charts", |browser| async move {
        log_in(&browser, &app).await;
        wait_for_text(&browser, "signups-svg").await;

        let hours = browser
            .execute(
                "return Array.from(document.querySelectorAll('#signups-svg g.hour')).map(g => \
                 [g.dataset.hour, +g.dataset.accepted, +g.dataset.delivered, +g.dataset.refused]);",
                vec![],
            )
            .await
            .unwrap();
        let hours = hours.as_array().unwrap();
        assert_eq!(hours.len(), 168, "one mark per hour of 7 days");
        let shown: BTreeMap<i64, [u64; 3]> = hours
            .iter()
            .map(|h| {
                let n = |i: usize| h[i].as_u64().unwrap();
                (millis(&h[0]), [n(1), n(2), n(3)])
            })
            .filter(|(_, counts)| counts.iter().any(|n| *n > 0))
            .collect();
        assert_eq!(shown, database_hours(&app).await);
        assert_eq!(
            shown.values().fold([0; 3], |t, c| [t[0] + c[0], t[1] + c[1], t[2] + c[2]]),
            [4, 4, 3]
        );

        let marks = browser
            .execute(
                "const svg = id => document.getElementById(id); \
                 const budget = svg('budget-svg').dataset; \
                 const connected = document.querySelector('#token-svg [data-event=connected]'); \
                 const refreshes = Array.from(document.querySelectorAll('#token-svg rect.refresh')) \
                   .map(r => [r.dataset.hour, +r.dataset.refreshes]); \
                 const width = svg('signups-svg').getBoundingClientRect().width; \
                 return [+budget.used, +budget.limit, connected.dataset.at, refreshes, width, \
                   svg('waiting-svg').dataset.ageSeconds === undefined];",
                vec![],
            )
            .await
            .unwrap();
        let calls_after = app.store.api_calls_on(Utc::now().date_naive()).await.unwrap();
        let used = marks[0].as_u64().unwrap();
        assert!(
            (calls_before..=calls_after).contains(&used),
            "{used} calls shown, {calls_before}..{calls_after} counted"
        );
        assert_eq!(marks[1], 10_000);
        assert_eq!(
            millis(&marks[2]) / 1000,
            set.authorized_at.unwrap().timestamp(),
            "the connection's moment"
        );
        let refreshes: Vec<(i64, u64)> = marks[3]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (millis(&r[0]), r[1].as_u64().unwrap()))
            .collect();
        let stored: Vec<(i64, u64)> = app
            .store
            .token_refreshes(Utc::now() - chrono::Duration::days(7))
            .await
            .unwrap()
            .into_iter()
            .map(|(hour, n)| (hour.timestamp_millis(), n))
            .collect();
        assert_eq!(refreshes, stored);
        assert_eq!(refreshes.iter().map(|(_, n)| n).sum::<u64>(), 1);
        let width = marks[4].as_f64().unwrap();
        assert!(width > 300.0, "the chart is drawn ({width}px)");
        assert_eq!(marks[5], true, "nothing waits: every signup was delivered");

        // Tall enough for the whole section.
        browser.set_window_size(1024, 1300).await.unwrap();
        browser
            .execute(
                "document.getElementById('charts').scrollIntoView();",
                vec![],
            )
            .await
            .unwrap();
        save_screenshot(&browser, "console-charts").await;

        // On a phone the charts shrink to the screen instead of overflowing it.
        browser.set_window_size(390, 844).await.unwrap();
        let fits = browser
            .execute(
                "const r = document.getElementById('signups-svg').getBoundingClientRect(); \
                 return r.width > 0 && r.right <= document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fits, true, "the chart fits a phone's width");
    })
    .await;
}
