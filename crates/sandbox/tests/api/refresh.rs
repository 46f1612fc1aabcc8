//! The refresh grant and the life of tokens: rotating and long-lived refresh tokens,
//! `offline_access`, access-token expiry by the clock, and revocation.

use ccbridge_sandbox::SandboxConfig;
use chrono::TimeDelta;
use serde_json::Value;

use crate::helpers::{
    SCOPES, oauth_error, object_error, spawn_sandbox, spawn_sandbox_with, token_field, unthrottled,
};

#[tokio::test]
async fn a_rotating_refresh_gives_a_new_refresh_token_and_kills_the_old_one() {
    let sandbox = spawn_sandbox().await;
    let first = token_field(&sandbox.connect(SCOPES).await, "refresh_token");

    let response = sandbox.refresh(&first).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let second = token_field(&body, "refresh_token");
    assert_ne!(first, second);
    let access = token_field(&body, "access_token");
    assert_eq!(
        sandbox.api_get(&access, "/v3/contact_lists").await.status(),
        200
    );

    let old = sandbox.refresh(&first).await;
    assert_eq!(oauth_error(old).await, (400, "invalid_grant".into()));
    assert_eq!(sandbox.refresh(&second).await.status(), 200);
    assert_eq!(sandbox.sandbox.stats().refreshes, 2);
}

#[tokio::test]
async fn a_long_lived_refresh_token_comes_back_unchanged_and_keeps_working() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        rotating_refresh_tokens: false,
        ..unthrottled()
    })
    .await;
    let refresh_token = token_field(&sandbox.connect(SCOPES).await, "refresh_token");

    for _ in 0..3 {
        let response = sandbox.refresh(&refresh_token).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(token_field(&body, "refresh_token"), refresh_token);
    }
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token() {
    let sandbox = spawn_sandbox().await;

    let body = sandbox.connect("contact_data").await;

    assert_eq!(body["scope"], "contact_data");
    assert!(body.get("refresh_token").is_none(), "{body}");
}

#[tokio::test]
async fn an_access_token_stops_working_when_the_clock_passes_expires_in() {
    let sandbox = spawn_sandbox().await;
    sandbox.sandbox.set_expires_in(600);
    let body = sandbox.connect(SCOPES).await;
    assert_eq!(body["expires_in"], 600);
    let token = token_field(&body, "access_token");

    sandbox.clock.advance(TimeDelta::seconds(599));
    assert_eq!(
        sandbox.api_get(&token, "/v3/contact_lists").await.status(),
        200
    );
    sandbox.clock.advance(TimeDelta::seconds(1));
    let expired = sandbox.api_get(&token, "/v3/contact_lists").await;

    assert_eq!(object_error(expired).await, (401, "unauthorized".into()));
    assert_eq!(sandbox.sandbox.stats().unauthorized, 1);
}

#[tokio::test]
async fn after_revoke_all_tokens_refresh_is_an_invalid_grant_and_the_api_answers_401() {
    let sandbox = spawn_sandbox().await;
    let body = sandbox.connect(SCOPES).await;

    sandbox.sandbox.revoke_all_tokens();

    let refresh = sandbox.refresh(&token_field(&body, "refresh_token")).await;
    assert_eq!(oauth_error(refresh).await, (400, "invalid_grant".into()));
    let api = sandbox
        .api_get(&token_field(&body, "access_token"), "/v3/contact_lists")
        .await;
    assert_eq!(api.status(), 401);
}

#[tokio::test]
async fn after_expire_access_tokens_the_api_answers_401_but_refresh_still_works() {
    let sandbox = spawn_sandbox().await;
    let body = sandbox.connect(SCOPES).await;

    sandbox.sandbox.expire_access_tokens();

    let old = token_field(&body, "access_token");
    assert_eq!(
        sandbox.api_get(&old, "/v3/contact_lists").await.status(),
        401
    );
    let refreshed: Value = sandbox
        .refresh(&token_field(&body, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let new = token_field(&refreshed, "access_token");
    assert_eq!(
        sandbox.api_get(&new, "/v3/contact_lists").await.status(),
        200
    );
}
