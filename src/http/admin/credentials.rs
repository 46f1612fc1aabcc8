//! Admin credentials: HTTP Basic against `admin.username` and the Argon2id `admin.password_hash`.
//! Without valid credentials the answer is 401 with `WWW-Authenticate` and nothing else.

use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::AdminConfig;
use crate::http::pages;
use crate::password;

/// Marks the answer to a login with wrong credentials (in the response's extensions), so that the
/// admin login backoff (`http::middleware::admin_backoff`) can count it wherever the check happened.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuthFailed;

/// What the 401 says while no password hash is configured.
pub const DISABLED: &str =
    "Admin access is disabled until admin.password_hash is set (see `ccbridge hash-password`).";

/// What the 401 says otherwise.
const REQUIRED: &str = "Authentication required.";

/// `Ok` when the request carries the admin's credentials; otherwise the answer to send (401, or
/// 503 when no password check could be run in time).
pub async fn require_admin(headers: &HeaderMap, admin: &AdminConfig) -> Result<(), Response> {
    if !is_enabled(admin) {
        return Err(unauthorized(DISABLED));
    }
    let Some((user, pass)) = basic_credentials(headers) else {
        return Err(unauthorized(REQUIRED));
    };
    match verify(admin, user, pass).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::warn!("admin authentication failed");
            Err(failed(unauthorized(REQUIRED)))
        }
        Err(password::Busy) => Err(busy()),
    }
}

/// 503 with `Retry-After`: every password-check slot stayed taken (a flood of logins).
pub fn busy() -> Response {
    tracing::warn!("admin login refused: every password check slot is taken");
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        pages::notice(
            "Try again",
            "Too many logins at once",
            "Too many logins are being checked right now. Please try again in a few seconds.",
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

/// Whether admin access is possible at all (a password hash is configured).
pub fn is_enabled(admin: &AdminConfig) -> bool {
    !admin.password_hash.expose_secret().is_empty()
}

/// Mark `response` as the answer to a failed login, for the backoff.
pub fn failed(mut response: Response) -> Response {
    response.extensions_mut().insert(AdminAuthFailed);
    response
}

/// Whether `user` and `pass` are the admin's (false while no password hash is configured);
/// `Err(Busy)` when no password check could start in time (`password::verify_bounded`).
pub async fn verify(
    admin: &AdminConfig,
    user: String,
    pass: SecretString,
) -> Result<bool, password::Busy> {
    if !is_enabled(admin) {
        return Ok(false);
    }
    // The password is checked even when the user name is wrong, so timing does not tell which
    // one was.
    let password_ok = password::verify_bounded(pass, admin.password_hash.clone()).await?;
    let user_ok = Sha256::digest(user.as_bytes()) == Sha256::digest(admin.username.as_bytes());
    Ok(password_ok && user_ok)
}

/// Whether the request carries an `Authorization: Basic` header at all (right or wrong).
pub fn has_basic_credentials(headers: &HeaderMap) -> bool {
    basic_credentials(headers).is_some()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), SecretString::from(pass.to_owned())))
}

/// 401 with `WWW-Authenticate: Basic`, saying why (disabled, or credentials required).
pub fn unauthorized_for(admin: &AdminConfig) -> Response {
    unauthorized(if is_enabled(admin) {
        REQUIRED
    } else {
        DISABLED
    })
}

/// 401 with `WWW-Authenticate: Basic` and nothing else revealed.
fn unauthorized(message: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        pages::notice(
            "Authentication required",
            "Authentication required",
            message,
        ),
    )
        .into_response();
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"ccbridge admin\", charset=\"UTF-8\""),
    );
    response
}
