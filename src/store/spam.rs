//! Suspected spam in the outbox: released by an admin into the delivery queue, or deleted once
//! it is older than `spam.keep_for`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};

impl Store {
    /// Move one spam signup into the delivery queue (an admin judged it genuine). Returns whether
    /// a spam signup with that id existed. Its age limit counts from now, like a manual retry.
    pub async fn release_spam(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update signups set state = 'pending', spam_reason = null, next_attempt_at = $1,
                requeued_at = $1, claimed_by = null, claimed_until = null
             where id = $2 and state = 'spam' and email is not null",
        )
        .bind(now.timestamp_millis())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Delete spam signups that arrived before `cutoff`. Returns how many were deleted.
    pub async fn purge_spam_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("delete from signups where state = 'spam' and created_at < $1")
            .bind(cutoff.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
