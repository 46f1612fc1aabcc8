//! The mail queue: confirmation mails waiting to be sent, and the caps on how many are queued.
//!
//! A mail row names its signup and its recipient only; the body (and the link's token) is written
//! by the mail worker when it sends, so nothing in this table opens a confirmation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::StoreError;
use crate::config::ConsentConfig;

/// How confirmations are held and how many mails may be queued (from `[consent]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmationPolicy {
    /// A waiting signup is purged this long after it was held (its link lives as long from the
    /// moment the mail is sent).
    pub expiry: Duration,
    /// Confirmation mails one address may get in any 24 hours, across forms.
    pub per_address_per_day: u32,
    /// Confirmation mails in any hour, all addresses together.
    pub per_hour: u32,
}

impl From<&ConsentConfig> for ConfirmationPolicy {
    fn from(config: &ConsentConfig) -> Self {
        Self {
            expiry: config.confirm_expiry,
            per_address_per_day: config.mails_per_address_per_day,
            per_hour: config.mails_per_hour,
        }
    }
}

impl Default for ConfirmationPolicy {
    fn default() -> Self {
        Self {
            expiry: Duration::from_secs(7 * 24 * 3600),
            per_address_per_day: 3,
            per_hour: 200,
        }
    }
}

/// Whether a held signup got a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    MailQueued,
    /// A cap was reached: held without a mail (the visitor's answer does not change).
    CapReached,
    /// The signup is no longer there (a later signup of the same batch replaced it): nothing to
    /// hold, and nothing wrong.
    Gone,
}

/// Hold a signup until its person confirms (`reason`: why), and queue the confirmation mail unless
/// a cap forbids it. Runs inside the caller's transaction.
pub(super) async fn hold_for_confirmation(
    conn: &mut AnyConnection,
    signup_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
    policy: &ConfirmationPolicy,
) -> Result<Held, StoreError> {
    let expiry = chrono::Duration::from_std(policy.expiry).unwrap_or(chrono::Duration::MAX);
    let expires_at = now.checked_add_signed(expiry).unwrap_or(now);
    sqlx::query(
        "update signups set state = 'awaiting_confirmation', hold_reason = $1,
            confirm_expires_at = $2, claimed_by = null, claimed_until = null
         where id = $3",
    )
    .bind(reason)
    .bind(expires_at.timestamp_millis())
    .bind(signup_id.to_string())
    .execute(&mut *conn)
    .await?;
    let email: Option<(Option<String>,)> =
        sqlx::query_as("select email from signups where id = $1")
            .bind(signup_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let Some((email,)) = email else {
        return Ok(Held::Gone);
    };
    let Some(email) = email else {
        return Ok(Held::CapReached);
    };
    let to = email.to_lowercase();
    if !within_caps(conn, &to, now, policy).await? {
        tracing::warn!(
            signup_id = %signup_id,
            "confirmation mail not queued: a mail cap is reached; the signup waits without a mail"
        );
        crate::metrics::confirmation_capped();
        return Ok(Held::CapReached);
    }
    sqlx::query(
        "insert into mail_outbox (id, kind, signup_id, to_address, state, next_attempt_at, created_at)
         values ($1, 'confirmation', $2, $3, 'queued', $4, $4)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(signup_id.to_string())
    .bind(to)
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok(Held::MailQueued)
}

/// Fewer than `per_address_per_day` mails to this address in the last 24 hours, and fewer than
/// `per_hour` mails in the last hour (a cancelled mail was never sent and does not count).
async fn within_caps(
    conn: &mut AnyConnection,
    to: &str,
    now: DateTime<Utc>,
    policy: &ConfirmationPolicy,
) -> Result<bool, StoreError> {
    let now_ms = now.timestamp_millis();
    let (to_address,): (i64,) = sqlx::query_as(
        "select count(*) from mail_outbox
         where to_address = $1 and created_at > $2 and state <> 'cancelled'",
    )
    .bind(to)
    .bind(now_ms - 24 * 3600 * 1000)
    .fetch_one(&mut *conn)
    .await?;
    if to_address >= i64::from(policy.per_address_per_day) {
        return Ok(false);
    }
    let (all,): (i64,) = sqlx::query_as(
        "select count(*) from mail_outbox where created_at > $1 and state <> 'cancelled'",
    )
    .bind(now_ms - 3600 * 1000)
    .fetch_one(&mut *conn)
    .await?;
    Ok(all < i64::from(policy.per_hour))
}

/// A queued mail the worker claimed.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: Uuid,
    pub signup_id: Uuid,
    /// Lower-cased.
    pub to_address: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// What became of a claimed mail.
#[derive(Debug, Clone, Copy)]
pub enum MailSettle<'a> {
    Sent,
    /// Try again at `next_attempt_at`; counts as an attempt.
    Retry {
        error: &'a str,
        next_attempt_at: DateTime<Utc>,
    },
    /// Never sent: refused for good, or too late to be of use.
    Dead {
        error: &'a str,
    },
    /// Not needed any more (its signup is gone or no longer waits).
    Cancelled,
}

/// Confirmation mails by state, for the status and the metrics. `failed` is the part of `queued`
/// that has already failed at least once (waiting for a retry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MailCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    pub dead: u64,
}

/// A mail the worker may claim now (`$1`: now, unix ms).
const MAIL_DUE: &str = "state = 'queued' and next_attempt_at <= $1
    and (claimed_until is null or claimed_until <= $1)";

type MailRow = (String, String, String, i64, i64);

fn into_mail(
    (id, signup_id, to_address, attempts, created_at): MailRow,
) -> Result<QueuedMail, StoreError> {
    let parse = |value: &str| {
        Uuid::parse_str(value).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            problem: format!("mail_outbox: {e}"),
        })
    };
    Ok(QueuedMail {
        id: parse(&id)?,
        signup_id: parse(&signup_id)?,
        to_address,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: super::from_millis(created_at),
    })
}

impl super::Store {
    /// Claim the most overdue queued mail with a lease (a crash mid-send only delays it). `None`
    /// when nothing is due.
    pub async fn claim_due_mail(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<QueuedMail>, StoreError> {
        let now_ms = now.timestamp_millis();
        let returning = "returning id, signup_id, to_address, attempts, created_at";
        let row: Option<MailRow> = match self.backend {
            // One writer at a time: a read and a conditional update cannot race with another claim.
            super::Backend::Sqlite => {
                let head: Option<(String,)> = sqlx::query_as(&format!(
                    "select id from mail_outbox where {MAIL_DUE} order by next_attempt_at, id limit 1"
                ))
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                let Some((id,)) = head else {
                    return Ok(None);
                };
                sqlx::query_as(&format!(
                    "update mail_outbox set claimed_by = $1, claimed_until = $2
                     where id = $3 and state = 'queued'
                       and (claimed_until is null or claimed_until <= $4) {returning}"
                ))
                .bind(owner)
                .bind(lease_until.timestamp_millis())
                .bind(id)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?
            }
            // Replicas claim at once: a row another replica is claiming is skipped, not waited on.
            super::Backend::Postgres => {
                sqlx::query_as(&format!(
                    "with head as (
                        select id from mail_outbox where {MAIL_DUE}
                        order by next_attempt_at, id limit 1
                        for update skip locked
                     )
                     update mail_outbox set claimed_by = $2, claimed_until = $3
                     where id in (select id from head) {returning}"
                ))
                .bind(now_ms)
                .bind(owner)
                .bind(lease_until.timestamp_millis())
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.map(into_mail).transpose()
    }

    /// Record what became of a claimed mail (only while `owner` still holds it). Returns whether
    /// it was recorded.
    pub async fn settle_mail(
        &self,
        id: Uuid,
        owner: &str,
        outcome: MailSettle<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let query = match outcome {
            MailSettle::Sent => sqlx::query(
                "update mail_outbox set state = 'sent', sent_at = $1, attempts = attempts + 1,
                    last_error = null, claimed_by = null, claimed_until = null
                 where id = $2 and claimed_by = $3",
            )
            .bind(now.timestamp_millis()),
            MailSettle::Retry {
                error,
                next_attempt_at,
            } => sqlx::query(
                "update mail_outbox set last_error = $1, next_attempt_at = $2,
                    attempts = attempts + 1, claimed_by = null, claimed_until = null
                 where id = $3 and claimed_by = $4",
            )
            .bind(error)
            .bind(next_attempt_at.timestamp_millis()),
            MailSettle::Dead { error } => sqlx::query(
                "update mail_outbox set state = 'dead', last_error = $1, attempts = attempts + 1,
                    claimed_by = null, claimed_until = null
                 where id = $2 and claimed_by = $3",
            )
            .bind(error),
            MailSettle::Cancelled => sqlx::query(
                "update mail_outbox set state = 'cancelled', claimed_by = null,
                    claimed_until = null
                 where id = $1 and claimed_by = $2",
            ),
        };
        let result = query
            .bind(id.to_string())
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Delete mails no longer queued (sent, dead, cancelled) that were queued before `cutoff`.
    /// The caller keeps at least 24 hours: the per-address cap counts the mails of the last day.
    pub async fn purge_mails_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let result =
            sqlx::query("delete from mail_outbox where state <> 'queued' and created_at < $1")
                .bind(cutoff.timestamp_millis())
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected())
    }

    /// When the next queued mail becomes due (for the worker's sleep).
    pub async fn next_mail_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as(&format!(
            "select min({}(next_attempt_at, coalesce(claimed_until, 0))) from mail_outbox
             where state = 'queued'",
            self.backend.greatest()
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.0.map(super::from_millis))
    }

    /// Confirmation mails by state (status, metrics).
    pub async fn mail_counts(&self) -> Result<MailCounts, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "select state, count(*), sum(case when attempts > 0 then 1 else 0 end)
             from mail_outbox group by state",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts = MailCounts::default();
        for (state, n, tried) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                "queued" => {
                    counts.queued = n;
                    counts.failed = u64::try_from(tried).unwrap_or(0);
                }
                "sent" => counts.sent = n,
                "dead" => counts.dead = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}
