//! Consent records: written with their signup at intake, completed at confirmation and delivery,
//! kept `privacy.consent_retention` after delivery. Consent texts are stored once per version.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Backend, Store, StoreError, from_millis};
use crate::domain::NewSignup;

/// The key a consent text is stored and referenced under: its SHA-256, in hex.
pub fn text_hash(text: &str) -> String {
    crate::password::sha256_hex(text)
}

/// Insert the consent record of a signup being stored (and its consent text, once).
pub(super) async fn insert_record(
    conn: &mut AnyConnection,
    id: Uuid,
    signup: &NewSignup,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let consent = &signup.consent;
    let hash = match &consent.text {
        Some(text) => {
            let hash = text_hash(text);
            sqlx::query(
                "insert into consent_texts (hash, text, created_at) values ($1, $2, $3)
                 on conflict (hash) do nothing",
            )
            .bind(&hash)
            .bind(text)
            .bind(now.timestamp_millis())
            .execute(&mut *conn)
            .await?;
            Some(hash)
        }
        None => None,
    };
    sqlx::query(
        "insert into consent_records (signup_id, form_id, email, consent_mode, consent_text_hash,
            source_page, language, client_ip, user_agent, signed_up_at, page_language)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id.to_string())
    .bind(signup.form_id.as_str())
    .bind(signup.email.as_str())
    .bind(consent.mode.as_str())
    .bind(hash)
    .bind(consent.source_page.clone())
    .bind(consent.language.clone())
    .bind(signup.client_ip.map(|ip| ip.to_string()))
    .bind(signup.user_agent.clone())
    .bind(now.timestamp_millis())
    .bind(consent.page_language.map(|l| l.code()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the pages and mails about a signup speak and link to: the language its visitor was
/// spoken to in (`en`, `de`, …; `None` for signups from before it was kept) and the page the
/// form was on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageContext {
    pub form_id: String,
    pub page_language: Option<String>,
    pub source_page: Option<String>,
}

impl Store {
    /// The page context of the signup behind a confirmation link (by the token's hash); `None`
    /// when no such link or signup is kept.
    pub async fn link_page_context(
        &self,
        token_hash: &str,
    ) -> Result<Option<PageContext>, StoreError> {
        let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "select r.form_id, r.page_language, r.source_page
             from confirm_tokens t join consent_records r on r.signup_id = t.signup_id
             where t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(form_id, page_language, source_page)| PageContext {
                form_id,
                page_language,
                source_page,
            }),
        )
    }

    /// The language a signup's visitor was spoken to in, when kept.
    pub async fn signup_page_language(
        &self,
        signup_id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("select page_language from consent_records where signup_id = $1")
                .bind(signup_id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(language,)| language))
    }
}

/// Which waiting signups of the same address and form a signup replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replaces {
    /// Those that came before it (intake). Ids are UUID v7, ordered by creation
    /// (`Uuid::now_v7` is monotonic within a process), so two signups of one address in one
    /// intake batch leave the later one rather than deleting each other.
    Older,
    /// Every other one (a released spam signup: it waits from now, whatever its id).
    Others,
}

/// A newer signup for the same address on the same form replaces one still waiting for its
/// confirmation: the older one, its record, its links and its unsent mails go.
pub(super) async fn replace_waiting(
    conn: &mut AnyConnection,
    backend: Backend,
    (newer, replaces): (Uuid, Replaces),
    (email, form_id): (&str, &str),
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let which = match replaces {
        Replaces::Older => "id < $3",
        Replaces::Others => "id <> $3",
    };
    let older: Vec<(String,)> = sqlx::query_as(&format!(
        "select id from signups
         where lower(email) = lower($1) and form_id = $2 and state = 'awaiting_confirmation'
            and {which}"
    ))
    .bind(email)
    .bind(form_id)
    .bind(newer.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for (id,) in older {
        delete_signup(conn, backend, &id, now).await?;
    }
    Ok(())
}

/// Remove a signup that never counted: with its consent record, links and unsent mails (sent
/// mails stay, for the per-address cap).
///
/// A mail the worker has claimed (and may be sending right now) is left to the worker: it
/// records what happened, so a mail that went out counts toward the caps. One still claimed
/// when its signup is gone is cancelled by the worker at its next claim; a claim whose lease
/// ran out (a crashed worker) is cancelled here.
///
/// Only while it still waits: one confirmed meanwhile (on PostgreSQL, by another transaction
/// between the caller's select and this delete) stays, with everything of it. Its links are
/// locked first, the order a confirmation takes them (link, then signup), so the two cannot
/// deadlock.
pub(super) async fn delete_signup(
    conn: &mut AnyConnection,
    backend: Backend,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "select token_hash from confirm_tokens where signup_id = $1{}",
        backend.for_update()
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let deleted =
        sqlx::query("delete from signups where id = $1 and state = 'awaiting_confirmation'")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    if deleted.rows_affected() == 0 {
        return Ok(());
    }
    for sql in [
        "delete from confirm_tokens where signup_id = $1",
        "delete from consent_records where signup_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    }
    sqlx::query(
        "update mail_outbox set state = 'cancelled', claimed_by = null, claimed_until = null
         where signup_id = $1 and state = 'queued'
           and (claimed_until is null or claimed_until <= $2)",
    )
    .bind(id)
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A consent record as stored, with the consent text it references.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentRecord {
    pub signup_id: String,
    pub form_id: String,
    pub email: String,
    /// `single` or `double`.
    pub consent_mode: String,
    /// SHA-256 (hex) of the consent text shown; `None`: the form showed none.
    pub consent_text_hash: Option<String>,
    /// The text itself (texts are shared between records and never erased).
    pub consent_text: Option<String>,
    /// The page the form was on (Referer, else Origin).
    pub source_page: Option<String>,
    /// The visitor's preferred language (Accept-Language).
    pub language: Option<String>,
    /// The language ccbridge spoke to the visitor (`en`, `de`, `fr`, `es`); `None` before it
    /// was kept.
    pub page_language: Option<String>,
    /// The client address, as `privacy.client_address` keeps it.
    pub client_ip: Option<String>,
    /// The user agent, as `privacy.user_agent` keeps it.
    pub user_agent: Option<String>,
    pub signed_up_at: DateTime<Utc>,
    /// The person's own confirmation (double opt-in, or an unsubscribed address confirming).
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirm_ip: Option<String>,
    pub confirm_user_agent: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// What Constant Contact made of it: `created` or `updated`.
    pub outcome: Option<String>,
    pub contact_id: Option<String>,
}

/// The columns of a consent record joined with its text.
pub(super) const RECORD_SELECT: &str = "select r.signup_id, r.form_id, r.email, r.consent_mode,
        r.consent_text_hash, t.text, r.source_page, r.language, r.client_ip, r.user_agent,
        r.signed_up_at, r.confirmed_at, r.confirm_ip, r.confirm_user_agent, r.delivered_at,
        r.outcome, r.contact_id, r.page_language
    from consent_records r left join consent_texts t on t.hash = r.consent_text_hash";

#[derive(sqlx::FromRow)]
pub(super) struct RecordRow {
    signup_id: String,
    form_id: String,
    email: String,
    consent_mode: String,
    consent_text_hash: Option<String>,
    text: Option<String>,
    source_page: Option<String>,
    language: Option<String>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    signed_up_at: i64,
    confirmed_at: Option<i64>,
    confirm_ip: Option<String>,
    confirm_user_agent: Option<String>,
    delivered_at: Option<i64>,
    outcome: Option<String>,
    contact_id: Option<String>,
    page_language: Option<String>,
}

impl From<RecordRow> for ConsentRecord {
    fn from(row: RecordRow) -> Self {
        Self {
            signup_id: row.signup_id,
            form_id: row.form_id,
            email: row.email,
            consent_mode: row.consent_mode,
            consent_text_hash: row.consent_text_hash,
            consent_text: row.text,
            source_page: row.source_page,
            language: row.language,
            page_language: row.page_language,
            client_ip: row.client_ip,
            user_agent: row.user_agent,
            signed_up_at: from_millis(row.signed_up_at),
            confirmed_at: row.confirmed_at.map(from_millis),
            confirm_ip: row.confirm_ip,
            confirm_user_agent: row.confirm_user_agent,
            delivered_at: row.delivered_at.map(from_millis),
            outcome: row.outcome,
            contact_id: row.contact_id,
        }
    }
}

/// Complete a delivered signup's consent record with Constant Contact's answer. Runs in the
/// transaction that settles the signup, so the two never disagree.
pub(super) async fn record_delivery(
    conn: &mut AnyConnection,
    signup_id: &str,
    contact_id: &str,
    created: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update consent_records set delivered_at = $1, outcome = $2, contact_id = $3
         where signup_id = $4",
    )
    .bind(now.timestamp_millis())
    .bind(if created { "created" } else { "updated" })
    .bind(contact_id)
    .bind(signup_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// The consent record of one signup.
    pub async fn consent_record(
        &self,
        signup_id: Uuid,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let row: Option<RecordRow> =
            sqlx::query_as(&format!("{RECORD_SELECT} where r.signup_id = $1"))
                .bind(signup_id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ConsentRecord::from))
    }

    /// Every consent record of an address (compared without regard to case), oldest first.
    pub async fn consent_records_for(&self, email: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows: Vec<RecordRow> = sqlx::query_as(&format!(
            "{RECORD_SELECT} where lower(r.email) = lower($1) order by r.signed_up_at, r.signup_id"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ConsentRecord::from).collect())
    }

    /// Delete the consent records of signups delivered before `cutoff`
    /// (`privacy.consent_retention` ago). Records of undelivered signups go with their signup.
    /// Consent texts stay: they are shared, and hold nothing personal.
    pub async fn purge_consent_records(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "delete from consent_records where delivered_at is not null and delivered_at < $1",
        )
        .bind(cutoff.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
