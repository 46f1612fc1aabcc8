//! Privacy requests: everything kept about one address, exported or erased, and the audit line
//! each request leaves (a keyed hash of the address, never the address).
//!
//! An address is matched without regard to case. What belongs to it: its signups (also those
//! whose personal columns retention has already emptied, found through their consent record or
//! mail), their consent records, confirmation links and mails, and the resubscribe requests
//! made for it. The unsubscribed mirror's entry is exported but never erased: it is Constant
//! Contact's data, and it is what stops a later signup from re-subscribing the address.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use serde::Serialize;
use sha2::Sha256;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::consent::{ConsentRecord, RECORD_SELECT, RecordRow};
use super::{SignupRecord, SignupRow, Store, StoreError, from_millis};
use crate::domain::EmailAddress;
use crate::password::hex_lower;

/// What the export says about the unsubscribed mirror, next to its entry.
pub const MIRROR_NOTE: &str = "The unsubscribed entry is a copy of Constant Contact's own record. \
    Erasure keeps it: it is what stops a later signup from re-subscribing this address.";

/// Everything ccbridge keeps about one address.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyExport {
    /// The address asked about, lower-cased.
    pub email: String,
    pub signups: Vec<SignupRecord>,
    pub consent_records: Vec<ConsentRecord>,
    /// Mails queued or sent to the address (their bodies are never stored).
    pub mails: Vec<MailRecord>,
    /// Requests made to Constant Contact to send the address its resubscribe mail.
    pub resubscribe_requests: Vec<ResubscribeRequest>,
    /// The address's entry in the mirror of the account's unsubscribed contacts, if any.
    pub unsubscribed: Option<MirrorRecord>,
    pub note: &'static str,
}

impl PrivacyExport {
    /// Nothing is kept about the address (the mirror entry aside, which erasure keeps).
    pub fn is_empty(&self) -> bool {
        self.signups.is_empty()
            && self.consent_records.is_empty()
            && self.mails.is_empty()
            && self.resubscribe_requests.is_empty()
    }
}

/// A row of the mail queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailRecord {
    pub id: String,
    /// `confirmation`.
    pub kind: String,
    pub signup_id: String,
    pub to_address: String,
    /// `queued`, `sent`, `dead` or `cancelled`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

type MailRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    i64,
    Option<i64>,
);

impl From<MailRow> for MailRecord {
    fn from(row: MailRow) -> Self {
        let (id, kind, signup_id, to_address, state, attempts, last_error, created, sent) = row;
        Self {
            id,
            kind,
            signup_id,
            to_address,
            state,
            attempts,
            last_error,
            created_at: from_millis(created),
            sent_at: sent.map(from_millis),
        }
    }
}

/// A resubscribe mail Constant Contact was asked to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResubscribeRequest {
    pub contact_id: String,
    pub email: String,
    pub signup_id: String,
    pub requested_at: DateTime<Utc>,
}

/// The address's entry in the unsubscribed mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorRecord {
    pub email: String,
    pub contact_id: String,
    pub opted_out_at: Option<DateTime<Utc>>,
    /// The contact is deleted in Constant Contact (its permission still says unsubscribed).
    pub deleted: bool,
    pub synced_at: DateTime<Utc>,
}

/// What an erasure deleted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub signups: u64,
    pub consent_records: u64,
    pub confirm_tokens: u64,
    pub mails: u64,
    pub resubscribe_requests: u64,
}

/// What erasure leaves alone, said with every erasure (the console and the CLI).
pub const NOT_ERASED: &str = "Constant Contact's copy of the contact is NOT touched: delete the \
    contact there too (Contacts, then Delete). The unsubscribed mirror's entry, if any, is kept: \
    it is what stops a later signup from re-subscribing this address.";

impl Erased {
    pub fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }

    /// How many rows of each kind went, named for people, in a fixed order.
    pub fn by_kind(&self) -> [(&'static str, u64); 5] {
        [
            ("signups", self.signups),
            ("consent records", self.consent_records),
            ("confirmation links", self.confirm_tokens),
            ("mails", self.mails),
            ("resubscribe requests", self.resubscribe_requests),
        ]
    }
}

/// A privacy request, as the audit keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyAction {
    Export,
    Erase,
}

impl PrivacyAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Erase => "erase",
        }
    }
}

impl Store {
    /// Everything kept about `email`, and an audit line saying that `actor` asked.
    pub async fn privacy_export(
        &self,
        email: &EmailAddress,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<PrivacyExport, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let export = gather(tx.conn(), email).await?;
            audit(tx.conn(), PrivacyAction::Export, email, actor, now).await?;
            Ok(export)
        }
        .await;
        tx.finish(result).await
    }

    /// Delete everything kept about `email` (the mirror entry aside) in one transaction, with an
    /// audit line saying that `actor` asked. Consent texts are shared and stay.
    pub async fn privacy_erase(
        &self,
        email: &EmailAddress,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Erased, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let erased = erase(tx.conn(), email).await?;
            audit(tx.conn(), PrivacyAction::Erase, email, actor, now).await?;
            Ok(erased)
        }
        .await;
        tx.finish(result).await
    }

    /// The keyed hash the audit keeps for `email` (made with this database's key).
    pub async fn privacy_hash(&self, email: &EmailAddress) -> Result<String, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async { keyed_hash(tx.conn(), email).await }.await;
        tx.finish(result).await
    }
}

/// The ids of every signup of the address: by its own column, or (once retention has emptied
/// that) through its consent record or its mails.
async fn signup_ids(conn: &mut AnyConnection, to: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "select id from signups where lower(email) = $1
         union select signup_id from consent_records where lower(email) = $1
         union select signup_id from mail_outbox where lower(to_address) = $1
         union select signup_id from resubscribe_requests where lower(email) = $1",
    )
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn gather(
    conn: &mut AnyConnection,
    email: &EmailAddress,
) -> Result<PrivacyExport, StoreError> {
    let to = email.as_str().to_lowercase();
    let ids = signup_ids(conn, &to).await?;
    let mut signups = Vec::new();
    if !ids.is_empty() {
        let sql = format!(
            "select * from signups where id in ({}) order by id",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as::<_, SignupRow>(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            signups.push(row.into_record()?);
        }
    }
    let records: Vec<RecordRow> = sqlx::query_as(&format!(
        "{RECORD_SELECT} where lower(r.email) = $1 order by r.signed_up_at, r.signup_id"
    ))
    .bind(&to)
    .fetch_all(&mut *conn)
    .await?;
    let mails: Vec<MailRow> = sqlx::query_as(
        "select id, kind, signup_id, to_address, state, attempts, last_error, created_at, sent_at
         from mail_outbox where lower(to_address) = $1 order by created_at, id",
    )
    .bind(&to)
    .fetch_all(&mut *conn)
    .await?;
    let resubscribe_requests: Vec<(String, String, String, i64)> = sqlx::query_as(
        "select contact_id, email, signup_id, requested_at from resubscribe_requests
         where lower(email) = $1 order by requested_at",
    )
    .bind(&to)
    .fetch_all(&mut *conn)
    .await?;
    let unsubscribed: Option<(String, String, Option<i64>, i64, i64)> = sqlx::query_as(
        "select email, contact_id, opted_out_at, deleted, synced_at from unsubscribed
         where lower(email) = $1",
    )
    .bind(&to)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(PrivacyExport {
        email: to,
        signups,
        consent_records: records.into_iter().map(ConsentRecord::from).collect(),
        mails: mails.into_iter().map(MailRecord::from).collect(),
        resubscribe_requests: resubscribe_requests
            .into_iter()
            .map(|(contact_id, email, signup_id, at)| ResubscribeRequest {
                contact_id,
                email,
                signup_id,
                requested_at: from_millis(at),
            })
            .collect(),
        unsubscribed: unsubscribed.map(|(email, contact_id, opted_out, deleted, synced)| {
            MirrorRecord {
                email,
                contact_id,
                opted_out_at: opted_out.map(from_millis),
                deleted: deleted != 0,
                synced_at: from_millis(synced),
            }
        }),
        note: MIRROR_NOTE,
    })
}

async fn erase(conn: &mut AnyConnection, email: &EmailAddress) -> Result<Erased, StoreError> {
    let to = email.as_str().to_lowercase();
    let ids = signup_ids(conn, &to).await?;
    let mut erased = Erased::default();
    if !ids.is_empty() {
        let list = placeholders(1, ids.len());
        for (table, column, count) in [
            ("confirm_tokens", "signup_id", &mut erased.confirm_tokens),
            ("signups", "id", &mut erased.signups),
        ] {
            let sql = format!("delete from {table} where {column} in ({list})");
            let mut query = sqlx::query(&sql);
            for id in &ids {
                query = query.bind(id);
            }
            *count = query.execute(&mut *conn).await?.rows_affected();
        }
    }
    // By address as well as by signup: a record or mail whose signup is already gone.
    let by_address = |table: &str, column: &str| {
        let ids = if ids.is_empty() {
            String::new()
        } else {
            format!(" or signup_id in ({})", placeholders(2, ids.len()))
        };
        format!("delete from {table} where lower({column}) = $1{ids}")
    };
    for (sql, count) in [
        (
            by_address("consent_records", "email"),
            &mut erased.consent_records,
        ),
        (by_address("mail_outbox", "to_address"), &mut erased.mails),
        (
            by_address("resubscribe_requests", "email"),
            &mut erased.resubscribe_requests,
        ),
    ] {
        let mut query = sqlx::query(&sql).bind(&to);
        for id in &ids {
            query = query.bind(id);
        }
        *count = query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(erased)
}

/// Write the audit line of a request: the action, who asked, when, and the address only as a
/// keyed hash (so the audit can show that an address was handled, to whoever holds the address,
/// without keeping it).
async fn audit(
    conn: &mut AnyConnection,
    action: PrivacyAction,
    email: &EmailAddress,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let hash = keyed_hash(conn, email).await?;
    sqlx::query(
        "insert into privacy_audit (id, action, email_hmac, actor, at) values ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(action.as_str())
    .bind(hash)
    .bind(actor)
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// HMAC-SHA256 of the lower-cased address under this database's key (hex), the key made from
/// random bytes on first use.
async fn keyed_hash(conn: &mut AnyConnection, email: &EmailAddress) -> Result<String, StoreError> {
    let mut fresh = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query("insert into privacy_key (id, key) values (1, $1) on conflict (id) do nothing")
        .bind(hex_lower(&fresh))
        .execute(&mut *conn)
        .await?;
    let (key,): (String,) = sqlx::query_as("select key from privacy_key where id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(email.as_str().to_lowercase().as_bytes());
    Ok(hex_lower(&mac.finalize().into_bytes()))
}
