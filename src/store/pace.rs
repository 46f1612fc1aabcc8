//! The pace of upstream calls, shared through the database by every process that uses it: one
//! row holds the earliest time the next call may go out, and each call takes the slot there and
//! moves it on by the spacing in one statement. Replicas therefore queue for slots together, and
//! N replicas together send no faster than one would.
//!
//! Slot times are the *database's* clock, and callers only learn how long to wait, so replicas
//! whose clocks disagree still space their calls correctly.

use std::time::Duration;

use tokio::time::Instant;

use super::{Backend, Store, StoreError};

/// A slot taken for one upstream call, in this process's clock. The database read its clock
/// somewhere during the round trip, so the slot lies between `earliest` and `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The slot if the database read its clock as the statement left here.
    pub earliest: Instant,
    /// The slot if it read its clock as the answer arrived: the call waits for this.
    pub latest: Instant,
}

impl Backend {
    /// The database's current time in unix milliseconds, as SQL.
    fn now_millis_sql(self) -> &'static str {
        match self {
            // SQLite's 'now' has millisecond resolution and stays fixed within one statement.
            Self::Sqlite => "cast((julianday('now') - 2440587.5) * 86400000.0 as integer)",
            Self::Postgres => "cast(extract(epoch from clock_timestamp()) * 1000 as bigint)",
        }
    }
}

impl Store {
    /// Take the next free slot for an upstream call and move the next one `spacing` later: one
    /// statement, timed without the wait for a pooled connection.
    pub async fn take_call_slot(&self, spacing: Duration) -> Result<Slot, StoreError> {
        let now = self.backend.now_millis_sql();
        let greatest = self.backend.greatest();
        let sql = format!(
            "update api_pace set next_slot_at = {greatest}(next_slot_at, {now}) + $1 where id = 1
             returning next_slot_at - $1 - {now}"
        );
        let mut conn = self
            .pace_pool
            .as_ref()
            .unwrap_or(&self.pool)
            .acquire()
            .await?;
        let asked = Instant::now();
        let (wait_ms,): (i64,) = sqlx::query_as(&sql)
            .bind(millis(spacing))
            .fetch_one(&mut *conn)
            .await?;
        let answered = Instant::now();
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        Ok(Slot {
            earliest: asked + wait,
            latest: answered + wait,
        })
    }

    /// Let no call out (from any process) for `pause` from now.
    pub async fn hold_calls(&self, pause: Duration) -> Result<(), StoreError> {
        let now = self.backend.now_millis_sql();
        let greatest = self.backend.greatest();
        sqlx::query(&format!(
            "update api_pace set next_slot_at = {greatest}(next_slot_at, {now} + $1) where id = 1"
        ))
        .bind(millis(pause))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
