//! Delivery: draining the signups outbox into Constant Contact's `POST /contacts/sign_up_form`.
//!
//! - **At least once.** A signup is claimed with a lease before it is sent and settled after; if
//!   the process dies in between, the lease runs out and the signup is sent again after the
//!   restart (the upstream call is an idempotent upsert by email).
//! - **Within the limits.** Every call goes through the shared `RateLimiter`.
//! - **Coalesced.** All queued signups for one email go out as one call, lists and fields merged
//!   (several calls, the lists split between them, when they name more than one call takes).
//! - **Every outcome handled.** 2xx delivered; 400 dead (kept, replayable) with an alert; 401 one
//!   refresh and one retry, then wait for a reconnect; 403 pause and alert; 409 retry soon; 429
//!   `throttled` slow down; 429 `quota_exceeded` pause until 00:00 UTC; 5xx, timeouts and dropped
//!   connections back off exponentially with jitter; past `max_age`, dead. Without a usable token,
//!   signups wait and flow as soon as an admin connects.
//!
//! - **Nobody re-subscribed on someone else's say-so.** A signup its person has not confirmed by
//!   mail passes `consent` first: the unsubscribes gate, and the mirror of unsubscribed addresses
//!   right before the call (see `crate::unsubscribes`).
//!
//! `deliver_next` is the step (tests drive it); `run` only schedules it. What each answer means is
//! decided in `outcome`; the pauses it can lead to, and their alerts, live in `pause`.

pub mod account_check;
mod consent;
mod merge;
mod outcome;
mod pause;

use outcome::Owned;
pub use pause::Pause;

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
use crate::constant_contact::ApiClient;
use crate::store::{Settle, SignupRecord, Store, StoreError};
use crate::tokens::{CallError, TokenKeeper};
use crate::unsubscribes::UnsubscribeMirror;

/// The longest the worker sleeps without looking at the queue again.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// The same on a database shared by replicas, where signups arrive, a dead replica's claims run
/// out and connections are made without waking this process.
const SHARED_MAX_IDLE: Duration = Duration::from_secs(5);
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
    /// Not sent: the address is unsubscribed, so the signup waits for its person (a confirmation
    /// mail, or Constant Contact's resubscribe mail).
    Held {
        signups: usize,
        reason: String,
    },
}

impl Delivery {
    /// The outcome's name (a metrics label).
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Retrying { .. } => "retrying",
            Self::Dead { .. } => "dead",
            Self::Paused(_) => "paused",
            Self::Held { .. } => "held",
        }
    }
}

#[derive(Clone)]
pub struct DeliveryWorker(Arc<Inner>);

struct Inner {
    store: Store,
    keeper: TokenKeeper,
    api: ApiClient,
    clock: SharedClock,
    settings: DeliveryConfig,
    /// `privacy.consent_retention`: how long a delivered signup's consent record is kept.
    consent_retention: Duration,
    alerts: Alerts,
    unsubscribes: UnsubscribeMirror,
    owner: String,
    /// A new signup was stored (or requeued).
    wake: Notify,
    /// An admin connected.
    connected: Notify,
    pause: Mutex<Option<Pause>>,
    /// The pause alert raised last, so the first delivery after it raises its recovery.
    pause_alert: Mutex<Option<AlertKind>>,
    /// The unsubscribes gate's wait logged last, so a wait is logged once, not at every look.
    /// (The status and the console show the wait from the same decision: `unsubscribes::wait_reason`.)
    gate_wait: Mutex<Option<Pause>>,
}

/// What the worker takes from the configuration: `[delivery]`, and how long consent records
/// outlive a delivery (`privacy.consent_retention`, purged by the same hourly purge).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub delivery: DeliveryConfig,
    pub consent_retention: Duration,
}

impl DeliveryWorker {
    pub fn new(
        store: Store,
        keeper: TokenKeeper,
        api: ApiClient,
        clock: SharedClock,
        settings: WorkerSettings,
        alerts: Alerts,
        unsubscribes: UnsubscribeMirror,
    ) -> Self {
        let WorkerSettings {
            delivery: settings,
            consent_retention,
        } = settings;
        Self(Arc::new(Inner {
            store,
            keeper,
            api,
            clock,
            settings,
            consent_retention,
            alerts,
            unsubscribes,
            owner: format!("delivery-{}", Uuid::new_v4()),
            wake: Notify::new(),
            connected: Notify::new(),
            pause: Mutex::new(None),
            pause_alert: Mutex::new(None),
            gate_wait: Mutex::new(None),
        }))
    }

    /// A signup was stored or requeued: look at the queue now rather than at the next timer.
    pub fn signup_queued(&self) {
        self.0.wake.notify_one();
    }

    /// A token set was stored by an authorization: a wait for a connection is over.
    pub fn connection_made(&self) {
        self.0.connected.notify_one();
        // A new authorization needs its first full sync of unsubscribes before single opt-in
        // deliveries go: start it now.
        self.0.unsubscribes.connection_made();
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
        // The screening is renewed like the call: it may run the first full sync of unsubscribes
        // (minutes on a large account) or wait for a slot for the resubscribe request, and a claim
        // running out meanwhile would let another replica take the group. (Skipping the inline
        // sync when it might be long would need to know its length beforehand; renewing does not.)
        let ids: Vec<Uuid> = group.iter().map(|s| s.id).collect();
        let screened = self.with_claim_renewed(&ids, self.screen(group)).await?;
        let group = match screened {
            consent::Screened::Send(group) => group,
            consent::Screened::Done(delivery) => return Ok(delivery),
        };
        let forms = merge::sign_up_forms(&group);
        let ids: Vec<Uuid> = group.iter().map(|s| s.id).collect();
        let started = self.0.clock.now();
        let call = self.sign_up(&forms);
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
                self.forget_if_confirmed(&group).await;
                crate::metrics::delivery(delivery.outcome());
                return Ok(delivery);
            }
            Err(CallError::Token(error)) => self.token_problem(error, now).await,
            Err(CallError::Api(error)) => self.api_problem(&group, error, started, now).await,
        };
        self.conclude(&ids, settle, delivery, now).await
    }

    /// Record a group's failed attempt (or its release), and the pause or alert it leads to.
    async fn conclude(
        &self,
        ids: &[Uuid],
        settle: Owned,
        delivery: Delivery,
        now: DateTime<Utc>,
    ) -> Result<Delivery, StoreError> {
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
        self.settle(ids, &settle_ref, now).await?;
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

    /// Send the calls for one group in order; the first failure stops them (the group is then
    /// retried whole: each call is an idempotent upsert). The outcome is the first call's, which
    /// is the one that may create the contact.
    async fn sign_up(
        &self,
        forms: &[crate::constant_contact::SignUpForm],
    ) -> Result<crate::constant_contact::SignUpOutcome, CallError> {
        let mut first = None;
        for form in forms {
            let outcome = self
                .0
                .keeper
                .call(|token| {
                    let api = self.0.api.clone();
                    let form = form.clone();
                    async move { api.sign_up_form(&token, &form).await }
                })
                .await?;
            first.get_or_insert(outcome);
        }
        Ok(first.expect("a group makes at least one call"))
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

    /// Erase personal data of signups delivered longer ago than `retention`, delete suppressed
    /// signups that arrived longer ago than it (with their consent records), and delete consent
    /// records of signups delivered longer ago than `privacy.consent_retention`.
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
        let suppressed = self
            .0
            .store
            .purge_suppressed_before(self.0.clock.now() - retention)
            .await?;
        if suppressed > 0 {
            tracing::info!(
                suppressed,
                "suppressed signups (unsubscribed addresses) past delivery.retention deleted"
            );
        }
        let kept = chrono::Duration::from_std(self.0.consent_retention).ok();
        let cutoff = kept.and_then(|kept| self.0.clock.now().checked_sub_signed(kept));
        let records = match cutoff {
            Some(cutoff) => self.0.store.purge_consent_records(cutoff).await?,
            None => 0, // kept longer than time can count: nothing is old enough
        };
        if records > 0 {
            tracing::info!(
                records,
                "consent records past privacy.consent_retention deleted"
            );
        }
        // The console's charts show 7 days of hourly counts.
        let cutoff = self.0.clock.now() - crate::store::KEEP_HOURLY_COUNTS;
        self.0.store.purge_hourly_counts_before(cutoff).await?;
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
        // A moment already past (it fell due between the claim and now) means look again at
        // once, not after the longest idle: `to_std` fails on a negative span.
        until
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(max_idle)
            .min(max_idle)
    }
}
