//! The device authorization grant (RFC 8628): the device authorization endpoint, the `/activate`
//! page, polling the token endpoint through pending, `slow_down` (timed by the `ManualClock`, and
//! forced), denial, expiry and success, the public client's refresh, and the account a grant
//! belongs to.

use ccbridge_sandbox::SandboxConfig;
use chrono::TimeDelta;
use serde_json::Value;

use crate::helpers::{
    SCOPES, TestSandbox, oauth_error, spawn_sandbox, spawn_sandbox_with, token_field, unthrottled,
};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// A device authorization request as a device sends it: a form body, no client secret.
async fn device_authorize(sandbox: &TestSandbox, form: &[(&str, &str)]) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.sandbox.device_authorization_url())
        .form(form)
        .send()
        .await
        .expect("request sent")
}

/// A successful device authorization for `scope`: (device_code, user_code).
async fn start(sandbox: &TestSandbox, scope: &str) -> (String, String) {
    let response = device_authorize(
        sandbox,
        &[("client_id", sandbox.sandbox.client_id()), ("scope", scope)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (
        token_field(&body, "device_code"),
        token_field(&body, "user_code"),
    )
}

/// A poll as Constant Contact's docs show it: every parameter in the query string, no Basic.
async fn poll(sandbox: &TestSandbox, device_code: &str) -> reqwest::Response {
    let mut url = sandbox.sandbox.token_url();
    url.query_pairs_mut()
        .append_pair("client_id", sandbox.sandbox.client_id())
        .append_pair("device_code", device_code)
        .append_pair("grant_type", DEVICE_GRANT);
    sandbox.http.post(url).send().await.expect("request sent")
}

/// The `error` of a poll that gets no tokens (always a 400).
async fn poll_error(sandbox: &TestSandbox, device_code: &str) -> String {
    let (status, error) = oauth_error(poll(sandbox, device_code).await).await;
    assert_eq!(status, 400, "{error}");
    error
}

/// The person's decision on the `/activate` page, as its form posts it.
async fn decide(sandbox: &TestSandbox, user_code: &str, decision: &str) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.sandbox.activate_url())
        .form(&[("user_code", user_code), ("decision", decision)])
        .send()
        .await
        .expect("request sent")
}

/// Approve and poll: the token answer's body.
async fn device_tokens(sandbox: &TestSandbox, scope: &str) -> Value {
    let (device_code, user_code) = start(sandbox, scope).await;
    assert_eq!(decide(sandbox, &user_code, "approve").await.status(), 200);
    let response = poll(sandbox, &device_code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn public_refresh(sandbox: &TestSandbox, refresh_token: &str) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", sandbox.sandbox.client_id()),
        ])
        .send()
        .await
        .expect("request sent")
}

// ── The device authorization endpoint ────────────────────────────────────────────────────────

#[tokio::test]
async fn device_authorize_answers_a_device_code_a_user_code_and_where_to_enter_it() {
    let sandbox = spawn_sandbox().await;

    let response = device_authorize(
        &sandbox,
        &[("client_id", "sandbox-client-id"), ("scope", SCOPES)],
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(token_field(&body, "device_code").len() >= 40, "{body}");
    let user_code = token_field(&body, "user_code");
    let (first, second) = user_code.split_once('-').expect("ABCD-EFGH");
    assert_eq!((first.len(), second.len()), (4, 4), "{user_code}");
    assert!(
        format!("{first}{second}")
            .chars()
            .all(|c| ALPHABET.contains(c)),
        "{user_code}"
    );
    let activate = sandbox.sandbox.activate_url();
    assert_eq!(activate.path(), "/activate");
    assert_eq!(body["verification_uri"], activate.as_str());
    assert_eq!(
        body["verification_uri_complete"],
        format!("{activate}?user_code={user_code}")
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    assert_eq!(sandbox.sandbox.stats().device_authorizations, 1);
}

#[tokio::test]
async fn device_authorize_reads_the_query_string_and_takes_the_configured_timings() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        device_interval: 2,
        device_code_expires_in: 120,
        ..unthrottled()
    })
    .await;
    let mut url = sandbox.sandbox.device_authorization_url();
    url.query_pairs_mut()
        .append_pair("client_id", "sandbox-client-id")
        .append_pair("scope", "contact_data");

    let response = sandbox.http.post(url).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["interval"].as_u64(), body["expires_in"].as_u64()),
        (Some(2), Some(120))
    );
}

#[tokio::test]
async fn device_authorize_refuses_an_unknown_client_a_wrong_basic_header_and_unknown_scopes() {
    let sandbox = spawn_sandbox().await;

    let unknown = device_authorize(&sandbox, &[("client_id", "nobody"), ("scope", SCOPES)]).await;
    assert_eq!(oauth_error(unknown).await, (401, "invalid_client".into()));

    let no_client = device_authorize(&sandbox, &[("scope", SCOPES)]).await;
    assert_eq!(oauth_error(no_client).await, (401, "invalid_client".into()));

    let wrong_basic = sandbox
        .http
        .post(sandbox.sandbox.device_authorization_url())
        .basic_auth("sandbox-client-id", Some("not-the-secret"))
        .form(&[("client_id", "sandbox-client-id"), ("scope", SCOPES)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(wrong_basic).await,
        (401, "invalid_client".into())
    );

    let right_basic = sandbox
        .http
        .post(sandbox.sandbox.device_authorization_url())
        .basic_auth("sandbox-client-id", Some("sandbox-client-secret"))
        .form(&[("scope", SCOPES)])
        .send()
        .await
        .unwrap();
    assert_eq!(right_basic.status(), 200);

    let bad_scope = device_authorize(
        &sandbox,
        &[
            ("client_id", "sandbox-client-id"),
            ("scope", "contact_data everything"),
        ],
    )
    .await;
    assert_eq!(oauth_error(bad_scope).await, (400, "invalid_scope".into()));

    let no_scope = device_authorize(&sandbox, &[("client_id", "sandbox-client-id")]).await;
    assert_eq!(oauth_error(no_scope).await, (400, "invalid_scope".into()));
    assert_eq!(sandbox.sandbox.stats().device_authorizations, 1);
}

// ── Polling ──────────────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_poll_before_the_decision_is_authorization_pending() {
    let sandbox = spawn_sandbox().await;
    let (device_code, _) = start(&sandbox, SCOPES).await;

    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );
    sandbox.clock.advance(TimeDelta::seconds(5));
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );
    assert_eq!(sandbox.sandbox.stats().device_polls, 2);
}

#[tokio::test]
async fn after_approval_a_poll_gets_tokens_like_the_code_grant_and_the_code_is_spent() {
    let sandbox = spawn_sandbox().await;
    let (device_code, user_code) =
        start(&sandbox, "contact_data account_read offline_access").await;
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );
    assert_eq!(decide(&sandbox, &user_code, "approve").await.status(), 200);

    // At once after the decision: no slow_down, the decision is what the device waits for.
    let response = poll(&sandbox, &device_code).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["scope"], "contact_data account_read offline_access");
    assert!(token_field(&body, "refresh_token").len() >= 40);
    let access = token_field(&body, "access_token");
    assert_eq!(
        sandbox.api_get(&access, "/v3/contact_lists").await.status(),
        200
    );

    sandbox.clock.advance(TimeDelta::seconds(10));
    assert_eq!(poll_error(&sandbox, &device_code).await, "invalid_grant");
    let stats = sandbox.sandbox.stats();
    assert_eq!((stats.device_polls, stats.device_grants), (3, 1));
    assert_eq!(stats.invalid_grants, 1);
}

#[tokio::test]
async fn a_poll_may_put_its_parameters_in_a_form_body_and_send_a_right_basic_header() {
    let sandbox = spawn_sandbox().await;
    let (device_code, user_code) = start(&sandbox, SCOPES).await;
    decide(&sandbox, &user_code, "approve").await;

    let response = sandbox
        .token_request(&[("grant_type", DEVICE_GRANT), ("device_code", &device_code)])
        .await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_poll_with_a_wrong_basic_header_or_an_unknown_client_is_an_invalid_client() {
    let sandbox = spawn_sandbox().await;
    let (device_code, _) = start(&sandbox, SCOPES).await;

    let wrong = sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .basic_auth("sandbox-client-id", Some("not-the-secret"))
        .form(&[("grant_type", DEVICE_GRANT), ("device_code", &device_code)])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(wrong).await, (401, "invalid_client".into()));

    let unknown = sandbox
        .http
        .post(sandbox.sandbox.token_url())
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", &device_code),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(unknown).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn an_unknown_device_code_is_an_invalid_grant() {
    let sandbox = spawn_sandbox().await;

    assert_eq!(
        poll_error(&sandbox, "no-such-device-code").await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn after_deny_every_poll_is_access_denied() {
    let sandbox = spawn_sandbox().await;
    let (device_code, user_code) = start(&sandbox, SCOPES).await;

    assert_eq!(decide(&sandbox, &user_code, "deny").await.status(), 200);

    assert_eq!(poll_error(&sandbox, &device_code).await, "access_denied");
    sandbox.clock.advance(TimeDelta::seconds(5));
    assert_eq!(poll_error(&sandbox, &device_code).await, "access_denied");
    sandbox.clock.advance(TimeDelta::seconds(900));
    assert_eq!(poll_error(&sandbox, &device_code).await, "access_denied");
}

#[tokio::test]
async fn a_code_expires_after_expires_in_whether_undecided_or_approved_but_unpolled() {
    let sandbox = spawn_sandbox().await;
    let (undecided, _) = start(&sandbox, SCOPES).await;
    let (approved, user_code) = start(&sandbox, SCOPES).await;
    decide(&sandbox, &user_code, "approve").await;

    sandbox.clock.advance(TimeDelta::seconds(599));
    assert_eq!(
        poll_error(&sandbox, &undecided).await,
        "authorization_pending"
    );
    sandbox.clock.advance(TimeDelta::seconds(1));

    assert_eq!(poll_error(&sandbox, &undecided).await, "expired_token");
    assert_eq!(poll_error(&sandbox, &approved).await, "expired_token");
    assert_eq!(sandbox.sandbox.stats().device_grants, 0);
}

#[tokio::test]
async fn polling_too_early_is_slow_down_and_each_adds_five_seconds_to_the_interval() {
    let sandbox = spawn_sandbox().await;
    let (device_code, _) = start(&sandbox, SCOPES).await;
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );

    sandbox.clock.advance(TimeDelta::seconds(4));
    assert_eq!(poll_error(&sandbox, &device_code).await, "slow_down");
    // The interval is now 10 s: waiting the old 5 is still too early, and makes it 15.
    sandbox.clock.advance(TimeDelta::seconds(5));
    assert_eq!(poll_error(&sandbox, &device_code).await, "slow_down");
    sandbox.clock.advance(TimeDelta::seconds(14));
    assert_eq!(poll_error(&sandbox, &device_code).await, "slow_down");
    // Now 20 s, and waiting them is enough.
    sandbox.clock.advance(TimeDelta::seconds(20));
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );
    sandbox.clock.advance(TimeDelta::seconds(20));
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );
    assert_eq!(sandbox.sandbox.stats().device_slow_downs, 3);
}

#[tokio::test]
async fn a_forced_slow_down_answers_the_next_poll_only_and_lengthens_the_interval() {
    let sandbox = spawn_sandbox().await;
    let (device_code, _) = start(&sandbox, SCOPES).await;

    sandbox.sandbox.force_device_slow_down();

    assert_eq!(poll_error(&sandbox, &device_code).await, "slow_down");
    sandbox.clock.advance(TimeDelta::seconds(5));
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "slow_down",
        "the interval is 10 s now"
    );
    sandbox.clock.advance(TimeDelta::seconds(15));
    assert_eq!(
        poll_error(&sandbox, &device_code).await,
        "authorization_pending"
    );
    assert_eq!(sandbox.sandbox.stats().device_slow_downs, 2);
}

#[tokio::test]
async fn without_device_refresh_tokens_an_approval_gives_no_refresh_token() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        device_refresh_tokens: false,
        ..unthrottled()
    })
    .await;

    let body = device_tokens(&sandbox, SCOPES).await;

    assert_eq!(body["scope"], SCOPES);
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn without_offline_access_a_device_gets_no_refresh_token() {
    let sandbox = spawn_sandbox().await;

    let body = device_tokens(&sandbox, "contact_data").await;

    assert!(body.get("refresh_token").is_none(), "{body}");
}

// ── The /activate page ───────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn the_activate_page_prefilled_from_verification_uri_complete_names_the_app_and_scopes() {
    let sandbox = spawn_sandbox().await;
    let response = device_authorize(
        &sandbox,
        &[("client_id", "sandbox-client-id"), ("scope", SCOPES)],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    let user_code = token_field(&body, "user_code");

    let page = sandbox
        .get(token_field(&body, "verification_uri_complete"))
        .await;

    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("<code>sandbox-client-id</code>"), "{html}");
    assert!(
        html.contains("<li><code>contact_data</code></li>"),
        "{html}"
    );
    assert!(
        html.contains("<li><code>offline_access</code></li>"),
        "{html}"
    );
    assert!(
        html.contains(r#"id="user_code" name="user_code""#),
        "{html}"
    );
    assert!(html.contains(&format!(r#"value="{user_code}""#)), "{html}");
    assert!(
        html.contains(r#"id="approve" name="decision" value="approve""#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="deny" name="decision" value="deny""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<form method="post" action="/activate">"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_activate_page_without_a_code_asks_for_one_and_escapes_what_it_is_given() {
    let sandbox = spawn_sandbox().await;

    let blank = sandbox.get(sandbox.sandbox.activate_url()).await;
    assert_eq!(blank.status(), 200);
    assert!(blank.text().await.unwrap().contains(r#"value="""#));

    let mut url = sandbox.sandbox.activate_url();
    url.query_pairs_mut().append_pair("user_code", "<b>\"x");
    let odd = sandbox.get(url).await.text().await.unwrap();
    assert!(odd.contains("value=\"&lt;b&gt;&quot;x\""), "{odd}");
    assert!(odd.contains("This code is unknown"), "{odd}");
}

#[tokio::test]
async fn a_typed_code_matches_without_case_dashes_or_spaces_and_is_decided_once() {
    let sandbox = spawn_sandbox().await;
    let (device_code, user_code) = start(&sandbox, SCOPES).await;
    let typed = format!(" {} ", user_code.to_lowercase().replace('-', " "));

    let approved = decide(&sandbox, &typed, "approve").await;

    assert_eq!(approved.status(), 200);
    assert!(
        approved
            .text()
            .await
            .unwrap()
            .contains("return to your device")
    );
    let again = decide(&sandbox, &user_code, "deny").await;
    assert_eq!(again.status(), 400);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("already approved or denied")
    );
    assert_eq!(
        poll(&sandbox, &device_code).await.status(),
        200,
        "the approval stands"
    );
}

#[tokio::test]
async fn an_unknown_or_expired_code_or_a_bad_decision_is_a_400_page() {
    let sandbox = spawn_sandbox().await;
    let (_, user_code) = start(&sandbox, SCOPES).await;

    let unknown = decide(&sandbox, "BCDF-GHJK", "approve").await;
    assert_eq!(unknown.status(), 400);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("This code is unknown")
    );

    let bad = decide(&sandbox, &user_code, "maybe").await;
    assert_eq!(bad.status(), 400);

    sandbox.clock.advance(TimeDelta::seconds(600));
    let expired = decide(&sandbox, &user_code, "approve").await;
    assert_eq!(expired.status(), 400);
    assert!(expired.text().await.unwrap().contains("expired"));
}

// ── Refresh by a public client ───────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_device_refresh_token_refreshes_without_basic_and_rotates() {
    let sandbox = spawn_sandbox().await;
    let first = token_field(&device_tokens(&sandbox, SCOPES).await, "refresh_token");

    let response = public_refresh(&sandbox, &first).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let second = token_field(&body, "refresh_token");
    assert_ne!(first, second);
    let access = token_field(&body, "access_token");
    assert_eq!(
        sandbox.api_get(&access, "/v3/contact_lists").await.status(),
        200
    );
    let old = public_refresh(&sandbox, &first).await;
    assert_eq!(oauth_error(old).await, (400, "invalid_grant".into()));
    assert_eq!(
        sandbox.refresh(&second).await.status(),
        200,
        "Basic works too"
    );
    assert_eq!(sandbox.sandbox.stats().refreshes, 2);
}

#[tokio::test]
async fn a_code_grant_refresh_token_without_basic_is_still_an_invalid_client() {
    let sandbox = spawn_sandbox().await;
    let refresh_token = token_field(&sandbox.connect(SCOPES).await, "refresh_token");

    let response = public_refresh(&sandbox, &refresh_token).await;

    assert_eq!(oauth_error(response).await, (401, "invalid_client".into()));
    assert_eq!(
        sandbox.refresh(&refresh_token).await.status(),
        200,
        "not spent"
    );
}

// ── Accounts ─────────────────────────────────────────────────────────────────────────────────

async fn organization(sandbox: &TestSandbox, access_token: &str) -> (String, String) {
    let response = sandbox.api_get(access_token, "/v3/account/summary").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (
        token_field(&body, "organization_name"),
        token_field(&body, "encoded_account_id"),
    )
}

#[tokio::test]
async fn set_account_name_changes_the_account_of_new_grants_only() {
    let sandbox = spawn_sandbox().await;
    let scopes = "contact_data account_read offline_access";
    let before = token_field(&sandbox.connect(scopes).await, "access_token");

    sandbox.sandbox.set_account_name("Second Shop");
    let by_code = sandbox.connect(scopes).await;
    let by_device = device_tokens(&sandbox, scopes).await;

    let (first_name, first_id) = organization(&sandbox, &before).await;
    assert_eq!(first_name, "Sandbox Organization");
    let (code_name, code_id) = organization(&sandbox, &token_field(&by_code, "access_token")).await;
    assert_eq!(code_name, "Second Shop");
    assert_ne!(code_id, first_id);
    let (device_name, device_id) =
        organization(&sandbox, &token_field(&by_device, "access_token")).await;
    assert_eq!((device_name, device_id), (code_name, code_id.clone()));

    // A refresh stays with its grant's account.
    let refreshed: Value = sandbox
        .refresh(&token_field(&by_code, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    sandbox.sandbox.set_account_name("Third Shop");
    let (name, id) = organization(&sandbox, &token_field(&refreshed, "access_token")).await;
    assert_eq!((name.as_str(), id), ("Second Shop", code_id));
}

#[tokio::test]
async fn the_overview_page_lists_the_device_urls_and_the_current_account() {
    let sandbox = spawn_sandbox().await;
    sandbox.sandbox.set_account_name("Second <Shop>");

    let html = sandbox.get(sandbox.url("/")).await.text().await.unwrap();

    assert!(
        html.contains(sandbox.sandbox.device_authorization_url().as_str()),
        "{html}"
    );
    assert!(
        html.contains(sandbox.sandbox.activate_url().as_str()),
        "{html}"
    );
    assert!(html.contains("Second &lt;Shop&gt;"), "{html}");
}
