//! Counts per hour for the console's charts (`hourly_counts`, kept 8 days): signups accepted and
//! delivered (counted in the transaction that stores or settles them, so they are exact across
//! crashes and replicas), signups refused at the door (counted in memory by
//! `signup::refusals::RefusalCounter` and added here once a minute) and committed token refreshes
//! (counted in the refresh's commit). Every write adds to a row (`n = n + excluded.n`), so any
//! number of processes can count into the same hour.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use sqlx::AnyConnection;

use super::{Store, StoreError, from_millis};

/// How long hourly counts are kept: the charts show 7 days, and one more covers a day's edge.
pub const KEEP_HOURLY_COUNTS: Duration = Duration::days(8);

/// The form a refusal is counted under when the form is unknown.
pub const UNKNOWN_FORM: &str = "-";

/// What one row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Accepted,
    Delivered,
    Refused,
    TokenRefresh,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Delivered => "delivered",
            Self::Refused => "refused",
            Self::TokenRefresh => "token_refresh",
        }
    }
}

/// Signups of one hour, every form together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct HourlySignups {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub accepted: u64,
    pub delivered: u64,
    pub refused: u64,
}

/// Refusals counted in memory, to be added to the hour they happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// The form's id, or [`UNKNOWN_FORM`].
    pub form_id: String,
    /// The refusal's error code (`rate_limited`, `origin_not_allowed`, …).
    pub reason: &'static str,
    pub n: u64,
}

/// The start of the UTC hour `t` falls in.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Add `n` to one row, inside the caller's transaction.
pub(crate) async fn add(
    conn: &mut AnyConnection,
    at: DateTime<Utc>,
    form_id: &str,
    kind: Kind,
    reason: &str,
    n: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into hourly_counts (hour, form_id, kind, reason, n) values ($1, $2, $3, $4, $5)
         on conflict (hour, form_id, kind, reason) do update set n = hourly_counts.n + excluded.n",
    )
    .bind(hour_of(at).timestamp_millis())
    .bind(form_id)
    .bind(kind.as_str())
    .bind(reason)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Count signup `id` as delivered at `now`, inside the settle's transaction.
pub(crate) async fn add_delivered(
    conn: &mut AnyConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // `where` keeps SQLite from reading `on conflict` as a join constraint.
    sqlx::query(
        "insert into hourly_counts (hour, form_id, kind, reason, n)
         select $1, form_id, $2, '', 1 from signups where id = $3
         on conflict (hour, form_id, kind, reason) do update set n = hourly_counts.n + excluded.n",
    )
    .bind(hour_of(now).timestamp_millis())
    .bind(Kind::Delivered.as_str())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Add refusals counted in memory, all in one transaction: all or none.
    pub async fn add_refusals(&self, counts: &[RefusalCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let result = async {
            for c in counts {
                add(tx.conn(), c.hour, &c.form_id, Kind::Refused, c.reason, c.n).await?;
            }
            Ok(())
        }
        .await;
        tx.finish(result).await
    }

    /// Signups accepted, delivered and refused per hour since `since`, every form together, only
    /// the hours that have a count, oldest first.
    pub async fn hourly_signups(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HourlySignups>, StoreError> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "select hour, kind, cast(sum(n) as bigint) from hourly_counts
             where hour >= $1 and kind in ('accepted', 'delivered', 'refused')
             group by hour, kind order by hour",
        )
        .bind(hour_of(since).timestamp_millis())
        .fetch_all(&self.pool)
        .await?;
        let mut hours: BTreeMap<i64, HourlySignups> = BTreeMap::new();
        for (hour, kind, n) in rows {
            let entry = hours.entry(hour).or_insert_with(|| HourlySignups {
                hour: from_millis(hour),
                ..HourlySignups::default()
            });
            match kind.as_str() {
                "accepted" => entry.accepted = count(n),
                "delivered" => entry.delivered = count(n),
                _ => entry.refused = count(n),
            }
        }
        Ok(hours.into_values().collect())
    }

    /// Token refreshes committed per hour since `since` (hours without one left out), oldest first.
    pub async fn token_refreshes(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, u64)>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "select hour, cast(sum(n) as bigint) from hourly_counts
             where hour >= $1 and kind = 'token_refresh' group by hour order by hour",
        )
        .bind(hour_of(since).timestamp_millis())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(hour, n)| (from_millis(hour), count(n)))
            .collect())
    }

    /// Signups refused at the door since `since` (to the hour), by form and reason (the error
    /// code). Refusals are written once a minute, so the last minute's may be missing.
    pub async fn refusals_by_form(
        &self,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select form_id, reason, cast(sum(n) as bigint) from hourly_counts
             where hour >= $1 and kind = 'refused' group by form_id, reason",
        )
        .bind(hour_of(since).timestamp_millis())
        .fetch_all(&self.pool)
        .await?;
        let mut forms: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (form, reason, n) in rows {
            forms.entry(form).or_default().insert(reason, count(n));
        }
        Ok(forms)
    }

    /// When the oldest signup waiting for delivery (pending or failed) started its age clock
    /// (creation, or its last manual requeue); `None` when none waits.
    pub async fn oldest_waiting_since(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as(
            "select min(coalesce(requeued_at, created_at)) from signups
             where state in ('pending', 'failed') and email is not null",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.0.map(from_millis))
    }

    /// Delete hourly counts of hours that began before `cutoff`.
    pub async fn purge_hourly_counts_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("delete from hourly_counts where hour < $1")
            .bind(hour_of(cutoff).timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn an_hour_starts_on_the_utc_hour() {
        let t = Utc.with_ymd_and_hms(2026, 12, 3, 16, 59, 59).unwrap();
        assert_eq!(
            hour_of(t),
            Utc.with_ymd_and_hms(2026, 12, 3, 16, 0, 0).unwrap()
        );
        assert_eq!(hour_of(hour_of(t)), hour_of(t));
    }
}
