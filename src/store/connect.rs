//! Connect links (a single-use, expiring URL that lets the account owner connect without the
//! admin password) and device authorizations started from a page. Links are kept by the hash of
//! their secret only: the database never holds a usable link.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Store, StoreError, from_millis};

/// A connect link as the console lists it.
#[derive(Debug, Clone)]
pub struct ConnectLink {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// `console` or `cli`.
    pub created_by: String,
    pub note: Option<String>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Active,
    Used,
    Revoked,
    Expired,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Used => "used",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl ConnectLink {
    pub fn state(&self, now: DateTime<Utc>) -> LinkState {
        if self.used_at.is_some() {
            LinkState::Used
        } else if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if self.expires_at <= now {
            LinkState::Expired
        } else {
            LinkState::Active
        }
    }
}

#[derive(FromRow)]
struct LinkRow {
    id: String,
    created_at: i64,
    expires_at: i64,
    created_by: String,
    note: Option<String>,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<LinkRow> for ConnectLink {
    fn from(row: LinkRow) -> Self {
        Self {
            id: row.id,
            created_at: from_millis(row.created_at),
            expires_at: from_millis(row.expires_at),
            created_by: row.created_by,
            note: row.note,
            used_at: row.used_at.map(from_millis),
            revoked_at: row.revoked_at.map(from_millis),
        }
    }
}

/// A device authorization started from a page.
#[derive(Clone)]
pub struct PageDeviceAuthorization {
    pub id: String,
    /// Sealed like the tokens.
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub link_id: Option<String>,
    pub browser_key: String,
    /// `pending`, `connected` or `failed`.
    pub state: String,
    pub message: Option<String>,
}

impl std::fmt::Debug for PageDeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageDeviceAuthorization")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(FromRow)]
struct DeviceRow {
    id: String,
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_at: i64,
    link_id: Option<String>,
    browser_key: String,
    state: String,
    message: Option<String>,
}

impl From<DeviceRow> for PageDeviceAuthorization {
    fn from(row: DeviceRow) -> Self {
        Self {
            id: row.id,
            device_code: row.device_code,
            user_code: row.user_code,
            verification_uri: row.verification_uri,
            verification_uri_complete: row.verification_uri_complete,
            expires_at: from_millis(row.expires_at),
            link_id: row.link_id,
            browser_key: row.browser_key,
            state: row.state,
            message: row.message,
        }
    }
}

/// How many links the console lists.
const LISTED_LINKS: i64 = 20;

impl Store {
    pub async fn insert_connect_link(
        &self,
        link: &ConnectLink,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into connect_links (id, token_hash, created_at, expires_at, created_by, note)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.id)
        .bind(token_hash)
        .bind(link.created_at.timestamp_millis())
        .bind(link.expires_at.timestamp_millis())
        .bind(&link.created_by)
        .bind(&link.note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn connect_link_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConnectLink>, StoreError> {
        let row: Option<LinkRow> = sqlx::query_as(
            "select id, created_at, expires_at, created_by, note, used_at, revoked_at
             from connect_links where token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ConnectLink::from))
    }

    pub async fn connect_link(&self, id: &str) -> Result<Option<ConnectLink>, StoreError> {
        let row: Option<LinkRow> = sqlx::query_as(
            "select id, created_at, expires_at, created_by, note, used_at, revoked_at
             from connect_links where id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ConnectLink::from))
    }

    /// The newest links first.
    pub async fn connect_links(&self) -> Result<Vec<ConnectLink>, StoreError> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "select id, created_at, expires_at, created_by, note, used_at, revoked_at
             from connect_links order by created_at desc, id desc limit $1",
        )
        .bind(LISTED_LINKS)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ConnectLink::from).collect())
    }

    /// Revoke a link that is still unused. `false` when there is no such link or it was used.
    pub async fn revoke_connect_link(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update connect_links set revoked_at = $1
             where id = $2 and used_at is null and revoked_at is null",
        )
        .bind(now.timestamp_millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Mark a link used, once: `false` when it was already used, revoked or expired (then the
    /// connection that completed through it must not be kept).
    pub async fn use_connect_link(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update connect_links set used_at = $1
             where id = $2 and used_at is null and revoked_at is null and expires_at > $1",
        )
        .bind(now.timestamp_millis())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn insert_device_authorization(
        &self,
        device: &PageDeviceAuthorization,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Housekeeping on the way: a day after expiry nobody looks at one any more.
        sqlx::query("delete from device_authorizations where expires_at <= $1")
            .bind((now - chrono::Duration::days(1)).timestamp_millis())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "insert into device_authorizations (id, device_code, user_code, verification_uri,
                verification_uri_complete, expires_at, link_id, browser_key, state, message)
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', null)",
        )
        .bind(&device.id)
        .bind(&device.device_code)
        .bind(&device.user_code)
        .bind(&device.verification_uri)
        .bind(&device.verification_uri_complete)
        .bind(device.expires_at.timestamp_millis())
        .bind(&device.link_id)
        .bind(&device.browser_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn device_authorization(
        &self,
        id: &str,
    ) -> Result<Option<PageDeviceAuthorization>, StoreError> {
        let row: Option<DeviceRow> =
            sqlx::query_as("select * from device_authorizations where id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(PageDeviceAuthorization::from))
    }

    /// Record how a page's device authorization ended (`connected` or `failed`).
    pub async fn finish_device_authorization(
        &self,
        id: &str,
        state: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("update device_authorizations set state = $1, message = $2 where id = $3")
            .bind(state)
            .bind(message)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
