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
    let (email,): (Option<String>,) = sqlx::query_as("select email from signups where id = $1")
        .bind(signup_id.to_string())
        .fetch_one(&mut *conn)
        .await?;
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
