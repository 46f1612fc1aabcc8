//! Connecting from anywhere: the device flow (each of its answers, on the injected clock), a
//! device-flow connection that refreshes as a public client, `ccbridge connect` picked up by a
//! running service, and connect links (single use, expiry, revocation, a stranger's link, a switch
//! of accounts held until an admin confirms).

mod alerts;
mod device;
mod links;

use ccbridge::config::{Config, ConnectFlow};
use ccbridge_sandbox::Sandbox;
use secrecy::SecretString;

/// Approve or deny `user_code` at the sandbox's verification page, as the account owner would.
pub async fn decide(sandbox: &Sandbox, user_code: &str, decision: &str) {
    let answer = reqwest::Client::new()
        .post(sandbox.activate_url())
        .form(&[("user_code", user_code), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
}

/// A sandbox on the real clock that asks device-flow clients to poll every second (tests that run
/// the real binary, or pages that reload themselves, cannot move a manual clock).
pub async fn realtime_device_sandbox() -> Sandbox {
    crate::helpers::start_sandbox(
        ccbridge_sandbox::SandboxConfig {
            requests_per_second: 1000,
            device_interval: 1,
            ..ccbridge_sandbox::SandboxConfig::default()
        },
        std::sync::Arc::new(ccbridge::clock::SystemClock),
    )
    .await
}

/// `flow = "device"` and no client secret: a public client, as device-flow applications are.
pub fn device_flow(config: &mut Config) {
    config.constant_contact.flow = ConnectFlow::Device;
    config.constant_contact.client_secret = SecretString::from(String::new());
}
