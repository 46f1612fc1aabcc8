//! Who may use the console, and proof that a state-changing request came from it. Both are
//! extractors, so a handler states what it needs in its signature and no handler repeats the checks:
//!
//! - [`Admin`]: an authenticated admin for the console's pages.
//! - [`SessionOrBasic`]: an admin by session or HTTP Basic, never redirected (`GET /connect`).
//! - [`CsrfForm`]: a state-changing POST from the console: a session, and its CSRF token in the
//!   form (field `csrf`) or the `X-CSRF-Token` header.
//!
//! - **Sessions.** `POST /admin/login` checks the admin's password and sets a random session id
//!   in a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when `server.public_url` is https). The
//!   database keeps only the SHA-256 of the id, with an absolute expiry.
//! - **HTTP Basic** still works, for scripts and for browsers that were sent a Basic prompt. A
//!   browser authenticated that way is given a session too, so the console's buttons work: one
//!   session, remembered by this process and handed out again to every such page view while it
//!   lives, not a new 12-hour session per request.
//! - **Sessions belong to a password.** Each is stored with a tag derived from
//!   `admin.password_hash`; after the password changes, every older session is void. "Log out
//!   everywhere" (`POST /admin/logout` with `everywhere=1`) ends all sessions at once.
//! - **CSRF.** The token is compared in constant time. A POST without a session and its token is
//!   refused with 403, whatever else it carries: a browser that remembers Basic credentials would
//!   otherwise act on a forged cross-site form.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use subtle::ConstantTimeEq;

use super::ConsoleError;
use super::credentials;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::{AppState, pages};
use crate::password::random_token;
use crate::store::Store;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ccbridge_admin";
/// A session lasts this long from login, however busy.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(12);
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
const CSRF_HEADER: &str = "x-csrf-token";

/// What authenticating an admin needs of the application.
#[derive(Clone)]
pub struct Sessions {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    basic: BasicSession,
}

impl FromRef<AppState> for Sessions {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            basic: state.basic_session.clone(),
        }
    }
}

/// The id of the session given to browsers that authenticate with HTTP Basic, kept in this
/// process's memory only (the database keeps only its hash), so that it can be handed out again.
#[derive(Clone, Default)]
pub struct BasicSession(Arc<Mutex<Option<String>>>);

impl BasicSession {
    fn get(&self) -> Option<String> {
        self.lock().clone()
    }

    fn set(&self, id: Option<String>) {
        *self.lock() = id;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

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
    pub fn finish(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if let Some(cookie) = &self.new_cookie {
            response.headers_mut().append(SET_COOKIE, cookie.clone());
        }
        response
    }
}

/// For the console's pages: a session, else Basic credentials (creating a session for a browser).
/// Without either, a browser is sent to the login page and anything else gets the 401.
impl<S> FromRequestParts<S> for Admin
where
    S: Send + Sync,
    Sessions: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let sessions = Sessions::from_ref(state);
        let headers = &parts.headers;
        if let Some(admin) = sessions.find(headers).await? {
            return Ok(admin);
        }
        let admin = &sessions.config.admin;
        if credentials::has_basic_credentials(headers) {
            credentials::require_admin(headers, admin).await?;
            if !wants_html(headers) {
                return Ok(Admin {
                    csrf: None,
                    session: None,
                    new_cookie: None,
                });
            }
            return sessions
                .for_basic()
                .await
                .map_err(IntoResponse::into_response);
        }
        if wants_html(headers) && credentials::is_enabled(admin) {
            return Err(see_other(&sessions.config.server.path("/admin/login")));
        }
        Err(credentials::unauthorized_for(admin))
    }
}

/// For `GET /connect`: a session or Basic credentials, else the 401 (never a redirect).
pub struct SessionOrBasic;

impl<S> FromRequestParts<S> for SessionOrBasic
where
    S: Send + Sync,
    Sessions: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let sessions = Sessions::from_ref(state);
        if sessions.find(&parts.headers).await?.is_some() {
            return Ok(Self);
        }
        credentials::require_admin(&parts.headers, &sessions.config.admin).await?;
        Ok(Self)
    }
}

/// A state-changing request from the console: an admin with a session whose CSRF token the
/// form (or header) carries, and the form's fields. 401 without credentials, 403 without a
/// session or the right token.
pub struct CsrfForm {
    pub admin: Admin,
    /// The urlencoded body, whatever its declared type (a missing or wrong type must end in the
    /// CSRF refusal, not in a different error).
    pub fields: Vec<(String, String)>,
}

impl<S> FromRequest<S> for CsrfForm
where
    S: Send + Sync,
    Sessions: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let sessions = Sessions::from_ref(state);
        let (parts, body) = request.into_parts();
        let admin = match sessions.find(&parts.headers).await? {
            Some(admin) => admin,
            None if credentials::has_basic_credentials(&parts.headers) => {
                credentials::require_admin(&parts.headers, &sessions.config.admin).await?;
                return Err(forbidden(
                    "Use the console's buttons: a state-changing request needs a session and its form token.",
                ));
            }
            None => return Err(credentials::unauthorized_for(&sessions.config.admin)),
        };
        let from_header = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let expected = admin.csrf.as_deref().unwrap_or_default();
        let given = fields
            .iter()
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value.as_str())
            .or(from_header.as_deref())
            .unwrap_or_default();
        if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            tracing::warn!("admin POST without a valid CSRF token refused");
            return Err(forbidden(
                "This form has expired or did not come from the console. Go back, reload the page and try again.",
            ));
        }
        Ok(Self { admin, fields })
    }
}

impl Sessions {
    /// Create a session; the returned admin carries its cookie.
    pub async fn start(&self) -> Result<Admin, ConsoleError> {
        Ok(self.create().await?.0)
    }

    /// The session for a browser that authenticated with HTTP Basic: the one this process gave
    /// such a browser before while it lives (its cookie sent again), else a new one.
    async fn for_basic(&self) -> Result<Admin, ConsoleError> {
        let now = self.clock.now();
        if let Some(id) = self.basic.get() {
            let hash = hash_id(&id);
            let live = self
                .store
                .admin_session(&hash, &self.password_tag(), now)
                .await
                .context("reading admin sessions")?;
            if let Some(session) = live {
                let max_age = (session.expires_at - now).num_seconds().max(0);
                return Ok(Admin {
                    csrf: Some(session.csrf_token),
                    session: Some(hash),
                    new_cookie: Some(session_cookie(&id, max_age, self.secure())),
                });
            }
        }
        let (admin, id) = self.create().await?;
        self.basic.set(Some(id));
        Ok(admin)
    }

    /// A new session and its id.
    async fn create(&self) -> Result<(Admin, String), ConsoleError> {
        let id = random_token(32);
        let csrf = random_token(32);
        let hash = hash_id(&id);
        let now = self.clock.now();
        self.store
            .insert_admin_session(&hash, &csrf, &self.password_tag(), now, now + SESSION_TTL)
            .await
            .context("storing an admin session")?;
        let admin = Admin {
            csrf: Some(csrf),
            session: Some(hash),
            new_cookie: Some(session_cookie(
                &id,
                SESSION_TTL.num_seconds(),
                self.secure(),
            )),
        };
        Ok((admin, id))
    }

    /// End the admin's session, or every session (`everywhere`); returns the `Set-Cookie` that
    /// clears the cookie.
    pub async fn end(&self, admin: &Admin, everywhere: bool) -> HeaderValue {
        if everywhere {
            self.basic.set(None);
            match self.store.delete_all_admin_sessions().await {
                Ok(ended) => tracing::warn!(ended, "an admin ended every console session"),
                Err(error) => {
                    tracing::error!(%error, "could not end every admin session; they expire by themselves");
                }
            }
        } else if let Some(hash) = &admin.session
            && let Err(error) = self.store.delete_admin_session(hash).await
        {
            tracing::error!(%error, "could not delete an admin session; it expires by itself");
        }
        session_cookie("", 0, self.secure())
    }

    /// Whether a password hash is configured (the login page says so when not).
    pub fn login_enabled(&self) -> bool {
        credentials::is_enabled(&self.config.admin)
    }

    /// Whether `user` and `pass` are the admin's; `Err` is the 503 to send when no password check
    /// could start in time.
    pub async fn verify(
        &self,
        user: String,
        pass: secrecy::SecretString,
    ) -> Result<bool, Response> {
        credentials::verify(&self.config.admin, user, pass)
            .await
            .map_err(|_| credentials::busy())
    }

    /// The live session the request's cookie names, if any.
    async fn find(&self, headers: &HeaderMap) -> Result<Option<Admin>, Response> {
        let Some(id) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let hash = hash_id(&id);
        let session = self
            .store
            .admin_session(&hash, &self.password_tag(), self.clock.now())
            .await
            .context("reading admin sessions")
            .map_err(|e| ConsoleError::from(e).into_response())?;
        Ok(session.map(|session| Admin {
            csrf: Some(session.csrf_token),
            session: Some(hash),
            new_cookie: None,
        }))
    }

    /// What ties a session to the current password: a digest of `admin.password_hash` (which
    /// tells nothing about the password that the hash itself does not).
    fn password_tag(&self) -> String {
        password_tag(self.config.admin.password_hash.expose_secret())
    }

    fn secure(&self) -> bool {
        self.config.server.public_url.scheme() == "https"
    }
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

fn password_tag(password_hash: &str) -> String {
    hash_id(&format!("ccbridge console sessions of {password_hash}"))
}

fn hash_id(id: &str) -> String {
    crate::password::token_hash(id)
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
    let location = HeaderValue::from_str(location).expect("console paths are valid headers");
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

fn forbidden(message: &str) -> Response {
    let page = pages::notice("Refused", "Refused", message);
    (StatusCode::FORBIDDEN, page).into_response()
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
    fn the_password_tag_changes_with_the_password_hash() {
        assert_eq!(password_tag("$argon2id$a"), password_tag("$argon2id$a"));
        assert_ne!(password_tag("$argon2id$a"), password_tag("$argon2id$b"));
    }

    #[test]
    fn the_stored_hash_is_not_the_id() {
        let id = random_token(32);
        let hash = hash_id(&id);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, id);
    }
}
