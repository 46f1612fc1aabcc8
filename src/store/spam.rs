//! Suspected spam in the outbox: released by an admin into the delivery queue, or deleted once
//! it is older than `spam.keep_for`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::consent::{Replaces, replace_waiting};
use super::mail_outbox::{ConfirmationPolicy, Held, hold_for_confirmation};
use super::{Store, StoreError};
use crate::domain::ConsentMode;

/// Where a released spam signup went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Into the delivery queue.
    Queued,
    /// A double opt-in signup: waiting for its person's confirmation.
    AwaitingConfirmation(Held),
}

impl Store {
    /// Move one spam signup into the delivery queue (an admin judged it genuine); `None` when no
    /// spam signup has that id. Its age limit counts from now, like a manual retry. A signup of a
    /// double opt-in form still needs its person's confirmation: it waits for it, with a mail
    /// (within the caps of `policy`), instead of being delivered on the admin's say-so.
    pub async fn release_spam(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        policy: &ConfirmationPolicy,
    ) -> Result<Option<Released>, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            // Locked on PostgreSQL: two releases (or a release and a purge) at once act once.
            let row: Option<(String, Option<i64>, String, String)> = sqlx::query_as(&format!(
                "select consent_mode, confirmed_at, email, form_id from signups
                 where id = $1 and state = 'spam' and email is not null{}",
                self.backend.for_update()
            ))
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
            let Some((mode, confirmed_at, email, form_id)) = row else {
                return Ok(None);
            };
            let released = sqlx::query(
                "update signups set state = 'pending', spam_reason = null, next_attempt_at = $1,
                    requeued_at = $1, claimed_by = null, claimed_until = null
                 where id = $2 and state = 'spam'",
            )
            .bind(now.timestamp_millis())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
            if released.rows_affected() == 0 {
                return Ok(None);
            }
            // Spam is not counted as accepted when it arrives; released, it is accepted now (the
            // charts' delivered never outgrows their accepted).
            super::rollup::add(
                tx.conn(),
                now,
                &form_id,
                super::rollup::Kind::Accepted,
                "",
                1,
            )
            .await?;
            if mode == ConsentMode::Double.as_str() && confirmed_at.is_none() {
                // Like a signup arriving now: it replaces an older one of the same address
                // still waiting on the same form (one mail, one link, one signup waiting).
                let newer = (id, Replaces::Others);
                replace_waiting(tx.conn(), self.backend, newer, (&email, &form_id), now).await?;
                let held =
                    hold_for_confirmation(tx.conn(), id, "double_opt_in", now, policy).await?;
                return Ok(Some(Released::AwaitingConfirmation(held)));
            }
            Ok(Some(Released::Queued))
        }
        .await;
        tx.finish(result).await
    }

    /// Delete spam signups that arrived before `cutoff`, with their consent records (and any
    /// links or mails). Returns how many signups were deleted.
    pub async fn purge_spam_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.purge_state_before("spam", cutoff).await
    }

    /// Delete suppressed signups (held because their address is unsubscribed; never sent, and
    /// `retry` refuses them: sending would re-subscribe the address) that arrived before
    /// `cutoff`, with their consent records, links and mails. The person's own way back is
    /// Constant Contact's resubscribe mail or a new signup. Returns how many were deleted.
    pub async fn purge_suppressed_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.purge_state_before("suppressed", cutoff).await
    }

    async fn purge_state_before(
        &self,
        state: &'static str,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            // One statement: a signup whose state changed meanwhile (PostgreSQL re-checks the
            // state of a row another transaction changed) is not deleted, nor is anything of it
            // below.
            let deleted: Vec<(String,)> = sqlx::query_as(
                "delete from signups where state = $1 and created_at < $2 returning id",
            )
            .bind(state)
            .bind(cutoff.timestamp_millis())
            .fetch_all(tx.conn())
            .await?;
            for (id,) in &deleted {
                for sql in [
                    "delete from consent_records where signup_id = $1",
                    "delete from confirm_tokens where signup_id = $1",
                    "delete from mail_outbox where signup_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(tx.conn()).await?;
                }
            }
            Ok(deleted.len() as u64)
        }
        .await;
        tx.finish(result).await
    }
}
