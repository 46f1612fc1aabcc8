//! The mirror of the account's unsubscribed addresses (and deleted contacts whose permission is
//! unsubscribed), its sync state, the resubscribe requests made, and holding back signups whose
//! address is in it.
//!
//! Addresses are kept lower-cased and compared lower-cased: Constant Contact treats an address
//! case-insensitively, so `Ann@Example.com` is the contact who unsubscribed as `ann@example.com`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::mail_outbox::{ConfirmationPolicy, Held, hold_for_confirmation};
use super::{Store, StoreError, from_millis};

/// One unsubscribed address as the mirror keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribedEntry {
    pub email: String,
    pub contact_id: String,
    pub opted_out_at: Option<DateTime<Utc>>,
    /// A deleted contact (whose permission is unsubscribed).
    pub deleted: bool,
}

/// How the mirror's syncs are doing (for the gate and the status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    /// Addresses in the mirror.
    pub size: u64,
    /// The last successful sync, full or incremental.
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_full_sync_at: Option<DateTime<Utc>>,
    /// The `authorized_at` of the token set the last full sync ran under.
    pub full_sync_authorized_at: Option<DateTime<Utc>>,
    /// The newest opt-out seen (where the next incremental sync starts).
    pub high_water: Option<DateTime<Utc>>,
    /// The first failure of the current run of failures; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// What becomes of a claimed signup whose address is unsubscribed.
#[derive(Debug, Clone)]
pub enum Divert<'a> {
    /// Ask the person by mail (with `[smtp]`): awaiting_confirmation and a confirmation mail queued.
    Confirm(&'a ConfirmationPolicy),
    /// Hold it as `suppressed`, with the reason in words.
    Suppress(&'a str),
}

#[derive(sqlx::FromRow)]
struct SyncRow {
    last_sync_at: Option<i64>,
    last_full_sync_at: Option<i64>,
    full_sync_authorized_at: Option<i64>,
    high_water: Option<i64>,
    failing_since: Option<i64>,
    last_error: Option<String>,
}

impl Store {
    /// The mirror's entry for `email`, if the address is unsubscribed.
    pub async fn unsubscribed(&self, email: &str) -> Result<Option<UnsubscribedEntry>, StoreError> {
        let row: Option<(String, String, Option<i64>, i64)> = sqlx::query_as(
            "select email, contact_id, opted_out_at, deleted from unsubscribed where email = $1",
        )
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(email, contact_id, at, deleted)| UnsubscribedEntry {
                email,
                contact_id,
                opted_out_at: at.map(from_millis),
                deleted: deleted != 0,
            }),
        )
    }

    pub async fn is_unsubscribed(&self, email: &str) -> Result<bool, StoreError> {
        Ok(self.unsubscribed(email).await?.is_some())
    }

    /// An incremental sync's finds: added (or updated), the high water moved forward, the run of
    /// failures over.
    pub async fn apply_incremental(
        &self,
        entries: &[UnsubscribedEntry],
        high_water: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            upsert(tx.conn(), entries, now).await?;
            sqlx::query(&format!(
                "update unsubscribed_sync set last_sync_at = $1,
                    high_water = {}(coalesce(high_water, $2), coalesce($2, high_water)),
                    failing_since = null, last_error = null
                 where id = 1",
                self.backend.greatest()
            ))
            .bind(now.timestamp_millis())
            .bind(high_water.map(|t| t.timestamp_millis()))
            .execute(&mut *tx.conn())
            .await?;
            Ok(())
        }
        .await;
        tx.finish(result).await
    }

    /// A full sync's result replaces the mirror, in one transaction (a reader sees the old set or
    /// the new one, never a half). `authorized_at`: the token set it ran under.
    pub async fn replace_all(
        &self,
        entries: &[UnsubscribedEntry],
        authorized_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let high_water = entries.iter().filter_map(|e| e.opted_out_at).max();
        let mut tx = self.begin_write().await?;
        let result = async {
            sqlx::query("delete from unsubscribed")
                .execute(&mut *tx.conn())
                .await?;
            upsert(tx.conn(), entries, now).await?;
            sqlx::query(
                "update unsubscribed_sync set last_sync_at = $1, last_full_sync_at = $1,
                    full_sync_authorized_at = $2, high_water = $3,
                    failing_since = null, last_error = null
                 where id = 1",
            )
            .bind(now.timestamp_millis())
            .bind(authorized_at.map(|t| t.timestamp_millis()))
            .bind(high_water.map(|t| t.timestamp_millis()))
            .execute(&mut *tx.conn())
            .await?;
            Ok(())
        }
        .await;
        tx.finish(result).await
    }

    /// A sync failed: the run of failures starts now unless it already had.
    pub async fn sync_failed(&self, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "update unsubscribed_sync set failing_since = coalesce(failing_since, $1), last_error = $2
             where id = 1",
        )
        .bind(now.timestamp_millis())
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn sync_state(&self) -> Result<SyncState, StoreError> {
        let row: SyncRow = sqlx::query_as(
            "select last_sync_at, last_full_sync_at, full_sync_authorized_at, high_water,
                failing_since, last_error
             from unsubscribed_sync where id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let (size,): (i64,) = sqlx::query_as("select count(*) from unsubscribed")
            .fetch_one(&self.pool)
            .await?;
        Ok(SyncState {
            size: u64::try_from(size).unwrap_or(0),
            last_sync_at: row.last_sync_at.map(from_millis),
            last_full_sync_at: row.last_full_sync_at.map(from_millis),
            full_sync_authorized_at: row.full_sync_authorized_at.map(from_millis),
            high_water: row.high_water.map(from_millis),
            failing_since: row.failing_since.map(from_millis),
            last_error: row.last_error,
        })
    }

    /// The person re-subscribed themselves (a confirmed signup was delivered): the address is no
    /// longer unsubscribed. (The next full sync would drop it too; this closes the gap.)
    pub async fn forget_unsubscribed(&self, email: &str) -> Result<(), StoreError> {
        sqlx::query("delete from unsubscribed where email = $1")
            .bind(email.to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether Constant Contact was already asked to send this contact its resubscribe mail.
    pub async fn resubscribe_requested(&self, contact_id: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("select contact_id from resubscribe_requests where contact_id = $1")
                .bind(contact_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Remember that Constant Contact was asked (once per contact: a second record is ignored).
    pub async fn record_resubscribe_request(
        &self,
        contact_id: &str,
        email: &str,
        signup_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into resubscribe_requests (contact_id, email, signup_id, requested_at)
             values ($1, $2, $3, $4) on conflict (contact_id) do nothing",
        )
        .bind(contact_id)
        .bind(email.to_lowercase())
        .bind(signup_id.to_string())
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Take claimed signups (only those `owner` still holds) out of delivery because their address
    /// is unsubscribed, in one transaction, releasing the claim. Returns how many were diverted.
    pub async fn divert_unsubscribed(
        &self,
        ids: &[Uuid],
        owner: &str,
        divert: &Divert<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let mut diverted = 0;
            for id in ids {
                if divert_one(tx.conn(), *id, owner, divert, now).await? {
                    diverted += 1;
                }
            }
            Ok(diverted)
        }
        .await;
        tx.finish(result).await
    }
}

async fn divert_one(
    conn: &mut AnyConnection,
    id: Uuid,
    owner: &str,
    divert: &Divert<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let held: Option<(String,)> =
        sqlx::query_as("select id from signups where id = $1 and claimed_by = $2")
            .bind(id.to_string())
            .bind(owner)
            .fetch_optional(&mut *conn)
            .await?;
    if held.is_none() {
        return Ok(false);
    }
    match divert {
        Divert::Confirm(policy) => {
            let held = hold_for_confirmation(conn, id, "unsubscribed", now, policy).await?;
            if held == Held::CapReached {
                tracing::warn!(signup_id = %id, "an unsubscribed address's signup waits for a confirmation without a mail (a mail cap is reached)");
            }
        }
        Divert::Suppress(reason) => {
            sqlx::query(
                "update signups set state = 'suppressed', hold_reason = $1, last_attempt_at = $2,
                    claimed_by = null, claimed_until = null
                 where id = $3",
            )
            .bind(*reason)
            .bind(now.timestamp_millis())
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(true)
}

/// Insert or update `entries` (lower-cased addresses).
async fn upsert(
    conn: &mut AnyConnection,
    entries: &[UnsubscribedEntry],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for entry in entries {
        sqlx::query(
            "insert into unsubscribed (email, contact_id, opted_out_at, deleted, synced_at)
             values ($1, $2, $3, $4, $5)
             on conflict (email) do update set contact_id = excluded.contact_id,
                opted_out_at = excluded.opted_out_at, deleted = excluded.deleted,
                synced_at = excluded.synced_at",
        )
        .bind(entry.email.to_lowercase())
        .bind(&entry.contact_id)
        .bind(entry.opted_out_at.map(|t| t.timestamp_millis()))
        .bind(i64::from(entry.deleted))
        .bind(now.timestamp_millis())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
