//! The admin console under `/admin`: connection state and Connect / Reconnect / Disconnect, the
//! queue and deliveries, dead signups with retry buttons, and a copy-paste snippet per form. Also
//! the public landing page at `/`.
//!
//! Who may see it and how its buttons are protected is `session`'s business; what the pages look
//! like is `views`'. Every handler here authenticates first and reads or changes the store after.

pub mod session;
mod snippet;
mod views;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::alerts::AlertKind;
use crate::domain::SignupState;
use crate::pages;
use crate::startup::{AppState, Route};
use crate::status::Status;
use session::see_other;
use views::Overview;

/// How many signups the console lists.
const LIST_LIMIT: u32 = 50;

/// The landing page and the console's routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, "/", landing),
        Route::new(Method::GET, "/admin", overview),
        Route::new(Method::GET, "/admin/", || async { see_other("/admin") }),
        Route::new(Method::GET, "/admin/login", login_page),
        Route::new(Method::POST, "/admin/login", login),
        Route::new(Method::POST, "/admin/logout", logout),
        Route::new(Method::POST, "/admin/connect", connect),
        Route::new(Method::POST, "/admin/disconnect", disconnect),
        Route::new(Method::GET, "/admin/signups", signups),
        Route::new(Method::POST, "/admin/signups/retry", retry_all),
        Route::new(Method::POST, "/admin/signups/{id}/retry", retry_one),
        Route::new(Method::GET, "/admin/forms", forms),
    ]
}

/// `GET /`: what this is, and where the admin goes. Nothing private.
async fn landing(State(state): State<AppState>) -> Html<String> {
    let demo = if state.demo_page {
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

async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let admin = match session::authenticate(&state, &headers).await {
        Ok(admin) => admin,
        Err(denied) => return denied,
    };
    let now = state.clock.now();
    let status = Status::gather(&state.config, &state.store, now, true).await;
    let delivered_last_hour = state
        .store
        .delivered_since(now - chrono::Duration::hours(1))
        .await
        .ok();
    let delivered_last_day = state
        .store
        .delivered_since(now - chrono::Duration::days(1))
        .await
        .ok();
    let data = Overview {
        status,
        delivered_last_hour,
        delivered_last_day,
        account_check: state.account_check.lock().expect("check lock").clone(),
        pause: state.delivery.pause(),
        now,
    };
    let notice = match query.as_deref() {
        Some("disconnected") => Some(
            "Disconnected: the tokens are forgotten. Signups are still accepted and wait for the next connection.",
        ),
        _ => None,
    };
    admin.finish(views::overview(&admin, &state.config, &data, notice).into_response())
}

async fn signups(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let admin = match session::authenticate(&state, &headers).await {
        Ok(admin) => admin,
        Err(denied) => return denied,
    };
    let dead = state
        .store
        .recent_signups(Some(SignupState::Dead), LIST_LIMIT)
        .await;
    let recent = state.store.recent_signups(None, LIST_LIMIT).await;
    let (Ok(dead), Ok(recent)) = (dead, recent) else {
        return unavailable();
    };
    // `?requeued=N` after a retry button: only a number is ever shown.
    let notice = query
        .as_deref()
        .and_then(|q| q.strip_prefix("requeued="))
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| format!("{n} signup(s) requeued for delivery."));
    admin.finish(views::signups(&admin, &dead, &recent, notice.as_deref()).into_response())
}

async fn forms(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let admin = match session::authenticate(&state, &headers).await {
        Ok(admin) => admin,
        Err(denied) => return denied,
    };
    let list_names: BTreeMap<Uuid, String> = state
        .account_check
        .lock()
        .expect("check lock")
        .as_ref()
        .map(|check| check.list_names.clone())
        .unwrap_or_default();
    admin.finish(views::forms(&admin, &state.config, &list_names).into_response())
}

async fn login_page(State(state): State<AppState>) -> Response {
    let enabled = !state.config.admin.password_hash.expose_secret().is_empty();
    no_store(views::login(None, enabled).into_response())
}

/// `POST /admin/login`: the admin's user name and password start a session.
async fn login(State(state): State<AppState>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let enabled = !state.config.admin.password_hash.expose_secret().is_empty();
    let user = field("username");
    let password = SecretString::from(field("password"));
    if !crate::admin_auth::verify(&state.config.admin, user, password).await {
        tracing::warn!("admin login failed");
        let page = views::login(Some("Wrong user name or password."), enabled);
        let mut response = no_store((StatusCode::FORBIDDEN, page).into_response());
        // Counted by the login backoff like a refused HTTP Basic attempt.
        response
            .extensions_mut()
            .insert(crate::admin_auth::AdminAuthFailed);
        return response;
    }
    match session::start(&state).await {
        Ok(admin) => {
            tracing::info!("admin logged in");
            admin.finish(see_other("/admin"))
        }
        Err(()) => unavailable(),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let admin = match session::authorize_post(&state, &headers, &parse_form(&body)).await {
        Ok(admin) => admin,
        Err(denied) => return denied,
    };
    let clear = session::end(&state, &admin).await;
    let mut response = see_other("/admin/login");
    response.headers_mut().insert(SET_COOKIE, clear);
    response
}

/// `POST /admin/connect`: the Connect / Reconnect button; the same flow as `GET /connect`.
async fn connect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(denied) = session::authorize_post(&state, &headers, &parse_form(&body)).await {
        return denied;
    }
    crate::connect::start_authorization(&state).await
}

/// `POST /admin/disconnect`: forget the token set. Signups keep being accepted and queued.
async fn disconnect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(denied) = session::authorize_post(&state, &headers, &parse_form(&body)).await {
        return denied;
    }
    match state.store.forget_token_set().await {
        Ok(_) => {
            *state.account_check.lock().expect("check lock") = None;
            tracing::warn!(
                "disconnected from Constant Contact by an admin; signups will wait for a new connection"
            );
            see_other("/admin?disconnected")
        }
        Err(error) => {
            tracing::error!(%error, "could not forget the token set");
            unavailable()
        }
    }
}

async fn retry_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = session::authorize_post(&state, &headers, &parse_form(&body)).await {
        return denied;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    };
    requeue(&state, Some(id)).await
}

async fn retry_all(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(denied) = session::authorize_post(&state, &headers, &parse_form(&body)).await {
        return denied;
    }
    requeue(&state, None).await
}

/// Requeue dead and failed signups (or one), wake the worker, and go back to the list.
async fn requeue(state: &AppState, id: Option<Uuid>) -> Response {
    match state.store.requeue(true, id, state.clock.now()).await {
        Ok(requeued) => {
            if requeued > 0 {
                state.new_signup.notify_one();
                state.alerts.raise(
                    AlertKind::DeadSignupsRequeued,
                    format!("An admin requeued {requeued} dead or failed signup(s) for delivery."),
                );
            }
            see_other(&format!("/admin/signups?requeued={requeued}"))
        }
        Err(error) => {
            tracing::error!(%error, "requeue failed");
            unavailable()
        }
    }
}

/// An `application/x-www-form-urlencoded` body, whatever its declared type (a missing or wrong
/// type must end in the CSRF refusal, not in a different error).
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn unavailable() -> Response {
    no_store(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            pages::notice(
                "Try again",
                "Try again",
                "The database is unavailable right now.",
            ),
        )
            .into_response(),
    )
}
