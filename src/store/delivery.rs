//! The outbox side of the store: claiming due signups (with a lease, so a crash mid-delivery
//! only delays them), recording outcomes, manual requeues, retention, and the persistent daily
//! API budget.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Backend, SignupRecord, SignupRow, Store, StoreError};

/// A signup the worker may claim now (`$1`: now, unix ms): queued, due, not held by a live claim,
/// and not purged.
const DUE: &str = "state in ('pending', 'failed') and next_attempt_at <= $1
    and (claimed_until is null or claimed_until <= $1) and email is not null";

/// An upstream error recorded on a signup (for the status).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecentError {
    pub signup_id: String,
    pub state: String,
    pub error: String,
}

/// What to do with claimed signups after an attempt.
#[derive(Debug, Clone)]
pub enum Settle<'a> {
    Delivered {
        contact_id: &'a str,
        created: bool,
    },
    /// Try again at `next_attempt_at`; counts as an attempt.
    Failed {
        error: &'a str,
        next_attempt_at: DateTime<Utc>,
    },
    /// Permanent: never retried unless requeued.
    Dead {
        error: &'a str,
    },
    /// Not attempted (no token, paused): back in the queue at `next_attempt_at`, no attempt counted.
    Release {
        next_attempt_at: DateTime<Utc>,
    },
}

async fn settle_one(
    conn: &mut sqlx::AnyConnection,
    id: Uuid,
    owner: &str,
    outcome: &Settle<'_>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let query = match outcome {
        Settle::Delivered {
            contact_id,
            created,
        } => sqlx::query(
            "update signups set state = 'delivered', delivered_at = $1, last_attempt_at = $1,
                contact_id = $2, created_contact = $3, attempts = attempts + 1, last_error = null,
                claimed_by = null, claimed_until = null
             where id = $4 and claimed_by = $5",
        )
        .bind(now.timestamp_millis())
        .bind(*contact_id)
        .bind(i64::from(*created)),
        Settle::Failed {
            error,
            next_attempt_at,
        } => sqlx::query(
            "update signups set state = 'failed', last_error = $1, next_attempt_at = $2,
                last_attempt_at = $3, attempts = attempts + 1, claimed_by = null,
                claimed_until = null
             where id = $4 and claimed_by = $5",
        )
        .bind(*error)
        .bind(next_attempt_at.timestamp_millis())
        .bind(now.timestamp_millis()),
        Settle::Dead { error } => sqlx::query(
            "update signups set state = 'dead', last_error = $1, last_attempt_at = $2,
                attempts = attempts + 1, claimed_by = null, claimed_until = null
             where id = $3 and claimed_by = $4",
        )
        .bind(*error)
        .bind(now.timestamp_millis()),
        Settle::Release { next_attempt_at } => sqlx::query(
            "update signups set next_attempt_at = $1, claimed_by = null, claimed_until = null
             where id = $2 and claimed_by = $3",
        )
        .bind(next_attempt_at.timestamp_millis()),
    };
    let result = query
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    if let (
        Settle::Delivered {
            contact_id,
            created,
        },
        1..,
    ) = (outcome, result.rows_affected())
    {
        // The consent record learns Constant Contact's answer in the same transaction, and the
        // hourly counts the delivery.
        super::consent::record_delivery(conn, &id.to_string(), contact_id, *created, now).await?;
        super::rollup::add_delivered(conn, &id.to_string(), now).await?;
    }
    Ok(result.rows_affected())
}

impl Store {
    /// Claim the most overdue deliverable signup together with every other queued signup for the
    /// same email (they are sent as one call). Empty when nothing is due.
    pub async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<SignupRecord>, StoreError> {
        let rows: Vec<SignupRow> = match self.backend {
            Backend::Sqlite => self.claim_due_sqlite(owner, now, lease_until).await?,
            Backend::Postgres => self.claim_due_postgres(owner, now, lease_until).await?,
        };
        let mut records = rows
            .into_iter()
            .map(SignupRow::into_record)
            .collect::<Result<Vec<_>, _>>()?;
        records.sort_by_key(|r| r.id);
        Ok(records)
    }

    /// SQLite has one writer at a time, so a plain read and a conditional UPDATE cannot race
    /// with another claim (and only one process uses the file).
    async fn claim_due_sqlite(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<SignupRow>, StoreError> {
        let now_ms = now.timestamp_millis();
        let head: Option<(String,)> = sqlx::query_as(&format!(
            "select email from signups where {DUE} order by next_attempt_at, id limit 1"
        ))
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some((email,)) = head else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as(
            "update signups set claimed_by = $1, claimed_until = $2
             where email = $3 and state in ('pending', 'failed')
               and (claimed_until is null or claimed_until <= $4)
             returning *",
        )
        .bind(owner)
        .bind(lease_until.timestamp_millis())
        .bind(&email)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Several replicas claim at once. Rows are locked with `FOR UPDATE SKIP LOCKED`: a replica
    /// never waits on (or takes) a row another replica is claiming, it moves on to the next due
    /// one. The lease condition is re-checked by PostgreSQL on the row's latest version, so a row
    /// claimed and committed meanwhile is left to its claimant. (Two replicas can split one
    /// email's rows between them in a race; each signup is still sent by exactly one.)
    async fn claim_due_postgres(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<SignupRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "with head as (
                select email from signups where {DUE}
                order by next_attempt_at, id limit 1
                for update skip locked
             ), batch as (
                select id from signups
                where email = (select email from head) and state in ('pending', 'failed')
                  and (claimed_until is null or claimed_until <= $1)
                for update skip locked
             )
             update signups set claimed_by = $2, claimed_until = $3
             where id in (select id from batch)
             returning *"
        ))
        .bind(now.timestamp_millis())
        .bind(owner)
        .bind(lease_until.timestamp_millis())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Record the outcome for claimed signups (only those this owner still holds). Returns how
    /// many were recorded.
    pub async fn settle(
        &self,
        ids: &[Uuid],
        owner: &str,
        outcome: &Settle<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut result = Ok(0);
        for id in ids {
            match settle_one(tx.conn(), *id, owner, outcome, now).await {
                Ok(n) => result = result.map(|total| total + n),
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        tx.finish(result).await
    }

    /// Push out the claims this owner still holds on `ids` (a delivery still in flight). Returns
    /// how many it still held.
    pub async fn renew_claims(
        &self,
        ids: &[Uuid],
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let placeholders: Vec<String> = (3..ids.len() + 3).map(|n| format!("${n}")).collect();
        let sql = format!(
            "update signups set claimed_until = $1 where claimed_by = $2 and id in ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(until.timestamp_millis()).bind(owner);
        for id in ids {
            query = query.bind(id.to_string());
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    /// The latest upstream errors of failed and dead signups (and why suppressed ones are held),
    /// the most recently tried first.
    pub async fn recent_errors(&self, limit: u32) -> Result<Vec<RecentError>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "select id, state,
                case when state = 'suppressed' then hold_reason else last_error end as error
             from signups
             where (state in ('failed', 'dead') and last_error is not null)
                or (state = 'suppressed' and hold_reason is not null)
             order by coalesce(last_attempt_at, created_at) desc, id desc limit $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(signup_id, state, error)| RecentError {
                signup_id,
                state,
                error,
            })
            .collect())
    }

    /// Void every claim. Only at start, and only where one process owns the database (SQLite):
    /// then any claim left behind belongs to a process that died mid-delivery, and those signups
    /// are sent again at once (at least once: the upstream call is an upsert by email). On a
    /// shared database a claim may belong to a live replica, so nothing is released; a dead
    /// replica's claims are taken over when their lease runs out.
    pub async fn release_all_claims(&self) -> Result<u64, StoreError> {
        if self.backend.is_shared() {
            return Ok(0);
        }
        let result = sqlx::query(
            "update signups set claimed_by = null, claimed_until = null where claimed_by is not null",
        )
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// When the next queued signup becomes due (for the worker's sleep).
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as(&format!(
            "select min({}(next_attempt_at, coalesce(claimed_until, 0))) from signups
             where state in ('pending', 'failed') and email is not null",
            self.backend.greatest()
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.0.map(super::from_millis))
    }

    /// Put failed (and, with `include_dead`, dead) signups back in the queue, or just one by id.
    /// Returns how many were requeued.
    pub async fn requeue(
        &self,
        include_dead: bool,
        id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let states = if include_dead {
            "('failed', 'dead')"
        } else {
            "('failed')"
        };
        let id_filter = if id.is_some() {
            "and id = $2"
        } else {
            "and $2 is null"
        };
        let sql = format!(
            "update signups set state = 'pending', next_attempt_at = $1, requeued_at = $1,
                claimed_by = null, claimed_until = null
             where state in {states} and email is not null {id_filter}"
        );
        let result = sqlx::query(&sql)
            .bind(now.timestamp_millis())
            .bind(id.map(|id| id.to_string()))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Erase the personal data of signups delivered before `cutoff`; the rows (and counts) stay,
    /// and so do their consent records (kept `privacy.consent_retention`, see
    /// `purge_consent_records`).
    pub async fn purge_delivered_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "update signups set email = null, first_name = null, last_name = null, phone = null,
                company = null, job_title = null, custom_fields = '[]', client_ip = null, user_agent = null
             where state = 'delivered' and delivered_at < $1 and email is not null",
        )
        .bind(cutoff.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Take one API call from `day`'s budget of `limit`. `false` (and nothing counted) when the
    /// budget is spent. One statement, so concurrent callers cannot both take the last unit and
    /// the count never shows more than the limit.
    pub async fn spend_api_call(&self, day: NaiveDate, limit: u64) -> Result<bool, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let taken: Option<(i64,)> = sqlx::query_as(
            "insert into api_usage (day, used) values ($1, 1)
             on conflict (day) do update set used = api_usage.used + 1 where api_usage.used < $2
             returning used",
        )
        .bind(day.to_string())
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.is_some())
    }

    /// Count `day` as fully spent (upstream said `quota_exceeded`): at least `limit` calls.
    pub async fn exhaust_api_day(&self, day: NaiveDate, limit: u64) -> Result<(), StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sqlx::query(&format!(
            "insert into api_usage (day, used) values ($1, $2)
             on conflict (day) do update set used = {}(api_usage.used, excluded.used)",
            self.backend.greatest()
        ))
        .bind(day.to_string())
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// API calls counted for `day`.
    pub async fn api_calls_on(&self, day: NaiveDate) -> Result<u64, StoreError> {
        let used: Option<(i64,)> = sqlx::query_as("select used from api_usage where day = $1")
            .bind(day.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(used.map_or(0, |u| u64::try_from(u.0).unwrap_or(0)))
    }
}
