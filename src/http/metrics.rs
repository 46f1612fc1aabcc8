//! `GET /metrics`: the recorded metrics plus gauges read from this service's store at scrape time,
//! in the Prometheus (OpenMetrics) text format. Optionally behind a bearer token
//! (`metrics.bearer_token`); private (`Cache-Control: no-store`, set by the route table).

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AppState, pages};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::SignupState;
use crate::metrics::{CONTENT_TYPE_OPENMETRICS, ConnectionGauges, Gauges, UnsubscribeGauges};
use crate::status::{ConnectionStatus, UnsubscribesStatus};
use crate::store::Store;

/// What a scrape needs of the application.
#[derive(Clone)]
pub struct Scrape {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
}

impl FromRef<AppState> for Scrape {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
        }
    }
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<Scrape>, headers: HeaderMap) -> Response {
    let config = &state.config.metrics;
    if !config.enabled {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    }
    let expected = config.bearer_token.expose_secret();
    if !expected.is_empty() && !bearer_matches(&headers, expected) {
        let challenge = HeaderValue::from_static("Bearer realm=\"ccbridge metrics\"");
        let body = "a bearer token is required\n";
        return (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, challenge)],
            body,
        )
            .into_response();
    }
    let gauges = read_gauges(&state, state.clock.now()).await;
    match crate::metrics::render(&gauges) {
        Ok(text) => {
            let content_type = HeaderValue::from_static(CONTENT_TYPE_OPENMETRICS);
            ([(CONTENT_TYPE, content_type)], text).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub(super) fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    // Comparing digests keeps the time independent of where the strings differ and of their length.
    Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into()
}

/// The gauges, read from this service's store now. A part that cannot be read is left out.
async fn read_gauges(state: &Scrape, now: DateTime<Utc>) -> Gauges {
    let queue = state.store.queue_counts().await.ok().map(|counts| {
        SignupState::ALL
            .into_iter()
            .map(|signup_state| (signup_state.as_str(), counts.get(signup_state)))
            .collect()
    });
    let set = state.store.token_set().await.ok();
    let connection = set.as_ref().map(|set| {
        let connection = ConnectionStatus::from_stored(set.as_ref(), now);
        ConnectionGauges {
            state: connection.state,
            all_states: ConnectionStatus::STATES,
            token_expires_in: connection
                .access_token_expires_at
                .map(|expires_at| (expires_at - now).num_seconds()),
            refresh_failures: connection.refresh_failures,
        }
    });
    Gauges {
        queue,
        connection,
        api_calls_today: state.store.api_calls_on(now.date_naive()).await.ok(),
        api_daily_limit: state.config.constant_contact.requests_per_day,
        mails: state.store.mail_counts().await.ok().map(|m| {
            vec![
                ("queued", m.queued),
                ("failing", m.failed),
                ("sent", m.sent),
                ("dead", m.dead),
            ]
        }),
        unsubscribes: match &set {
            Some(set) => UnsubscribesStatus::gather(&state.config, &state.store, set.as_ref(), now)
                .await
                .ok()
                .map(|u| UnsubscribeGauges {
                    addresses: u.addresses,
                    last_sync: u.last_sync_at.map(|at| at.timestamp()),
                    fresh: u.fresh,
                }),
            None => None,
        },
    }
}
