//! Who may use the console, and proof that a state-changing request came from it.
//!
//! - **Sessions.** `POST /admin/login` checks the admin's password and sets a random session id
//!   in a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when `server.public_url` is https). The
//!   database keeps only the SHA-256 of the id, with an absolute expiry.
//! - **HTTP Basic** still works, for scripts and for browsers that were sent a Basic prompt. A
//!   browser authenticated that way is given a session too, so the console's buttons work.
//! - **CSRF.** Each session has a random token that every POST form carries (field `csrf`, or the
//!   `X-CSRF-Token` header); it is compared in constant time. A POST without a session and its
//!   token is refused with 403, whatever else it carries: a browser that remembers Basic
//!   credentials would otherwise act on a forged cross-site form.

use axum::http::header::{ACCEPT, CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::admin_auth;
use crate::startup::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ccbridge_admin";
/// A session lasts this long from login, however busy.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(12);
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The session's CSRF token; `None` for a script using Basic without a session (it can read
    /// the console but not press its buttons).
    pub csrf: Option<String>,
    /// The session's id hash (for logout).
    pub session: Option<String>,
    /// A `Set-Cookie` for a session created on this request.
    pub new_cookie: Option<HeaderValue>,
}

impl Admin {
    /// Add the new session cookie, if any, to `response`.
    pub fn finish(&self, mut response: Response) -> Response {
        if let Some(cookie) = &self.new_cookie {
            response.headers_mut().append(SET_COOKIE, cookie.clone());
        }
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// For the console's pages: a session, else Basic credentials (creating a session for a browser).
/// Without either, a browser is sent to the login page and anything else gets the 401.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Admin, Response> {
    if let Some(admin) = from_session(state, headers).await? {
        return Ok(admin);
    }
    if admin_auth::has_basic_credentials(headers) {
        admin_auth::require_admin(headers, &state.config.admin).await?;
        if !wants_html(headers) {
            return Ok(Admin {
                csrf: None,
                session: None,
                new_cookie: None,
            });
        }
        return start(state).await.map_err(|()| unavailable());
    }
    if wants_html(headers) && !state.config.admin.password_hash.expose_secret().is_empty() {
        return Err(see_other("/admin/login"));
    }
    Err(admin_auth::unauthorized(
        if state.config.admin.password_hash.expose_secret().is_empty() {
            admin_auth::DISABLED
        } else {
            "Authentication required."
        },
    ))
}

/// For `GET /connect`: a session or Basic credentials, else the 401 (as before the console).
pub async fn session_or_basic(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    if from_session(state, headers).await?.is_some() {
        return Ok(());
    }
    admin_auth::require_admin(headers, &state.config.admin).await
}

/// For every state-changing request: an authenticated admin whose session's CSRF token the form
/// (or header) carries. 401 without credentials, 403 without the right token.
pub async fn authorize_post(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Admin, Response> {
    let admin = match from_session(state, headers).await? {
        Some(admin) => admin,
        None if admin_auth::has_basic_credentials(headers) => {
            admin_auth::require_admin(headers, &state.config.admin).await?;
            return Err(forbidden(
                "Use the console's buttons: a state-changing request needs a session and its form token.",
            ));
        }
        None => return Err(admin_auth::unauthorized("Authentication required.")),
    };
    let expected = admin.csrf.as_deref().unwrap_or_default();
    let given = form
        .iter()
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value.as_str())
        .or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!("admin POST without a valid CSRF token refused");
        return Err(forbidden(
            "This form has expired or did not come from the console. Go back, reload the page and try again.",
        ));
    }
    Ok(admin)
}

/// Create a session; the returned admin carries its cookie.
pub async fn start(state: &AppState) -> Result<Admin, ()> {
    let id = random_token();
    let csrf = random_token();
    let hash = hash_id(&id);
    let now = state.clock.now();
    if let Err(error) = state
        .store
        .insert_admin_session(&hash, &csrf, now, now + SESSION_TTL)
        .await
    {
        tracing::error!(%error, "could not store an admin session");
        return Err(());
    }
    Ok(Admin {
        csrf: Some(csrf),
        session: Some(hash),
        new_cookie: Some(session_cookie(
            &id,
            SESSION_TTL.num_seconds(),
            secure(state),
        )),
    })
}

/// End the session and clear the cookie.
pub async fn end(state: &AppState, admin: &Admin) -> HeaderValue {
    if let Some(hash) = &admin.session
        && let Err(error) = state.store.delete_admin_session(hash).await
    {
        tracing::error!(%error, "could not delete an admin session; it expires by itself");
    }
    session_cookie("", 0, secure(state))
}

/// The session cookie: script-proof (`HttpOnly`), never sent cross-site (`SameSite=Strict`), and
/// only over TLS when the service is reached over https.
fn session_cookie(id: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&cookie).expect("a base64url token makes a valid cookie")
}

async fn from_session(state: &AppState, headers: &HeaderMap) -> Result<Option<Admin>, Response> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = hash_id(&id);
    match state.store.admin_session(&hash, state.clock.now()).await {
        Ok(Some(session)) => Ok(Some(Admin {
            csrf: Some(session.csrf_token),
            session: Some(hash),
            new_cookie: None,
        })),
        Ok(None) => Ok(None),
        Err(error) => {
            tracing::error!(%error, "could not read admin sessions");
            Err(unavailable())
        }
    }
}

fn secure(state: &AppState) -> bool {
    state.config.server.public_url.scheme() == "https"
}

fn hash_id(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` (an empty value counts as none).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// A browser navigating (rather than a script): it asks for HTML.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(
        LOCATION,
        HeaderValue::from_str(location).expect("console paths are valid headers"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn forbidden(message: &str) -> Response {
    let mut response = (
        StatusCode::FORBIDDEN,
        crate::pages::notice("Refused", "Refused", message),
    )
        .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        crate::pages::notice(
            "Try again",
            "Try again",
            "The database is unavailable right now.",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_over_https() {
        let https = session_cookie("abc", 60, true);
        assert_eq!(
            https.to_str().unwrap(),
            "ccbridge_admin=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        let http = session_cookie("abc", 60, false);
        assert!(!http.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn the_stored_hash_is_not_the_id() {
        let id = random_token();
        let hash = hash_id(&id);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, id);
        assert_ne!(random_token(), id, "ids are random");
    }
}
