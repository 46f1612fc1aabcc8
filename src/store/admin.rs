//! What the admin console needs from the store: its sessions, the lists of signups it shows, the
//! delivery counts of the last hour/day, and forgetting the token set (Disconnect).

use super::{SignupRecord, SignupRow, SignupState, Store, StoreError, from_millis};
use chrono::{DateTime, Utc};

/// A console session as stored (the id itself is only in the admin's cookie).
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Store a new session under the hash of its id, for the password whose tag is
    /// `password_tag`. Expired sessions, and those of any other password, are removed on the way.
    pub async fn insert_admin_session(
        &self,
        id_hash: &str,
        csrf_token: &str,
        password_tag: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("delete from admin_sessions where expires_at <= $1 or password_tag <> $2")
            .bind(now.timestamp_millis())
            .bind(password_tag)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "insert into admin_sessions (id_hash, csrf_token, created_at, expires_at, password_tag)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(csrf_token)
        .bind(now.timestamp_millis())
        .bind(expires_at.timestamp_millis())
        .bind(password_tag)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session with this id hash, if any and if it belongs to the password whose tag is
    /// `password_tag` (a session opened before the password changed is void).
    pub async fn admin_session(
        &self,
        id_hash: &str,
        password_tag: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StoreError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "select csrf_token, expires_at from admin_sessions
             where id_hash = $1 and expires_at > $2 and password_tag = $3",
        )
        .bind(id_hash)
        .bind(now.timestamp_millis())
        .bind(password_tag)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(csrf_token, expires_at)| AdminSession {
            csrf_token,
            expires_at: from_millis(expires_at),
        }))
    }

    /// End a session (logout).
    pub async fn delete_admin_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("delete from admin_sessions where id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// End every session ("log out everywhere"). Returns how many there were.
    pub async fn delete_all_admin_sessions(&self) -> Result<u64, StoreError> {
        let result = sqlx::query("delete from admin_sessions")
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Forget the token set (Disconnect). Signups keep being accepted and wait for a new connection.
    /// Returns whether there was one.
    /// The set's generation is kept (`token_generation`), so the next connection continues from
    /// it: a refresh still in flight for this set can then never match the next one.
    pub async fn forget_token_set(&self) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            sqlx::query(
                "insert into token_generation (id, generation)
                 select 1, generation from token_set where id = 1
                 on conflict (id) do update set generation = excluded.generation",
            )
            .execute(tx.conn())
            .await?;
            let deleted = sqlx::query("delete from token_set where id = 1")
                .execute(tx.conn())
                .await?;
            Ok::<_, StoreError>(deleted.rows_affected() == 1)
        }
        .await;
        let forgotten = tx.finish(result).await?;
        self.clear_account_check().await?;
        Ok(forgotten)
    }

    /// Signups delivered at or after `since`.
    pub async fn delivered_since(&self, since: DateTime<Utc>) -> Result<u64, StoreError> {
        let count: (i64,) = sqlx::query_as(
            "select count(*) from signups where state = 'delivered' and delivered_at >= $1",
        )
        .bind(since.timestamp_millis())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count.0).unwrap_or(0))
    }

    /// The newest `limit` signups, in any state (`None`) or in one state, newest first.
    pub async fn recent_signups(
        &self,
        state: Option<SignupState>,
        limit: u32,
    ) -> Result<Vec<SignupRecord>, StoreError> {
        let rows: Vec<SignupRow> = sqlx::query_as(
            "select * from signups where ($1 is null or state = $1) order by id desc limit $2",
        )
        .bind(state.map(SignupState::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(SignupRow::into_record).collect()
    }
}
