//! What an answer from Constant Contact (or the lack of a token) means for a claimed group:
//! delivered, retried after a backoff, dead, or a pause for every delivery. The decisions only;
//! `DeliveryWorker::deliver` records them.

use chrono::{DateTime, Utc};

use super::{Delivery, DeliveryWorker, Pause};
use crate::alerts::AlertKind;
use crate::constant_contact::limits::next_utc_midnight;
use crate::constant_contact::{ApiError, ErrorKind};
use crate::store::SignupRecord;
use crate::tokens::TokenError;

/// A 409 (simultaneous change to the same contact) is retried this soon.
const CONFLICT_RETRY: chrono::Duration = chrono::Duration::seconds(2);
/// After a 429 `throttled`, the signup is back in the queue this soon (the limiter also holds).
const THROTTLED_RETRY: chrono::Duration = chrono::Duration::seconds(1);
/// A 403 (scope, privilege or a deactivated app) needs a human; look again this often.
const FORBIDDEN_PAUSE: chrono::Duration = chrono::Duration::minutes(15);

/// Without a fresh token (a refresh failing), deliveries look again this soon.
const NO_TOKEN_PAUSE: chrono::Duration = chrono::Duration::seconds(10);
/// When the token set could not be read (the database busy or briefly away).
const STORE_BLIP_PAUSE: chrono::Duration = chrono::Duration::seconds(1);

/// A settle decision that owns its strings (the store takes borrowed ones).
pub(super) enum Owned {
    Failed { error: String, next: DateTime<Utc> },
    Dead { error: String },
    Release { next: DateTime<Utc> },
}

impl DeliveryWorker {
    pub(super) async fn token_problem(
        &self,
        error: TokenError,
        now: DateTime<Utc>,
    ) -> (Owned, Delivery) {
        match error {
            TokenError::NotConnected
            | TokenError::NeedsReconnect(_)
            | TokenError::SwitchUnconfirmed(_) => {
                let pause = Pause::AwaitingConnection(error.to_string());
                (Owned::Release { next: now }, Delivery::Paused(pause))
            }
            other => {
                // The keeper retries refreshes itself; look again a little later. A database
                // that did not answer in time is a blip, not a refresh in trouble: look again soon.
                tracing::warn!(error = %other, "no token for delivery right now");
                let wait = match other {
                    TokenError::Store(_) => STORE_BLIP_PAUSE,
                    _ => NO_TOKEN_PAUSE,
                };
                let until = now + wait;
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
    pub(super) async fn api_problem(
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

    pub(super) fn quota_pause(&self, until: DateTime<Utc>, reason: String) -> (Owned, Delivery) {
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
    pub(super) fn retry(
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

    /// `retry_base · 2^attempts`, at most `retry_max`, with jitter.
    pub(super) fn backoff(&self, attempts: u32) -> chrono::Duration {
        let s = &self.0.settings;
        crate::domain::backoff::jittered(s.retry_base, s.retry_max, attempts)
    }
}
