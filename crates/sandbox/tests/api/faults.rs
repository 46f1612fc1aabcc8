//! Injected faults: latency, random 5xx, the next N calls failing, 401s, dropped connections and a
//! flaky token endpoint, each followed by recovery.

use std::time::Duration;

use ccbridge_sandbox::Faults;

use crate::helpers::{SCOPES, VERIFIER, array_error, oauth_error, object_error, spawn_sandbox};

#[tokio::test]
async fn latency_delays_api_and_token_responses() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sandbox.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });

    let started = std::time::Instant::now();
    assert_eq!(
        sandbox.api_get(&token, "/v3/contact_lists").await.status(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = std::time::Instant::now();
    sandbox.token_request(&[("grant_type", "password")]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn an_error_rate_of_one_fails_every_call_with_a_500_or_503_body() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });

    for _ in 0..5 {
        let response = sandbox.api_get(&token, "/v3/contact_lists").await;
        let (status, _) = array_error(response).await;
        assert!(status == 500 || status == 503, "{status}");
    }
}

#[tokio::test]
async fn fail_next_answers_503_that_many_times_then_recovers() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sandbox.set_faults(Faults {
        fail_next: 2,
        ..Faults::default()
    });

    for _ in 0..2 {
        let response = sandbox.api_get(&token, "/v3/contact_lists").await;
        assert_eq!(array_error(response).await.0, 503);
    }
    assert_eq!(
        sandbox.api_get(&token, "/v3/contact_lists").await.status(),
        200
    );
}

#[tokio::test]
async fn unauthorized_next_answers_401_with_a_valid_token_then_recovers() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sandbox.set_faults(Faults {
        unauthorized_next: 1,
        ..Faults::default()
    });

    let refused = sandbox.api_get(&token, "/v3/contact_lists").await;
    assert_eq!(object_error(refused).await, (401, "unauthorized".into()));
    assert_eq!(
        sandbox.api_get(&token, "/v3/contact_lists").await.status(),
        200
    );
    assert_eq!(sandbox.sandbox.stats().unauthorized, 1);
}

#[tokio::test]
async fn drop_next_makes_the_client_see_a_transport_error_not_a_status() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sandbox.set_faults(Faults {
        drop_next: 1,
        ..Faults::default()
    });

    let dropped = sandbox
        .http
        .get(sandbox.url("/v3/contact_lists"))
        .bearer_auth(&token)
        .send()
        .await;

    let error = dropped.expect_err("no HTTP response at all");
    assert!(!error.is_status() && error.status().is_none(), "{error:?}");
    assert_eq!(
        sandbox.api_get(&token, "/v3/contact_lists").await.status(),
        200
    );
}

#[tokio::test]
async fn token_fail_next_answers_503_then_the_same_code_still_exchanges() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;
    sandbox.sandbox.set_faults(Faults {
        token_fail_next: 1,
        ..Faults::default()
    });

    let unavailable = sandbox.exchange(&code, VERIFIER).await;
    assert_eq!(
        oauth_error(unavailable).await,
        (503, "temporarily_unavailable".into())
    );
    assert_eq!(sandbox.exchange(&code, VERIFIER).await.status(), 200);
    assert_eq!(sandbox.sandbox.stats().token_requests, 2);
}
