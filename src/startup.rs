//! `Application`: the one way to start ccbridge, used by `main` and by every test alike.
//!
//! `build` opens the database (running migrations), binds the listener (port 0 in tests) and
//! wires the shared state; `run_until_stopped` serves until the shutdown token fires, lets
//! in-flight requests finish (bounded by `server.shutdown_grace`), then closes the database.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::store::Store;
use crate::{health, pages, signup};

/// What every request handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let store = Store::open(&config.database)
            .await
            .with_context(|| format!("opening the database at {}", config.database.url))?;
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("binding {}", config.server.listen))?;
        let state = AppState {
            config: Arc::new(config),
            store,
            clock,
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Serve until `shutdown` is cancelled, then drain and close.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let grace = state.config.server.shutdown_grace;
        let store = state.store.clone();
        tracing::info!(address = %listener.local_addr()?, "ccbridge listening");
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future();
        let grace_over = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = server => result.context("serving HTTP")?,
            () = grace_over => tracing::warn!(?grace, "in-flight requests did not finish within the shutdown grace period"),
        }
        store.close().await;
        tracing::info!("ccbridge stopped; database closed");
        Ok(())
    }
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
            tracing::info_span!("request", request_id, method = %request.method(), path = %request.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/signup/{form_id}", post(signup::accept))
        .route("/signup/{form_id}/thank-you", get(signup::thank_you))
        .fallback(|| async { (StatusCode::NOT_FOUND, pages::not_found()).into_response() })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(trace)
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}
