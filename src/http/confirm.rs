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
use axum::http::header::{ACCEPT_LANGUAGE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use ccbridge_layout::html;

use super::AppState;
use super::pages::{Visitor, respond};
use super::signup::back;
use crate::abuse::Abuse;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::consent::confirm;
use crate::consent::texts::{lists_text, site_name};
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::i18n::{Arg, Language, Texts};
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
    let visitor = visitor(&state, &token, &headers).await;
    match confirm::look_up(&state.store, &token, state.clock.now()).await {
        Ok(ConfirmLink::Valid { form_id, list_ids }) => {
            let names = state
                .account
                .latest()
                .map(|check| check.list_names)
                .unwrap_or_default();
            let lists = match state.config.form(&form_id) {
                Some(form) => lists_text(form, &list_ids, &names, &visitor.texts),
                None => visitor.texts.get("mail-default-lists"),
            };
            let page = button_page(&visitor, &site_name(&state.config), &lists);
            respond(StatusCode::OK, page)
        }
        Ok(ConfirmLink::Used) => already_confirmed(&visitor),
        Ok(ConfirmLink::Expired) => expired(&visitor),
        Ok(ConfirmLink::Unknown) => unknown(&visitor),
        Err(error) => unavailable(&visitor, &error),
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
    let visitor = visitor(&state, &token, &headers).await;
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
                None => {
                    let site = site_name(&state.config);
                    let text = visitor
                        .texts
                        .with("confirmed-text", &[("site", Arg::Text(site))]);
                    respond(StatusCode::OK, visitor.message("confirmed-title", &text))
                }
            }
        }
        Ok(Confirmation::AlreadyConfirmed) => already_confirmed(&visitor),
        Ok(Confirmation::Expired) => expired(&visitor),
        Ok(Confirmation::Unknown) => unknown(&visitor),
        Err(error) => unavailable(&visitor, &error),
    }
}

/// Whom a link's pages speak to: in the language its signup's visitor was spoken to in (else the
/// form's locale, else this browser's `Accept-Language`), with the link back to the page the
/// form was on when that page is one of the form's allowed origins.
async fn visitor<'a>(state: &'a ConfirmState, token: &str, headers: &HeaderMap) -> Visitor<'a> {
    let context = if confirm::well_formed(token) {
        let hash = crate::password::token_hash(token);
        // Only the words depend on it: a store that cannot answer leaves the browser's choice.
        state.store.link_page_context(&hash).await.ok().flatten()
    } else {
        None
    };
    let form = context.as_ref().and_then(|c| state.config.form(&c.form_id));
    let language = context
        .as_ref()
        .and_then(|c| c.page_language.as_deref())
        .and_then(Language::from_code)
        .or_else(|| form.and_then(|f| f.locale))
        .unwrap_or_else(|| browser_language(headers));
    let back = form.zip(context.as_ref().and_then(|c| c.source_page.as_deref()));
    let back = back.and_then(|(form, page)| back::allowed(form, page));
    let texts = form.map_or(Texts::new(language, None), |f| f.texts(language));
    Visitor::new(texts, back)
}

/// The language this browser asks for.
fn browser_language(headers: &HeaderMap) -> Language {
    Language::choose(
        None,
        headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    )
}

/// The page a valid link shows: one button that posts to the same address.
fn button_page(visitor: &Visitor<'_>, site: &str, lists: &str) -> Html<String> {
    let t = &visitor.texts;
    let question = t.with(
        "confirm-question",
        &[("lists", lists.into()), ("site", site.into())],
    );
    visitor.page(
        &t.get("confirm-title"),
        html! {
            h1 { (t.get("confirm-title")) }
            p { (question) }
            form method="post" {
                button type="submit" id="confirm" { (t.get("confirm-button")) }
            }
            p { (t.get("confirm-ignore")) }
        },
    )
}

fn already_confirmed(visitor: &Visitor<'_>) -> Response {
    let text = visitor.texts.get("already-confirmed-text");
    respond(
        StatusCode::OK,
        visitor.message("already-confirmed-title", &text),
    )
}

fn expired(visitor: &Visitor<'_>) -> Response {
    let text = visitor.texts.get("link-expired-text");
    respond(
        StatusCode::GONE,
        visitor.message("link-expired-title", &text),
    )
}

fn unknown(visitor: &Visitor<'_>) -> Response {
    let text = visitor.texts.get("link-unknown-text");
    respond(
        StatusCode::NOT_FOUND,
        visitor.message("link-unknown-title", &text),
    )
}

fn unavailable(visitor: &Visitor<'_>, error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "a confirmation link could not be looked up; answered 503");
    let text = visitor.texts.get("try-again-text");
    let mut response = respond(
        StatusCode::SERVICE_UNAVAILABLE,
        visitor.message("try-again-title", &text),
    );
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
        .map_err(|_| Box::new(unknown(&Visitor::plain(browser_language(headers)))))
}

fn rate_limited(state: &ConfirmState, peer: SocketAddr, headers: &HeaderMap) -> Option<Response> {
    let client = state.config.server.client_ip(peer, headers);
    let error = state.abuse.admit_client(client).err()?;
    let seconds = error
        .retry_after
        .map_or(1, |wait| wait.as_millis().div_ceil(1000).max(1) as u64);
    let visitor = Visitor::plain(browser_language(headers));
    let text = visitor.texts.get("too-many-requests-text");
    let mut response = respond(
        StatusCode::TOO_MANY_REQUESTS,
        visitor.message("too-many-requests-title", &text),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    Some(response)
}
