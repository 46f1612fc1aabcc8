//! The admin console under `/admin`: the overview (a status line with its reasons, the
//! connection with Connect / Reconnect and Disconnect behind a confirmation page, the worker, the
//! queue), the signups page (filters, search, retry and release with audit lines: `signups`), the
//! forms page with a snippet per form, connect links and privacy requests. Also the public landing
//! page at `/`.
//!
//! Who may see it and how its buttons are protected is `session`'s business (extractors in the
//! handlers' signatures); what the pages look like is `views`'; the status line's verdict is
//! `verdict`'s. Every route here but `/` is private (`Cache-Control: no-store`, set by the route
//! table), and every link and redirect goes through `config.server.path`.

pub mod charts;
mod checklist;
mod consent_view;
pub mod credentials;
mod links;
mod privacy;
pub mod session;
mod signups;
mod snippet;
mod verdict;
mod views;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts as _, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use ccbridge_layout::{Look, Shell, html};
use secrecy::SecretString;
use uuid::Uuid;

use super::{AppState, DemoMode, Route, no_store, pages};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::delivery::account_check::AccountChecker;
use crate::delivery::{DeliveryWorker, Pause};
use crate::status::Status;
use crate::store::Store;
use crate::tokens::TokenKeeper;
use session::{Admin, CsrfForm, Sessions, see_other};
use views::Overview;
/// The console's page shell, for the connect pages (`http::connect`).
pub(super) use views::{Nav, page as console_page};

/// The landing page and the console's routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::public(Method::GET, "/", landing),
        Route::private(Method::GET, "/admin", overview),
        Route::private(Method::GET, "/admin/", admin_slash),
        Route::private(Method::GET, "/admin/login", login_page),
        Route::private(Method::POST, "/admin/login", login),
        Route::private(Method::POST, "/admin/logout", logout),
        Route::private(Method::GET, "/admin/disconnect", disconnect_page),
        Route::private(Method::POST, "/admin/disconnect", disconnect),
        Route::private(Method::GET, "/admin/signups", signups::page),
        Route::private(
            Method::POST,
            "/admin/signups/retry",
            signups::retry_selected,
        ),
        Route::private(
            Method::POST,
            "/admin/signups/{id}/retry",
            signups::retry_one,
        ),
        Route::private(
            Method::POST,
            "/admin/signups/release",
            signups::release_selected,
        ),
        Route::private(
            Method::POST,
            "/admin/signups/{id}/release",
            signups::release_one,
        ),
        Route::private(Method::GET, "/admin/forms", forms),
        Route::private(Method::GET, "/admin/links", links::list),
        Route::private(Method::POST, "/admin/links", links::create),
        Route::private(Method::POST, "/admin/links/{id}/revoke", links::revoke),
        Route::private(
            Method::POST,
            "/admin/connection/confirm-switch",
            links::confirm_switch,
        ),
        Route::private(Method::GET, "/admin/privacy", privacy::page_for),
        Route::private(Method::GET, "/admin/privacy/export", privacy::download),
        Route::private(Method::POST, "/admin/privacy/erase", privacy::erase),
    ]
}

/// What can go wrong in a console handler once the admin is authenticated. Logged once, here.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not found")]
    NotFound,
    /// The database (or another dependency) failed; the context says doing what.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, pages::not_found()).into_response(),
            Self::Unavailable(error) => {
                tracing::error!(error = format!("{error:#}"), "console request failed");
                let page = pages::notice(
                    "Try again",
                    "Try again",
                    "The database is unavailable right now.",
                );
                (StatusCode::SERVICE_UNAVAILABLE, page).into_response()
            }
        }
    }
}

/// Whether `path` is the console's (`/admin` or below it).
fn is_console_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The router's fallback for a path no route has: below `/admin`, the same authentication as the
/// console's pages comes first (401 or the login page), so a stranger cannot map the console by
/// which paths answer 404; an admin then gets the 404. Elsewhere, the plain 404.
pub async fn unknown_path(State(sessions): State<Sessions>, request: Request) -> Response {
    behind_login(sessions, request, StatusCode::NOT_FOUND).await
}

/// The same for a console path asked with a method it does not have (405 once authenticated).
pub async fn unsupported_method(State(sessions): State<Sessions>, request: Request) -> Response {
    behind_login(sessions, request, StatusCode::METHOD_NOT_ALLOWED).await
}

async fn behind_login(sessions: Sessions, request: Request, status: StatusCode) -> Response {
    let answer = |status: StatusCode| match status {
        StatusCode::NOT_FOUND => (status, pages::not_found()).into_response(),
        _ => status.into_response(),
    };
    let (mut parts, _) = request.into_parts();
    if !is_console_path(parts.uri.path()) {
        return answer(status);
    }
    match Admin::from_request_parts(&mut parts, &sessions).await {
        Ok(admin) => no_store(admin.finish(answer(status))),
        Err(refusal) => no_store(refusal),
    }
}

/// `GET /admin/`: the overview's one address.
async fn admin_slash(State(config): State<Arc<Config>>) -> Response {
    see_other(&config.server.path("/admin"))
}

/// `GET /`: what this is, and where the admin goes. Nothing private.
async fn landing(State(demo): State<DemoMode>, State(config): State<Arc<Config>>) -> Html<String> {
    let body = html! {
        h1 { "ccbridge" }
        p {
            "This service receives signups from this site's forms and delivers them to the site \
             owner's Constant Contact account."
        }
        @if demo.enabled {
            p { "This is a demo: try the " a href=(config.server.path("/demo")) { "demo signup form" } "." }
        }
        p { "Administrators: " a href=(config.server.path("/admin")) { "admin console" } "." }
    };
    Html(
        Shell::new(Look::Visitor, "en", "ccbridge")
            .render(body)
            .into_string(),
    )
}

/// What the overview reads of the application.
#[derive(Clone)]
struct Watch {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    account: AccountChecker,
    delivery: DeliveryWorker,
    keeper: TokenKeeper,
}

impl FromRef<AppState> for Watch {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            account: state.account.clone(),
            delivery: state.delivery.clone(),
            keeper: state.keeper.clone(),
        }
    }
}

async fn overview(
    admin: Admin,
    State(watch): State<Watch>,
    request: axum::http::request::Parts,
) -> Response {
    let Watch {
        config,
        store,
        clock,
        account,
        delivery,
        keeper,
    } = watch;
    let now = clock.now();
    let status = Status::gather(&config, &store, now, true).await;
    let delivered_last_hour = store
        .delivered_since(now - chrono::Duration::hours(1))
        .await
        .ok();
    let delivered_last_day = store
        .delivered_since(now - chrono::Duration::days(1))
        .await
        .ok();
    let failing = store
        .failing(now)
        .await
        .inspect_err(|error| tracing::warn!(%error, "failing deliveries unavailable"))
        .ok();
    let next_refresh_at = match store.token_set().await {
        Ok(Some(set)) if set.state != "needs_reconnect" => Some(keeper.due_at(&set)),
        _ => None,
    };
    // A pause that ran out is over, even before the worker looks again.
    let pause = delivery
        .pause()
        .filter(|pause| !matches!(pause, Pause::Until { until, .. } if *until <= now));
    let charts =
        charts::ChartsData::gather(&store, &keeper, &status, config.delivery.max_age, now).await;
    let data = Overview {
        charts: Some(charts::section(&charts)),
        status,
        delivered_last_hour,
        delivered_last_day,
        account_check: account.latest(),
        pause,
        failing,
        next_refresh_at,
        now,
        host: request
            .headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let notice = match request.uri.query() {
        Some("disconnected") => Some(
            "Disconnected: the tokens are forgotten. Signups are still accepted and wait for the next connection.",
        ),
        Some("switch-confirmed") => {
            Some("Switch confirmed: queued signups now go to the newly connected account.")
        }
        Some("switch-changed") => Some(
            "Nothing was confirmed: the connection changed after the page was shown. Look at the account below again.",
        ),
        _ => None,
    };
    admin.finish(views::overview(&admin, &config, &data, notice))
}

/// `GET /admin/disconnect`: what Disconnect does, with the button that does it.
async fn disconnect_page(
    admin: Admin,
    State(config): State<Arc<Config>>,
    State(store): State<Store>,
) -> Result<Response, ConsoleError> {
    let set = store.token_set().await.context("reading the connection")?;
    let account = set.as_ref().and_then(|set| set.account_name.as_deref());
    Ok(admin.finish(views::disconnect_page(&admin, &config, account)))
}

async fn forms(
    admin: Admin,
    State(config): State<Arc<Config>>,
    State(store): State<Store>,
    State(clock): State<SharedClock>,
    State(account): State<AccountChecker>,
) -> Response {
    let latest = account.latest();
    // This process's check knows the lists' names; a replica's stored one only what is missing.
    let stored = match &latest {
        Some(_) => None,
        None => store.account_check().await.ok().flatten(),
    };
    let check = latest.as_ref().or(stored.as_ref());
    let list_names: BTreeMap<Uuid, String> = latest
        .as_ref()
        .map(|check| check.list_names.clone())
        .unwrap_or_default();
    let missing: Option<BTreeSet<Uuid>> =
        check.map(|check| check.missing_lists.iter().copied().collect());
    // Refused signups per form and reason since midnight UTC, from the per-hour counts (the
    // refusal counter writes them once a minute); none shown when the database cannot say.
    let midnight = clock
        .now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let refusals = store
        .refusals_by_form(midnight)
        .await
        .inspect_err(|error| tracing::warn!(%error, "refusal counts unavailable"))
        .unwrap_or_default();
    let page = views::FormsPage {
        list_names: &list_names,
        missing_lists: missing.as_ref(),
        refusals: &refusals,
    };
    admin.finish(views::forms(&admin, &config, &page))
}

async fn login_page(
    State(sessions): State<Sessions>,
    State(config): State<Arc<Config>>,
) -> Html<String> {
    views::login(&config, None, sessions.login_enabled())
}

/// `POST /admin/login`: the admin's user name and password start a session.
async fn login(
    State(sessions): State<Sessions>,
    State(config): State<Arc<Config>>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let password = SecretString::from(field("password"));
    let verified = match sessions.verify(field("username"), password).await {
        Ok(verified) => verified,
        Err(busy) => return Ok(busy),
    };
    if !verified {
        tracing::warn!("admin login failed");
        let page = views::login(
            &config,
            Some("Wrong user name or password."),
            sessions.login_enabled(),
        );
        // Counted by the login backoff like a refused HTTP Basic attempt.
        return Ok(credentials::failed(
            (StatusCode::FORBIDDEN, page).into_response(),
        ));
    }
    let admin = sessions.start().await?;
    tracing::info!("admin logged in");
    Ok(admin.finish(see_other(&config.server.path("/admin"))))
}

/// `POST /admin/logout`: end this session, or with `everywhere=1` every session (any browser,
/// any replica).
async fn logout(
    State(sessions): State<Sessions>,
    State(config): State<Arc<Config>>,
    form: CsrfForm,
) -> Response {
    let everywhere = form
        .fields
        .iter()
        .any(|(name, value)| name == "everywhere" && value == "1");
    let clear = sessions.end(&form.admin, everywhere).await;
    let mut response = see_other(&config.server.path("/admin/login"));
    response.headers_mut().insert(SET_COOKIE, clear);
    response
}

/// `POST /admin/disconnect`: forget the token set. Signups keep being accepted and queued.
async fn disconnect(
    State(config): State<Arc<Config>>,
    State(store): State<Store>,
    State(account): State<AccountChecker>,
    _: CsrfForm,
) -> Result<Response, ConsoleError> {
    store
        .forget_token_set()
        .await
        .context("forgetting the token set")?;
    account.forget();
    tracing::warn!(
        "disconnected from Constant Contact by an admin; signups will wait for a new connection"
    );
    Ok(see_other(&config.server.path("/admin?disconnected")))
}
