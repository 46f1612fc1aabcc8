//! The admin console under `/admin`: connection state and Connect / Reconnect / Disconnect, the
//! queue and deliveries, dead signups with retry buttons, and a copy-paste snippet per form. Also
//! the public landing page at `/`.
//!
//! Who may see it and how its buttons are protected is `session`'s business (extractors in the
//! handlers' signatures); what the pages look like is `views`'. Every route here but `/` is
//! private (`Cache-Control: no-store`, set by the route table).

pub mod charts;
mod checklist;
mod consent_view;
pub mod credentials;
mod links;
mod privacy;
pub mod session;
mod snippet;
mod views;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts as _, Path, RawQuery, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use secrecy::SecretString;
use uuid::Uuid;

use super::{AppState, DemoMode, Route, no_store, pages};
use crate::alerts::{AlertKind, Alerts};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::domain::SignupState;
use crate::status::Status;
use crate::store::Store;
use crate::tokens::TokenKeeper;
use session::{Admin, CsrfForm, Sessions, see_other};
use views::Overview;

/// How many signups the console lists.
const LIST_LIMIT: u32 = 50;

/// The landing page and the console's routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::public(Method::GET, "/", landing),
        Route::private(Method::GET, "/admin", overview),
        Route::private(Method::GET, "/admin/", || async { see_other("/admin") }),
        Route::private(Method::GET, "/admin/login", login_page),
        Route::private(Method::POST, "/admin/login", login),
        Route::private(Method::POST, "/admin/logout", logout),
        Route::private(Method::POST, "/admin/disconnect", disconnect),
        Route::private(Method::GET, "/admin/signups", signups),
        Route::private(Method::POST, "/admin/signups/retry", retry_all),
        Route::private(Method::POST, "/admin/signups/{id}/retry", retry_one),
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

/// `GET /`: what this is, and where the admin goes. Nothing private.
async fn landing(State(demo): State<DemoMode>) -> Html<String> {
    let demo = if demo.enabled {
        "<p>This is a demo: try the <a href=\"/demo\">demo signup form</a>.</p>\n"
    } else {
        ""
    };
    pages::layout(
        "ccbridge",
        &format!(
            "<h1>ccbridge</h1>\n<p>This service receives signups from this site's forms and delivers them to the site owner's Constant Contact account.</p>\n{demo}<p>Administrators: <a href=\"/admin\">admin console</a>.</p>"
        ),
    )
}

// One extractor per substate, as the other handlers take them.
#[allow(clippy::too_many_arguments)]
async fn overview(
    admin: Admin,
    State(config): State<Arc<Config>>,
    State(store): State<Store>,
    State(clock): State<SharedClock>,
    State(account): State<AccountChecker>,
    State(delivery): State<DeliveryWorker>,
    State(keeper): State<TokenKeeper>,
    request: axum::http::request::Parts,
) -> Response {
    let now = clock.now();
    let status = Status::gather(&config, &store, now, true).await;
    let charts =
        charts::ChartsData::gather(&store, &keeper, &status, config.delivery.max_age, now).await;
    let delivered_last_hour = store
        .delivered_since(now - chrono::Duration::hours(1))
        .await
        .ok();
    let delivered_last_day = store
        .delivered_since(now - chrono::Duration::days(1))
        .await
        .ok();
    let data = Overview {
        status,
        delivered_last_hour,
        delivered_last_day,
        account_check: account.latest(),
        pause: delivery.pause(),
        charts,
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

async fn signups(
    admin: Admin,
    State(store): State<Store>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let dead = store
        .recent_signups(Some(SignupState::Dead), LIST_LIMIT)
        .await
        .context("listing dead signups")?;
    let recent = store
        .recent_signups(None, LIST_LIMIT)
        .await
        .context("listing recent signups")?;
    // `?requeued=N` after a retry button: only a number is ever shown.
    let notice = query
        .as_deref()
        .and_then(|q| q.strip_prefix("requeued="))
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| format!("{n} signup(s) requeued for delivery."));
    Ok(admin.finish(views::signups(&admin, &dead, &recent, notice.as_deref())))
}

async fn forms(
    admin: Admin,
    State(config): State<Arc<Config>>,
    State(account): State<AccountChecker>,
) -> Response {
    let list_names: BTreeMap<Uuid, String> = account
        .latest()
        .map(|check| check.list_names)
        .unwrap_or_default();
    admin.finish(views::forms(&admin, &config, &list_names))
}

async fn login_page(State(sessions): State<Sessions>) -> Html<String> {
    views::login(None, sessions.login_enabled())
}

/// `POST /admin/login`: the admin's user name and password start a session.
async fn login(State(sessions): State<Sessions>, body: Bytes) -> Result<Response, ConsoleError> {
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
    Ok(admin.finish(see_other("/admin")))
}

/// `POST /admin/logout`: end this session, or with `everywhere=1` every session (any browser,
/// any replica).
async fn logout(State(sessions): State<Sessions>, form: CsrfForm) -> Response {
    let everywhere = form
        .fields
        .iter()
        .any(|(name, value)| name == "everywhere" && value == "1");
    let clear = sessions.end(&form.admin, everywhere).await;
    let mut response = see_other("/admin/login");
    response.headers_mut().insert(SET_COOKIE, clear);
    response
}

/// `POST /admin/disconnect`: forget the token set. Signups keep being accepted and queued.
async fn disconnect(
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
    Ok(see_other("/admin?disconnected"))
}

/// What a retry button needs of the application.
#[derive(Clone)]
struct Requeue {
    store: Store,
    clock: SharedClock,
    delivery: DeliveryWorker,
    alerts: Alerts,
}

impl FromRef<AppState> for Requeue {
    fn from_ref(state: &AppState) -> Self {
        Self {
            store: state.store.clone(),
            clock: state.clock.clone(),
            delivery: state.delivery.clone(),
            alerts: state.alerts.clone(),
        }
    }
}

async fn retry_one(
    State(requeue): State<Requeue>,
    Path(id): Path<String>,
    _: CsrfForm,
) -> Result<Response, ConsoleError> {
    let id = Uuid::parse_str(&id).map_err(|_| ConsoleError::NotFound)?;
    requeue.run(Some(id)).await
}

async fn retry_all(State(requeue): State<Requeue>, _: CsrfForm) -> Result<Response, ConsoleError> {
    requeue.run(None).await
}

impl Requeue {
    /// Requeue dead and failed signups (or one), wake the worker, and go back to the list.
    async fn run(&self, id: Option<Uuid>) -> Result<Response, ConsoleError> {
        let requeued = self
            .store
            .requeue(true, id, self.clock.now())
            .await
            .context("requeueing signups")?;
        if requeued > 0 {
            self.delivery.signup_queued();
            self.alerts.raise(
                AlertKind::DeadSignupsRequeued,
                format!("An admin requeued {requeued} dead or failed signup(s) for delivery."),
            );
        }
        Ok(see_other(&format!("/admin/signups?requeued={requeued}")))
    }
}
