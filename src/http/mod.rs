//! The HTTP surface: the application state handlers draw from, the route table, the layers
//! around it, and the handlers themselves. The top of the stack below `startup`: only this module
//! knows `AppState`, and each handler extracts just the part it uses (a `FromRef` substate, as in
//! axum's examples), so what a handler can touch is in its signature.
//!
//! - [`signup`]: the public intake (`POST /signup/{form_id}` and its companions),
//! - [`admin`]: the console, its sessions, credentials and CSRF extractors,
//! - [`connect`]: the OAuth authorization (`/connect`, `/oauth/callback`),
//! - [`health`], [`metrics`], [`openapi`], [`demo`]: the small routes,
//! - [`assets`]: the scripts (`/embed/v1.js` for sites' forms, the console's script),
//! - [`middleware`]: security headers, the admin login backoff, `no-store`,
//! - [`pages`]: the built-in HTML pages, [`serve`]: the accept loop.

pub mod admin;
pub mod assets;
pub mod confirm;
pub mod connect;
pub mod demo;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod serve;
pub mod signup;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::handler::Handler;
use axum::http::{HeaderName, Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, on};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::abuse::Abuse;
use crate::alerts::Alerts;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::consent::ConfirmationMailer;
use crate::constant_contact::ApiClient;
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::signup::{RefusalCounter, SignupWriter};
use crate::store::Store;
use crate::tokens::TokenKeeper;
pub use middleware::no_store;

/// Everything the handlers can draw from; each takes only its part (`State<Store>`,
/// `State<Arc<Config>>`, or a substate such as `signup::IntakeState`). Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub keeper: TokenKeeper,
    pub api: ApiClient,
    pub delivery: DeliveryWorker,
    pub alerts: Alerts,
    /// Commits signups in groups (one flush for many).
    pub writer: SignupWriter,
    /// The latest check of configured lists and fields against the account.
    pub account: AccountChecker,
    /// Sends confirmation mails (double opt-in); `None` without `[smtp]`.
    pub mailer: Option<ConfirmationMailer>,
    /// `/readyz`'s write probe, one at a time.
    pub readiness: health::ReadinessProbe,
    /// Rate limits, CAPTCHA, submit timing, admin login backoff, security headers.
    pub abuse: Arc<Abuse>,
    /// Signups refused at the door, counted in memory and written once a minute.
    pub refusals: RefusalCounter,
    pub demo: DemoMode,
    /// The console session given to browsers that authenticate with HTTP Basic.
    pub basic_session: admin::session::BasicSession,
}

/// Whether this is `ccbridge demo` (the landing page links the demo form, `/demo` is served and
/// links the sandbox's page).
#[derive(Debug, Clone, Default)]
pub struct DemoMode {
    pub enabled: bool,
    pub sandbox: Option<url::Url>,
}

/// The request id header: taken from the client or made up, echoed, and in every log line.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id taken as it is.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's request id is short and plain enough to echo and to put on every log line
/// (a proxy's or load balancer's id is; anything else is replaced with one of ours).
fn acceptable_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drop every client request id unless there is exactly one and it is acceptable, so that
/// `SetRequestIdLayer` makes one up instead.
async fn screen_request_id(mut request: Request) -> Request {
    let headers = request.headers_mut();
    let mut ids = headers.get_all(&REQUEST_ID).iter();
    let keep = matches!(
        (ids.next(), ids.next()),
        (Some(id), None) if acceptable_request_id(id.as_bytes())
    );
    if !keep {
        headers.remove(&REQUEST_ID);
    }
    request
}

/// One route: method, path (axum's syntax, which is also OpenAPI's) and handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// Answers hold something private (admin pages, tokens, signed values): `no-store`.
    pub private: bool,
    /// The handler keeps its own deadline and answers by itself (the intake: a generic 408 could
    /// contradict a commit it cannot stop), so the router's request timeout is not put around it.
    own_deadline: bool,
    handler: MethodRouter<AppState>,
}

impl Route {
    /// A route whose answers a browser or proxy may keep.
    pub(crate) fn public<H, T>(method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        Self {
            method,
            path,
            private: false,
            own_deadline: false,
            handler: on(filter, handler),
        }
    }

    /// A route whose answers must not be stored (`Cache-Control: no-store`).
    pub(crate) fn private<H, T>(method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = Self::public(method, path, handler);
        Self {
            private: true,
            handler: route
                .handler
                .layer(axum::middleware::map_response(middleware::no_store_layer)),
            ..route
        }
    }

    /// This route answers within its own deadline (see `own_deadline`).
    fn with_own_deadline(self) -> Self {
        Self {
            own_deadline: true,
            ..self
        }
    }
}

/// Every route, in one table: the router is built from it, and a test holds the OpenAPI
/// document (`/openapi.json`) to it.
pub fn routes(demo_page: bool) -> Vec<Route> {
    let mut routes = vec![
        Route::public(Method::GET, "/healthz", health::healthz),
        Route::private(Method::GET, "/readyz", health::readyz),
        Route::public(Method::POST, "/signup/{form_id}", signup::accept).with_own_deadline(),
        Route::public(Method::GET, "/signup/{form_id}", signup::address),
        Route::public(Method::OPTIONS, "/signup/{form_id}", signup::preflight),
        Route::public(
            Method::GET,
            "/signup/{form_id}/thank-you",
            signup::thank_you,
        ),
        Route::private(Method::GET, "/signup/{form_id}/token", signup::timestamp),
        Route::private(Method::GET, "/connect", connect::confirm),
        Route::private(Method::POST, "/connect", connect::connect),
        Route::private(Method::GET, "/oauth/callback", connect::callback),
        Route::private(Method::GET, "/connect/device/{id}", connect::device_page),
        Route::private(Method::GET, "/connect/link/{secret}", connect::link_page),
        Route::private(
            Method::POST,
            "/connect/link/{secret}",
            connect::start_from_link,
        ),
        Route::private(Method::GET, "/confirm/{token}", confirm::page),
        Route::private(Method::POST, "/confirm/{token}", confirm::submit),
        Route::public(Method::GET, "/openapi.json", openapi::serve),
        Route::public(Method::GET, assets::EMBED_V1_PATH, assets::embed_v1),
        Route::public(Method::GET, assets::CONSOLE_V1_PATH, assets::console_v1),
        Route::private(Method::GET, "/metrics", metrics::scrape),
    ];
    routes.extend(admin::routes());
    if demo_page {
        routes.push(Route::public(Method::GET, "/demo", demo::page));
    }
    routes
}

/// A request's path as the log may show it: the secret of a connect link or a confirmation link
/// is left out (whoever reads the log must not be able to connect, or subscribe someone, with it).
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for secret in ["/connect/link/", "/confirm/"] {
        if path.starts_with(secret) {
            return format!("{secret}(secret)").into();
        }
    }
    path.into()
}

/// Every route and the layers around them.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.server.request_timeout;
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // The path only: query strings may carry personal data.
            let path = loggable_path(request.uri().path());
            tracing::info_span!("request", request_id, method = %request.method(), path = %path)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    let routes = routes(state.demo.enabled)
        .into_iter()
        .fold(Router::new(), |router, route| {
            let handler = if route.own_deadline {
                route.handler
            } else {
                route.handler.layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
            };
            router.route(route.path, handler)
        })
        // Below /admin, authentication comes before "no such page" (see `admin::unknown_path`).
        .method_not_allowed_fallback(admin::unsupported_method)
        .fallback(admin::unknown_path);
    let security_headers = state.abuse.security_headers();
    let admin_backoff = axum::middleware::from_fn_with_state(
        middleware::Backoff::from_ref(&state),
        middleware::admin_backoff,
    );
    routes
        .with_state(state)
        .layer(admin_backoff)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_request(screen_request_id))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        .layer(axum::middleware::from_fn_with_state(
            security_headers,
            middleware::security_headers,
        ))
}

#[cfg(test)]
mod tests {
    use super::{acceptable_request_id, loggable_path};

    #[test]
    fn link_secrets_stay_out_of_the_log() {
        assert_eq!(loggable_path("/confirm/abcDEF_-123"), "/confirm/(secret)");
        assert_eq!(
            loggable_path("/connect/link/s3cret"),
            "/connect/link/(secret)"
        );
        assert_eq!(loggable_path("/signup/news"), "/signup/news");
    }

    #[test]
    fn only_short_plain_request_ids_are_taken_from_the_client() {
        for good in ["lb-1234", "a.b_c-D9", &"x".repeat(64)] {
            assert!(acceptable_request_id(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            "a b",
            "a/b",
            "id\u{e9}",
            "<script>",
            "a\tb",
        ] {
            assert!(!acceptable_request_id(bad.as_bytes()), "{bad}");
        }
    }
}
