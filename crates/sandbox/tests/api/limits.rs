//! The per-second and daily limits, with their 429 bodies and the peak counter.

use ccbridge_sandbox::SandboxConfig;
use chrono::TimeDelta;

use crate::helpers::{TestSandbox, object_error, spawn_sandbox_with, unthrottled};

/// Send `n` API requests at once; returns the responses.
async fn burst(sandbox: &TestSandbox, token: &str, n: usize) -> Vec<reqwest::Response> {
    let requests = (0..n).map(|_| sandbox.api_get(token, "/v3/contact_lists"));
    futures_util::future::join_all(requests).await
}

#[tokio::test]
async fn more_than_requests_per_second_at_once_are_throttled() {
    let sandbox = spawn_sandbox_with(SandboxConfig::default()).await;
    let token = sandbox.access_token().await;

    let responses = burst(&sandbox, &token, 10).await;

    let mut ok = 0;
    let mut throttled = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                assert_eq!(object_error(response).await.1, "throttled");
                throttled += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((1..=4).contains(&ok), "{ok} admitted");
    assert_eq!(ok + throttled, 10);
    assert_eq!(sandbox.sandbox.stats().throttled, throttled);
}

#[tokio::test]
async fn the_peak_counts_every_arrival_of_a_burst_including_throttled_ones() {
    let sandbox = spawn_sandbox_with(SandboxConfig::default()).await;
    let token = sandbox.access_token().await;

    burst(&sandbox, &token, 7).await;

    let stats = sandbox.sandbox.stats();
    assert_eq!(stats.peak_requests_per_second, 7);
    assert_eq!(stats.api_requests, 7);
    assert!(stats.throttled >= 3);
}

#[tokio::test]
async fn the_daily_quota_runs_out_and_comes_back_after_utc_midnight() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        requests_per_day: 3,
        ..unthrottled()
    })
    .await;
    let token = sandbox.access_token().await;
    sandbox.clock.set("2026-03-02T23:59:00Z".parse().unwrap());

    for _ in 0..3 {
        assert_eq!(
            sandbox.api_get(&token, "/v3/contact_lists").await.status(),
            200
        );
    }
    let fourth = sandbox.api_get(&token, "/v3/contact_lists").await;
    assert_eq!(object_error(fourth).await, (429, "quota_exceeded".into()));

    sandbox.clock.advance(TimeDelta::minutes(2));
    let next_day = sandbox.api_get(&token, "/v3/contact_lists").await;
    assert_eq!(next_day.status(), 200);
    assert_eq!(sandbox.sandbox.stats().quota_exceeded, 1);
}
