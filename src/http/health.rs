//! Health routes for load balancers and orchestrators.
//!
//! `/healthz` is liveness: it answers while the process serves requests and checks nothing else.
//! `/readyz` is readiness: 200 when the database accepts a write, 503 otherwise. The state of the
//! Constant Contact connection never makes an instance unready (it still accepts and queues
//! signups); it is only reported in the body.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::time::Instant;

use super::AppState;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::status::Status;
use crate::store::Store;

pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Runs `/readyz`'s write probe one at a time, and lets callers share a probe that started after
/// they arrived: a flood of readiness requests costs the database one write at a time, and no
/// answer is older than its request.
#[derive(Clone, Default)]
pub struct ReadinessProbe(Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>);

impl ReadinessProbe {
    async fn database_ok(&self, store: &Store, now: DateTime<Utc>) -> bool {
        let arrived = Instant::now();
        let mut last = self.0.lock().await;
        if let Some((started, ok)) = *last
            && started >= arrived
        {
            return ok;
        }
        let started = Instant::now();
        let ok = match store.probe_write(now).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "readiness probe: database does not accept writes");
                false
            }
        };
        *last = Some((started, ok));
        ok
    }
}

/// What `/readyz` needs of the application.
#[derive(Clone)]
pub struct Readiness {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    probe: ReadinessProbe,
}

impl FromRef<AppState> for Readiness {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            probe: state.readiness.clone(),
        }
    }
}

pub async fn readyz(State(state): State<Readiness>) -> Response {
    let now = state.clock.now();
    let database_ok = state.probe.database_ok(&state.store, now).await;
    let mut status = Status::gather(&state.config, &state.store, now, database_ok).await;
    // `/readyz` answers anyone who can reach it (a load balancer needs no credentials): upstream
    // error texts may quote what a visitor typed, so they are shown only to the admin (CLI,
    // console). The field stays, empty, so the shape is the same as `status --json`.
    status.last_errors.clear();
    let code = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(status)).into_response()
}
