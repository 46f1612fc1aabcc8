//! The token set and authorizations in progress. Values arrive here already sealed by
//! `tokens::TokenCipher`; this module never sees a plaintext token when a key is configured.
//!
//! The refresh lease (`refresh_owner`, `refresh_lease_until`) is how "at most one refresh in
//! flight" holds across tasks *and* processes: it is taken with one conditional UPDATE before the
//! token endpoint is called, and the new token set is written only on top of the generation it
//! refreshed.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Store, StoreError, from_millis};

/// The stored token set (sealed values; plain text when no key is configured, so `Debug` hides them).
#[derive(Clone)]
pub struct StoredTokenSet {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub generation: i64,
    pub obtained_at: DateTime<Utc>,
    pub obtained_by: String,
    pub last_refresh_at: Option<DateTime<Utc>>,
    pub refresh_failures: u32,
    /// `connected` or `needs_reconnect`.
    pub state: String,
    pub state_reason: Option<String>,
    pub account_name: Option<String>,
    pub refresh_started_at: Option<DateTime<Utc>>,
    pub refresh_owner: Option<String>,
    pub refresh_lease_until: Option<DateTime<Utc>>,
    /// Constant Contact's `encoded_account_id`, when it could be read.
    pub account_id: Option<String>,
    /// How the set's authorization was made: `browser`, `device` or `link` (null before 0.9).
    pub authorized_via: Option<String>,
    /// A switch to another account through a connect link waits for an admin's confirmation;
    /// until then no API call uses this set (it is still kept fresh).
    pub switch_unconfirmed: bool,
    pub previous_account_name: Option<String>,
    /// When the authorization behind this set was made (a refresh keeps it).
    pub authorized_at: Option<DateTime<Utc>>,
}

impl StoredTokenSet {
    /// A refresh lease is held and has not run out.
    pub fn refresh_in_flight(&self, now: DateTime<Utc>) -> bool {
        self.refresh_lease_until.is_some_and(|until| until > now)
    }
}

/// A new token set to write (sealed values).
#[derive(Clone)]
pub struct NewTokenSet {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub obtained_at: DateTime<Utc>,
}

/// An authorization in progress, as stored by `/connect`.
#[derive(Clone)]
pub struct PendingAuthorization {
    pub browser_key: String,
    pub pkce_verifier: String,
    pub expires_at: DateTime<Utc>,
    /// The connect link it was started from, if any.
    pub link_id: Option<String>,
}

/// How a new token set was authorized, as the store records it.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// `browser`, `device` or `link`.
    pub via: &'static str,
    /// No API call may use the set until an admin confirms (a link may have connected another
    /// account; cleared once the account is known to be the confirmed one).
    pub hold_until_confirmed: bool,
    /// The confirmed account's name, shown while the set is held.
    pub previous_account_name: Option<String>,
}

impl std::fmt::Debug for StoredTokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokenSet")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("generation", &self.generation)
            .field("state", &self.state)
            .field("state_reason", &self.state_reason)
            .field("refresh_owner", &self.refresh_owner)
            .field("refresh_lease_until", &self.refresh_lease_until)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for NewTokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTokenSet")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(FromRow)]
struct TokenRow {
    access_token: String,
    refresh_token: String,
    expires_at: i64,
    scopes: String,
    generation: i64,
    obtained_at: i64,
    obtained_by: String,
    last_refresh_at: Option<i64>,
    refresh_failures: i64,
    state: String,
    state_reason: Option<String>,
    account_name: Option<String>,
    refresh_started_at: Option<i64>,
    refresh_owner: Option<String>,
    refresh_lease_until: Option<i64>,
    account_id: Option<String>,
    authorized_via: Option<String>,
    switch_unconfirmed: i64,
    previous_account_name: Option<String>,
    authorized_at: Option<i64>,
}

impl From<TokenRow> for StoredTokenSet {
    fn from(row: TokenRow) -> Self {
        Self {
            access_token: row.access_token,
            refresh_token: row.refresh_token,
            expires_at: from_millis(row.expires_at),
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            generation: row.generation,
            obtained_at: from_millis(row.obtained_at),
            obtained_by: row.obtained_by,
            last_refresh_at: row.last_refresh_at.map(from_millis),
            refresh_failures: u32::try_from(row.refresh_failures).unwrap_or(u32::MAX),
            state: row.state,
            state_reason: row.state_reason,
            account_name: row.account_name,
            refresh_started_at: row.refresh_started_at.map(from_millis),
            refresh_owner: row.refresh_owner,
            refresh_lease_until: row.refresh_lease_until.map(from_millis),
            account_id: row.account_id,
            authorized_via: row.authorized_via,
            switch_unconfirmed: row.switch_unconfirmed != 0,
            previous_account_name: row.previous_account_name,
            authorized_at: row.authorized_at.map(from_millis),
        }
    }
}

impl Store {
    pub async fn token_set(&self) -> Result<Option<StoredTokenSet>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as("select * from token_set where id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(StoredTokenSet::from))
    }

    /// Store the token set from a completed authorization (a new connection or a reconnect).
    /// Replaces whatever was there, including a lease: the old refresh token is obsolete.
    /// Returns the new generation: one more than the set it replaces or, after a Disconnect, than
    /// the forgotten one (`token_generation`), so generations never repeat.
    pub async fn save_authorized_token_set(
        &self,
        new: &NewTokenSet,
        authorization: &Authorization,
    ) -> Result<i64, StoreError> {
        let generation: (i64,) = sqlx::query_as(
            "insert into token_set (id, access_token, refresh_token, expires_at, scopes, generation,
                obtained_at, obtained_by, refresh_failures, state, account_name, authorized_via,
                switch_unconfirmed, previous_account_name, authorized_at, recovery_pending)
             values (1, $1, $2, $3, $4,
                (select coalesce(max(generation), 0) + 1 from token_generation),
                $5, 'authorization_code', 0, 'connected', null, $6, $7, $8, $5, 0)
             on conflict (id) do update set
                access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                expires_at = excluded.expires_at, scopes = excluded.scopes,
                generation = token_set.generation + 1, obtained_at = excluded.obtained_at,
                obtained_by = 'authorization_code', last_refresh_at = null, refresh_failures = 0,
                recovery_pending = case when token_set.state = 'needs_reconnect' then 1 else 0 end,
                state = 'connected', state_reason = null,
                account_name = null, account_id = null,
                authorized_via = excluded.authorized_via,
                switch_unconfirmed = excluded.switch_unconfirmed,
                previous_account_name = excluded.previous_account_name,
                authorized_at = excluded.authorized_at,
                refresh_started_at = null, refresh_owner = null, refresh_lease_until = null
             returning generation",
        )
        .bind(&new.access_token)
        .bind(&new.refresh_token)
        .bind(new.expires_at.timestamp_millis())
        .bind(new.scopes.join(" "))
        .bind(new.obtained_at.timestamp_millis())
        .bind(authorization.via)
        .bind(i64::from(authorization.hold_until_confirmed))
        .bind(&authorization.previous_account_name)
        .fetch_one(&self.pool)
        .await?;
        // A check of the previous connection may be about another account.
        self.clear_account_check().await?;
        Ok(generation.0)
    }

    /// Take the refresh lease for `generation`. `true` when this caller now holds it; `false` when
    /// the generation moved on, the connection needs a reconnect, or another holder's lease is live.
    pub async fn claim_refresh(
        &self,
        generation: i64,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update token_set set refresh_started_at = $1, refresh_owner = $2, refresh_lease_until = $3
             where id = 1 and generation = $4 and state = 'connected'
               and (refresh_lease_until is null or refresh_lease_until <= $1)",
        )
        .bind(now.timestamp_millis())
        .bind(owner)
        .bind(lease_until.timestamp_millis())
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Write the refreshed token set and release the lease, on top of the generation that was
    /// refreshed: `false` means nothing was written (a reconnect or disconnect replaced the set).
    /// Only the lease holder calls the token endpoint, but the commit does not insist that the
    /// lease is still live: a set obtained with generation `g`'s refresh token is the right one
    /// for as long as the row is at `g` (with rotating tokens, `g`'s refresh token is dead now, and
    /// dropping the new set would force a reconnect).
    pub async fn finish_refresh(
        &self,
        generation: i64,
        new: &NewTokenSet,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let written = Self::write_refreshed(tx.conn(), generation, new).await?;
            if written {
                // Counted for the console's token timeline in the same commit.
                super::rollup::add(
                    tx.conn(),
                    new.obtained_at,
                    "",
                    super::rollup::Kind::TokenRefresh,
                    "",
                    1,
                )
                .await?;
            }
            Ok(written)
        }
        .await;
        tx.finish(result).await
    }

    async fn write_refreshed(
        conn: &mut sqlx::AnyConnection,
        generation: i64,
        new: &NewTokenSet,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update token_set set access_token = $1, refresh_token = $2, expires_at = $3, scopes = $4,
                generation = generation + 1, obtained_at = $5, obtained_by = 'refresh_token',
                last_refresh_at = $5, refresh_failures = 0, state = 'connected', state_reason = null,
                refresh_started_at = null, refresh_owner = null, refresh_lease_until = null
             where id = 1 and generation = $6",
        )
        .bind(&new.access_token)
        .bind(&new.refresh_token)
        .bind(new.expires_at.timestamp_millis())
        .bind(new.scopes.join(" "))
        .bind(new.obtained_at.timestamp_millis())
        .bind(generation)
        .execute(&mut *conn)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// A refresh failed in a way that may pass: count it and release the lease.
    pub async fn release_refresh_after_failure(&self, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "update token_set set refresh_failures = refresh_failures + 1,
                refresh_started_at = null, refresh_owner = null, refresh_lease_until = null
             where id = 1 and refresh_owner = $1",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Release a lease that ran out while `generation` is still the stored one: the refresh it
    /// guarded never finished (its process was stopped or crashed). `true` for the one caller
    /// that released it, so the interruption is reported once, however many processes notice.
    pub async fn release_lapsed_refresh(
        &self,
        generation: i64,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update token_set set refresh_failures = refresh_failures + 1,
                refresh_started_at = null, refresh_owner = null, refresh_lease_until = null
             where id = 1 and generation = $1 and refresh_owner = $2
               and refresh_lease_until <= $3",
        )
        .bind(generation)
        .bind(owner)
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Only a person can fix the connection now (e.g. `invalid_grant`). Signups keep queueing.
    pub async fn mark_needs_reconnect(
        &self,
        generation: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update token_set set state = 'needs_reconnect', state_reason = $1,
                refresh_failures = refresh_failures + 1,
                refresh_started_at = null, refresh_owner = null, refresh_lease_until = null
             where id = 1 and generation = $2",
        )
        .bind(reason)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Name the account of token set `generation` (the name may be unknown, the id too).
    pub async fn set_account(
        &self,
        generation: i64,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update token_set set account_name = $1, account_id = $2 where id = 1 and generation = $3",
        )
        .bind(name)
        .bind(id)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether this caller is the one to announce that token set `generation` restored a
    /// connection that needed a reconnect: `true` once, for the first caller, and only while the
    /// set is connected and not held.
    pub async fn claim_recovery_alert(&self, generation: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update token_set set recovery_pending = 0
             where id = 1 and generation = $1 and recovery_pending = 1
               and switch_unconfirmed = 0 and state = 'connected'",
        )
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The account an admin stands behind (`None`: never connected). Its id may be unknown.
    pub async fn confirmed_account(
        &self,
    ) -> Result<Option<(Option<String>, Option<String>)>, StoreError> {
        Ok(
            sqlx::query_as("select account_id, account_name from confirmed_account where id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_confirmed_account(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into confirmed_account (id, account_id, account_name) values (1, $1, $2)
             on conflict (id) do update set account_id = excluded.account_id,
                account_name = excluded.account_name",
        )
        .bind(id)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Let API calls use token set `generation` again after a switch of accounts. `false` when
    /// that set is no longer the stored one.
    pub async fn confirm_account_switch(&self, generation: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "update token_set set switch_unconfirmed = 0 where id = 1 and generation = $1",
        )
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn insert_pending_authorization(
        &self,
        state: &str,
        pending: &PendingAuthorization,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Housekeeping on the way: abandoned authorizations are useless after they expire.
        sqlx::query("delete from oauth_states where expires_at <= $1")
            .bind(now.timestamp_millis())
            .execute(&self.pool)
            .await?;
        sqlx::query("insert into oauth_states (state, browser_key, pkce_verifier, expires_at, link_id) values ($1, $2, $3, $4, $5)")
            .bind(state)
            .bind(&pending.browser_key)
            .bind(&pending.pkce_verifier)
            .bind(pending.expires_at.timestamp_millis())
            .bind(&pending.link_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove and return the authorization for `state`: a state can be used once, whatever happens next.
    pub async fn take_pending_authorization(
        &self,
        state: &str,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let row: Option<(String, String, i64, Option<String>)> = sqlx::query_as(
            "delete from oauth_states where state = $1 returning browser_key, pkce_verifier, expires_at, link_id",
        )
        .bind(state)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(browser_key, pkce_verifier, expires_at, link_id)| PendingAuthorization {
                browser_key,
                pkce_verifier,
                expires_at: from_millis(expires_at),
                link_id,
            },
        ))
    }
}
