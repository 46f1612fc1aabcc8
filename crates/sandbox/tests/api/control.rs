//! Control and inspection: the `/_sandbox` routes against the Rust API, and the overview page.

use ccbridge_sandbox::GENERAL_INTEREST_LIST_ID;
use serde_json::{Value, json};

use crate::helpers::{SCOPES, a_signup, oauth_error, spawn_sandbox, token_field};

#[tokio::test]
async fn the_control_routes_drive_the_same_state_as_the_rust_api() {
    let sandbox = spawn_sandbox().await;
    let body = sandbox.connect(SCOPES).await;
    let token = token_field(&body, "access_token");
    sandbox.sign_up(&token, &a_signup()).await;

    let stats: ccbridge_sandbox::SandboxStats = sandbox
        .get(sandbox.url("/_sandbox/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats, sandbox.sandbox.stats());
    let contacts: Value = sandbox
        .get(sandbox.url("/_sandbox/contacts"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(contacts[0]["email_address"], "jane@example.org");

    let set = sandbox
        .http
        .post(sandbox.url("/_sandbox/faults"))
        .json(&json!({"fail_next": 1}))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    let failed = sandbox.api_get(&token, "/v3/contact_lists").await;
    assert_eq!(failed.status(), 503);

    let expire = sandbox.url("/_sandbox/expire-access-tokens");
    assert!(
        sandbox
            .http
            .post(expire)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(
        sandbox.api_get(&token, "/v3/contact_lists").await.status(),
        401
    );
    let revoke = sandbox.url("/_sandbox/revoke");
    assert!(
        sandbox
            .http
            .post(revoke)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let refresh = sandbox.refresh(&token_field(&body, "refresh_token")).await;
    assert_eq!(oauth_error(refresh).await.1, "invalid_grant");
}

#[tokio::test]
async fn the_overview_page_lists_contacts_newest_first_escaped_and_refreshes_itself() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    for (email, name) in [
        ("first@example.org", "First"),
        ("second@example.org", "<b>Bold</b>"),
    ] {
        let mut body = a_signup();
        body["email_address"] = json!(email);
        body["first_name"] = json!(name);
        assert_eq!(sandbox.sign_up(&token, &body).await.status(), 201);
    }

    let page = sandbox.get(sandbox.url("/")).await;

    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<meta http-equiv="refresh" content="2">"#));
    assert!(html.contains("&lt;b&gt;Bold&lt;/b&gt;") && !html.contains("<b>Bold"));
    let second = html.find("second@example.org").unwrap();
    let first = html.find("first@example.org").unwrap();
    assert!(second < first, "newest first");
    for needed in [
        sandbox.sandbox.token_url().to_string(),
        sandbox.sandbox.authorize_url().to_string(),
        sandbox.sandbox.api_base_url().to_string(),
        GENERAL_INTEREST_LIST_ID.to_string(),
        "sandbox-client-secret".to_owned(),
    ] {
        assert!(html.contains(&needed), "{needed}");
    }
}
