//! Metrics: counters and histograms recorded where things happen (one-line hooks in the signup
//! handler, the delivery worker, the API client, the token keeper and the alert webhook), and
//! gauges read from the database at scrape time. `GET /metrics` serves them in the Prometheus
//! (OpenMetrics) text format.
//!
//! The recorded metrics live in one process-wide registry: a ccbridge process runs one service,
//! and a global keeps the hooks free of plumbing. The gauges come from the scraped service's own
//! store. Label values are always from small fixed sets (error codes, outcomes, configured form
//! ids), never from request input, so a stranger cannot grow the registry.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::SignupState;
use crate::startup::AppState;
use crate::status::ConnectionStatus;
use crate::store::SignupRecord;

/// The content type of the OpenMetrics text format, which Prometheus reads natively.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels1 = [(&'static str, String); 1];
type Labels2 = [(&'static str, String); 2];

/// Every metric that is recorded as it happens.
pub struct Metrics {
    registry: Registry,
    signups_accepted: Family<Labels1, Counter>,
    signups_rejected: Family<Labels1, Counter>,
    signups_spam: Family<Labels1, Counter>,
    deliveries: Family<Labels1, Counter>,
    delivery_latency: Histogram,
    api_requests: Family<Labels1, Counter>,
    api_rate_limited: Family<Labels1, Counter>,
    refreshes: Family<Labels1, Counter>,
    alerts: Family<Labels2, Counter>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("ccbridge");
        let signups_accepted = Family::<Labels1, Counter>::default();
        registry.register(
            "signups_accepted",
            "Signups stored for delivery, by form",
            signups_accepted.clone(),
        );
        let signups_rejected = Family::<Labels1, Counter>::default();
        registry.register(
            "signups_rejected",
            "Signups refused, by error code",
            signups_rejected.clone(),
        );
        let signups_spam = Family::<Labels1, Counter>::default();
        registry.register(
            "signups_spam",
            "Submissions caught by the honeypot (answered as a success, never delivered), by form",
            signups_spam.clone(),
        );
        let deliveries = Family::<Labels1, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by outcome (delivered, retrying, dead, paused); one per coalesced call",
            deliveries.clone(),
        );
        // 1 s … ~9 h: a signup normally lands within seconds, but may wait out a quota or an outage.
        let delivery_latency = Histogram::new([
            0.5,
            1.0,
            2.5,
            5.0,
            10.0,
            30.0,
            60.0,
            300.0,
            900.0,
            3600.0,
            4.0 * 3600.0,
            24.0 * 3600.0,
        ]);
        registry.register_with_unit(
            "delivery_latency",
            "Time from accepting a signup to Constant Contact having it",
            prometheus_client::registry::Unit::Seconds,
            delivery_latency.clone(),
        );
        let api_requests = Family::<Labels1, Counter>::default();
        registry.register(
            "api_requests",
            "Constant Contact v3 API calls by status class (2xx, 4xx, 5xx, error)",
            api_requests.clone(),
        );
        let api_rate_limited = Family::<Labels1, Counter>::default();
        registry.register(
            "api_rate_limited",
            "429 answers from Constant Contact, by reason (throttled, quota_exceeded)",
            api_rate_limited.clone(),
        );
        let refreshes = Family::<Labels1, Counter>::default();
        registry.register(
            "token_refreshes",
            "Token refreshes by outcome (success, transient_failure, needs_reconnect)",
            refreshes.clone(),
        );
        let alerts = Family::<Labels2, Counter>::default();
        registry.register(
            "alerts",
            "Alerts by kind and what the webhook did with them (sent, failed, suppressed, dropped)",
            alerts.clone(),
        );
        Self {
            registry,
            signups_accepted,
            signups_rejected,
            signups_spam,
            deliveries,
            delivery_latency,
            api_requests,
            api_rate_limited,
            refreshes,
            alerts,
        }
    }
}

fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn label(key: &'static str, value: &str) -> Labels1 {
    [(key, value.to_owned())]
}

// ---- hooks ----------------------------------------------------------------------------------

/// A signup was stored for delivery.
pub fn signup_accepted(form: &str) {
    global()
        .signups_accepted
        .get_or_create(&label("form", form))
        .inc();
}

/// A signup was refused with this error code.
pub fn signup_rejected(code: &str) {
    global()
        .signups_rejected
        .get_or_create(&label("code", code))
        .inc();
}

/// A submission filled the honeypot.
pub fn signup_spam(form: &str) {
    global()
        .signups_spam
        .get_or_create(&label("form", form))
        .inc();
}

/// One delivery attempt ended so.
pub fn delivery(delivery: &crate::delivery::Delivery) {
    use crate::delivery::Delivery;
    let outcome = match delivery {
        Delivery::Delivered { .. } => "delivered",
        Delivery::Retrying { .. } => "retrying",
        Delivery::Dead { .. } => "dead",
        Delivery::Paused(_) => "paused",
    };
    global()
        .deliveries
        .get_or_create(&label("outcome", outcome))
        .inc();
}

/// These signups reached Constant Contact at `now`.
pub fn delivered(group: &[SignupRecord], now: DateTime<Utc>) {
    for signup in group {
        let seconds = (now - signup.created_at).num_milliseconds().max(0) as f64 / 1000.0;
        global().delivery_latency.observe(seconds);
    }
}

/// A v3 API call answered with `status` (`None`: no answer at all).
pub fn api_call(status: Option<u16>) {
    let class = match status {
        Some(200..=299) => "2xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "error",
    };
    global()
        .api_requests
        .get_or_create(&label("status", class))
        .inc();
}

/// Constant Contact answered 429 (`throttled` or `quota_exceeded`).
pub fn api_rate_limited(reason: &str) {
    global()
        .api_rate_limited
        .get_or_create(&label("reason", reason))
        .inc();
}

/// A token refresh ended so.
pub fn refresh<T>(result: &Result<T, crate::tokens::TokenError>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(crate::tokens::TokenError::NeedsReconnect(_)) => "needs_reconnect",
        Err(_) => "transient_failure",
    };
    global()
        .refreshes
        .get_or_create(&label("outcome", outcome))
        .inc();
}

/// The alert webhook did this (`sent`, `failed`, `suppressed`, `dropped`) with an alert of `kind`.
pub fn alert(kind: &str, outcome: &str) {
    global()
        .alerts
        .get_or_create(&[("kind", kind.to_owned()), ("outcome", outcome.to_owned())])
        .inc();
}

// ---- scrape ---------------------------------------------------------------------------------

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = &state.config.metrics;
    if !config.enabled {
        return (StatusCode::NOT_FOUND, crate::pages::not_found()).into_response();
    }
    let expected = config.bearer_token.expose_secret();
    if !expected.is_empty() && !bearer_matches(&headers, expected) {
        let mut response =
            (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ccbridge metrics\""),
        );
        return response;
    }
    let now = state.clock.now();
    let gauges = read_gauges(&state, now).await;
    let mut text = String::new();
    let encoded = encode_registry(&mut text, &global().registry)
        .and_then(|()| encode_registry(&mut text, &gauges))
        .and_then(|()| encode_eof(&mut text));
    if let Err(error) = encoded {
        tracing::error!(%error, "encoding metrics failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_OPENMETRICS),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
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

/// The gauges, read from this service's store now. A part that cannot be read is left out (the
/// scrape still answers; a missing series is what alerting rules on `absent()` look for).
async fn read_gauges(state: &AppState, now: DateTime<Utc>) -> Registry {
    let mut registry = Registry::with_prefix("ccbridge");
    if let Ok(counts) = state.store.queue_counts().await {
        let queue = Family::<Labels1, Gauge>::default();
        for (signup_state, n) in [
            (SignupState::Pending, counts.pending),
            (SignupState::Failed, counts.failed),
            (SignupState::Delivered, counts.delivered),
            (SignupState::Dead, counts.dead),
            (SignupState::Spam, counts.spam),
        ] {
            queue
                .get_or_create(&label("state", signup_state.as_str()))
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        registry.register("queue_signups", "Signups in the outbox by state", queue);
    }
    if let Ok(set) = state.store.token_set().await {
        let connection = ConnectionStatus::from_stored(set.as_ref(), now);
        let states = Family::<Labels1, Gauge>::default();
        for name in [
            "not_connected",
            "connected",
            "refreshing",
            "needs_reconnect",
        ] {
            states
                .get_or_create(&label("state", name))
                .set(i64::from(connection.state == name));
        }
        registry.register(
            "connection_state",
            "1 for the current state of the Constant Contact connection",
            states,
        );
        if let Some(expires_at) = connection.access_token_expires_at {
            let expiry = Gauge::<i64>::default();
            expiry.set((expires_at - now).num_seconds());
            registry.register_with_unit(
                "token_expires_in",
                "Seconds until the access token expires (negative: expired)",
                prometheus_client::registry::Unit::Seconds,
                expiry,
            );
        }
        let failures = Gauge::<i64>::default();
        failures.set(i64::from(connection.refresh_failures));
        registry.register(
            "token_refresh_failures",
            "Refresh failures since the last successful refresh",
            failures,
        );
    }
    if let Ok(used) = state.store.api_calls_on(now.date_naive()).await {
        let today = Gauge::<i64>::default();
        today.set(i64::try_from(used).unwrap_or(i64::MAX));
        registry.register(
            "api_calls_today",
            "API calls counted against today's (UTC) daily limit",
            today,
        );
    }
    let limit = Gauge::<i64>::default();
    limit.set(i64::from(state.config.constant_contact.requests_per_day));
    registry.register(
        "api_daily_limit",
        "The configured daily API call limit",
        limit,
    );
    registry
}
