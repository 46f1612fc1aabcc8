//! What a claimed group must pass before `sign_up_form`, which opts an unsubscribed contact back
//! in: nobody is re-subscribed without their own action (invariant 6).
//!
//! - A signup its person confirmed by mail (`confirmed_at`) is their own action: it is never held
//!   here, and once delivered its address leaves the mirror. Unless the person unsubscribed after
//!   confirming (delivery can come much later: a pause, `ccbridge retry --dead`): a confirmation
//!   older than the mirror's opt-out date no longer speaks for them, and the signup goes the
//!   unconfirmed way below.
//! - Any other signup waits while the unsubscribes gate is closed (the mirror is not complete or
//!   not fresh): released without an attempt counted, until the gate says to look again.
//! - Then the mirror is asked right before the call. An unsubscribed address is not sent: with
//!   `[smtp]` the person is asked by mail (awaiting_confirmation); without, Constant Contact is asked
//!   once to send its own resubscribe email and the signup is held as `suppressed`.
//!
//! `delivery.respect_unsubscribes = false` turns all of this off. The trade-off: no sync calls
//! and no wait after a connect, but any signup re-subscribes its address, whoever typed it.

use chrono::Utc;
use uuid::Uuid;

use super::outcome::Owned;
use super::{Delivery, DeliveryWorker, Pause};
use crate::store::{Divert, Settle, SignupRecord, StoreError, UnsubscribedEntry};
use crate::tokens::CallError;
use crate::unsubscribes::{Gate, Resubscribe, ResubscribeError};

const SENT_RESUBSCRIBE: &str = "unsubscribed; Constant Contact sent its resubscribe email";
const ALREADY_ASKED: &str =
    "unsubscribed; Constant Contact was already asked once to send its resubscribe email";
const ASKED_BY_MAIL: &str = "unsubscribed; asked to confirm by mail";

/// What is left to send of a claimed group.
pub(super) enum Screened {
    /// These (all of the group, or its confirmed signups) go to `sign_up_form`.
    Send(Vec<SignupRecord>),
    /// Nothing is sent; the group is settled already.
    Done(Delivery),
}

impl DeliveryWorker {
    pub(super) async fn screen(
        &self,
        mut group: Vec<SignupRecord>,
    ) -> Result<Screened, StoreError> {
        let mirror = &self.0.unsubscribes;
        if !mirror.respects() {
            return Ok(Screened::Send(group));
        }
        // A group is one address (coalesced by email).
        let email = group[0].email.clone().unwrap_or_default();
        let entry = mirror.unsubscribed(&email).await?;
        for signup in &mut group {
            if signup
                .confirmed_at
                .is_some_and(|at| !confirmation_counts(at, entry.as_ref()))
            {
                // Treated as unconfirmed from here on, so it is screened (and asked again) like
                // one, and its delivery does not take the address out of the mirror.
                signup.confirmed_at = None;
            }
        }
        let (confirmed, unconfirmed): (Vec<_>, Vec<_>) =
            group.into_iter().partition(|s| s.confirmed_at.is_some());
        if unconfirmed.is_empty() {
            return Ok(Screened::Send(confirmed));
        }
        let held = match mirror.admit().await? {
            Gate::Wait { reason, until } => self.wait_for_gate(&unconfirmed, reason, until).await?,
            Gate::Open => {
                *self.0.gate_wait.lock().expect("gate lock") = None;
                // Asked again: `admit` may have just completed a sync.
                match mirror.unsubscribed(&email).await? {
                    None => {
                        let mut all = confirmed;
                        all.extend(unconfirmed);
                        all.sort_by_key(|s| s.id);
                        return Ok(Screened::Send(all));
                    }
                    Some(entry) => self.hold_unsubscribed(&unconfirmed, &entry).await?,
                }
            }
        };
        if confirmed.is_empty() {
            Ok(Screened::Done(held))
        } else {
            Ok(Screened::Send(confirmed))
        }
    }

    /// The gate is closed: back in the queue until it says, no attempt counted.
    async fn wait_for_gate(
        &self,
        signups: &[SignupRecord],
        reason: String,
        until: chrono::DateTime<Utc>,
    ) -> Result<Delivery, StoreError> {
        let pause = Pause::Until { until, reason };
        let ids: Vec<Uuid> = signups.iter().map(|s| s.id).collect();
        let now = self.0.clock.now();
        self.settle(
            &ids,
            &Settle::Release {
                next_attempt_at: until,
            },
            now,
        )
        .await?;
        let mut wait = self.0.gate_wait.lock().expect("gate lock");
        if wait.as_ref() != Some(&pause) {
            tracing::info!(
                ?pause,
                "single opt-in deliveries wait for the unsubscribes list"
            );
        }
        *wait = Some(pause.clone());
        crate::metrics::delivery("paused");
        Ok(Delivery::Paused(pause))
    }

    /// The address is unsubscribed: ask the person, never send on their behalf.
    async fn hold_unsubscribed(
        &self,
        signups: &[SignupRecord],
        entry: &UnsubscribedEntry,
    ) -> Result<Delivery, StoreError> {
        let mirror = &self.0.unsubscribes;
        let ids: Vec<Uuid> = signups.iter().map(|s| s.id).collect();
        let settings = mirror.settings();
        let reason = if settings.with_smtp {
            let policy = settings.policy;
            self.divert(&ids, &Divert::Confirm(&policy)).await?;
            ASKED_BY_MAIL
        } else {
            let mut lists: Vec<Uuid> = Vec::new();
            for list in signups.iter().flat_map(|s| &s.list_ids) {
                if !lists.contains(list) {
                    lists.push(*list);
                }
            }
            let reason = match mirror.ask_to_resubscribe(entry, ids[0], &lists).await {
                Ok(Resubscribe::Sent) => SENT_RESUBSCRIBE,
                Ok(Resubscribe::AlreadyAsked) => ALREADY_ASKED,
                Err(ResubscribeError::Store(error)) => return Err(error),
                Err(ResubscribeError::Call(error)) => {
                    return self.resubscribe_failed(signups, error).await;
                }
            };
            self.divert(&ids, &Divert::Suppress(reason)).await?;
            reason
        };
        tracing::info!(
            signups = ids.len(),
            reason,
            "not sent to Constant Contact: the address is unsubscribed"
        );
        crate::metrics::delivery("held");
        Ok(Delivery::Held {
            signups: ids.len(),
            reason: reason.to_owned(),
        })
    }

    async fn divert(&self, ids: &[Uuid], divert: &Divert<'_>) -> Result<(), StoreError> {
        let now = self.0.clock.now();
        self.0
            .store
            .divert_unsubscribed(ids, &self.0.owner, divert, now)
            .await?;
        Ok(())
    }

    /// The resubscribe request failed like a delivery call can: the same outcomes (retry with a
    /// backoff, pause, wait for a connection; a 400 is dead, kept and replayable, with the
    /// `signup_dead` alert).
    async fn resubscribe_failed(
        &self,
        signups: &[SignupRecord],
        error: CallError,
    ) -> Result<Delivery, StoreError> {
        let now = self.0.clock.now();
        let ids: Vec<Uuid> = signups.iter().map(|s| s.id).collect();
        let (settle, delivery): (Owned, Delivery) = match error {
            CallError::Token(error) => self.token_problem(error, now).await,
            CallError::Api(error) => self.api_problem(signups, error, now, now).await,
        };
        self.conclude(&ids, settle, delivery, now).await
    }

    /// After a confirmed signup was delivered, its address is subscribed again by its person's own
    /// action: it leaves the mirror (a later unconfirmed signup is then sent as usual). Only a
    /// confirmation that counts: `screen` has cleared one older than the address's opt-out.
    pub(super) async fn forget_if_confirmed(&self, group: &[SignupRecord]) {
        let Some(email) = group
            .iter()
            .find(|s| s.confirmed_at.is_some())
            .and_then(|s| s.email.as_deref())
        else {
            return;
        };
        if let Err(error) = self.0.unsubscribes.forget(email).await {
            tracing::warn!(%error, "could not take a re-subscribed address out of the unsubscribes mirror");
        }
    }
}

/// Whether a confirmation made at `confirmed_at` still speaks for the person: it does unless the
/// mirror says they unsubscribed after it. An entry without an opt-out date cannot be ordered; the
/// confirmation counts then (otherwise they could never re-subscribe: every new confirmation would
/// be "older" than an unknown date).
fn confirmation_counts(
    confirmed_at: chrono::DateTime<Utc>,
    entry: Option<&UnsubscribedEntry>,
) -> bool {
    entry
        .and_then(|e| e.opted_out_at)
        .is_none_or(|opted_out_at| confirmed_at > opted_out_at)
}
