//! Unsubscribes respected: a local mirror of the account's unsubscribed addresses, kept in sync
//! from `GET /contacts`, and the freshness gate single opt-in deliveries pass.
//!
//! Why: `sign_up_form` sets an existing contact's permission to `explicit`, including a contact
//! who unsubscribed. A form anyone can post to must not be a way to opt people back in. So before
//! a signup that the person has not confirmed by mail is sent, delivery asks this module whether
//! the address is unsubscribed (and whether the answer can be trusted: `gate`).
//!
//! - **Sync.** A full sync (both `status=unsubscribed` and deleted contacts whose permission is
//!   unsubscribed: `sign_up_form` restores a deleted contact) when none has completed under the
//!   current authorization (a connect or an account switch since) or every
//!   `unsubscribes_full_sync_interval`; otherwise an incremental one (`optout_after` the newest
//!   opt-out seen, less an overlap) every `unsubscribes_sync_interval`.
//! - **Budget.** Every page goes through the shared rate limiter, and all syncs of a UTC day
//!   together take at most `SYNC_SHARE_PERCENT` of the day's budget: past it, syncing stops until
//!   the next day rather than starving deliveries (the freshness gate then decides).
//! - **Gate.** With `delivery.respect_unsubscribes`, single opt-in deliveries wait until the first
//!   full sync under the current authorization has completed, while syncs have been failing
//!   for longer than `unsubscribes_stale_after`, and while the last successful sync is older
//!   than that (a restart after a long stop, or the mirror switched off and on).
//!
//! `sync_step` is the step (tests drive it); `run` only schedules it. The mirror never imports
//! delivery; delivery asks it.

mod sync;

pub use sync::{SyncError, SyncOutcome};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::config::{Config, MAX_LISTS_PER_SIGNUP};
use crate::constant_contact::{ApiClient, ErrorKind};
use crate::store::{
    ConfirmationPolicy, Store, StoreError, StoredTokenSet, SyncState, UnsubscribedEntry,
};
use crate::tokens::{CallError, TokenKeeper};

/// The share of the day's API budget all syncs together may take, in percent. Incremental syncs
/// every 5 minutes cost about 600 calls a day (two short queries each), under 6% of 10,000; the
/// rest leaves room for a full sync of up to about 200,000 unsubscribed contacts.
pub const SYNC_SHARE_PERCENT: u64 = 10;
/// How often single opt-in deliveries look again while the first full sync has not completed.
const FIRST_SYNC_RETRY: Duration = Duration::from_secs(5);
/// After a failed sync the next automatic one waits this, doubled per failure in a row (at most
/// `unsubscribes_sync_interval`): an outage upstream does not eat the syncs' share of the budget.
const RETRY_BASE: Duration = Duration::from_secs(2);
/// The longest the loop sleeps without looking whether a sync is due.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// The mirror's settings (from `[delivery]`, `[smtp]` and `[consent]`).
#[derive(Debug, Clone)]
pub struct MirrorSettings {
    /// `delivery.respect_unsubscribes`: everything here is off without it.
    pub respect: bool,
    pub sync_interval: Duration,
    pub full_sync_interval: Duration,
    pub stale_after: Duration,
    /// Whether a mail server is configured: an unsubscribed address is then asked by mail.
    pub with_smtp: bool,
    pub policy: ConfirmationPolicy,
}

impl MirrorSettings {
    pub fn from_config(config: &Config) -> Self {
        let delivery = &config.delivery;
        Self {
            respect: delivery.respect_unsubscribes,
            sync_interval: delivery.unsubscribes_sync_interval,
            full_sync_interval: delivery.unsubscribes_full_sync_interval,
            stale_after: delivery.unsubscribes_stale_after,
            with_smtp: config.smtp.is_enabled(),
            policy: (&config.consent).into(),
        }
    }
}

/// Whether single opt-in deliveries may go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Not before `until`, for `reason`.
    Wait {
        reason: String,
        until: DateTime<Utc>,
    },
}

/// What Constant Contact was asked for an unsubscribed contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resubscribe {
    /// It sent its resubscribe email now.
    Sent,
    /// It had been asked before (by ccbridge, or it answered that the mail was already sent).
    AlreadyAsked,
}

#[derive(Debug, thiserror::Error)]
pub enum ResubscribeError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct UnsubscribeMirror(Arc<Inner>);

struct Inner {
    store: Store,
    keeper: TokenKeeper,
    api: ApiClient,
    clock: SharedClock,
    settings: MirrorSettings,
    /// A connection was made: a full sync is due now.
    wake: Notify,
    /// One sync at a time in this process (the loop and a delivery waiting for the first one).
    step: tokio::sync::Mutex<()>,
    /// API calls the syncs made on a UTC day (the share of the budget).
    spent: Mutex<(NaiveDate, u64)>,
    /// After failed syncs: how many in a row, and no automatic retry before when.
    retry_after: Mutex<(u32, Option<DateTime<Utc>>)>,
}

impl UnsubscribeMirror {
    pub fn new(
        store: Store,
        keeper: TokenKeeper,
        api: ApiClient,
        clock: SharedClock,
        settings: MirrorSettings,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            keeper,
            api,
            clock,
            settings,
            wake: Notify::new(),
            step: tokio::sync::Mutex::new(()),
            spent: Mutex::new((NaiveDate::MIN, 0)),
            retry_after: Mutex::new((0, None)),
        }))
    }

    pub fn settings(&self) -> &MirrorSettings {
        &self.0.settings
    }

    /// Whether unsubscribes are respected at all.
    pub fn respects(&self) -> bool {
        self.0.settings.respect
    }

    /// A connection was made (here or by another process): sync now.
    pub fn connection_made(&self) {
        self.0.wake.notify_one();
    }

    /// The sync state, for the status.
    pub async fn sync_state(&self) -> Result<SyncState, StoreError> {
        self.0.store.sync_state().await
    }

    /// Whether the mirror can be trusted now (`SyncState` plus the gate), for the status.
    pub async fn fresh(&self) -> Result<bool, StoreError> {
        Ok(self.gate(self.0.clock.now()).await? == Gate::Open)
    }

    /// The mirror's entry for `email`, if the address is unsubscribed.
    pub async fn unsubscribed(&self, email: &str) -> Result<Option<UnsubscribedEntry>, StoreError> {
        self.0.store.unsubscribed(email).await
    }

    /// The person re-subscribed themselves (a confirmed signup was delivered).
    pub async fn forget(&self, email: &str) -> Result<(), StoreError> {
        self.0.store.forget_unsubscribed(email).await
    }

    /// A sync step now, if one is due (by this mirror's clock).
    pub async fn sync_now(&self) -> Result<SyncOutcome, SyncError> {
        self.sync_step(self.0.clock.now()).await
    }

    /// Whether single opt-in deliveries may go at `now`.
    pub async fn gate(&self, now: DateTime<Utc>) -> Result<Gate, StoreError> {
        Ok(self.check(now).await?.map_or(Gate::Open, Wait::into_gate))
    }

    /// The gate, after running a sync here if that is all it waits for: the first full sync, or
    /// a sync when the last one is too old but none failed (a delivery right after a connect or a
    /// long stop then goes as soon as the list is complete and fresh, not at the next look). The
    /// caller keeps its claim renewed meanwhile (`DeliveryWorker::deliver`).
    pub async fn admit(&self) -> Result<Gate, StoreError> {
        let now = self.0.clock.now();
        match self.check(now).await? {
            None => Ok(Gate::Open),
            // The loop (or another delivery) is running it already: wait for that one at the next
            // look, without holding a delivery slot on the lock meanwhile.
            Some(wait @ (Wait::FirstSync(_) | Wait::Old { .. }))
                if self.0.step.try_lock().is_err() =>
            {
                Ok(wait.into_gate())
            }
            Some(Wait::FirstSync(_) | Wait::Old { .. }) => {
                self.sync_if_due().await;
                self.gate(self.0.clock.now()).await
            }
            Some(wait) => Ok(wait.into_gate()),
        }
    }

    async fn check(&self, now: DateTime<Utc>) -> Result<Option<Wait>, StoreError> {
        if !self.respects() {
            return Ok(None);
        }
        let set = self.0.store.token_set().await?;
        let state = self.0.store.sync_state().await?;
        Ok(wait_reason(&self.0.settings, set.as_ref(), &state, now))
    }

    /// Ask Constant Contact to send `entry`'s contact its resubscribe email, for `lists` (at most
    /// `MAX_LISTS_PER_SIGNUP`, the rest left out) — once per contact: Constant Contact allows one,
    /// so a second ask is not made. A 409 answer means it was already sent (from Constant
    /// Contact's side, or by an earlier process). A 400 is a refused request (an unknown list, a
    /// malformed id): nothing is recorded and the error is returned, so the signup is dead with
    /// it like a refused `sign_up_form`, and a replay asks again.
    pub async fn ask_to_resubscribe(
        &self,
        entry: &UnsubscribedEntry,
        signup_id: Uuid,
        lists: &[Uuid],
    ) -> Result<Resubscribe, ResubscribeError> {
        let store = &self.0.store;
        if store.resubscribe_requested(&entry.contact_id).await? {
            return Ok(Resubscribe::AlreadyAsked);
        }
        let answer = self
            .0
            .keeper
            .call(|token| {
                let api = self.0.api.clone();
                let contact_id = entry.contact_id.clone();
                let lists = lists[..lists.len().min(MAX_LISTS_PER_SIGNUP)].to_vec();
                async move { api.resubscribe(&token, &contact_id, &lists).await }
            })
            .await;
        let outcome = match answer {
            Ok(()) => Resubscribe::Sent,
            Err(CallError::Api(error)) if error.kind() == Some(ErrorKind::Conflict) => {
                tracing::info!(%error, "Constant Contact did not send another resubscribe email");
                Resubscribe::AlreadyAsked
            }
            Err(other) => return Err(other.into()),
        };
        let now = self.0.clock.now();
        store
            .record_resubscribe_request(&entry.contact_id, &entry.email, signup_id, now)
            .await?;
        Ok(outcome)
    }

    /// The background loop: a sync whenever one is due (and at start, and on a connection), never
    /// while not connected.
    pub async fn run(self, shutdown: CancellationToken) {
        if !self.respects() {
            return;
        }
        loop {
            self.sync_if_due().await;
            let mut wake_at = self.0.clock.now()
                + chrono::Duration::from_std(self.0.settings.sync_interval.min(MAX_IDLE))
                    .unwrap_or_default();
            if let (_, Some(retry)) = *self.0.retry_after.lock().expect("retry lock") {
                wake_at = wake_at.min(retry);
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.0.wake.notified() => {}
                () = self.0.clock.sleep_until(wake_at) => {}
            }
        }
        tracing::info!("unsubscribe sync stopped");
    }

    /// One step, unless a recent failure says to wait; failures are logged (and recorded by the step).
    async fn sync_if_due(&self) {
        let now = self.0.clock.now();
        let (_, held) = *self.0.retry_after.lock().expect("retry lock");
        if held.is_some_and(|until| until > now) {
            return;
        }
        let result = self.sync_step(now).await;
        let mut retry = self.0.retry_after.lock().expect("retry lock");
        match result {
            Ok(outcome) => {
                tracing::debug!(?outcome, "unsubscribe sync step");
                *retry = (0, None);
            }
            Err(SyncError::BudgetShare { resets_at }) => {
                tracing::warn!(%resets_at, "the unsubscribe sync used its share of today's API budget");
                *retry = (retry.0 + 1, Some(resets_at));
            }
            Err(error) => {
                let wait = RETRY_BASE
                    .saturating_mul(1 << retry.0.min(16))
                    .min(self.0.settings.sync_interval);
                tracing::warn!(%error, retry_in = ?wait, "syncing the unsubscribed addresses failed; will retry");
                *retry = (
                    retry.0 + 1,
                    Some(now + chrono::Duration::from_std(wait).unwrap_or_default()),
                );
            }
        }
    }
}

/// Why single opt-in deliveries must wait now, if they must: the gate as a plain decision over the
/// stored token set and sync state (the status document asks it too, without a running mirror).
pub fn wait_reason(
    settings: &MirrorSettings,
    set: Option<&StoredTokenSet>,
    state: &SyncState,
    now: DateTime<Utc>,
) -> Option<Wait> {
    if !settings.respect {
        return None;
    }
    // Not connected (or a switch of accounts held): nothing is delivered anyway, and delivery's
    // own pause says why.
    let set = set?;
    if set.state != "connected" || set.switch_unconfirmed {
        return None;
    }
    if !sync::full_sync_done_under(state, set.authorized_at) {
        return Some(Wait::FirstSync(now + FIRST_SYNC_RETRY));
    }
    let stale_after =
        chrono::Duration::from_std(settings.stale_after).unwrap_or(chrono::Duration::MAX);
    let retry =
        now + chrono::Duration::from_std(settings.sync_interval.min(MAX_IDLE)).unwrap_or_default();
    if let Some(since) = state.failing_since
        && now - since > stale_after
    {
        return Some(Wait::Stale {
            since,
            error: state.last_error.clone().unwrap_or_default(),
            until: retry,
        });
    }
    // Not failing, but not syncing either: a restart after days down, or
    // `respect_unsubscribes` switched off and on again. Opt-outs since are unknown until the
    // next sync (which the loop runs at once).
    match state.last_sync_at {
        Some(last) if now - last > stale_after => Some(Wait::Old {
            last_sync_at: last,
            until: retry,
        }),
        _ => None,
    }
}

/// Why single opt-in deliveries wait (see [`wait_reason`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    FirstSync(DateTime<Utc>),
    Stale {
        since: DateTime<Utc>,
        error: String,
        until: DateTime<Utc>,
    },
    /// No sync has succeeded for longer than `unsubscribes_stale_after`, though none failed.
    Old {
        last_sync_at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

impl Wait {
    pub fn into_gate(self) -> Gate {
        match self {
            Self::FirstSync(until) => Gate::Wait {
                reason: "waiting for the first complete list of the account's unsubscribed addresses (after a connect, an account switch or an upgrade)".into(),
                until,
            },
            Self::Stale { since, error, until } => Gate::Wait {
                reason: format!(
                    "the list of unsubscribed addresses is out of date: syncing has failed since {since} ({error})"
                ),
                until,
            },
            Self::Old {
                last_sync_at,
                until,
            } => Gate::Wait {
                reason: format!(
                    "the list of unsubscribed addresses is out of date: the last sync was at {last_sync_at}, longer ago than delivery.unsubscribes_stale_after; waiting for the next one"
                ),
                until,
            },
        }
    }
}
