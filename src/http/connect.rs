//! Connecting ccbridge to the site owner's Constant Contact account, once, in a browser.
//!
//! `GET /connect` (admin only) starts an authorization code flow with PKCE: a single-use `state`,
//! expiring after ten minutes, stored server-side with the PKCE verifier and bound to the browser
//! that started it by a cookie. `GET /oauth/callback` checks all three before exchanging the code,
//! so a stranger can neither finish someone else's authorization nor connect their own account.
//! Both routes are private (`Cache-Control: no-store`, set by the route table).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRef, RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::admin::session::{SessionOrBasic, cookie};
use super::{AppState, pages};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::constant_contact::ApiClient;
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::password::random_token;
use crate::store::{PendingAuthorization, Store};
use crate::tokens::TokenKeeper;

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

/// `GET /connect`: for an admin with a console session or HTTP Basic credentials.
pub async fn connect(_: SessionOrBasic, State(connector): State<Connector>) -> Response {
    start_authorization(&connector).await
}

/// Send the (already authenticated) admin's browser to the authorize endpoint. Also the console's
/// Connect / Reconnect button.
pub async fn start_authorization(state: &Connector) -> Response {
    if !state.config.constant_contact.is_configured() {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not configured",
            "constant_contact.client_id and constant_contact.client_secret must be set before connecting.",
        );
    }
    let (authorize_url, csrf_state, verifier) = state.keeper.oauth().authorize_url();
    let browser_key = random_token(32);
    let now = state.clock.now();
    let pending = PendingAuthorization {
        browser_key: browser_key.clone(),
        pkce_verifier: state.keeper.cipher().seal(&verifier, "pkce_verifier"),
        expires_at: now + AUTHORIZATION_TTL,
    };
    if let Err(error) = state
        .store
        .insert_pending_authorization(&csrf_state, &pending, now)
        .await
    {
        tracing::error!(%error, "could not store the authorization state");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The database is unavailable right now.",
        );
    }
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
    (StatusCode::SEE_OTHER, headers).into_response()
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
        Err((status, message)) => page(status, "Not connected", &message),
    }
}

/// Verify the state, exchange the code, store the token set. Returns the account's name for the page.
async fn finish(
    state: &Connector,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<String, (StatusCode, String)> {
    let bad = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            format!("{message} Start again at /connect."),
        )
    };
    let csrf_state = params
        .get("state")
        .ok_or_else(|| bad("The answer has no state."))?;
    let pending = state
        .store
        .take_pending_authorization(csrf_state)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not read the authorization state");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable right now.".to_owned(),
            )
        })?
        .ok_or_else(|| {
            tracing::warn!("callback with an unknown or already used state");
            bad("This authorization is unknown or was already used.")
        })?;
    if pending.expires_at <= state.clock.now() {
        return Err(bad(
            "This authorization expired (it must be finished within 10 minutes).",
        ));
    }
    if browser_key(headers).as_deref() != Some(pending.browser_key.as_str()) {
        tracing::warn!("callback from a browser other than the one that started the authorization");
        return Err(bad(
            "This authorization was started in a different browser.",
        ));
    }
    if let Some(error) = params.get("error") {
        let description = params
            .get("error_description")
            .map(String::as_str)
            .unwrap_or("");
        tracing::warn!(error = %error, "Constant Contact did not authorize");
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "Constant Contact did not authorize ccbridge ({error}{}{description}). Nothing was changed.",
                if description.is_empty() { "" } else { ": " }
            ),
        ));
    }
    let code = params
        .get("code")
        .ok_or_else(|| bad("The answer has no authorization code."))?;
    let verifier = state
        .keeper
        .cipher()
        .open(&pending.pkce_verifier, "pkce_verifier")
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let grant = state
        .keeper
        .oauth()
        .exchange_code(code, &verifier)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "authorization code exchange failed");
            (
                StatusCode::BAD_GATEWAY,
                format!("Constant Contact did not accept the authorization: {e}."),
            )
        })?;
    if grant.refresh_token.is_none() {
        return Err((
            StatusCode::BAD_GATEWAY,
            "Constant Contact sent no refresh token, so the connection could not be kept alive. Make sure constant_contact.scopes includes offline_access.".to_owned(),
        ));
    }
    // Commit first: the code is spent and, from here on, these tokens are the connection.
    let generation = state
        .keeper
        .store_authorized(&grant, None)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not store the token set");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The connection could not be saved: {e}."),
            )
        })?;
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
    redirect_uri(config).path().to_owned()
}

/// `public_url` + `/oauth/callback`, keeping any path prefix of the public URL: the redirect URI
/// registered at Constant Contact.
pub fn redirect_uri(config: &Config) -> url::Url {
    let base = config.server.public_url.as_str().trim_end_matches('/');
    url::Url::parse(&format!("{base}/oauth/callback"))
        .expect("a valid base URL plus a path is valid")
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
