//! Consent records: written with their signup at intake, completed at confirmation and delivery,
//! kept `privacy.consent_retention` after delivery. Consent texts are stored once per version.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::StoreError;
use crate::domain::NewSignup;

/// The key a consent text is stored and referenced under.
pub fn text_hash(text: &str) -> String {
    hex_lower(&Sha256::digest(text.as_bytes()))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
            source_page, language, client_ip, user_agent, signed_up_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A newer signup for the same address on the same form replaces one still waiting for its
/// confirmation: the older one, its record, its links and its unsent mails go.
pub(super) async fn replace_waiting(
    conn: &mut AnyConnection,
    newer: Uuid,
    signup: &NewSignup,
) -> Result<(), StoreError> {
    let older: Vec<(String,)> = sqlx::query_as(
        "select id from signups
         where email = $1 and form_id = $2 and state = 'awaiting_confirmation' and id <> $3",
    )
    .bind(signup.email.as_str())
    .bind(signup.form_id.as_str())
    .bind(newer.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for (id,) in older {
        delete_signup(conn, &id).await?;
    }
    Ok(())
}

/// Remove a signup that never counted: with its consent record, links and unsent mails (sent
/// mails stay, for the per-address cap).
pub(super) async fn delete_signup(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    for sql in [
        "delete from signups where id = $1",
        "delete from consent_records where signup_id = $1",
        "delete from confirm_tokens where signup_id = $1",
        "update mail_outbox set state = 'cancelled', claimed_by = null, claimed_until = null
         where signup_id = $1 and state = 'queued'",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}
