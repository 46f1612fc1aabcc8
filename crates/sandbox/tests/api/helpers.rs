//! The harness of the sandbox's tests: a sandbox on a free port with a `ManualClock`, a client
//! that walks the OAuth flow against it, and readers of its answers.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccbridge_clock::ManualClock;
use ccbridge_sandbox::{GENERAL_INTEREST_LIST_ID, Sandbox, SandboxConfig};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use url::Url;

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";
pub const VERIFIER: &str = "a-pkce-code-verifier-that-is-at-least-43-characters-long";
pub const SCOPES: &str = "contact_data offline_access";

/// A running sandbox, the clock it decides by, and a client that does not follow redirects.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub clock: ManualClock,
    pub http: reqwest::Client,
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// A sandbox with the defaults, except the per-second limit: tests that are not about limits
/// should not trip over CC's 4 requests per second.
pub async fn spawn_sandbox() -> TestSandbox {
    spawn_sandbox_with(unthrottled()).await
}

pub fn unthrottled() -> SandboxConfig {
    SandboxConfig {
        requests_per_second: 1_000,
        ..SandboxConfig::default()
    }
}

pub async fn spawn_sandbox_with(config: SandboxConfig) -> TestSandbox {
    let clock = ManualClock::new(start_time());
    let sandbox = Sandbox::start(
        config,
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("the sandbox starts");
    sandbox.register_redirect_uri(REDIRECT_URI.parse().unwrap());
    TestSandbox {
        sandbox,
        clock,
        http: client(),
    }
}

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The query pairs of a redirect `Location`.
pub fn location(response: &reqwest::Response) -> Url {
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap();
    Url::parse(location).expect("an absolute Location")
}

pub fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.sandbox.addr())
    }

    /// An authorize URL with every parameter right, then `changes` applied (None removes).
    pub fn authorize_url(&self, changes: &[(&str, Option<&str>)]) -> Url {
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

    pub async fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::Response {
        self.http.get(url).send().await.expect("request sent")
    }

    /// Authorize (auto-approve) with `scopes`; returns the code.
    pub async fn code_for(&self, scopes: &str) -> String {
        let response = self
            .get(self.authorize_url(&[("scope", Some(scopes))]))
            .await;
        assert_eq!(response.status(), 302);
        let target = location(&response);
        assert_eq!(query_value(&target, "state").as_deref(), Some("xyz-state"));
        query_value(&target, "code").expect("a code in the redirect")
    }

    /// A token request with HTTP Basic client authentication and a form body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.sandbox.token_url())
            .basic_auth(self.sandbox.client_id(), Some(self.sandbox.client_secret()))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// The whole code flow; returns the token response body.
    pub async fn connect(&self, scopes: &str) -> Value {
        let code = self.code_for(scopes).await;
        let response = self.exchange(&code, VERIFIER).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn access_token(&self) -> String {
        token_field(&self.connect(SCOPES).await, "access_token")
    }

    pub async fn api_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn api_put(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// A JSON POST to a control route.
    pub async fn control(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Every contact a `GET /v3/contacts` query finds, following `_links.next.href` until it is
    /// absent; also the number of pages.
    pub async fn all_contacts(&self, token: &str, first: &str) -> (Vec<Value>, usize) {
        let mut path = first.to_owned();
        let mut found = Vec::new();
        for pages in 1..=100 {
            let response = self.api_get(token, &path).await;
            assert_eq!(response.status(), 200, "{path}");
            let page: Value = response.json().await.unwrap();
            found.extend(
                page["contacts"]
                    .as_array()
                    .expect("contacts")
                    .iter()
                    .cloned(),
            );
            match page["_links"]["next"]["href"].as_str() {
                Some(next) => path = next.to_owned(),
                None => return (found, pages),
            }
        }
        panic!("more than 100 pages from {first}");
    }

    pub async fn sign_up(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v3/contacts/sign_up_form"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

pub fn token_field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .to_owned()
}

/// An OAuth error answer: (status, error).
pub async fn oauth_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error_description"].is_string(), "{body}");
    (status, token_field(&body, "error"))
}

/// The first `error_key` of an array-shaped CC error body.
pub async fn array_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    let first = &body.as_array().expect("an array error body")[0];
    assert!(first["error_message"].is_string(), "{body}");
    (status, token_field(first, "error_key"))
}

/// The `error_key` of an object-shaped CC error body.
pub async fn object_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error_message"].is_string(), "{body}");
    (status, token_field(&body, "error_key"))
}

/// A signup for `email` to the General Interest list.
pub fn a_signup_for(email: &str) -> Value {
    json!({
        "email_address": email,
        "list_memberships": [GENERAL_INTEREST_LIST_ID],
    })
}

pub fn a_signup() -> Value {
    json!({
        "email_address": "jane@example.org",
        "first_name": "Jane",
        "list_memberships": [GENERAL_INTEREST_LIST_ID],
    })
}

/// An HTTP client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Poll `check` until it returns `Some`, or panic after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
