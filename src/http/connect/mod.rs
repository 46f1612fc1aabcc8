//! Connecting ccbridge to the site owner's Constant Contact account, once, in a browser.
//!
//! Starting a connection replaces the stored one, so it is a state change and takes what every
//! state change of the console takes: `POST /connect` from a console session with its CSRF token,
//! same-origin. `GET /connect` (a bookmark, a link in an alert) only shows a confirmation page
//! whose button makes that POST; a cross-site navigation can therefore no longer switch the
//! bridge to whatever Constant Contact account the admin's browser is logged into.
//!
//! The POST starts an authorization code flow with PKCE: a single-use `state`, expiring after ten
//! minutes, stored server-side with the PKCE verifier and bound to the browser that started it by
//! a cookie. `GET /oauth/callback` checks all three before exchanging the code, so a stranger can
//! neither finish someone else's authorization nor connect their own account. The routes are
//! private (`Cache-Control: no-store`, set by the route table).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRef, RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

mod device;
mod links;
mod views;

pub use device::device_page;
pub use links::{link_page, start_from_link};

use super::AppState;
use super::admin::session::{Admin, CsrfForm, cookie};
use super::pages;
use crate::clock::SharedClock;
use crate::config::{Config, ConnectFlow};
use crate::constant_contact::{ApiClient, DeviceError, OAuthError, TokenGrant};
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::password::random_token;
use crate::store::{PendingAuthorization, Store, StoreError};
use crate::tokens::{AdoptError, AuthorizedVia, CipherError, Connected, TokenKeeper};
use views::{confirmation_page, connected_page, shell};

/// How long an authorization may take from `/connect` to the callback.
const AUTHORIZATION_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// Binds an authorization to the browser that started it.
const BROWSER_COOKIE: &str = "ccbridge_connect";

/// What connecting needs of the application.
#[derive(Clone)]
pub struct Connector {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    keeper: TokenKeeper,
    api: ApiClient,
    delivery: DeliveryWorker,
    account: AccountChecker,
}

impl FromRef<AppState> for Connector {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            keeper: state.keeper.clone(),
            api: state.api.clone(),
            delivery: state.delivery.clone(),
            account: state.account.clone(),
        }
    }
}

impl Connector {
    /// Store a completed authorization's grant as the connection, then do the on-connect work:
    /// queued signups can flow, and the configured ids are checked against the (possibly
    /// different) account.
    async fn adopt(
        &self,
        grant: &TokenGrant,
        via: AuthorizedVia,
    ) -> Result<Connected, ConnectError> {
        let connected = self
            .keeper
            .adopt(&self.api, grant, via)
            .await
            .map_err(ConnectError::NotAdopted)?;
        self.delivery.connection_made();
        self.account.check_soon();
        Ok(connected)
    }
}

/// `GET /connect`: the confirmation page, for an admin (console session, or HTTP Basic in a
/// browser, which gets a session here so that the button works). Changes nothing.
pub async fn confirm(admin: Admin, State(connector): State<Connector>) -> Response {
    if !connector.config.constant_contact.is_configured() {
        return admin.finish(ConnectError::NotConfigured(
            connector.config.constant_contact.missing_keys(),
        ));
    }
    if admin.csrf.is_none() {
        // A script with Basic credentials: it has no session, so no button would work for it.
        let server = &connector.config.server;
        return page(
            StatusCode::OK,
            "Connect",
            &format!(
                "Connecting happens in a browser: open {} or the console ({}) in one and press Connect.",
                server.path("/connect"),
                server.path("/admin"),
            ),
        );
    }
    let current = match connector.store.token_set().await {
        Ok(Some(set)) => Some(
            set.account_name
                .unwrap_or_else(|| "a Constant Contact account".to_owned()),
        ),
        Ok(None) => None,
        Err(error) => return ConnectError::StateUnreadable(error).into_response(),
    };
    admin.finish(confirmation_page(
        &connector.config,
        &admin,
        current.as_deref(),
    ))
}

/// `POST /connect`: the console's Connect / Reconnect button and the confirmation page's: a
/// session, its CSRF token, and a same-origin request.
pub async fn connect(
    State(connector): State<Connector>,
    headers: HeaderMap,
    _: CsrfForm,
) -> Response {
    if is_cross_site(&headers) {
        tracing::warn!("a cross-site POST /connect was refused");
        return page(
            StatusCode::FORBIDDEN,
            "Refused",
            "Connecting must be started from ccbridge's own pages: use the Connect button in the console.",
        );
    }
    start_authorization(&connector, None).await
}

/// A browser says the request came from another site (`Sec-Fetch-Site`); older browsers send
/// nothing, and the session cookie (`SameSite=Strict`) and the CSRF token still hold then.
fn is_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| !matches!(site, "same-origin" | "none"))
}

/// Why a connection was not started or not finished. Each becomes the page the admin sees, and
/// is logged once, when it does.
#[derive(Debug)]
enum ConnectError {
    /// These keys (`client_id`, and `client_secret` unless the device flow is used) are missing.
    NotConfigured(Vec<&'static str>),
    /// The database could not keep a new authorization's state.
    NotStarted(StoreError),
    /// The database could not read the state the callback names.
    StateUnreadable(StoreError),
    /// The callback belongs to no live authorization started in this browser (`message` says
    /// which check failed, to the admin).
    Refused {
        message: &'static str,
        logged: Option<&'static str>,
    },
    /// Constant Contact (or the person at its login page) did not authorize.
    Denied { error: String, description: String },
    /// The stored PKCE verifier could not be opened.
    Unsealable(CipherError),
    /// Constant Contact did not accept the code.
    Exchange(OAuthError),
    /// The grant came without a refresh token, or the token set could not be committed.
    NotAdopted(AdoptError),
    /// The device authorization endpoint refused or failed.
    DeviceNotStarted(DeviceError),
    /// A device authorization ended without a grant.
    Device(DeviceError),
}

impl ConnectError {
    fn refused(message: &'static str) -> Self {
        Self::Refused {
            message,
            logged: None,
        }
    }

    fn log(&self) {
        match self {
            Self::NotConfigured(_)
            | Self::NotAdopted(AdoptError::NoRefreshToken)
            | Self::Refused { logged: None, .. } => {}
            Self::Refused {
                logged: Some(what), ..
            } => tracing::warn!("{what}"),
            Self::NotStarted(error) => {
                tracing::error!(%error, "could not store the authorization state")
            }
            Self::StateUnreadable(error) => {
                tracing::error!(%error, "could not read the authorization state")
            }
            Self::Denied { error, .. } => {
                tracing::warn!(error = %error, "Constant Contact did not authorize")
            }
            Self::Unsealable(error) => {
                tracing::error!(%error, "could not open the authorization's PKCE verifier")
            }
            Self::Exchange(error) => {
                tracing::error!(error = %error, "authorization code exchange failed")
            }
            Self::NotAdopted(error) => {
                tracing::error!(error = %error, "could not store the token set")
            }
            Self::DeviceNotStarted(error) => {
                tracing::error!(%error, "could not start a device authorization")
            }
            Self::Device(DeviceError::Denied | DeviceError::Expired) => {}
            Self::Device(error) => tracing::error!(%error, "a device authorization failed"),
        }
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        self.log();
        let (status, title, text) = self.parts();
        page(status, title, &text)
    }
}

impl ConnectError {
    /// The answer's status, title and text.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::NotConfigured(missing_keys) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not configured",
                format!(
                    "{} must be set before connecting.",
                    missing_keys.join(" and ")
                ),
            ),
            Self::NotStarted(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The database is unavailable right now.".to_owned(),
            ),
            Self::StateUnreadable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not connected",
                "The database is unavailable right now.".to_owned(),
            ),
            Self::Refused { message, .. } => (
                StatusCode::BAD_REQUEST,
                "Not connected",
                format!(
                    "{message} Nothing was changed; start connecting again from where you began."
                ),
            ),
            Self::Denied { error, description } => (
                StatusCode::FORBIDDEN,
                "Not connected",
                format!(
                    "Constant Contact did not authorize ccbridge ({error}{}{description}). Nothing was changed.",
                    if description.is_empty() { "" } else { ": " }
                ),
            ),
            Self::Unsealable(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not connected",
                error.to_string(),
            ),
            Self::Exchange(error) => (
                StatusCode::BAD_GATEWAY,
                "Not connected",
                format!("Constant Contact did not accept the authorization: {error}."),
            ),
            Self::NotAdopted(error @ AdoptError::NoRefreshToken) => (
                StatusCode::BAD_GATEWAY,
                "Not connected",
                format!("{error}."),
            ),
            Self::NotAdopted(AdoptError::NotSaved(error)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not connected",
                format!("The connection could not be saved: {error}."),
            ),
            Self::DeviceNotStarted(error) => (
                StatusCode::BAD_GATEWAY,
                "Not started",
                format!("Constant Contact did not hand out a device code: {error}."),
            ),
            Self::Device(error) => (
                StatusCode::BAD_GATEWAY,
                "Not connected",
                format!("{error}."),
            ),
        }
    }
}

/// Start connecting in this browser: with the authorization code flow, send it to the authorize
/// endpoint; with the device flow, show it the code to enter. `link` is the connect link it was
/// started from, if any (already checked to be active).
async fn start_authorization(state: &Connector, link: Option<String>) -> Response {
    let started = if !state.config.constant_contact.is_configured() {
        Err(ConnectError::NotConfigured(
            state.config.constant_contact.missing_keys(),
        ))
    } else if state.config.constant_contact.flow == ConnectFlow::Device {
        device::begin(state, link).await
    } else {
        begin(state, link).await
    };
    started.unwrap_or_else(IntoResponse::into_response)
}

async fn begin(state: &Connector, link_id: Option<String>) -> Result<Response, ConnectError> {
    let (authorize_url, csrf_state, verifier) = state.keeper.oauth().authorize_url();
    let browser_key = random_token(32);
    let now = state.clock.now();
    let pending = PendingAuthorization {
        browser_key: browser_key.clone(),
        pkce_verifier: state.keeper.cipher().seal(&verifier, "pkce_verifier"),
        expires_at: now + AUTHORIZATION_TTL,
        link_id,
    };
    state
        .store
        .insert_pending_authorization(&csrf_state, &pending, now)
        .await
        .map_err(ConnectError::NotStarted)?;
    let cookie = browser_cookie(state, &browser_key, &callback_path(&state.config));
    tracing::info!("authorization started; browser sent to Constant Contact");
    let headers = [
        (LOCATION, header(authorize_url.as_str())),
        (SET_COOKIE, header(&cookie)),
    ];
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

/// The cookie that binds an authorization to this browser, sent only to `path`.
fn browser_cookie(state: &Connector, browser_key: &str, path: &str) -> String {
    let secure = if state.config.server.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{BROWSER_COOKIE}={browser_key}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        AUTHORIZATION_TTL.num_seconds()
    )
}

/// `GET /oauth/callback`.
pub async fn callback(
    State(state): State<Connector>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    match finish(&state, &headers, &params).await {
        Ok((connected, console)) => {
            let clear = format!(
                "{BROWSER_COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Lax",
                callback_path(&state.config)
            );
            let page = connected_page(&state.config, &connected, console);
            ([(SET_COOKIE, header(&clear))], page).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Verify the state, exchange the code, store the token set. Returns the connection, and whether
/// the console started it (a link's visitor has no console to go back to).
async fn finish(
    state: &Connector,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(Connected, bool), ConnectError> {
    let csrf_state = params
        .get("state")
        .ok_or(ConnectError::refused("The answer has no state."))?;
    let pending = state
        .store
        .take_pending_authorization(csrf_state)
        .await
        .map_err(ConnectError::StateUnreadable)?
        .ok_or(ConnectError::Refused {
            message: "This authorization is unknown or was already used.",
            logged: Some("callback with an unknown or already used state"),
        })?;
    if pending.expires_at <= state.clock.now() {
        return Err(ConnectError::refused(
            "This authorization expired (it must be finished within 10 minutes).",
        ));
    }
    if browser_key(headers).as_deref() != Some(pending.browser_key.as_str()) {
        return Err(ConnectError::Refused {
            message: "This authorization was started in a different browser.",
            logged: Some(
                "callback from a browser other than the one that started the authorization",
            ),
        });
    }
    if let Some(error) = params.get("error") {
        return Err(ConnectError::Denied {
            error: error.clone(),
            description: params.get("error_description").cloned().unwrap_or_default(),
        });
    }
    let code = params.get("code").ok_or(ConnectError::refused(
        "The answer has no authorization code.",
    ))?;
    let verifier = state
        .keeper
        .cipher()
        .open(&pending.pkce_verifier, "pkce_verifier")
        .map_err(ConnectError::Unsealable)?;
    let grant = state
        .keeper
        .oauth()
        .exchange_code(code, &verifier)
        .await
        .map_err(ConnectError::Exchange)?;
    let via = match &pending.link_id {
        Some(link) => {
            links::consume(state, link).await?;
            AuthorizedVia::Link
        }
        None => AuthorizedVia::Browser,
    };
    let connected = state.adopt(&grant, via).await?;
    Ok((connected, via != AuthorizedVia::Link))
}

/// The path the browser comes back to (the redirect URI's, so a `public_url` with a path prefix
/// behind a reverse proxy still gets the cookie).
fn callback_path(config: &Config) -> String {
    config.server.redirect_uri().path().to_owned()
}

fn browser_key(headers: &HeaderMap) -> Option<String> {
    cookie(headers, BROWSER_COOKIE)
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("URLs and cookies built here are valid header values")
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    (status, pages::notice(title, title, text)).into_response()
}
