//! Who gets through to `/v3`: bearer tokens (401 first, even for unknown paths), the scope each
//! route needs (403), and 404 for what does not exist.

use serde_json::Value;

use crate::helpers::{a_signup, array_error, object_error, spawn_sandbox, token_field};

#[tokio::test]
async fn account_summary_needs_the_account_read_scope() {
    let sandbox = spawn_sandbox().await;
    let without = sandbox.access_token().await;
    let with = token_field(
        &sandbox
            .connect("account_read contact_data offline_access")
            .await,
        "access_token",
    );

    let forbidden = sandbox.api_get(&without, "/v3/account/summary").await;
    assert_eq!(array_error(forbidden).await.0, 403);

    let allowed = sandbox.api_get(&with, "/v3/account/summary").await;
    assert_eq!(allowed.status(), 200);
    let body: Value = allowed.json().await.unwrap();
    assert_eq!(body["organization_name"], "Sandbox Organization");
    assert!(body["contact_email"].is_string() && body["encoded_account_id"].is_string());
}

#[tokio::test]
async fn contact_routes_need_the_contact_data_scope() {
    let sandbox = spawn_sandbox().await;
    let token = token_field(&sandbox.connect("account_read").await, "access_token");

    let lists = sandbox.api_get(&token, "/v3/contact_lists").await;
    assert_eq!(array_error(lists).await.0, 403);
    let signup = sandbox.sign_up(&token, &a_signup()).await;
    assert_eq!(array_error(signup).await.0, 403);
}

#[tokio::test]
async fn the_api_answers_401_without_a_valid_bearer_token_and_404_for_unknown_paths() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;

    let anonymous = sandbox.get(sandbox.url("/v3/contact_lists")).await;
    assert_eq!(object_error(anonymous).await, (401, "unauthorized".into()));
    let forged = sandbox.api_get("forged-token", "/v3/contact_lists").await;
    assert_eq!(forged.status(), 401);
    let unknown = sandbox.api_get(&token, "/v3/no-such-resource").await;
    assert_eq!(array_error(unknown).await.0, 404);
    let anonymous_unknown = sandbox.get(sandbox.url("/v3/nothing-here")).await;
    assert_eq!(anonymous_unknown.status(), 401, "auth comes before routing");
    assert_eq!(sandbox.sandbox.stats().unauthorized, 3);
}
