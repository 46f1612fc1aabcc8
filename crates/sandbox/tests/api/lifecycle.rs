//! Starting and stopping: the URLs a started sandbox reports, shutdown (also of requests stuck in
//! injected latency) and `run` until its token is cancelled.

use std::time::Duration;

use ccbridge_sandbox::{Faults, SandboxConfig};

use crate::helpers::{client, spawn_sandbox};

#[tokio::test]
async fn the_urls_point_at_the_bound_address() {
    let sandbox = spawn_sandbox().await;
    let addr = sandbox.sandbox.addr();

    assert_eq!(
        sandbox.sandbox.authorize_url().as_str(),
        format!("http://{addr}/oauth2/default/v1/authorize")
    );
    assert_eq!(
        sandbox.sandbox.token_url().as_str(),
        format!("http://{addr}/oauth2/default/v1/token")
    );
    assert_eq!(
        sandbox.sandbox.api_base_url().as_str(),
        format!("http://{addr}/v3")
    );
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_request_stuck_in_injected_latency() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sandbox.set_faults(Faults {
        latency_ms: 60_000,
        ..Faults::default()
    });
    let stuck = tokio::spawn(
        sandbox
            .http
            .get(sandbox.url("/v3/contact_lists"))
            .bearer_auth(&token)
            .send(),
    );
    crate::helpers::eventually(Duration::from_secs(5), "the request to arrive", || async {
        (sandbox.sandbox.stats().api_requests == 1).then_some(())
    })
    .await;

    tokio::time::timeout(Duration::from_secs(10), sandbox.sandbox.shutdown())
        .await
        .expect("shutdown finishes within its grace period");
    assert!(
        stuck.await.unwrap().is_err(),
        "the stuck request is cut off"
    );
}

#[tokio::test]
async fn after_shutdown_nothing_listens() {
    let sandbox = spawn_sandbox().await;
    let url = sandbox.url("/_sandbox/stats");
    assert!(sandbox.get(&url).await.status().is_success());

    sandbox.sandbox.shutdown().await;

    let after = client().get(&url).send().await;
    assert!(after.is_err(), "still answering after shutdown");
}

#[tokio::test]
async fn run_serves_until_its_shutdown_token_is_cancelled() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(ccbridge_sandbox::run(
        "127.0.0.1:0".parse().unwrap(),
        SandboxConfig::default(),
        shutdown.clone(),
    ));

    shutdown.cancel();

    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run returns after cancellation")
        .unwrap()
        .unwrap();
}
