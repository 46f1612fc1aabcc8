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

use super::admin::session::{Admin, CSRF_FIELD, CsrfForm, cookie};
use super::{AppState, pages};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::constant_contact::{ApiClient, OAuthError};
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::password::random_token;
use crate::store::{PendingAuthorization, Store, StoreError};
use crate::tokens::{CipherError, TokenError, TokenKeeper};

/// How long an authorization may take from `/connect` to the callback.
const AUTHORIZATION_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// How long the callback waits for the account's name before showing the page without it.
const ACCOUNT_NAME_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
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
    /// A new token set was stored by an authorization: queued signups can flow, and the
    /// configured ids are checked against the (possibly different) account.
    fn connected(&self) {
        self.delivery.connection_made();
        self.account.check_soon();
    }
}

/// `GET /connect`: the confirmation page, for an admin (console session, or HTTP Basic in a
/// browser, which gets a session here so that the button works). Changes nothing.
pub async fn confirm(admin: Admin, State(connector): State<Connector>) -> Response {
    if !connector.config.constant_contact.is_configured() {
        return admin.finish(ConnectError::NotConfigured);
    }
    let Some(csrf) = &admin.csrf else {
        // A script with Basic credentials: it has no session, so no button would work for it.
        return page(
            StatusCode::OK,
            "Connect",
            "Connecting happens in a browser: open /connect or the console (/admin) in one and press Connect.",
        );
    };
    let current = match connector.store.token_set().await {
        Ok(Some(set)) => Some(
            set.account_name
                .unwrap_or_else(|| "a Constant Contact account".to_owned()),
        ),
        Ok(None) => None,
        Err(error) => return ConnectError::StateUnreadable(error).into_response(),
    };
    admin.finish(confirmation_page(csrf, current.as_deref()))
}

/// The page with the one button that starts connecting (a POST with the session's CSRF token).
fn confirmation_page(csrf: &str, current: Option<&str>) -> axum::response::Html<String> {
    let replaces = match current {
        Some(account) => format!(
            "<p>ccbridge is connected to <strong>{}</strong> now; connecting replaces that connection with the account you log in to at Constant Contact.</p>",
            pages::escape(account)
        ),
        None => "<p>ccbridge is not connected yet.</p>".to_owned(),
    };
    let body = format!(
        "<h1>Connect to Constant Contact</h1>\n{replaces}\n<p>You will be sent to Constant Contact to log in and approve ccbridge, then back here.</p>\n\
         <form method=\"post\" action=\"/connect\"><input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\"><button type=\"submit\" id=\"connect\">Connect</button></form>\n\
         <p><a href=\"/admin\">Back to the admin console</a></p>",
        csrf = pages::escape(csrf),
    );
    pages::layout("Connect", &body)
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
    start_authorization(&connector).await
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
    /// `client_id` or `client_secret` is missing.
    NotConfigured,
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
    /// The grant came without a refresh token (no `offline_access`).
    NoRefreshToken,
    /// The token set could not be committed.
    NotSaved(TokenError),
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
            Self::NotConfigured | Self::NoRefreshToken | Self::Refused { logged: None, .. } => {}
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
            Self::NotSaved(error) => {
                tracing::error!(error = %error, "could not store the token set")
            }
        }
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        self.log();
        let (status, title, text) = match self {
            Self::NotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not configured",
                "constant_contact.client_id and constant_contact.client_secret must be set before connecting.".to_owned(),
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
                format!("{message} Start again at /connect."),
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
            Self::NoRefreshToken => (
                StatusCode::BAD_GATEWAY,
                "Not connected",
                "Constant Contact sent no refresh token, so the connection could not be kept alive. Make sure constant_contact.scopes includes offline_access.".to_owned(),
            ),
            Self::NotSaved(error) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Not connected",
                format!("The connection could not be saved: {error}."),
            ),
        };
        page(status, title, &text)
    }
}

/// Send the (already authenticated) admin's browser to the authorize endpoint.
async fn start_authorization(state: &Connector) -> Response {
    match begin(state).await {
        Ok(redirect) => redirect,
        Err(error) => error.into_response(),
    }
}

async fn begin(state: &Connector) -> Result<Response, ConnectError> {
    if !state.config.constant_contact.is_configured() {
        return Err(ConnectError::NotConfigured);
    }
    let (authorize_url, csrf_state, verifier) = state.keeper.oauth().authorize_url();
    let browser_key = random_token(32);
    let now = state.clock.now();
    let pending = PendingAuthorization {
        browser_key: browser_key.clone(),
        pkce_verifier: state.keeper.cipher().seal(&verifier, "pkce_verifier"),
        expires_at: now + AUTHORIZATION_TTL,
    };
    state
        .store
        .insert_pending_authorization(&csrf_state, &pending, now)
        .await
        .map_err(ConnectError::NotStarted)?;
    let secure = if state.config.server.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{BROWSER_COOKIE}={browser_key}; Path={}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        callback_path(&state.config),
        AUTHORIZATION_TTL.num_seconds()
    );
    tracing::info!("authorization started; browser sent to Constant Contact");
    let headers = [
        (LOCATION, header(authorize_url.as_str())),
        (SET_COOKIE, header(&cookie)),
    ];
    Ok((StatusCode::SEE_OTHER, headers).into_response())
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
        Ok(account) => {
            let body = format!(
                "<h1>Connected</h1>\n<p>ccbridge is connected to {}. Queued signups will now be delivered; you can close this page.</p>\n<p><a href=\"/admin\">Go to the admin console</a></p>",
                pages::escape(&account)
            );
            let clear = format!(
                "{BROWSER_COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Lax",
                callback_path(&state.config)
            );
            let page = pages::layout("Connected", &body);
            ([(SET_COOKIE, header(&clear))], page).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Verify the state, exchange the code, store the token set. Returns the account's name for the page.
async fn finish(
    state: &Connector,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<String, ConnectError> {
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
    if grant.refresh_token.is_none() {
        return Err(ConnectError::NoRefreshToken);
    }
    // Commit first: the code is spent and, from here on, these tokens are the connection.
    let generation = state
        .keeper
        .store_authorized(&grant, None)
        .await
        .map_err(ConnectError::NotSaved)?;
    tracing::info!(generation, scopes = %grant.scopes.join(" "), "connected to Constant Contact");
    state.connected();
    // The account's name is a nicety (it needs the account_read scope): briefly, and after the commit.
    let summary = tokio::time::timeout(
        ACCOUNT_NAME_WAIT,
        state.api.account_summary(&grant.access_token),
    )
    .await;
    let account = summary
        .ok()
        .and_then(Result::ok)
        .and_then(|s| s.organization_name);
    if let Some(name) = &account
        && let Err(e) = state.store.set_account_name(generation, name).await
    {
        tracing::warn!(error = %e, "could not store the account name");
    }
    Ok(account.unwrap_or_else(|| "your Constant Contact account".to_owned()))
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
