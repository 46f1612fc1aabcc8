//! Metrics: counters and histograms recorded where things happen (one-line hooks in the signup
//! handler, the delivery worker, the API client, the token keeper and the alert webhook), and
//! gauges whose values the scraper reads from the database at scrape time ([`Gauges`]).
//! [`render`] writes both in the Prometheus (OpenMetrics) text format; `GET /metrics`
//! (`http::metrics`) serves it.
//!
//! The bottom of the layer stack: the hooks take plain labels (`&str`, numbers), so every layer
//! can record without this module knowing any of them. The recorded metrics live in one
//! process-wide registry: a ccbridge process runs one service, and a global keeps the hooks free
//! of plumbing. Label values are always from small fixed sets (error codes, outcomes, configured
//! form ids), never from request input, so a stranger cannot grow the registry.

use std::sync::OnceLock;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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
    commit_retries: Counter,
    alerts: Family<Labels2, Counter>,
    password_verifications: Family<Labels1, Counter>,
    password_verifications_running: Gauge,
    password_verifications_peak: Gauge,
    mails: Family<Labels1, Counter>,
    confirmations_capped: Counter,
    signups_confirmed: Counter,
    unsubscribe_syncs: Family<Labels1, Counter>,
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
        let commit_retries = Counter::default();
        registry.register(
            "token_commit_retries",
            "Refreshed token sets the database refused to store, retried (the old refresh token is already spent upstream)",
            commit_retries.clone(),
        );
        let alerts = Family::<Labels2, Counter>::default();
        registry.register(
            "alerts",
            "Alerts by kind and what the webhook did with them (sent, failed, suppressed, dropped)",
            alerts.clone(),
        );
        let password_verifications = Family::<Labels1, Counter>::default();
        registry.register(
            "password_verifications",
            "Admin password checks by outcome (match, mismatch, busy: no slot came free in time)",
            password_verifications.clone(),
        );
        let password_verifications_running = Gauge::default();
        registry.register(
            "password_verifications_running",
            "Admin password checks running now (at most 2)",
            password_verifications_running.clone(),
        );
        let password_verifications_peak = Gauge::default();
        registry.register(
            "password_verifications_peak",
            "The most admin password checks that ran at once since the process started",
            password_verifications_peak.clone(),
        );
        let mails = Family::<Labels1, Counter>::default();
        registry.register(
            "mails",
            "Confirmation mail attempts by outcome (sent, retrying, dead)",
            mails.clone(),
        );
        let confirmations_capped = Counter::default();
        registry.register(
            "confirmation_mails_capped",
            "Signups held without a confirmation mail because a mail cap was reached",
            confirmations_capped.clone(),
        );
        let signups_confirmed = Counter::default();
        registry.register(
            "signups_confirmed",
            "Signups confirmed by their person through a confirmation link",
            signups_confirmed.clone(),
        );
        let unsubscribe_syncs = Family::<Labels1, Counter>::default();
        registry.register(
            "unsubscribe_syncs",
            "Syncs of the unsubscribed addresses by outcome (incremental, full, failed)",
            unsubscribe_syncs.clone(),
        );
        Self {
            registry,
            mails,
            confirmations_capped,
            signups_confirmed,
            unsubscribe_syncs,
            signups_accepted,
            signups_rejected,
            signups_spam,
            deliveries,
            delivery_latency,
            api_requests,
            api_rate_limited,
            refreshes,
            commit_retries,
            alerts,
            password_verifications,
            password_verifications_running,
            password_verifications_peak,
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

/// An admin password check ended: `match`, `mismatch`, or `busy` (no slot in time).
pub fn password_verification(outcome: &str) {
    global()
        .password_verifications
        .get_or_create(&label("outcome", outcome))
        .inc();
}

/// Admin password checks running now, and the most ever at once.
pub fn password_verifications_running(now: usize, peak: usize) {
    let metrics = global();
    metrics
        .password_verifications_running
        .set(i64::try_from(now).unwrap_or(i64::MAX));
    metrics
        .password_verifications_peak
        .set(i64::try_from(peak).unwrap_or(i64::MAX));
}

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

/// One delivery attempt ended so (`delivered`, `retrying`, `dead`, `paused`).
pub fn delivery(outcome: &str) {
    global()
        .deliveries
        .get_or_create(&label("outcome", outcome))
        .inc();
}

/// A signup reached Constant Contact this long after it was accepted.
pub fn delivered_after(latency: std::time::Duration) {
    global().delivery_latency.observe(latency.as_secs_f64());
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

/// A token refresh ended so (`success`, `transient_failure`, `needs_reconnect`).
pub fn refresh(outcome: &str) {
    global()
        .refreshes
        .get_or_create(&label("outcome", outcome))
        .inc();
}

/// The database refused a refreshed token set; committing it is tried again.
pub fn token_commit_retry() {
    global().commit_retries.inc();
}

/// The alert webhook did this (`sent`, `failed`, `suppressed`, `dropped`) with an alert of `kind`.
pub fn alert(kind: &str, outcome: &str) {
    global()
        .alerts
        .get_or_create(&[("kind", kind.to_owned()), ("outcome", outcome.to_owned())])
        .inc();
}

/// A confirmation mail attempt ended so (`sent`, `retrying`, `dead`).
pub fn mail(outcome: &str) {
    global()
        .mails
        .get_or_create(&label("outcome", outcome))
        .inc();
}

/// A signup was held without a confirmation mail: a cap was reached.
pub fn confirmation_capped() {
    global().confirmations_capped.inc();
}

/// A person confirmed a signup.
pub fn signup_confirmed() {
    global().signups_confirmed.inc();
}

/// A sync of the unsubscribed addresses ended so (`incremental`, `full`, `failed`).
pub fn unsubscribe_sync(outcome: &str) {
    global()
        .unsubscribe_syncs
        .get_or_create(&label("outcome", outcome))
        .inc();
}

// ---- scrape ---------------------------------------------------------------------------------

/// The gauges of one scrape, read by the caller from the service's store. A part that could not
/// be read is `None` and left out (the scrape still answers; a missing series is what alerting
/// rules on `absent()` look for).
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Signups in the outbox by state name.
    pub queue: Option<Vec<(&'static str, u64)>>,
    pub connection: Option<ConnectionGauges>,
    pub api_calls_today: Option<u64>,
    pub api_daily_limit: u32,
    /// Confirmation mails by state name (`queued`, `failing`, `sent`, `dead`).
    pub mails: Option<Vec<(&'static str, u64)>>,
    /// The mirror of unsubscribed addresses.
    pub unsubscribes: Option<UnsubscribeGauges>,
}

/// The mirror of the account's unsubscribed addresses, as gauges.
#[derive(Debug, Clone)]
pub struct UnsubscribeGauges {
    pub addresses: u64,
    /// Unix seconds of the last successful sync, when there was one.
    pub last_sync: Option<i64>,
    /// Whether single opt-in deliveries may go (a complete, recent list).
    pub fresh: bool,
}

/// The Constant Contact connection, as gauges.
#[derive(Debug, Clone)]
pub struct ConnectionGauges {
    /// The current state's name; every state in `all_states` gets a series (1 for this one).
    pub state: &'static str,
    pub all_states: &'static [&'static str],
    /// Seconds until the access token expires (negative: expired), when there is one.
    pub token_expires_in: Option<i64>,
    pub refresh_failures: u32,
}

/// The recorded metrics and `gauges`, in the OpenMetrics text format.
pub fn render(gauges: &Gauges) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    encode_registry(&mut text, &global().registry)?;
    encode_registry(&mut text, &gauge_registry(gauges))?;
    encode_eof(&mut text)?;
    Ok(text)
}

fn gauge_registry(gauges: &Gauges) -> Registry {
    let mut registry = Registry::with_prefix("ccbridge");
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    if let Some(counts) = &gauges.queue {
        let queue = Family::<Labels1, Gauge>::default();
        for (state, n) in counts {
            queue.get_or_create(&label("state", state)).set(clamp(*n));
        }
        registry.register("queue_signups", "Signups in the outbox by state", queue);
    }
    if let Some(connection) = &gauges.connection {
        let states = Family::<Labels1, Gauge>::default();
        for name in connection.all_states {
            states
                .get_or_create(&label("state", name))
                .set(i64::from(connection.state == *name));
        }
        registry.register(
            "connection_state",
            "1 for the current state of the Constant Contact connection",
            states,
        );
        if let Some(seconds) = connection.token_expires_in {
            let expiry = Gauge::<i64>::default();
            expiry.set(seconds);
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
    if let Some(used) = gauges.api_calls_today {
        let today = Gauge::<i64>::default();
        today.set(clamp(used));
        registry.register(
            "api_calls_today",
            "API calls counted against today's (UTC) daily limit",
            today,
        );
    }
    if let Some(counts) = &gauges.mails {
        let mails = Family::<Labels1, Gauge>::default();
        for (state, n) in counts {
            mails.get_or_create(&label("state", state)).set(clamp(*n));
        }
        registry.register(
            "queue_mails",
            "Confirmation mails by state (queued includes failing: queued with a failed attempt)",
            mails,
        );
    }
    if let Some(mirror) = &gauges.unsubscribes {
        let size = Gauge::<i64>::default();
        size.set(clamp(mirror.addresses));
        registry.register(
            "unsubscribed_addresses",
            "Unsubscribed addresses in the local mirror of the account",
            size,
        );
        if let Some(at) = mirror.last_sync {
            let last = Gauge::<i64>::default();
            last.set(at);
            registry.register(
                "unsubscribes_last_sync_timestamp",
                "Unix time of the last successful sync of the unsubscribed addresses",
                last,
            );
        }
        let fresh = Gauge::<i64>::default();
        fresh.set(i64::from(mirror.fresh));
        registry.register(
            "unsubscribes_fresh",
            "1 while the unsubscribed list is complete and recent (single opt-in deliveries may go)",
            fresh,
        );
    }
    let limit = Gauge::<i64>::default();
    limit.set(i64::from(gauges.api_daily_limit));
    registry.register(
        "api_daily_limit",
        "The configured daily API call limit",
        limit,
    );
    registry
}
