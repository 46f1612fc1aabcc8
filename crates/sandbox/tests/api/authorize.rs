//! The authorize endpoint: which requests get an error page and no redirect, which errors go
//! back to the redirect URI with the state, and the consent page's Approve and Deny.

use ccbridge_sandbox::SandboxConfig;

use crate::helpers::{
    REDIRECT_URI, VERIFIER, location, query_value, spawn_sandbox, spawn_sandbox_with, unthrottled,
};

#[tokio::test]
async fn an_unknown_client_or_a_bad_redirect_uri_gets_an_error_page_and_no_redirect() {
    let sandbox = spawn_sandbox().await;
    let cases = [
        ("client_id", Some("someone-else")),
        ("client_id", None),
        ("redirect_uri", None),
        ("redirect_uri", Some("not a url")),
        ("redirect_uri", Some("javascript:alert(1)")),
        ("redirect_uri", Some("http://127.0.0.1:9/cb#fragment")),
    ];
    for change in cases {
        let response = sandbox.get(sandbox.authorize_url(&[change])).await;

        assert_eq!(response.status(), 400, "{change:?}");
        assert!(response.headers().get("location").is_none(), "{change:?}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}

#[tokio::test]
async fn only_a_registered_redirect_uri_gets_a_code_and_the_page_says_which_one_is_expected() {
    let sandbox = spawn_sandbox().await;
    // The usual mistakes: another port, a trailing slash, http for https, another host.
    let unregistered = [
        "http://127.0.0.1:10/oauth/callback",
        "http://127.0.0.1:9/oauth/callback/",
        "https://127.0.0.1:9/oauth/callback",
        "http://localhost:9/oauth/callback",
        "https://attacker.example/oauth/callback",
    ];
    for uri in unregistered {
        let response = sandbox
            .get(sandbox.authorize_url(&[("redirect_uri", Some(uri))]))
            .await;

        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none(), "{uri}");
        let page = response.text().await.unwrap();
        assert!(page.contains("is not registered"), "{uri}: {page}");
        assert!(
            page.contains(REDIRECT_URI),
            "{uri}: the page names the expected URI: {page}"
        );
    }

    let other = "http://127.0.0.1:10/oauth/callback";
    sandbox
        .sandbox
        .register_redirect_uri(other.parse().unwrap());
    let registered = sandbox
        .get(sandbox.authorize_url(&[("redirect_uri", Some(other))]))
        .await;

    assert_eq!(registered.status(), 302);
    assert!(location(&registered).as_str().starts_with(other));
}

#[tokio::test]
async fn by_default_the_redirect_uri_of_ccbridges_default_public_url_is_registered() {
    let sandbox = spawn_sandbox().await;

    assert_eq!(
        sandbox.sandbox.redirect_uris(),
        vec![
            ccbridge_sandbox::DEFAULT_REDIRECT_URI.parse().unwrap(),
            REDIRECT_URI.parse().unwrap()
        ]
    );
}

#[tokio::test]
async fn other_authorize_errors_go_back_to_the_redirect_uri_with_the_state() {
    let sandbox = spawn_sandbox().await;
    let cases = [
        (
            ("response_type", Some("token")),
            "unsupported_response_type",
        ),
        (("code_challenge", None), "invalid_request"),
        (("code_challenge", Some("too-short")), "invalid_request"),
        (("code_challenge_method", Some("plain")), "invalid_request"),
        (("code_challenge_method", None), "invalid_request"),
        (
            ("scope", Some("contact_data mail_everyone")),
            "invalid_scope",
        ),
        (("scope", None), "invalid_scope"),
    ];
    for (change, error) in cases {
        let response = sandbox.get(sandbox.authorize_url(&[change])).await;

        assert_eq!(response.status(), 302, "{change:?}");
        let target = location(&response);
        assert!(target.as_str().starts_with(REDIRECT_URI), "{target}");
        assert_eq!(query_value(&target, "error").as_deref(), Some(error));
        assert!(query_value(&target, "error_description").is_some());
        assert_eq!(query_value(&target, "state").as_deref(), Some("xyz-state"));
        assert_eq!(query_value(&target, "code"), None);
    }
}

#[tokio::test]
async fn an_authorize_request_without_state_or_with_a_repeated_parameter_is_invalid() {
    let sandbox = spawn_sandbox().await;
    let mut repeated = sandbox.authorize_url(&[]);
    repeated
        .query_pairs_mut()
        .append_pair("scope", "account_read");
    for url in [sandbox.authorize_url(&[("state", None)]), repeated] {
        let response = sandbox.get(url.clone()).await;

        assert_eq!(response.status(), 302, "{url}");
        let target = location(&response);
        assert_eq!(
            query_value(&target, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query_value(&target, "code"), None);
    }
}

/// The value of `name="NAME" value="…"` in a page (the sandbox writes name before value).
fn hidden_input(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the hidden input") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn consent_mode_shows_a_page_whose_deny_button_redirects_with_access_denied() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        consent: true,
        account_name: "Acme <script>alert(1)</script>".into(),
        ..unthrottled()
    })
    .await;

    let page = sandbox.get(sandbox.authorize_url(&[])).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="approve""#) && html.contains(r#"id="deny""#));
    assert!(html.contains("Acme &lt;script&gt;") && !html.contains("<script>"));
    assert!(html.contains("sandbox-client-id") && html.contains("offline_access"));
    let request_id = hidden_input(&html, "request_id");

    let decision = |choice: &'static str| {
        let request_id = request_id.clone();
        let http = sandbox.http.clone();
        let url = sandbox.url("/oauth2/default/v1/authorize/decision");
        async move {
            http.post(url)
                .form(&[("request_id", request_id.as_str()), ("decision", choice)])
                .send()
                .await
                .unwrap()
        }
    };
    let denied = decision("deny").await;

    assert_eq!(denied.status(), 302);
    let target = location(&denied);
    assert_eq!(
        query_value(&target, "error").as_deref(),
        Some("access_denied")
    );
    assert!(query_value(&target, "error_description").is_some());
    assert_eq!(query_value(&target, "state").as_deref(), Some("xyz-state"));
    // A decision cannot be replayed.
    assert_eq!(decision("approve").await.status(), 400);
}

#[tokio::test]
async fn consent_mode_approve_redirects_with_a_code_that_exchanges() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        consent: true,
        ..unthrottled()
    })
    .await;
    let html = sandbox
        .get(sandbox.authorize_url(&[]))
        .await
        .text()
        .await
        .unwrap();

    let approved = sandbox
        .http
        .post(sandbox.url("/oauth2/default/v1/authorize/decision"))
        .form(&[
            ("request_id", hidden_input(&html, "request_id").as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(approved.status(), 302);
    let target = location(&approved);
    assert!(target.as_str().starts_with(REDIRECT_URI));
    let code = query_value(&target, "code").expect("a code");
    assert_eq!(sandbox.exchange(&code, VERIFIER).await.status(), 200);
}
