//! What wraps every route: security headers, the admin login backoff, and `no-store` for the
//! private routes. Handlers never repeat these.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::admin::credentials::AdminAuthFailed;
use super::{AppState, pages};
use crate::abuse::Abuse;
use crate::abuse::headers::SecurityHeaders;
use crate::config::Config;

/// What the backoff needs of the application.
#[derive(Clone)]
pub struct Backoff {
    config: Arc<Config>,
    abuse: Arc<Abuse>,
}

impl FromRef<AppState> for Backoff {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            abuse: state.abuse.clone(),
        }
    }
}

/// The admin login backoff (`abuse::admin_backoff`) around every route: refuse waiting clients
/// that send credentials; count refused logins (answers marked [`AdminAuthFailed`]).
pub async fn admin_backoff(State(state): State<Backoff>, request: Request, next: Next) -> Response {
    // Credentials come in an Authorization header (HTTP Basic) or in the console's login form.
    let login_form = request.method() == Method::POST && request.uri().path() == "/admin/login";
    if !request.headers().contains_key(AUTHORIZATION) && !login_form {
        return next.run(request).await;
    }
    let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    else {
        return next.run(request).await;
    };
    let ip = state.config.server.client_ip(peer, request.headers());
    let backoff = state.abuse.admin_backoff();
    if let Err(wait) = backoff.check(ip, Instant::now()) {
        return too_many_failures(wait);
    }
    let response = next.run(request).await;
    if response.extensions().get::<AdminAuthFailed>().is_some()
        && let Some(wait) = backoff.failed(ip, Instant::now())
    {
        tracing::warn!(
            wait = %humantime::format_duration(Duration::from_secs(wait.as_secs())),
            "repeated admin login failures from one client address; it must wait"
        );
    }
    response
}

fn too_many_failures(wait: Duration) -> Response {
    let seconds = wait.as_millis().div_ceil(1000).max(1) as u64;
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        pages::notice(
            "Too many attempts",
            "Too many failed logins",
            &format!("Please wait {seconds} seconds before trying again."),
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    no_store(response)
}

/// Security headers on every answer (`abuse::headers`).
pub async fn security_headers(
    State(headers): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    headers.apply(response.headers_mut());
    response
}

/// `Cache-Control: no-store`: nothing private may be kept by a browser or a proxy. The route
/// table applies it to every private route; the few answers made outside a route use it directly.
pub fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// [`no_store`] as a route layer.
pub async fn no_store_layer(response: Response) -> Response {
    no_store(response)
}
