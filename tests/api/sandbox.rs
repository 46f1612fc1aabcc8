//! The built-in Constant Contact sandbox over real sockets: the OAuth2 code flow with PKCE and
//! its failure modes, the `/v3` routes and their validation, the limits, every fault, and the
//! control routes. Time-dependent behaviour is driven by a `ManualClock`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccbridge::clock::ManualClock;
use ccbridge_sandbox::{
    EVENTS_LIST_ID, FAVORITE_TOPIC_FIELD_ID, Faults, GENERAL_INTEREST_LIST_ID,
    PRODUCT_NEWS_LIST_ID, Sandbox, SandboxConfig,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::helpers::client;

const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";
const VERIFIER: &str = "a-pkce-code-verifier-that-is-at-least-43-characters-long";
const SCOPES: &str = "contact_data offline_access";

// ── Harness ──────────────────────────────────────────────────────────────────────────────────

struct TestSandbox {
    sandbox: Sandbox,
    clock: ManualClock,
    http: reqwest::Client,
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// A sandbox with the defaults, except the per-second limit: tests that are not about limits
/// should not trip over CC's 4 requests per second.
async fn spawn_sandbox() -> TestSandbox {
    spawn_sandbox_with(unthrottled()).await
}

fn unthrottled() -> SandboxConfig {
    SandboxConfig {
        requests_per_second: 1_000,
        ..SandboxConfig::default()
    }
}

async fn spawn_sandbox_with(config: SandboxConfig) -> TestSandbox {
    let clock = ManualClock::new(start_time());
    let sandbox = Sandbox::start(
        config,
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("the sandbox starts");
    TestSandbox {
        sandbox,
        clock,
        http: client(),
    }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The query pairs of a redirect `Location`.
fn location(response: &reqwest::Response) -> Url {
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap();
    Url::parse(location).expect("an absolute Location")
}

fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

impl TestSandbox {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.sandbox.addr())
    }

    /// An authorize URL with every parameter right, then `changes` applied (None removes).
    fn authorize_url(&self, changes: &[(&str, Option<&str>)]) -> Url {
        let challenge = challenge(VERIFIER);
        let mut params = vec![
            ("client_id", self.sandbox.client_id().to_owned()),
            ("redirect_uri", REDIRECT_URI.to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", SCOPES.to_owned()),
            ("state", "xyz-state".to_owned()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".to_owned()),
        ];
        for (name, value) in changes {
            params.retain(|(n, _)| n != name);
            if let Some(value) = value {
                params.push((name, (*value).to_owned()));
            }
        }
        let mut url = self.sandbox.authorize_url();
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    async fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::Response {
        self.http.get(url).send().await.expect("request sent")
    }

    /// Authorize (auto-approve) with `scopes`; returns the code.
    async fn code_for(&self, scopes: &str) -> String {
        let response = self
            .get(self.authorize_url(&[("scope", Some(scopes))]))
            .await;
        assert_eq!(response.status(), 302);
        let target = location(&response);
        assert_eq!(query_value(&target, "state").as_deref(), Some("xyz-state"));
        query_value(&target, "code").expect("a code in the redirect")
    }

    /// A token request with HTTP Basic client authentication and a form body.
    async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.sandbox.token_url())
            .basic_auth(self.sandbox.client_id(), Some(self.sandbox.client_secret()))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// The whole code flow; returns the token response body.
    async fn connect(&self, scopes: &str) -> Value {
        let code = self.code_for(scopes).await;
        let response = self.exchange(&code, VERIFIER).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn access_token(&self) -> String {
        token_field(&self.connect(SCOPES).await, "access_token")
    }

    async fn api_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    async fn sign_up(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v3/contacts/sign_up_form"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

fn token_field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .to_owned()
}

/// An OAuth error answer: (status, error).
async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error_description"].is_string(), "{body}");
    (status, token_field(&body, "error"))
}

/// The first `error_key` of an array-shaped CC error body.
async fn array_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    let first = &body.as_array().expect("an array error body")[0];
    assert!(first["error_message"].is_string(), "{body}");
    (status, token_field(first, "error_key"))
}

/// The `error_key` of an object-shaped CC error body.
async fn object_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error_message"].is_string(), "{body}");
    (status, token_field(&body, "error_key"))
}

fn a_signup() -> Value {
    json!({
        "email_address": "jane@example.org",
        "first_name": "Jane",
        "list_memberships": [GENERAL_INTEREST_LIST_ID],
    })
}

// ── OAuth: the code flow ─────────────────────────────────────────────────────────────────────

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

// ── OAuth: refresh ───────────────────────────────────────────────────────────────────────────

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

// ── OAuth: authorize ─────────────────────────────────────────────────────────────────────────

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

// ── /v3/contacts/sign_up_form ────────────────────────────────────────────────────────────────

#[tokio::test]
async fn sign_up_form_creates_then_updates_merging_lists_and_custom_fields() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;

    let created = sandbox
        .sign_up(
            &token,
            &json!({
                "email_address": "Jane@Example.org",
                "first_name": "Jane",
                "last_name": "Doe",
                "list_memberships": [GENERAL_INTEREST_LIST_ID],
                "custom_fields": [{"custom_field_id": FAVORITE_TOPIC_FIELD_ID, "value": "rust"}],
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["action"], "created");

    sandbox.clock.advance(TimeDelta::minutes(1));
    let updated = sandbox
        .sign_up(
            &token,
            &json!({
                "email_address": "jane@example.ORG",
                "first_name": "Janet",
                "list_memberships": [EVENTS_LIST_ID, GENERAL_INTEREST_LIST_ID],
                "custom_fields": [{"custom_field_id": FAVORITE_TOPIC_FIELD_ID, "value": "tokio"}],
            }),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["action"], "updated");
    assert_eq!(updated["contact_id"], created["contact_id"]);

    let contacts = sandbox.sandbox.contacts();
    assert_eq!(contacts.len(), 1);
    let jane = &contacts[0];
    assert_eq!(jane.first_name.as_deref(), Some("Janet"));
    assert_eq!(jane.last_name.as_deref(), Some("Doe"), "not given, kept");
    assert_eq!(
        jane.list_memberships,
        vec![GENERAL_INTEREST_LIST_ID, EVENTS_LIST_ID]
    );
    assert_eq!(jane.custom_fields.len(), 1);
    assert_eq!(jane.custom_fields[0].value, "tokio");
    assert_eq!(jane.updated_at - jane.created_at, TimeDelta::minutes(1));
    let stats = sandbox.sandbox.stats();
    assert_eq!((stats.contacts_created, stats.contacts_updated), (1, 1));
}

#[tokio::test]
async fn sign_up_form_refuses_each_invalid_body_with_a_validation_error_array() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let long = |n: usize| "x".repeat(n);
    let with = |key: &str, value: Value| {
        let mut body = a_signup();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = a_signup();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let lists = |n: usize| json!(vec![GENERAL_INTEREST_LIST_ID; n]);
    let field = |id: &str, value: &str| json!([{"custom_field_id": id, "value": value}]);
    let topic = FAVORITE_TOPIC_FIELD_ID.to_string();
    let cases = [
        ("email missing", without("email_address")),
        (
            "email over 50",
            with("email_address", json!(format!("{}@example.org", long(39)))),
        ),
        (
            "email invalid",
            with("email_address", json!("jane.example.org")),
        ),
        ("email not a string", with("email_address", json!(42))),
        ("first_name over 50", with("first_name", json!(long(51)))),
        ("last_name over 50", with("last_name", json!(long(51)))),
        ("job_title over 50", with("job_title", json!(long(51)))),
        (
            "company_name over 50",
            with("company_name", json!(long(51))),
        ),
        (
            "phone_number over 25",
            with("phone_number", json!(long(26))),
        ),
        ("lists missing", without("list_memberships")),
        ("lists empty", with("list_memberships", json!([]))),
        ("lists over 50", with("list_memberships", lists(51))),
        (
            "list unknown",
            with("list_memberships", json!([uuid::Uuid::nil()])),
        ),
        (
            "list not a uuid",
            with("list_memberships", json!(["general"])),
        ),
        (
            "custom fields over 50",
            with(
                "custom_fields",
                json!(vec![json!({"custom_field_id": topic, "value": "a"}); 51]),
            ),
        ),
        (
            "custom field unknown",
            with("custom_fields", field(&uuid::Uuid::nil().to_string(), "a")),
        ),
        (
            "custom field value over 255",
            with("custom_fields", field(&topic, &long(256))),
        ),
        (
            "custom field extra property",
            with(
                "custom_fields",
                json!([{"custom_field_id": topic, "value": "a", "name": "x"}]),
            ),
        ),
        (
            "unknown property",
            with("permission_to_send", json!("explicit")),
        ),
        ("birthday without day", with("birthday_month", json!(11))),
        ("bad anniversary", with("anniversary", json!("15 Nov 2006"))),
        (
            "street address without kind",
            with("street_address", json!({"city": "Waltham"})),
        ),
    ];
    for (case, body) in cases {
        let response = sandbox.sign_up(&token, &body).await;

        assert_eq!(
            array_error(response).await,
            (400, "contacts.api.validation.error".into()),
            "{case}"
        );
    }
    assert!(sandbox.sandbox.contacts().is_empty());
}

#[tokio::test]
async fn sign_up_form_accepts_the_schema_limits_exactly() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let fifty = "x".repeat(50);
    let body = json!({
        "email_address": format!("{}@example.org", "j".repeat(38)),
        "first_name": fifty, "last_name": fifty, "job_title": fifty, "company_name": fifty,
        "phone_number": "1".repeat(25),
        "list_memberships": vec![PRODUCT_NEWS_LIST_ID; 50],
        "custom_fields": [{"custom_field_id": FAVORITE_TOPIC_FIELD_ID, "value": "v".repeat(255)}],
        "birthday_month": 11, "birthday_day": 24, "anniversary": "2006-11-15",
        "street_address": {"kind": "home", "city": "Waltham"},
        "sms_channel": null,
    });

    let response = sandbox.sign_up(&token, &body).await;

    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn sign_up_form_refuses_malformed_json_with_400_and_other_media_types_with_415() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let post = |content_type: &'static str, body: &'static str| {
        sandbox
            .http
            .post(sandbox.url("/v3/contacts/sign_up_form"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post("application/json", "{\"email_address\":")
        .await
        .unwrap();
    assert_eq!(array_error(malformed).await.0, 400);
    let form = post(
        "application/x-www-form-urlencoded",
        "email_address=a%40b.co",
    )
    .await
    .unwrap();
    assert_eq!(array_error(form).await.0, 415);
    let text = post("text/plain", "{}").await.unwrap();
    assert_eq!(array_error(text).await.0, 415);
}

// ── Other /v3 routes ─────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn contact_lists_pages_by_next_links_until_every_list_is_seen() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sign_up(&token, &a_signup()).await;

    let mut path =
        "/v3/contact_lists?limit=1&include_count=true&include_membership_count=all".to_owned();
    let mut seen = Vec::new();
    loop {
        let response = sandbox.api_get(&token, &path).await;
        assert_eq!(response.status(), 200, "{path}");
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["lists_count"], 3);
        let lists = page["lists"].as_array().unwrap();
        assert_eq!(lists.len(), 1);
        let list = &lists[0];
        for key in [
            "name",
            "created_at",
            "updated_at",
            "description",
            "favorite",
        ] {
            assert!(list.get(key).is_some(), "{key} in {list}");
        }
        seen.push((
            token_field(list, "list_id"),
            list["membership_count"].as_u64().unwrap(),
        ));
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => path = next.to_owned(),
            None => {
                assert!(page.get("_links").is_none());
                break;
            }
        }
    }

    let expected = [
        (GENERAL_INTEREST_LIST_ID, 1),
        (EVENTS_LIST_ID, 0),
        (PRODUCT_NEWS_LIST_ID, 0),
    ]
    .map(|(id, members)| (id.to_string(), members));
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn contact_lists_refuses_a_limit_out_of_range() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    for limit in ["0", "1001", "many"] {
        let response = sandbox
            .api_get(&token, &format!("/v3/contact_lists?limit={limit}"))
            .await;
        assert_eq!(array_error(response).await.0, 400, "{limit}");
    }
    let everything = sandbox
        .api_get(&token, "/v3/contact_lists?limit=1000")
        .await;
    let body: Value = everything.json().await.unwrap();
    assert_eq!(body["lists"].as_array().unwrap().len(), 3);
    assert!(body.get("_links").is_none() && body.get("lists_count").is_none());
}

#[tokio::test]
async fn contact_custom_fields_lists_the_seeded_field() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;

    let response = sandbox.api_get(&token, "/v3/contact_custom_fields").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let field = &body["custom_fields"][0];
    assert_eq!(
        field["custom_field_id"],
        FAVORITE_TOPIC_FIELD_ID.to_string()
    );
    assert_eq!(field["name"], "favorite_topic");
    assert_eq!(field["label"], "favorite topic");
    assert_eq!(field["type"], "string");
}

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
    let unknown = sandbox.api_get(&token, "/v3/contacts").await;
    assert_eq!(array_error(unknown).await.0, 404);
    let anonymous_unknown = sandbox.get(sandbox.url("/v3/nothing-here")).await;
    assert_eq!(anonymous_unknown.status(), 401, "auth comes before routing");
    assert_eq!(sandbox.sandbox.stats().unauthorized, 3);
}

// ── Limits ───────────────────────────────────────────────────────────────────────────────────

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

// ── Faults ───────────────────────────────────────────────────────────────────────────────────

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

// ── Control and inspection ───────────────────────────────────────────────────────────────────

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
