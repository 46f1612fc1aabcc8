//! Health routes for load balancers and orchestrators.
//!
//! `/healthz` is liveness: it answers while the process serves requests and checks nothing else.
//! `/readyz` is readiness: 200 when the database accepts a write, 503 otherwise. The state of the
//! Constant Contact connection never makes an instance unready (it still accepts and queues
//! signups); it is only reported in the body.
//!
//! A load balancer does not authenticate, so `/readyz` never answers 401; but the status names
//! the account, its scopes, token expiry, queue counts and API usage, which are nobody else's
//! business. An anonymous caller gets only `{"status":"ready"}` or
//! `{"status":"not_ready","reason":"database"}`; the full document (the shape of
//! `ccbridge status --json`) goes to the admin (console session or HTTP Basic) and to a caller
//! with the metrics bearer token.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::time::Instant;

use super::AppState;
use super::admin::credentials::AdminAuthFailed;
use super::admin::session::{SessionOrBasic, Sessions};
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
    sessions: Sessions,
}

impl FromRef<AppState> for Readiness {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            probe: state.readiness.clone(),
            sessions: Sessions::from_ref(state),
        }
    }
}

pub async fn readyz(State(state): State<Readiness>, headers: HeaderMap) -> Response {
    let now = state.clock.now();
    let database_ok = state.probe.database_ok(&state.store, now).await;
    let code = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    match caller(&state, headers).await {
        Caller::Entitled => {
            let mut status = Status::gather(&state.config, &state.store, now, database_ok).await;
            // Upstream error texts may quote what a visitor typed, and a metrics scraper is not
            // necessarily the admin: they stay in `status --json` and the console. The field
            // stays, empty, so the shape is the same as `status --json`.
            status.last_errors.clear();
            (code, Json(status)).into_response()
        }
        Caller::Anonymous { failed_login } => {
            let body = if database_ok {
                json!({ "status": "ready" })
            } else {
                json!({ "status": "not_ready", "reason": "database" })
            };
            let mut response = (code, Json(body)).into_response();
            if failed_login {
                // Wrong admin credentials still count for the login backoff, as anywhere else.
                response.extensions_mut().insert(AdminAuthFailed);
            }
            response
        }
    }
}

/// Who asked, as far as `/readyz` cares.
enum Caller {
    /// The admin, or the holder of the metrics bearer token: the full status.
    Entitled,
    /// Anyone else (`failed_login`: wrong admin credentials were given).
    Anonymous { failed_login: bool },
}

async fn caller(state: &Readiness, headers: HeaderMap) -> Caller {
    let token = state.config.metrics.bearer_token.expose_secret();
    if !token.is_empty() && super::metrics::bearer_matches(&headers, token) {
        return Caller::Entitled;
    }
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers;
    match SessionOrBasic::from_request_parts(&mut parts, &state.sessions).await {
        Ok(SessionOrBasic) => Caller::Entitled,
        Err(refusal) => Caller::Anonymous {
            failed_login: refusal.extensions().get::<AdminAuthFailed>().is_some(),
        },
    }
}
