//! The admin login backoff's bookkeeping, kept in the database so that every process on it
//! (several replicas on PostgreSQL) counts the same attempts. What the numbers mean is decided in
//! `abuse::admin_backoff`; this file only reads and writes them, one client at a time, inside a
//! write transaction that holds the client's row until the change is committed.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{Backend, Store, StoreError, from_millis};

/// One client's login attempts, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempts {
    /// Failures, and attempts whose password is still being checked, since the last quiet period.
    pub count: u32,
    /// The latest attempt or failure.
    pub last: DateTime<Utc>,
    /// The client must wait until then.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Store {
    /// Read `client`'s attempts (a fresh record at `now` if there is none), let `change` decide,
    /// and store what it returns (`None` forgets the client), all in one transaction: concurrent
    /// callers, in this process or another, see each other's changes.
    pub async fn change_admin_attempts<T>(
        &self,
        client: &str,
        now: DateTime<Utc>,
        change: impl FnOnce(LoginAttempts) -> (Option<LoginAttempts>, T),
    ) -> Result<T, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = change_in(tx.conn(), self.backend, client, now, change).await;
        tx.finish(result).await
    }

    /// Forget clients whose last attempt is older than `quiet_since` and that are not waiting.
    pub async fn forget_idle_admin_attempts(
        &self,
        quiet_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "delete from admin_login_attempts
             where last_at < $1 and (locked_until is null or locked_until <= $2)",
        )
        .bind(quiet_since.timestamp_millis())
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}

async fn change_in<T>(
    conn: &mut AnyConnection,
    backend: Backend,
    client: &str,
    now: DateTime<Utc>,
    change: impl FnOnce(LoginAttempts) -> (Option<LoginAttempts>, T),
) -> Result<T, StoreError> {
    // The row exists before it is read, so that PostgreSQL can lock it (`for update` locks no
    // missing row, and two replicas inserting at once would collide); SQLite's `begin immediate`
    // already holds the whole database.
    sqlx::query(
        "insert into admin_login_attempts (client, attempts, last_at, locked_until)
         values ($1, 0, $2, null) on conflict (client) do nothing",
    )
    .bind(client)
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    let lock = match backend {
        Backend::Postgres => " for update",
        Backend::Sqlite => "",
    };
    let (attempts, last_at, locked_until): (i64, i64, Option<i64>) = sqlx::query_as(&format!(
        "select attempts, last_at, locked_until from admin_login_attempts where client = $1{lock}"
    ))
    .bind(client)
    .fetch_one(&mut *conn)
    .await?;
    let current = LoginAttempts {
        count: u32::try_from(attempts).unwrap_or(u32::MAX),
        last: from_millis(last_at),
        locked_until: locked_until.map(from_millis),
    };
    let (new, answer) = change(current);
    match new {
        Some(new) => {
            sqlx::query(
                "update admin_login_attempts set attempts = $2, last_at = $3, locked_until = $4
                 where client = $1",
            )
            .bind(client)
            .bind(i64::from(new.count))
            .bind(new.last.timestamp_millis())
            .bind(new.locked_until.map(|t| t.timestamp_millis()))
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query("delete from admin_login_attempts where client = $1")
                .bind(client)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(answer)
}
