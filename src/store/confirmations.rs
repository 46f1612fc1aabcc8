//! Confirmation links: a hash of each token, stored when its mail is sent; the one transaction
//! that turns a waiting signup into a deliverable one; and the purge of signups nobody confirmed.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, Store, StoreError};

/// Used and expired links are kept this long after they expire (a late click still gets a clear
/// page rather than "unknown"), then deleted.
const KEEP_EXPIRED_LINKS_DAYS: i64 = 30;

/// What a confirmation link leads to, read without changing anything (the page a GET shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmLink {
    Unknown,
    /// Already used (this link, or another of the same signup).
    Used,
    Expired,
    /// Usable: the signup waits for this confirmation.
    Valid {
        form_id: String,
        list_ids: Vec<Uuid>,
    },
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The signup is now queued for delivery.
    Confirmed {
        signup_id: Uuid,
        form_id: String,
    },
    AlreadyConfirmed,
    Expired,
    Unknown,
}

/// The confirmation's own client details, as `[privacy]` keeps them.
#[derive(Debug, Clone, Default)]
pub struct ConfirmedBy<'a> {
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

type TokenRow = (String, i64, Option<i64>);

impl Store {
    /// Store the hash of a link about to be mailed, valid until `expires_at`, and move the
    /// signup's own expiry there. `false` (nothing stored) when the signup no longer waits.
    pub async fn issue_confirm_token(
        &self,
        signup_id: Uuid,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let held = sqlx::query(
                "update signups set confirm_expires_at = $1
                 where id = $2 and state = 'awaiting_confirmation'",
            )
            .bind(expires_at.timestamp_millis())
            .bind(signup_id.to_string())
            .execute(tx.conn())
            .await?;
            if held.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(
                "insert into confirm_tokens (token_hash, signup_id, created_at, expires_at)
                 values ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(signup_id.to_string())
            .bind(now.timestamp_millis())
            .bind(expires_at.timestamp_millis())
            .execute(tx.conn())
            .await?;
            Ok(true)
        }
        .await;
        tx.finish(result).await
    }

    /// What the link with this token hash leads to; changes nothing.
    pub async fn confirm_link_state(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ConfirmLink, StoreError> {
        let token: Option<TokenRow> = sqlx::query_as(
            "select signup_id, expires_at, used_at from confirm_tokens where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some((signup_id, expires_at, used_at)) = token else {
            return Ok(ConfirmLink::Unknown);
        };
        if used_at.is_some() {
            return Ok(ConfirmLink::Used);
        }
        if expires_at <= now.timestamp_millis() {
            return Ok(ConfirmLink::Expired);
        }
        let signup: Option<(String, String, String, Option<i64>)> = sqlx::query_as(
            "select form_id, list_ids, state, confirmed_at from signups where id = $1",
        )
        .bind(&signup_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match signup {
            None => ConfirmLink::Unknown,
            Some((form_id, list_ids, state, _)) if state == "awaiting_confirmation" => {
                ConfirmLink::Valid {
                    form_id,
                    list_ids: serde_json::from_str(&list_ids).map_err(|e| StoreError::Corrupt {
                        id: signup_id.clone(),
                        problem: format!("list_ids: {e}"),
                    })?,
                }
            }
            Some((.., Some(_))) => ConfirmLink::Used,
            Some(_) => ConfirmLink::Unknown,
        })
    }

    /// Confirm the signup behind a link, in one transaction: the link is used up, the signup
    /// queued for delivery now (its age clock restarts), the consent record completed. An
    /// unknown, used or expired link changes nothing.
    pub async fn confirm_signup(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        by: &ConfirmedBy<'_>,
    ) -> Result<Confirmation, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = confirm_in(tx.conn(), self.backend, token_hash, now, by).await;
        tx.finish(result).await
    }

    /// Delete signups nobody confirmed in time (and that have no mail still trying), with their
    /// consent records; forget links long expired. Returns how many signups went.
    pub async fn purge_expired_confirmations(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now_ms = now.timestamp_millis();
        let mut tx = self.begin_write().await?;
        let result = async {
            // Links first: the lock order of a confirmation (its link, then its signup).
            sqlx::query("delete from confirm_tokens where expires_at <= $1")
                .bind(now_ms - KEEP_EXPIRED_LINKS_DAYS * 24 * 3600 * 1000)
                .execute(tx.conn())
                .await?;
            // One statement: a signup confirmed meanwhile (PostgreSQL re-checks the state of a
            // row another transaction changed) is not deleted.
            let expired: Vec<(String,)> = sqlx::query_as(
                "delete from signups
                 where state = 'awaiting_confirmation' and confirm_expires_at <= $1
                   and not exists (select 1 from mail_outbox m
                                   where m.signup_id = signups.id and m.state = 'queued')
                 returning id",
            )
            .bind(now_ms)
            .fetch_all(tx.conn())
            .await?;
            // The links stay (until they are long expired, above): a late click still reads
            // "expired" rather than "unknown". They hold no personal data.
            for (id,) in &expired {
                sqlx::query("delete from consent_records where signup_id = $1")
                    .bind(id)
                    .execute(tx.conn())
                    .await?;
            }
            Ok(expired.len() as u64)
        }
        .await;
        tx.finish(result).await
    }
}

async fn confirm_in(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    token_hash: &str,
    now: DateTime<Utc>,
    by: &ConfirmedBy<'_>,
) -> Result<Confirmation, StoreError> {
    let now_ms = now.timestamp_millis();
    // Two POSTs of one link at once: on PostgreSQL the second waits for the first's row lock and
    // then sees it used; SQLite's write transaction serializes them already.
    let lock = backend.for_update();
    let token: Option<TokenRow> = sqlx::query_as(&format!(
        "select signup_id, expires_at, used_at from confirm_tokens where token_hash = $1{lock}"
    ))
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((signup_id, expires_at, used_at)) = token else {
        return Ok(Confirmation::Unknown);
    };
    if used_at.is_some() {
        return Ok(Confirmation::AlreadyConfirmed);
    }
    if expires_at <= now_ms {
        return Ok(Confirmation::Expired);
    }
    let queued = sqlx::query(
        "update signups set state = 'pending', next_attempt_at = $1, confirmed_at = $1,
            requeued_at = $1, hold_reason = null, claimed_by = null, claimed_until = null
         where id = $2 and state = 'awaiting_confirmation'",
    )
    .bind(now_ms)
    .bind(&signup_id)
    .execute(&mut *conn)
    .await?;
    if queued.rows_affected() == 0 {
        // Another link of the same signup (a retried mail) was used first, or it is gone.
        let confirmed: Option<(Option<i64>,)> =
            sqlx::query_as("select confirmed_at from signups where id = $1")
                .bind(&signup_id)
                .fetch_optional(&mut *conn)
                .await?;
        return Ok(match confirmed {
            Some((Some(_),)) => Confirmation::AlreadyConfirmed,
            _ => Confirmation::Unknown,
        });
    }
    sqlx::query("update confirm_tokens set used_at = $1 where token_hash = $2")
        .bind(now_ms)
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "update consent_records set confirmed_at = $1, confirm_ip = $2, confirm_user_agent = $3
         where signup_id = $4",
    )
    .bind(now_ms)
    .bind(by.client_ip)
    .bind(by.user_agent)
    .bind(&signup_id)
    .execute(&mut *conn)
    .await?;
    let form_id: (String,) = sqlx::query_as("select form_id from signups where id = $1")
        .bind(&signup_id)
        .fetch_one(&mut *conn)
        .await?;
    let signup_id = Uuid::parse_str(&signup_id).map_err(|e| StoreError::Corrupt {
        id: signup_id.clone(),
        problem: format!("confirm_tokens.signup_id: {e}"),
    })?;
    Ok(Confirmation::Confirmed {
        signup_id,
        form_id: form_id.0,
    })
}
