//! Store-level proofs that several handles on one database (replicas, on PostgreSQL) never share a
//! claim or a rate-limit slot. They run on both backends: on SQLite the handles are connection
//! pools of one process, which must behave the same.

use std::collections::HashSet;
use std::time::Duration;

use ccbridge::config::DatabaseConfig;
use ccbridge::store::Store;
use chrono::Utc;
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, fast_sandbox};

async fn handles(app: &TestApp, n: usize) -> Vec<Store> {
    let mut stores = Vec::new();
    for _ in 0..n {
        let config = DatabaseConfig {
            url: app.db_url.parse().unwrap(),
            ..DatabaseConfig::default()
        };
        stores.push(
            Store::connect(&config)
                .await
                .expect("a second handle opens"),
        );
    }
    stores
}

backends!(concurrent_claimers_never_get_the_same_signup: sqlite, postgres);
async fn concurrent_claimers_never_get_the_same_signup(backend: Backend) {
    let app = AppOptions::fresh(backend, "")
        .without_background_delivery()
        .spawn()
        .await;
    let mut posted = HashSet::new();
    for i in 0..60 {
        let response = app
            .post_json(
                "newsletter",
                &json!({ "email": format!("c{i}@example.com") }),
            )
            .await;
        assert_eq!(response.status(), 202);
        let body: serde_json::Value = response.json().await.unwrap();
        posted.insert(body["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }

    let mut claimers = Vec::new();
    for (n, store) in handles(&app, 4).await.into_iter().enumerate() {
        claimers.push(tokio::spawn(async move {
            let owner = format!("replica-{n}");
            let mut mine = Vec::new();
            loop {
                let now = Utc::now();
                let lease = now + chrono::Duration::minutes(5);
                let claimed = store.claim_due(&owner, now, lease).await.unwrap();
                if claimed.is_empty() {
                    break;
                }
                mine.extend(claimed.into_iter().map(|s| s.id));
            }
            store.close().await;
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut per_claimer = Vec::new();
    for claimer in claimers {
        let mine = claimer.await.unwrap();
        per_claimer.push(mine.len());
        for id in mine {
            assert!(seen.insert(id), "signup {id} was claimed twice");
        }
    }

    assert_eq!(seen, posted, "every signup claimed, by exactly one claimer");
    assert_eq!(per_claimer.iter().sum::<usize>(), 60, "{per_claimer:?}");
    app.stop().await;
}

backends!(handles_on_one_database_take_evenly_spaced_slots: sqlite, postgres);
async fn handles_on_one_database_take_evenly_spaced_slots(backend: Backend) {
    const SPACING: Duration = Duration::from_millis(100);
    let app = AppOptions::fresh(backend, "")
        .without_background_delivery()
        .spawn()
        .await;
    let start = Instant::now();
    let mut takers = Vec::new();
    for store in handles(&app, 3).await {
        takers.push(tokio::spawn(async move {
            let mut slots = Vec::new();
            for _ in 0..6 {
                let slot = store.take_call_slot(SPACING).await.unwrap();
                slots.push((
                    slot.earliest.duration_since(start),
                    slot.latest.duration_since(start),
                ));
            }
            store.close().await;
            slots
        }));
    }
    let mut slots = Vec::new();
    for taker in takers {
        slots.extend(taker.await.unwrap());
    }
    slots.sort();

    // Each slot is known only to lie between `earliest` and `latest` (the database read its clock
    // somewhere in the round trip, which a busy machine stretches). Two slots closer than the
    // spacing would be closer than it even at the widest reading: `latest` of the later one
    // minus `earliest` of the earlier one.
    let tolerance = Duration::from_millis(10);
    for pair in slots.windows(2) {
        let (earlier, later) = (pair[0], pair[1]);
        let widest = later.1 - earlier.0;
        assert!(
            widest + tolerance >= SPACING,
            "two slots at most {widest:?} apart: {slots:?}"
        );
    }
    let span = slots.last().unwrap().1 - slots[0].0;
    assert!(
        span + tolerance >= SPACING * 17,
        "18 slots span at least 17 spacings: {span:?}"
    );
    app.stop().await;
}

backends!(a_claim_is_kept_alive_while_its_delivery_takes_longer_than_the_lease: sqlite, postgres);
async fn a_claim_is_kept_alive_while_its_delivery_takes_longer_than_the_lease(backend: Backend) {
    use ccbridge::delivery::Delivery;
    use ccbridge_sandbox::Faults;
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\nrequest_timeout = \"1s\"\n[delivery]\nclaim_lease = \"2s\"",
    )
    .without_background_delivery()
    .spawn()
    .await;
    app.connect_ok().await;
    // Connecting starts the account check (API calls): let it finish before faults are set.
    app.account_checked().await;
    app.unsubscribes
        .sync_now()
        .await
        .expect("the first sync of unsubscribed addresses");
    let response = app
        .post_json("newsletter", &json!({ "email": "slow@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    // A 401, a refresh and the retry, each 800 ms upstream: about 2.4 s, longer than the lease.
    sandbox.set_faults(Faults {
        latency_ms: 800,
        unauthorized_next: 1,
        ..Faults::default()
    });
    let delivery = app.delivery.clone();
    let started = Instant::now();
    let attempt = tokio::spawn(async move { delivery.deliver_next().await });

    let other = handles(&app, 1).await.remove(0);
    while !attempt.is_finished() {
        let now = Utc::now();
        let taken = other
            .claim_due("another-replica", now, now + chrono::Duration::minutes(1))
            .await
            .unwrap();
        assert!(
            taken.is_empty(),
            "another replica took the signup {:?} into the delivery",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outcome = attempt.await.unwrap().unwrap();

    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the delivery outlasted the lease ({:?})",
        started.elapsed()
    );
    assert!(
        matches!(outcome, Some(Delivery::Delivered { .. })),
        "{outcome:?}"
    );
    assert_eq!(sandbox.contacts().len(), 1);
    other.close().await;
    app.stop().await;
}
