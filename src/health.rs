//! Health routes for load balancers and orchestrators.
//!
//! `/healthz` is liveness: it answers while the process serves requests and checks nothing else.
//! `/readyz` is readiness: 200 when the database accepts a write, 503 otherwise. The state of the
//! Constant Contact connection never makes an instance unready (it still accepts and queues
//! signups); it is only reported in the body.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::startup::AppState;
use crate::status::Status;

pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let now = state.clock.now();
    let database_ok = match state.store.probe_write(now).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "readiness probe: database does not accept writes");
            false
        }
    };
    let mut status = Status::gather(&state.config, &state.store, now, database_ok).await;
    status.account_check = state.account_check.lock().expect("check lock").clone();
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
