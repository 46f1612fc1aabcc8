//! The token endpoint and the authorization-code grant: PKCE, the redirect URI, HTTP Basic client
//! authentication only, single-use codes that expire, and malformed requests.

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::{REDIRECT_URI, SCOPES, VERIFIER, oauth_error, spawn_sandbox, token_field};

#[tokio::test]
async fn the_code_flow_with_pkce_issues_tokens_that_work() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;

    let response = sandbox.exchange(&code, VERIFIER).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["scope"], SCOPES);
    let access_token = token_field(&body, "access_token");
    assert!(access_token.len() >= 40, "{access_token}");
    assert!(token_field(&body, "refresh_token").len() >= 40);
    assert_eq!(token_field(&body, "id_token").split('.').count(), 3);
    let lists = sandbox.api_get(&access_token, "/v3/contact_lists").await;
    assert_eq!(lists.status(), 200);
    let stats = sandbox.sandbox.stats();
    assert_eq!(
        (
            stats.token_requests,
            stats.codes_exchanged,
            stats.api_requests
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_token_endpoint_takes_its_parameters_from_the_query_string_too() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;
    let mut url = sandbox.sandbox.token_url();
    url.query_pairs_mut()
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_verifier", VERIFIER);

    let response = sandbox
        .http
        .post(url)
        .basic_auth("sandbox-client-id", Some("sandbox-client-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_wrong_code_verifier_is_an_invalid_grant() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;

    let response = sandbox
        .exchange(
            &code,
            "another-verifier-that-is-also-at-least-43-chars-long",
        )
        .await;

    assert_eq!(oauth_error(response).await, (400, "invalid_grant".into()));
    assert_eq!(sandbox.sandbox.stats().invalid_grants, 1);
}

#[tokio::test]
async fn a_redirect_uri_other_than_the_authorized_one_is_an_invalid_grant() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;

    let response = sandbox
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/oauth/callback/"),
            ("code_verifier", VERIFIER),
        ])
        .await;

    assert_eq!(oauth_error(response).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_token_request_without_basic_auth_is_an_invalid_client() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;

    let response = sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();

    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(oauth_error(response).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn a_client_secret_sent_as_a_form_field_is_refused_even_when_right() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;

    let response = sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(oauth_error(response).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_invalid_client() {
    let sandbox = spawn_sandbox().await;

    let response = sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .basic_auth("sandbox-client-id", Some("not-the-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();

    assert_eq!(oauth_error(response).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn reusing_a_code_is_an_invalid_grant_and_revokes_the_tokens_it_gave() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;
    let first: Value = sandbox
        .exchange(&code, VERIFIER)
        .await
        .json()
        .await
        .unwrap();

    let again = sandbox.exchange(&code, VERIFIER).await;

    assert_eq!(oauth_error(again).await, (400, "invalid_grant".into()));
    let access = token_field(&first, "access_token");
    assert_eq!(
        sandbox.api_get(&access, "/v3/contact_lists").await.status(),
        401
    );
    let refresh = sandbox.refresh(&token_field(&first, "refresh_token")).await;
    assert_eq!(oauth_error(refresh).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_code_older_than_five_minutes_is_an_invalid_grant() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;

    sandbox.clock.advance(TimeDelta::minutes(6));
    let response = sandbox.exchange(&code, VERIFIER).await;

    assert_eq!(oauth_error(response).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn an_unknown_grant_type_is_unsupported() {
    let sandbox = spawn_sandbox().await;

    let response = sandbox.token_request(&[("grant_type", "password")]).await;

    assert_eq!(
        oauth_error(response).await,
        (400, "unsupported_grant_type".into())
    );
}

#[tokio::test]
async fn a_malformed_token_request_is_an_invalid_request() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.code_for(SCOPES).await;
    let cases: [&[(&str, &str)]; 3] = [
        &[("code", &code), ("redirect_uri", REDIRECT_URI)],
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT_URI),
        ],
        &[("grant_type", "refresh_token")],
    ];
    for form in cases {
        let response = sandbox.token_request(form).await;
        assert_eq!(
            oauth_error(response).await,
            (400, "invalid_request".into()),
            "{form:?}"
        );
    }
    let json_body = sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .basic_auth("sandbox-client-id", Some("sandbox-client-secret"))
        .json(&json!({"grant_type": "refresh_token", "refresh_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(json_body).await,
        (400, "invalid_request".into())
    );
}
