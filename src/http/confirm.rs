//! `GET` and `POST /confirm/{token}`: the link in a confirmation mail.
//!
//! The GET only shows a page with a button: mail scanners and link previews open links, and must
//! not subscribe anyone. The POST confirms, once; the token itself authorises it (no session, no
//! CSRF token: a forged post would need the secret link). Both are rate limited per client like
//! the signup route. The path holds a secret: the request log leaves it out (`loggable_path`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRef, Path, State};
use axum::http::header::{LOCATION, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::pages::{escape, layout, notice};
use crate::abuse::Abuse;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::consent::confirm;
use crate::consent::texts::{lists_text, site_name};
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::signup::consent::client_details;
use crate::store::{ConfirmLink, Confirmation, ConfirmedBy, Store};

/// What the confirmation pages need of the application.
#[derive(Clone)]
pub struct ConfirmState {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    delivery: DeliveryWorker,
    account: AccountChecker,
    abuse: Arc<Abuse>,
}

impl FromRef<AppState> for ConfirmState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            delivery: state.delivery.clone(),
            account: state.account.clone(),
            abuse: state.abuse.clone(),
        }
    }
}

/// `GET /confirm/{token}`: what the link leads to, and a button. Confirms nothing.
pub async fn page(
    State(state): State<ConfirmState>,
    token: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let token = match admitted(&state, peer, &headers, token) {
        Ok(token) => token,
        Err(refused) => return *refused,
    };
    match confirm::look_up(&state.store, &token, state.clock.now()).await {
        Ok(ConfirmLink::Valid { form_id, list_ids }) => {
            let names = state
                .account
                .latest()
                .map(|check| check.list_names)
                .unwrap_or_default();
            let lists = match state.config.form(&form_id) {
                Some(form) => lists_text(form, &list_ids, &names),
                None => crate::consent::texts::DEFAULT_LISTS.to_owned(),
            };
            (
                StatusCode::OK,
                button_page(&site_name(&state.config), &lists),
            )
                .into_response()
        }
        Ok(ConfirmLink::Used) => already_confirmed(),
        Ok(ConfirmLink::Expired) => expired(),
        Ok(ConfirmLink::Unknown) => unknown(),
        Err(error) => unavailable(&error),
    }
}

/// `POST /confirm/{token}`: confirm once, then the form's `confirmed_url` or a built-in page.
pub async fn submit(
    State(state): State<ConfirmState>,
    token: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let token = match admitted(&state, peer, &headers, token) {
        Ok(token) => token,
        Err(refused) => return *refused,
    };
    // Kept as `[privacy]` says, exactly like the signup's own client details.
    let (client, user_agent) = client_details(
        &state.config.privacy,
        state.config.server.client_ip(peer, &headers),
        &headers,
    );
    let client = client.map(|ip| ip.to_string());
    let by = ConfirmedBy {
        client_ip: client.as_deref(),
        user_agent: user_agent.as_deref(),
    };
    match confirm::confirm(&state.store, &token, &by, state.clock.now()).await {
        Ok(Confirmation::Confirmed { form_id, .. }) => {
            state.delivery.signup_queued();
            match state
                .config
                .form(&form_id)
                .and_then(|f| f.confirmed_url.as_ref())
            {
                Some(url) => redirect(url.as_str()),
                None => (
                    StatusCode::OK,
                    notice(
                        "Subscribed",
                        "You're subscribed",
                        &format!(
                            "Thank you: your subscription to {} is confirmed.",
                            site_name(&state.config)
                        ),
                    ),
                )
                    .into_response(),
            }
        }
        Ok(Confirmation::AlreadyConfirmed) => already_confirmed(),
        Ok(Confirmation::Expired) => expired(),
        Ok(Confirmation::Unknown) => unknown(),
        Err(error) => unavailable(&error),
    }
}

/// The page a valid link shows: one button that posts to the same address.
fn button_page(site: &str, lists: &str) -> Html<String> {
    layout(
        "Confirm your subscription",
        &format!(
            "<h1>Confirm your subscription</h1>\n\
             <p>Subscribe this address to {lists} from {site}?</p>\n\
             <form method=\"post\"><button type=\"submit\" id=\"confirm\">Confirm my subscription</button></form>\n\
             <p>If you did not ask for this, close this page: nothing happens.</p>",
            lists = escape(lists),
            site = escape(site),
        ),
    )
}

fn already_confirmed() -> Response {
    (
        StatusCode::OK,
        notice(
            "Already confirmed",
            "Already confirmed",
            "This subscription is already confirmed. There is nothing more to do.",
        ),
    )
        .into_response()
}

fn expired() -> Response {
    (
        StatusCode::GONE,
        notice(
            "Link expired",
            "This link has expired",
            "Nothing was subscribed. To subscribe, please sign up again on the form.",
        ),
    )
        .into_response()
}

fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        notice(
            "Unknown link",
            "This link is not known",
            "It may have been replaced by a newer signup, or copied incompletely. Nothing was subscribed.",
        ),
    )
        .into_response()
}

fn unavailable(error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "a confirmation link could not be looked up; answered 503");
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        notice(
            "Try again",
            "Please try again in a moment",
            "The service could not look up this link just now. Nothing has changed.",
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The signup route's per-client limit: a 429 page, or `None` to go on.
/// Both routes: the per-client rate limit first, then the token from the path. A path that is not
/// even text (`%ff`) is as unknown as any other wrong token.
fn admitted(
    state: &ConfirmState,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: Result<Path<String>, PathRejection>,
) -> Result<String, Box<Response>> {
    if let Some(refused) = rate_limited(state, peer, headers) {
        return Err(Box::new(refused));
    }
    token
        .map(|Path(token)| token)
        .map_err(|_| Box::new(unknown()))
}

fn rate_limited(state: &ConfirmState, peer: SocketAddr, headers: &HeaderMap) -> Option<Response> {
    let client = state.config.server.client_ip(peer, headers);
    let error = state.abuse.admit_client(client).err()?;
    let seconds = error
        .retry_after
        .map_or(1, |wait| wait.as_millis().div_ceil(1000).max(1) as u64);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        notice(
            "Too many requests",
            "Too many requests",
            "Please wait a moment and try again.",
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    Some(response)
}
