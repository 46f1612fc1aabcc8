//! Admin credentials: HTTP Basic against `admin.username` and the Argon2id `admin.password_hash`.
//! Without valid credentials the answer is 401 with `WWW-Authenticate` and nothing else.

use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
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

/// `Ok` when the request carries the admin's credentials; otherwise the 401 to send.
pub async fn require_admin(headers: &HeaderMap, admin: &AdminConfig) -> Result<(), Response> {
    if !is_enabled(admin) {
        return Err(unauthorized(DISABLED));
    }
    let Some((user, pass)) = basic_credentials(headers) else {
        return Err(unauthorized(REQUIRED));
    };
    if verify(admin, user, pass).await {
        Ok(())
    } else {
        tracing::warn!("admin authentication failed");
        Err(failed(unauthorized(REQUIRED)))
    }
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

/// Whether `user` and `pass` are the admin's (false while no password hash is configured).
pub async fn verify(admin: &AdminConfig, user: String, pass: SecretString) -> bool {
    if !is_enabled(admin) {
        return false;
    }
    let hash = admin.password_hash.clone();
    let expected_user = admin.username.clone();
    // Argon2 is deliberately slow: keep it off the async workers. The password is checked even
    // when the user name is wrong, so timing does not tell which one was.
    tokio::task::spawn_blocking(move || {
        let password_ok = password::verify(pass.expose_secret(), &hash);
        let user_ok = Sha256::digest(user.as_bytes()) == Sha256::digest(expected_user.as_bytes());
        password_ok && user_ok
    })
    .await
    .unwrap_or(false)
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
