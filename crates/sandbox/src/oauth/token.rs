//! The token endpoint: client authentication, then the `authorization_code` grant (with the PKCE
//! verifier), the `refresh_token` grant or RFC 8628's device-code grant, answered with a token set
//! or an RFC 6749 §5.2 error.
//!
//! The code grant needs HTTP Basic. The device grant's clients are public (a device cannot keep a
//! secret): they name themselves with a `client_id` parameter, and so may refresh the tokens of a
//! device grant; a Basic header, when sent anyway, must still be right.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};

use super::no_store;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use serde_json::json;

use super::params::{self, Params};
use crate::devices::PollError;
use crate::grants::{self, ClientAuth, GrantError, Issued};
use crate::{Shared, lock};

/// RFC 8628 §3.4's grant type.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An RFC 6749 §5.2 error answer (also the device authorization endpoint's, RFC 8628 §3.2).
pub(super) struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_client(description: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// An RFC 8628 §3.5 answer to a device-code poll: 400 with the given code.
    fn device(error: &'static str, description: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
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
            GrantError::ClientAuthRequired => Self::invalid_client(
                "Client authentication failed: this refresh token was issued to a confidential client; send the client credentials with HTTP Basic.",
            ),
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

/// `POST /oauth2/default/v1/token`
pub(super) async fn token(
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

/// Authenticate (or identify) the client, then run the requested grant.
fn grant(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Issued, TokenError> {
    let params = params::form_request(headers, query, body).map_err(TokenError::invalid_request)?;
    let client_auth = identify_client(shared, headers, &params)?;
    if let Some(name) = params.first_repeated() {
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
            if client_auth != ClientAuth::Confidential {
                return Err(TokenError::invalid_client(NO_BASIC));
            }
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
            let issued =
                lock(&shared.grants).refresh(client_id, refresh_token, scopes, client_auth, now)?;
            shared.count(|s| s.refreshes += 1);
            Ok(issued)
        }
        Some(DEVICE_CODE_GRANT) => device_grant(shared, &params),
        Some(other) => Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "The authorization grant type '{other}' is not supported by the authorization server."
            ),
        )),
    }
}

fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, TokenError> {
    params
        .get(name)
        .ok_or_else(|| TokenError::invalid_request(format!("The '{name}' parameter is missing.")))
}

/// The device-code grant (RFC 8628 §3.4): the tokens once the person approved, else the state
/// of the code as an error. Approved tokens come from a public client's grant.
fn device_grant(shared: &Shared, params: &Params) -> Result<Issued, TokenError> {
    let device_code = required(params, "device_code")?;
    let client_id = shared.settings.client_id.as_str();
    let now = shared.clock.now();
    shared.count(|s| s.device_polls += 1);
    let polled = lock(&shared.devices).poll(client_id, device_code, now);
    let request = polled.map_err(|error| poll_error(shared, error))?;
    let refresh_tokens = shared.settings.device_refresh_tokens;
    let issued =
        lock(&shared.grants).grant_device(request.client_id, request.scopes, refresh_tokens, now);
    shared.count(|s| s.device_grants += 1);
    Ok(issued)
}

fn poll_error(shared: &Shared, error: PollError) -> TokenError {
    match error {
        PollError::Pending => TokenError::device(
            "authorization_pending",
            "The user has not yet approved or denied the request.",
        ),
        PollError::SlowDown => {
            shared.count(|s| s.device_slow_downs += 1);
            TokenError::device(
                "slow_down",
                "The device is polling too fast: wait 5 seconds longer between polls from now on.",
            )
        }
        PollError::Denied => TokenError::device("access_denied", "The user denied the request."),
        PollError::Expired => TokenError::device(
            "expired_token",
            "The device code has expired; start a new device authorization.",
        ),
        PollError::InvalidGrant(description) => GrantError::InvalidGrant(description).into(),
    }
}

const NO_BASIC: &str = "Client authentication failed: send the client credentials with HTTP Basic.";

/// How the client identified itself: HTTP Basic (confidential), or only a registered
/// `client_id` parameter (public, for the device flow). A secret in the parameters is refused
/// even when it is right, because real clients that do this break in production; a Basic header
/// must be right even where it is not needed.
pub(super) fn identify_client(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<ClientAuth, TokenError> {
    if headers.contains_key(AUTHORIZATION) {
        authenticate_client(shared, headers, params)?;
        return Ok(ClientAuth::Confidential);
    }
    if params.has("client_secret") {
        return Err(TokenError::invalid_client(SECRET_PARAMETER));
    }
    match params.get("client_id") {
        None => Err(TokenError::invalid_client(
            "Client authentication failed: send the client credentials with HTTP Basic, or a public client's 'client_id' parameter.",
        )),
        Some(id) if id != shared.settings.client_id => Err(TokenError::invalid_client(
            "Client authentication failed: the 'client_id' is not a registered application.",
        )),
        Some(_) => Ok(ClientAuth::Public),
    }
}

const SECRET_PARAMETER: &str = "Client authentication must use HTTP Basic; a 'client_secret' request parameter is not accepted.";

/// HTTP Basic is the only client authentication CC documents.
fn authenticate_client(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(), TokenError> {
    if params.has("client_secret") {
        return Err(TokenError::invalid_client(SECRET_PARAMETER));
    }
    let Some((id, secret)) = basic_credentials(headers) else {
        return Err(TokenError::invalid_client(NO_BASIC));
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
        "sub": issued.account,
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
