//! Constant Contact's OAuth2 authorization server, as far as ccbridge meets it: the authorize
//! endpoint (auto-approve or a consent page) and the token endpoint (authorization code with
//! PKCE S256, refresh), with HTTP Basic client authentication only.
//!
//! Errors follow RFC 6749: until the client and its redirect URI are known good, the browser
//! gets an error page and is never redirected; after that, errors go back to the redirect URI
//! with `state` echoed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use url::Url;

use crate::grants::{self, CodeRequest, GrantError, Issued};
use crate::html::{self, escape};
use crate::{Shared, lock};

pub const AUTHORIZE_PATH: &str = "/oauth2/default/v1/authorize";
pub const DECISION_PATH: &str = "/oauth2/default/v1/authorize/decision";
pub const TOKEN_PATH: &str = "/oauth2/default/v1/token";

/// The scopes CC documents for the v3 API.
const KNOWN_SCOPES: [&str; 5] = [
    "account_read",
    "account_update",
    "contact_data",
    "campaign_data",
    grants::OFFLINE_ACCESS,
];

/// How long a consent page may stay open before its request is forgotten.
const CONSENT_LIFETIME: TimeDelta = TimeDelta::minutes(10);

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(AUTHORIZE_PATH, get(authorize))
        .route(DECISION_PATH, post(decision))
        .route(TOKEN_PATH, post(token))
}

// ── Parameters ───────────────────────────────────────────────────────────────────────────────

/// Request parameters from one or more urlencoded sources (query string, form body).
struct Params {
    values: HashMap<String, String>,
    /// Names given more than once, which RFC 6749 §3.1 and §3.2 forbid.
    repeated: Vec<String>,
}

impl Params {
    fn parse(sources: &[&[u8]]) -> Self {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for source in sources {
            for (name, value) in url::form_urlencoded::parse(source) {
                match values.entry(name.into_owned()) {
                    Entry::Occupied(entry) => repeated.push(entry.key().clone()),
                    Entry::Vacant(entry) => {
                        entry.insert(value.into_owned());
                    }
                }
            }
        }
        Self { values, repeated }
    }

    /// RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|n| n == name)
    }
}

// ── Authorize ────────────────────────────────────────────────────────────────────────────────

/// A valid authorization request, waiting for (or past) the owner's decision.
#[derive(Clone)]
struct AuthorizeRequest {
    code: CodeRequest,
    redirect: Url,
    state: String,
}

/// An RFC 6749 §4.1.2.1 error to send back to the client's redirect URI.
struct RedirectError {
    error: &'static str,
    description: String,
}

impl RedirectError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// `GET /oauth2/default/v1/authorize`
async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(&[query.as_deref().unwrap_or("").as_bytes()]);
    let redirect = match trusted_redirect(&shared, &params) {
        Ok(redirect) => redirect,
        Err(message) => {
            return html::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid authorization request",
                &message,
            );
        }
    };
    let state = params.get("state").map(str::to_owned);
    let request = match authorization_request(&shared, &params, redirect.clone()) {
        Ok(request) => request,
        Err(error) => return redirect_with_error(&redirect, &error, state.as_deref()),
    };
    if shared.settings.consent {
        let now = shared.clock.now();
        let pending_id = lock(&shared.consents).insert(request.clone(), now);
        consent_page(&shared, &request, &pending_id)
    } else {
        approve(&shared, request)
    }
}

/// The client and its redirect URI, checked before anything may be sent to that URI; the error
/// is the message for the page shown instead.
fn trusted_redirect(shared: &Shared, params: &Params) -> Result<Url, String> {
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return Err("The client_id and redirect_uri parameters must be given once each.".into());
    }
    match params.get("client_id") {
        None => return Err("The client_id parameter is missing.".into()),
        Some(id) if id != shared.settings.client_id => {
            return Err(format!(
                "The client_id '{id}' is not a registered application."
            ));
        }
        Some(_) => {}
    }
    let Some(raw) = params.get("redirect_uri") else {
        return Err("The redirect_uri parameter is missing.".into());
    };
    match Url::parse(raw) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.fragment().is_none() =>
        {
            Ok(url)
        }
        _ => Err("The redirect_uri must be an absolute http(s) URL without a fragment.".into()),
    }
}

/// Everything else about the request; these errors go back to the (trusted) redirect URI.
fn authorization_request(
    shared: &Shared,
    params: &Params,
    redirect: Url,
) -> Result<AuthorizeRequest, RedirectError> {
    if let Some(name) = params.repeated.first() {
        return Err(RedirectError::new(
            "invalid_request",
            format!("The '{name}' parameter must not be given more than once."),
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(RedirectError::new(
                "invalid_request",
                "The 'response_type' parameter is missing.",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(RedirectError::new(
                "unsupported_response_type",
                "The response type is not supported by the authorization server. Use 'code'.",
            ));
        }
    }
    let Some(state) = params.get("state") else {
        return Err(RedirectError::new(
            "invalid_request",
            "The 'state' parameter is required.",
        ));
    };
    let scopes = requested_scopes(params.get("scope"))?;
    if params.get("code_challenge_method") != Some("S256") {
        return Err(RedirectError::new(
            "invalid_request",
            "PKCE is required: 'code_challenge_method' must be 'S256'.",
        ));
    }
    let challenge = params.get("code_challenge").unwrap_or("");
    if !grants::is_pkce_value(challenge) {
        return Err(RedirectError::new(
            "invalid_request",
            "PKCE is required: 'code_challenge' must be a base64url S256 challenge.",
        ));
    }
    Ok(AuthorizeRequest {
        code: CodeRequest {
            client_id: shared.settings.client_id.clone(),
            // Kept as sent: the token request must repeat it exactly.
            redirect_uri: params.get("redirect_uri").unwrap_or("").to_owned(),
            scopes,
            code_challenge: challenge.to_owned(),
        },
        redirect,
        state: state.to_owned(),
    })
}

/// Space-delimited scopes, each known, in the order given, without repeats.
fn requested_scopes(scope: Option<&str>) -> Result<Vec<String>, RedirectError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if !KNOWN_SCOPES.contains(&scope) {
            return Err(RedirectError::new(
                "invalid_scope",
                format!(
                    "One or more scopes are not configured for the authorization server resource: '{scope}'."
                ),
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(RedirectError::new(
            "invalid_scope",
            "The 'scope' parameter is missing; request at least one scope.",
        ));
    }
    Ok(scopes)
}

/// Issue a code and send the browser back with it.
fn approve(shared: &Shared, request: AuthorizeRequest) -> Response {
    let now = shared.clock.now();
    let code = lock(&shared.grants).issue_code(request.code, now);
    let mut target = request.redirect;
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &request.state);
    found(&target)
}

fn redirect_with_error(redirect: &Url, error: &RedirectError, state: Option<&str>) -> Response {
    let mut target = redirect.clone();
    {
        let mut query = target.query_pairs_mut();
        query
            .append_pair("error", error.error)
            .append_pair("error_description", &error.description);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    found(&target)
}

fn found(target: &Url) -> Response {
    (
        StatusCode::FOUND,
        [(LOCATION, target.as_str()), (CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

// ── Consent ──────────────────────────────────────────────────────────────────────────────────

/// Authorization requests shown on a consent page, by an unguessable id. The decision form
/// carries only that id, so nothing the browser sends back can change where the code goes.
#[derive(Default)]
pub struct PendingConsents {
    requests: HashMap<String, (AuthorizeRequest, DateTime<Utc>)>,
}

impl PendingConsents {
    fn insert(&mut self, request: AuthorizeRequest, now: DateTime<Utc>) -> String {
        self.requests
            .retain(|_, (_, shown)| now - *shown < CONSENT_LIFETIME);
        let id = grants::random_token(24);
        self.requests.insert(id.clone(), (request, now));
        id
    }

    /// The request, once: a decision cannot be replayed.
    fn take(&mut self, id: &str, now: DateTime<Utc>) -> Option<AuthorizeRequest> {
        self.requests
            .remove(id)
            .filter(|(_, shown)| now - *shown < CONSENT_LIFETIME)
            .map(|(request, _)| request)
    }
}

fn consent_page(shared: &Shared, request: &AuthorizeRequest, pending_id: &str) -> Response {
    let scopes: String = request
        .code
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let body = format!(
        r#"<h1>Allow access to {account}?</h1>
<p>The application <code>{client}</code> asks for access to the Constant Contact account
<strong>{account}</strong> with these scopes:</p>
<ul id="scopes">{scopes}</ul>
<p>After your decision you will be sent to <code>{redirect}</code>.</p>
<form method="post" action="{action}">
<input type="hidden" name="request_id" value="{pending}">
<button type="submit" id="approve" name="decision" value="approve">Approve</button>
<button type="submit" id="deny" name="decision" value="deny">Deny</button>
</form>"#,
        account = escape(&shared.settings.account_name),
        client = escape(&request.code.client_id),
        redirect = escape(&request.code.redirect_uri),
        action = DECISION_PATH,
        pending = escape(pending_id),
    );
    (
        [(CACHE_CONTROL, "no-store")],
        html::page("Authorize application", "", &body),
    )
        .into_response()
}

/// `POST /oauth2/default/v1/authorize/decision` from the consent page's buttons.
async fn decision(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = Params::parse(&[&body]);
    let now = shared.clock.now();
    let pending = params
        .get("request_id")
        .and_then(|id| lock(&shared.consents).take(id, now));
    let Some(request) = pending else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "Authorization request expired",
            "This authorization request is unknown, expired or already answered. Start again from the application.",
        );
    };
    match params.get("decision") {
        Some("approve") => approve(&shared, request),
        Some("deny") => redirect_with_error(
            &request.redirect,
            &RedirectError::new("access_denied", "The resource owner denied the request."),
            Some(&request.state),
        ),
        _ => html::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid decision",
            "The decision must be approve or deny.",
        ),
    }
}

// ── Token ────────────────────────────────────────────────────────────────────────────────────

/// An RFC 6749 §5.2 error answer.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_client(description: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl From<GrantError> for TokenError {
    fn from(error: GrantError) -> Self {
        match error {
            GrantError::InvalidGrant(description) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
            }
            GrantError::InvalidScope(description) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
            }
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, no_store(), axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"sandbox\""),
            );
        }
        response
    }
}

fn no_store() -> [(axum::http::HeaderName, &'static str); 2] {
    [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")]
}

/// `POST /oauth2/default/v1/token`
async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    shared.count(|s| s.token_requests += 1);
    let fault = lock(&shared.faults).next_token_call();
    if !shared.delay(fault.latency).await {
        return crate::faults::dropped_connection();
    }
    if fault.unavailable {
        return TokenError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The authorization server is temporarily unavailable. Try again later.",
        )
        .into_response();
    }
    match grant(&shared, &headers, query.as_deref(), &body) {
        Ok(issued) => token_response(&shared, &issued),
        Err(error) => {
            if error.error == "invalid_grant" {
                shared.count(|s| s.invalid_grants += 1);
            }
            tracing::debug!(error = error.error, description = %error.description, "sandbox token request refused");
            error.into_response()
        }
    }
}

/// Authenticate the client, then run the requested grant.
fn grant(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Issued, TokenError> {
    let params = token_params(headers, query, body)?;
    authenticate_client(shared, headers, &params)?;
    if let Some(name) = params.repeated.first() {
        return Err(TokenError::invalid_request(format!(
            "The '{name}' parameter must not be given more than once."
        )));
    }
    let client_id = shared.settings.client_id.as_str();
    let now = shared.clock.now();
    match params.get("grant_type") {
        None => Err(TokenError::invalid_request(
            "The 'grant_type' parameter is missing.",
        )),
        Some("authorization_code") => {
            let code = required(&params, "code")?;
            let redirect_uri = required(&params, "redirect_uri")?;
            let verifier = params.get("code_verifier");
            let issued =
                lock(&shared.grants).redeem_code(client_id, code, redirect_uri, verifier, now)?;
            shared.count(|s| s.codes_exchanged += 1);
            Ok(issued)
        }
        Some("refresh_token") => {
            let refresh_token = required(&params, "refresh_token")?;
            let scopes = params.get("scope").map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
            let issued = lock(&shared.grants).refresh(client_id, refresh_token, scopes, now)?;
            shared.count(|s| s.refreshes += 1);
            Ok(issued)
        }
        Some(other) => Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "The authorization grant type '{other}' is not supported by the authorization server."
            ),
        )),
    }
}

/// CC's docs put the parameters in the query string, clients often in a form body: take both,
/// but only a form body.
fn token_params(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Params, TokenError> {
    if !body.is_empty() {
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(TokenError::invalid_request(
                "The request body must be application/x-www-form-urlencoded.",
            ));
        }
    }
    Ok(Params::parse(&[query.unwrap_or("").as_bytes(), body]))
}

fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, TokenError> {
    params
        .get(name)
        .ok_or_else(|| TokenError::invalid_request(format!("The '{name}' parameter is missing.")))
}

/// HTTP Basic is the only client authentication CC documents; a secret in the parameters is
/// refused even when it is right, because real clients that do this break in production.
fn authenticate_client(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(), TokenError> {
    if params.has("client_secret") {
        return Err(TokenError::invalid_client(
            "Client authentication must use HTTP Basic; a 'client_secret' request parameter is not accepted.",
        ));
    }
    let Some((id, secret)) = basic_credentials(headers) else {
        return Err(TokenError::invalid_client(
            "Client authentication failed: send the client credentials with HTTP Basic.",
        ));
    };
    let settings = &shared.settings;
    if !credential_matches(&id, &settings.client_id)
        || !credential_matches(&secret, &settings.client_secret)
    {
        return Err(TokenError::invalid_client(
            "Client authentication failed: the client credentials are invalid.",
        ));
    }
    if params
        .get("client_id")
        .is_some_and(|id| id != settings.client_id)
    {
        return Err(TokenError::invalid_client(
            "The 'client_id' parameter does not match the authenticated client.",
        ));
    }
    Ok(())
}

/// `Authorization: Basic base64(id:secret)`, undecoded parts.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// RFC 6749 §2.3.1 form-urlencodes the id and secret before Basic encoding them (the oauth2
/// crate does); many clients do not. Either matches.
fn credential_matches(sent: &str, expected: &str) -> bool {
    if sent == expected {
        return true;
    }
    let decoded: String = url::form_urlencoded::parse(format!("v={sent}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    decoded == expected
}

fn token_response(shared: &Shared, issued: &Issued) -> Response {
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "access_token": issued.access_token,
        "scope": issued.scopes.join(" "),
        "id_token": id_token(shared, issued),
    });
    if let Some(refresh_token) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    (StatusCode::OK, no_store(), axum::Json(body)).into_response()
}

/// A JWT-shaped ID token (CC's is a signed JWT). The signature is random: nothing should
/// verify or rely on the sandbox's ID token beyond its presence and claims.
fn id_token(shared: &Shared, issued: &Issued) -> String {
    let iat = issued.issued_at.timestamp();
    let exp = iat.saturating_add(i64::try_from(issued.expires_in).unwrap_or(i64::MAX));
    let header = json!({ "kid": "sandbox", "alg": "RS256" });
    let claims = json!({
        "ver": 1,
        "iss": shared.settings.url("/oauth2/default").as_str().trim_end_matches('/'),
        "aud": shared.settings.client_id,
        "sub": shared.settings.account_name,
        "iat": iat,
        "exp": exp,
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        grants::random_token(64),
    )
}
