//! What the console's overview and signups page read beyond the status document: the failing
//! deliveries at a glance, signups filtered by state, form and address, the selection's retry
//! and release, and the audit of what admins did from the console (`console_audit`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::mail_outbox::ConfirmationPolicy;
use super::{SignupRecord, SignupRow, SignupState, Store, StoreError, from_millis};

/// The most spam signups one press of "release the selection" releases.
pub const RELEASE_AT_ONCE: u32 = 500;

/// Failing deliveries and the queue's pace, as the overview shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failing {
    /// Signups in `failed` (waiting for their next attempt).
    pub failed: u64,
    /// The upstream error of the failed signup attempted last.
    pub last_error: Option<String>,
    /// The earliest next attempt of a failed signup.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Pending or failed signups due now (nothing holds them back but the worker).
    pub due_now: u64,
    /// Signups claimed by a worker right now (a delivery in flight).
    pub in_flight: u64,
    /// The earliest next attempt of a waiting signup not due yet (pending or failed).
    pub next_due_at: Option<DateTime<Utc>>,
    /// When the oldest signup still waiting for delivery (pending or failed) arrived.
    pub oldest_waiting_since: Option<DateTime<Utc>>,
}

/// Which signups the console lists (and a selection's buttons act on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignupFilter {
    pub state: Option<SignupState>,
    pub form: Option<String>,
    /// A case-insensitive part of the address (`Example.ORG` finds `a@example.org`).
    pub address: Option<String>,
}

impl SignupFilter {
    /// How the filter reads in the audit log: `state=dead form=newsletter address~"@x"`, or
    /// `all`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(state) = self.state {
            parts.push(format!("state={}", state.as_str()));
        }
        if let Some(form) = &self.form {
            parts.push(format!("form={form}"));
        }
        if let Some(address) = &self.address {
            parts.push(format!("address~{address:?}"));
        }
        if parts.is_empty() {
            "all".to_owned()
        } else {
            parts.join(" ")
        }
    }

    /// The `where` clause (without `where`) and its binds, starting at `$first`.
    fn clause(&self, first: usize) -> (String, Vec<Option<String>>) {
        let pattern = self.address.as_ref().map(|a| {
            let escaped = a
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let (s, f, a) = (first, first + 1, first + 2);
        (
            format!(
                "(${s} is null or state = ${s}) and (${f} is null or form_id = ${f})
                 and (${a} is null or lower(email) like ${a} escape '\\')"
            ),
            vec![
                self.state.map(|s| s.as_str().to_owned()),
                self.form.clone(),
                pattern,
            ],
        )
    }
}

/// One thing an admin did from the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// `retry` or `release`.
    pub action: String,
    /// A signup id, or the filter (`SignupFilter::describe`).
    pub target: String,
    /// How many signups it changed.
    pub count: u64,
}

impl Store {
    /// Failing deliveries and the queue's pace at `now`.
    pub async fn failing(&self, now: DateTime<Utc>) -> Result<Failing, StoreError> {
        type Row = (i64, Option<i64>, Option<i64>, i64, i64, Option<i64>);
        let (failed, next, oldest, due, in_flight, later): Row = sqlx::query_as(
            "select
                coalesce(sum(case when state = 'failed' then 1 else 0 end), 0),
                min(case when state = 'failed' then next_attempt_at end),
                min(coalesce(requeued_at, created_at)),
                coalesce(sum(case when next_attempt_at <= $1
                    and (claimed_until is null or claimed_until <= $1) then 1 else 0 end), 0),
                coalesce(sum(case when claimed_until > $1 then 1 else 0 end), 0),
                min(case when next_attempt_at > $1
                    and (claimed_until is null or claimed_until <= $1) then next_attempt_at end)
             from signups where state in ('pending', 'failed') and email is not null",
        )
        .bind(now.timestamp_millis())
        .fetch_one(&self.pool)
        .await?;
        let last_error: Option<(Option<String>,)> = sqlx::query_as(
            "select last_error from signups where state = 'failed'
             order by coalesce(last_attempt_at, created_at) desc, id desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(Failing {
            failed: u64::try_from(failed).unwrap_or(0),
            last_error: last_error.and_then(|(e,)| e),
            next_attempt_at: next.map(from_millis),
            due_now: u64::try_from(due).unwrap_or(0),
            in_flight: u64::try_from(in_flight).unwrap_or(0),
            next_due_at: later.map(from_millis),
            oldest_waiting_since: oldest.map(from_millis),
        })
    }

    /// The newest `limit` signups the filter selects, newest first.
    pub async fn find_signups(
        &self,
        filter: &SignupFilter,
        limit: u32,
    ) -> Result<Vec<SignupRecord>, StoreError> {
        let (clause, binds) = filter.clause(1);
        let sql = format!(
            "select * from signups where {clause} order by created_at desc, id desc limit $4"
        );
        let mut query = sqlx::query_as::<_, SignupRow>(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.into_iter().map(SignupRow::into_record).collect()
    }

    /// Requeue the failed and dead signups the filter selects (a filter naming another state
    /// selects none). Returns how many were requeued.
    pub async fn requeue_selected(
        &self,
        filter: &SignupFilter,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (clause, binds) = filter.clause(2);
        let sql = format!(
            "update signups set state = 'pending', next_attempt_at = $1, requeued_at = $1,
                claimed_by = null, claimed_until = null
             where state in ('failed', 'dead') and email is not null and {clause}"
        );
        let mut query = sqlx::query(&sql).bind(now.timestamp_millis());
        for bind in binds {
            query = query.bind(bind);
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    /// Release the spam signups the filter selects (at most [`RELEASE_AT_ONCE`]), one by one
    /// through `release_spam` (a double opt-in one waits for its person's confirmation). Returns
    /// how many were released.
    pub async fn release_selected(
        &self,
        filter: &SignupFilter,
        now: DateTime<Utc>,
        policy: &ConfirmationPolicy,
    ) -> Result<u64, StoreError> {
        if filter.state.is_some_and(|state| state != SignupState::Spam) {
            return Ok(0);
        }
        let filter = SignupFilter {
            state: Some(SignupState::Spam),
            ..filter.clone()
        };
        let (clause, binds) = filter.clause(1);
        // At most `RELEASE_AT_ONCE` a press, oldest first, so one press ends well within the
        // request's deadline; the page shows what is left to release.
        let sql = format!(
            "select id from signups where {clause} and email is not null
             order by created_at, id limit {RELEASE_AT_ONCE}"
        );
        let mut query = sqlx::query_as::<_, (String,)>(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let ids = query.fetch_all(&self.pool).await?;
        let mut released = 0;
        for (id,) in ids {
            let Ok(id) = Uuid::parse_str(&id) else {
                continue;
            };
            if self.release_spam(id, now, policy).await?.is_some() {
                released += 1;
            }
        }
        Ok(released)
    }

    /// Keep one line of what an admin did from the console.
    pub async fn record_console_action(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "insert into console_audit (at, action, target, count) values ($1, $2, $3, $4)",
        )
        .bind(entry.at.timestamp_millis())
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(i64::try_from(entry.count).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` audit lines, newest first.
    pub async fn console_actions(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "select at, action, target, count from console_audit order by at desc, id desc limit $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, action, target, count)| AuditEntry {
                at: from_millis(at),
                action,
                target,
                count: u64::try_from(count).unwrap_or(0),
            })
            .collect())
    }
}
