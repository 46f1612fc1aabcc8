//! Constant Contact's OAuth2 authorization server, as far as ccbridge meets it: the authorize
//! endpoint, auto-approving or with a consent page (`authorize`), and the token endpoint:
//! authorization code with PKCE S256, refresh, HTTP Basic client authentication only (`token`).
//! The device authorization grant of RFC 8628 adds the device authorization endpoint (`device`),
//! the `/activate` page where a person enters the user code (`activate`), and the device-code
//! grant at the token endpoint. All read their urlencoded parameters alike (`params`); the codes
//! and tokens themselves are kept by [`crate::grants`] and [`crate::devices`].
//!
//! Errors follow RFC 6749: until the client and its redirect URI are known good, the browser
//! gets an error page and is never redirected; after that, errors go back to the redirect URI
//! with `state` echoed.

mod activate;
mod authorize;
mod device;
mod params;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::Shared;

pub use authorize::PendingConsents;

/// Headers of every answer that carries a code, a token or a consent form: never stored
/// (RFC 6749 5.1 asks for both).
fn no_store() -> [(axum::http::HeaderName, &'static str); 2] {
    use axum::http::header::{CACHE_CONTROL, PRAGMA};
    [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")]
}

pub const AUTHORIZE_PATH: &str = "/oauth2/default/v1/authorize";
pub const DECISION_PATH: &str = "/oauth2/default/v1/authorize/decision";
pub const TOKEN_PATH: &str = "/oauth2/default/v1/token";
pub const DEVICE_AUTHORIZE_PATH: &str = "/oauth2/default/v1/device/authorize";
/// RFC 8628's `verification_uri`, outside the authorization server's API paths as Okta's is.
pub const ACTIVATE_PATH: &str = "/activate";

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(AUTHORIZE_PATH, get(authorize::authorize))
        .route(DECISION_PATH, post(authorize::decision))
        .route(TOKEN_PATH, post(token::token))
        .route(DEVICE_AUTHORIZE_PATH, post(device::device_authorize))
        .route(
            ACTIVATE_PATH,
            get(activate::activate_page).post(activate::activate),
        )
}
