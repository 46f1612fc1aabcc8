//! The token endpoint: HTTP Basic client authentication, then the `authorization_code` grant
//! (with the PKCE verifier) or the `refresh_token` grant, answered with a token set or an
//! RFC 6749 §5.2 error.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

use super::no_store;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use serde_json::json;

use super::params::Params;
use crate::grants::{self, GrantError, Issued};
use crate::{Shared, lock};

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

/// Authenticate the client, then run the requested grant.
fn grant(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Issued, TokenError> {
    let params = token_params(headers, query, body)?;
    authenticate_client(shared, headers, &params)?;
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
