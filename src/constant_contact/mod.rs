//! The Constant Contact client: the OAuth2 client (authorization code + PKCE, HTTP Basic client
//! authentication, redirects never followed) and the v3 API calls ccbridge makes, with both of the
//! API's error-body shapes parsed into one typed error.
//!
//! One `reqwest::Client` serves both; it is built once with timeouts and without redirects.

pub mod api;
pub mod device;
pub mod error;
pub mod limits;
pub mod oauth;

use std::time::Duration;

pub use api::{
    AccountSummary, ApiClient, ContactList, ContactStatus, ContactsPage, ContactsRequest,
    CustomField, ListedContact, SignUpForm, SignUpOutcome,
};
pub use device::{DeviceAuthorization, DeviceError, DevicePoll, DeviceProgress, wait_for_device};
pub use error::{ApiError, ErrorKind, UpstreamMessage};
pub use limits::RateLimiter;
pub use oauth::{OAuthClient, OAuthError, TokenGrant};

/// The one outbound HTTP client: bounded in time, never following redirects (a token endpoint
/// that redirects is misconfigured, and following it could leak credentials).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ccbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with static settings builds")
}
