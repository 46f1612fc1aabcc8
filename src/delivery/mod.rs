//! Delivery: draining the signups outbox into Constant Contact's `POST /contacts/sign_up_form`.
//!
//! - **At least once.** A signup is claimed with a lease before it is sent and settled after; if
//!   the process dies in between, the lease runs out and the signup is sent again after the
//!   restart (the upstream call is an idempotent upsert by email).
//! - **Within the limits.** Every call goes through the shared `RateLimiter`.
//! - **Coalesced.** All queued signups for one email go out as one call, lists and fields merged.
//! - **Every outcome handled.** 2xx delivered; 400 dead (kept, replayable) with an alert; 401 one
//!   refresh and one retry, then wait for a reconnect; 403 pause and alert; 409 retry soon; 429
//!   `throttled` slow down; 429 `quota_exceeded` pause until 00:00 UTC; 5xx, timeouts and dropped
//!   connections back off exponentially with jitter; past `max_age`, dead. Without a usable token,
//!   signups wait and flow as soon as an admin connects.
//!
//! `deliver_next` is the step (tests drive it); `run` only schedules it.

pub mod account_check;
mod merge;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::alerts::{AlertKind, Alerts};
use crate::clock::SharedClock;
use crate::config::DeliveryConfig;
use crate::constant_contact::limits::next_utc_midnight;
use crate::constant_contact::{ApiClient, ApiError, ErrorKind};
use crate::store::{Settle, SignupRecord, Store, StoreError};
use crate::tokens::{CallError, TokenError, TokenKeeper};

/// The longest the worker sleeps without looking at the queue again.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// The same on a database shared by replicas, where signups arrive, a dead replica's claims run
/// out and connections are made without waking this process.
const SHARED_MAX_IDLE: Duration = Duration::from_secs(5);
/// A 409 (simultaneous change to the same contact) is retried this soon.
const CONFLICT_RETRY: chrono::Duration = chrono::Duration::seconds(2);
/// After a 429 `throttled`, the signup is back in the queue this soon (the limiter also holds).
const THROTTLED_RETRY: chrono::Duration = chrono::Duration::seconds(1);
/// A 403 (scope, privilege or a deactivated app) needs a human; look again this often.
const FORBIDDEN_PAUSE: chrono::Duration = chrono::Duration::minutes(15);

/// What happened to one claimed group of signups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered {
        signups: usize,
        created: bool,
    },
    Retrying {
        error: String,
    },
    Dead {
        error: String,
    },
    /// Not attempted or not counted: the worker must wait.
    Paused(Pause),
}

impl Delivery {
    /// The outcome's name (a metrics label).
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Retrying { .. } => "retrying",
            Self::Dead { .. } => "dead",
            Self::Paused(_) => "paused",
        }
    }
}

/// Why deliveries stop for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    /// No usable token: resume when an admin connects.
    AwaitingConnection(String),
    /// Until a moment (daily quota, 403).
    Until {
        until: DateTime<Utc>,
        reason: String,
    },
}

#[derive(Clone)]
pub struct DeliveryWorker(Arc<Inner>);

struct Inner {
    store: Store,
    keeper: TokenKeeper,
    api: ApiClient,
    clock: SharedClock,
    settings: DeliveryConfig,
    alerts: Alerts,
    owner: String,
    /// A new signup was stored (or requeued).
    wake: Notify,
    /// An admin connected.
    connected: Notify,
    pause: Mutex<Option<Pause>>,
    /// The pause alert raised last, so the first delivery after it raises its recovery.
    pause_alert: Mutex<Option<AlertKind>>,
}

impl DeliveryWorker {
    pub fn new(
        store: Store,
        keeper: TokenKeeper,
        api: ApiClient,
        clock: SharedClock,
        settings: DeliveryConfig,
        alerts: Alerts,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            keeper,
            api,
            clock,
            settings,
            alerts,
            owner: format!("delivery-{}", Uuid::new_v4()),
            wake: Notify::new(),
            connected: Notify::new(),
            pause: Mutex::new(None),
            pause_alert: Mutex::new(None),
        }))
    }

    /// A signup was stored or requeued: look at the queue now rather than at the next timer.
    pub fn signup_queued(&self) {
        self.0.wake.notify_one();
    }

    /// A token set was stored by an authorization: a wait for a connection is over.
    pub fn connection_made(&self) {
        self.0.connected.notify_one();
    }

    /// The current pause, if deliveries are paused.
    pub fn pause(&self) -> Option<Pause> {
        self.0.pause.lock().expect("pause lock").clone()
    }

    /// Claim and deliver the next due group. `None` when nothing is due.
    pub async fn deliver_next(&self) -> Result<Option<Delivery>, StoreError> {
        let group = self.claim().await?;
        if group.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.deliver(group).await?))
    }

    async fn claim(&self) -> Result<Vec<SignupRecord>, StoreError> {
        let now = self.0.clock.now();
        self.0
            .store
            .claim_due(&self.0.owner, now, now + self.lease())
            .await
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0.settings.claim_lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Run a delivery call while keeping its claim alive: renewed every third of the lease, so
    /// however long the call waits (for a slot, a refresh, a slow upstream) the claim only runs
    /// out if this process stops renewing it, i.e. dies.
    async fn with_claim_renewed<T>(&self, ids: &[Uuid], call: impl Future<Output = T>) -> T {
        let every = (self.0.settings.claim_lease / 3).max(Duration::from_millis(100));
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(call);
        loop {
            tokio::select! {
                result = &mut call => return result,
                _ = renew.tick() => {
                    let until = self.0.clock.now() + self.lease();
                    match self.0.store.renew_claims(ids, &self.0.owner, until).await {
                        Ok(renewed) if renewed < ids.len() as u64 => tracing::warn!(
                            renewed,
                            claimed = ids.len(),
                            "a claim ran out during delivery; another replica may send these signups too"
                        ),
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "could not renew a delivery claim"),
                    }
                }
            }
        }
    }

    /// Send one claimed group and settle it.
    async fn deliver(&self, group: Vec<SignupRecord>) -> Result<Delivery, StoreError> {
        let form = merge::sign_up_form(&group);
        let ids: Vec<Uuid> = group.iter().map(|s| s.id).collect();
        let started = self.0.clock.now();
        let call = self.0.keeper.call(|token| {
            let api = self.0.api.clone();
            let form = form.clone();
            async move { api.sign_up_form(&token, &form).await }
        });
        let result = self.with_claim_renewed(&ids, call).await;
        let now = self.0.clock.now();
        let (settle, delivery) = match result {
            Ok(outcome) => {
                tracing::info!(
                    signups = ids.len(),
                    created = outcome.created,
                    "delivered to Constant Contact"
                );
                let delivery = Delivery::Delivered {
                    signups: ids.len(),
                    created: outcome.created,
                };
                for signup in &group {
                    let latency = (now - signup.created_at).to_std().unwrap_or_default();
                    crate::metrics::delivered_after(latency);
                }
                self.recovered();
                self.settle(
                    &ids,
                    &Settle::Delivered {
                        contact_id: &outcome.contact_id,
                        created: outcome.created,
                    },
                    now,
                )
                .await?;
                crate::metrics::delivery(delivery.outcome());
                return Ok(delivery);
            }
            Err(CallError::Token(error)) => self.token_problem(error, now).await,
            Err(CallError::Api(error)) => self.api_problem(&group, error, started, now).await,
        };
        crate::metrics::delivery(delivery.outcome());
        let settle_ref = match &settle {
            Owned::Failed { error, next } => Settle::Failed {
                error,
                next_attempt_at: *next,
            },
            Owned::Dead { error } => Settle::Dead { error },
            Owned::Release { next } => Settle::Release {
                next_attempt_at: *next,
            },
        };
        self.settle(&ids, &settle_ref, now).await?;
        if let Delivery::Paused(pause) = &delivery {
            self.set_pause(pause.clone());
        }
        if let Delivery::Dead { error } = &delivery {
            self.0.alerts.raise(
                AlertKind::SignupDead,
                format!("A signup could not be delivered and is now dead (kept; retry with `ccbridge retry --dead`): {error}"),
            );
        }
        Ok(delivery)
    }

    async fn settle(
        &self,
        ids: &[Uuid],
        outcome: &Settle<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let settled = self
            .0
            .store
            .settle(ids, &self.0.owner, outcome, now)
            .await?;
        if settled < ids.len() as u64 {
            tracing::warn!(
                settled,
                claimed = ids.len(),
                "an outcome was not recorded for every signup: their claim was taken over"
            );
        }
        Ok(())
    }

    async fn token_problem(&self, error: TokenError, now: DateTime<Utc>) -> (Owned, Delivery) {
        match error {
            TokenError::NotConnected | TokenError::NeedsReconnect(_) => {
                let pause = Pause::AwaitingConnection(error.to_string());
                (Owned::Release { next: now }, Delivery::Paused(pause))
            }
            other => {
                // The keeper retries refreshes itself; look again a little later.
                tracing::warn!(error = %other, "no token for delivery right now");
                let until = now + chrono::Duration::seconds(10);
                (
                    Owned::Release { next: until },
                    Delivery::Paused(Pause::Until {
                        until,
                        reason: other.to_string(),
                    }),
                )
            }
        }
    }

    /// `started`: when the attempt began (a quota answer is about that day).
    async fn api_problem(
        &self,
        group: &[SignupRecord],
        error: ApiError,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Owned, Delivery) {
        // Constant Contact's messages may quote the address they refused: this text goes to the
        // log, the status, the console and alerts, where emails are shown redacted.
        let text = crate::domain::email::redact_emails_in(&error.to_string());
        match (&error, error.kind()) {
            (_, Some(ErrorKind::BadRequest)) => (
                Owned::Dead {
                    error: text.clone(),
                },
                Delivery::Dead { error: text },
            ),
            (_, Some(ErrorKind::Unauthorized)) => {
                // Refused even with a freshly refreshed token: the app was revoked. Wait for a human.
                let reason = self.0.keeper.give_up_unauthorized().await;
                (
                    Owned::Release { next: now },
                    Delivery::Paused(Pause::AwaitingConnection(reason)),
                )
            }
            (_, Some(ErrorKind::Forbidden)) => {
                let until = now + FORBIDDEN_PAUSE;
                // Alert once per episode, not every time the pause runs out and 403 comes back.
                let already =
                    matches!(self.pause(), Some(Pause::Until { reason, .. }) if reason == text);
                if !already {
                    self.0.alerts.raise(
                        AlertKind::DeliveryPaused,
                        format!("Constant Contact refused delivery with 403 ({text}): a missing scope or privilege, or a deactivated app. Deliveries are paused; signups are queued."),
                    );
                    self.pause_alerted(AlertKind::DeliveryPaused);
                }
                (
                    Owned::Release { next: until },
                    Delivery::Paused(Pause::Until {
                        until,
                        reason: text,
                    }),
                )
            }
            (_, Some(ErrorKind::Conflict)) => self.retry(group, text, now + CONFLICT_RETRY, now),
            (_, Some(ErrorKind::Throttled)) => (
                Owned::Release {
                    next: now + THROTTLED_RETRY,
                },
                Delivery::Retrying { error: text },
            ),
            (ApiError::DailyBudgetSpent { resets_at }, _) => self.quota_pause(*resets_at, text),
            // The quota of the day the call was made: an answer arriving just after midnight does
            // not pause the new day.
            (_, Some(ErrorKind::QuotaExceeded)) => {
                self.quota_pause(next_utc_midnight(started), text)
            }
            _ => {
                let attempts = group.iter().map(|s| s.attempts).max().unwrap_or(0);
                let next = now + self.backoff(attempts);
                self.retry(group, text, next, now)
            }
        }
    }

    fn quota_pause(&self, until: DateTime<Utc>, reason: String) -> (Owned, Delivery) {
        if !matches!(self.pause(), Some(Pause::Until { until: u, .. }) if u == until) {
            self.0.alerts.raise(
                AlertKind::QuotaExhausted,
                format!("The daily Constant Contact API quota is spent; deliveries resume at {until}. Signups are queued."),
            );
            self.pause_alerted(AlertKind::QuotaExhausted);
        }
        (
            Owned::Release { next: until },
            Delivery::Paused(Pause::Until { until, reason }),
        )
    }

    /// Retry at `next`, unless the group is older than `max_age`: then it is dead.
    fn retry(
        &self,
        group: &[SignupRecord],
        error: String,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Owned, Delivery) {
        let max_age =
            chrono::Duration::from_std(self.0.settings.max_age).unwrap_or(chrono::Duration::MAX);
        // A coalesced group lives as long as its newest signup: a fresh signup is never given up
        // on because an older one for the same email was.
        let newest = group
            .iter()
            .map(SignupRecord::age_origin)
            .max()
            .unwrap_or(now);
        if now - newest > max_age {
            let error = format!(
                "gave up after {}: {error}",
                humantime::format_duration(self.0.settings.max_age)
            );
            return (
                Owned::Dead {
                    error: error.clone(),
                },
                Delivery::Dead { error },
            );
        }
        tracing::warn!(error = %error, retry_at = %next, "delivery failed; will retry");
        (
            Owned::Failed {
                error: error.clone(),
                next,
            },
            Delivery::Retrying { error },
        )
    }

    /// `retry_base · 2^attempts`, at most `retry_max`, with "equal jitter" (between half and all of it).
    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let s = &self.0.settings;
        let full = s
            .retry_base
            .saturating_mul(1u32 << attempts.min(20))
            .min(s.retry_max);
        let wait = full / 2 + full.mul_f64(rand::random::<f64>() / 2.0);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }

    fn pause_alerted(&self, kind: AlertKind) {
        *self.0.pause_alert.lock().expect("pause alert lock") = Some(kind);
    }

    /// A delivery went through: if a pause was alerted, say that it is over.
    fn recovered(&self) {
        let alerted = self.0.pause_alert.lock().expect("pause alert lock").take();
        match alerted {
            Some(AlertKind::QuotaExhausted) => self.0.alerts.raise(
                AlertKind::QuotaReset,
                "The daily Constant Contact API quota was reset; queued signups are being delivered again.",
            ),
            Some(_) => self.0.alerts.raise(
                AlertKind::DeliveriesResumed,
                "Constant Contact accepts deliveries again; queued signups are being delivered.",
            ),
            None => {}
        }
    }

    fn set_pause(&self, pause: Pause) {
        let mut current = self.0.pause.lock().expect("pause lock");
        if current.as_ref() != Some(&pause) {
            tracing::warn!(?pause, "deliveries paused");
        }
        *current = Some(pause);
    }

    /// Whether the pause (if any) is still on; clears it when it is over.
    fn paused(&self) -> Option<Pause> {
        let mut current = self.0.pause.lock().expect("pause lock");
        if let Some(Pause::Until { until, .. }) = current.as_ref()
            && *until <= self.0.clock.now()
        {
            tracing::info!("deliveries resume");
            *current = None;
        }
        current.clone()
    }

    /// On a shared database a connection made through another replica wakes nobody here, so a
    /// worker waiting for one looks at the token set itself (each time round its loop, at least
    /// every `SHARED_MAX_IDLE`).
    async fn notice_connection_made_elsewhere(&self) {
        if !self.0.store.backend().is_shared()
            || !matches!(self.paused(), Some(Pause::AwaitingConnection(_)))
        {
            return;
        }
        if let Ok(Some(set)) = self.0.store.token_set().await
            && set.state == "connected"
        {
            self.clear_connection_pause();
        }
    }

    fn clear_connection_pause(&self) {
        let mut current = self.0.pause.lock().expect("pause lock");
        if matches!(current.as_ref(), Some(Pause::AwaitingConnection(_))) {
            tracing::info!("connected; deliveries resume");
            *current = None;
        }
    }

    /// Erase personal data of signups delivered longer ago than `retention`.
    pub async fn purge_old(&self) -> Result<u64, StoreError> {
        let retention =
            chrono::Duration::from_std(self.0.settings.retention).unwrap_or(chrono::Duration::MAX);
        let purged = self
            .0
            .store
            .purge_delivered_before(self.0.clock.now() - retention)
            .await?;
        if purged > 0 {
            tracing::info!(
                purged,
                "personal data of delivered signups erased (retention)"
            );
        }
        Ok(purged)
    }

    /// The background loop: keep up to `concurrency` deliveries in flight, sleep when idle or
    /// paused, wake on a new signup or a connection, finish in-flight deliveries on shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut in_flight: JoinSet<Result<Delivery, StoreError>> = JoinSet::new();
        let mut next_purge = self.0.clock.now();
        loop {
            if self.0.clock.now() >= next_purge {
                if let Err(error) = self.purge_old().await {
                    tracing::warn!(%error, "retention purge failed");
                }
                next_purge = self.0.clock.now() + chrono::Duration::hours(1);
            }
            self.notice_connection_made_elsewhere().await;
            let mut store_failed = false;
            while in_flight.len() < self.0.settings.concurrency.max(1) && self.paused().is_none() {
                match self.claim().await {
                    Ok(group) if group.is_empty() => break,
                    Ok(group) => {
                        let worker = self.clone();
                        in_flight.spawn(async move { worker.deliver(group).await });
                    }
                    Err(error) => {
                        tracing::error!(%error, "claiming signups failed");
                        store_failed = true;
                        break;
                    }
                }
            }
            let sleep = if store_failed {
                Duration::from_secs(1)
            } else {
                self.idle_sleep(in_flight.is_empty()).await
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    match joined {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => tracing::error!(%error, "recording a delivery outcome failed; the claim will expire and it is retried"),
                        Err(error) => tracing::error!(%error, "a delivery task failed"),
                    }
                }
                () = self.0.wake.notified() => {}
                () = self.0.connected.notified() => self.clear_connection_pause(),
                () = tokio::time::sleep(sleep) => {}
            }
        }
        // Let the current deliveries finish, so their outcomes are recorded.
        while in_flight.join_next().await.is_some() {}
        tracing::info!("delivery worker stopped");
    }

    async fn idle_sleep(&self, nothing_in_flight: bool) -> Duration {
        let now = self.0.clock.now();
        let until = match self.paused() {
            Some(Pause::Until { until, .. }) => Some(until),
            Some(Pause::AwaitingConnection(_)) => None,
            None if nothing_in_flight => self.0.store.next_due_at().await.ok().flatten(),
            None => None,
        };
        let max_idle = if self.0.store.backend().is_shared() {
            SHARED_MAX_IDLE
        } else {
            MAX_IDLE
        };
        until
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or(max_idle)
            .min(max_idle)
    }
}

/// A settle decision that owns its strings (the store takes borrowed ones).
enum Owned {
    Failed { error: String, next: DateTime<Utc> },
    Dead { error: String },
    Release { next: DateTime<Utc> },
}
