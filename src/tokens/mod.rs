//! Token keeping: the Constant Contact token set, kept fresh and never burnt (invariant 2).
//!
//! - **Single flight.** However many callers need a fresh token at once, one refresh goes out:
//!   callers queue on an in-process lock, and a database lease (`Store::claim_refresh`) keeps other
//!   processes out. Whoever gets the lock re-reads the token set first and does nothing if the
//!   generation they saw has already been replaced.
//! - **Commit before use.** A refreshed set is written (generation + 1) before its access token is
//!   handed to anyone; with rotating refresh tokens the old one is dead the moment upstream answers.
//! - **Ahead of time.** The background task refreshes a margin (plus a little jitter) before the
//!   `expires_in` actually returned runs out, and at least every `refresh_at_least_every` when idle,
//!   so the refresh token never idles out (180 days upstream).
//! - **Failures.** Network errors, timeouts and 5xx retry with backoff; `invalid_grant` (or refused
//!   client credentials) marks the connection `needs_reconnect` and raises an alert. Signups keep
//!   being accepted and queued whatever the connection's state.

mod adopt;
pub mod cipher;
mod interrupted;
pub mod links;
pub mod reconnect;
mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::alerts::Alerts;
use crate::clock::SharedClock;
use crate::constant_contact::{ApiError, OAuthClient, OAuthError, TokenGrant};
use crate::store::{Authorization, NewTokenSet, Store, StoreError, StoredTokenSet};
pub use adopt::{AccountSwitch, AdoptError, AuthorizedVia, Connected};
pub use cipher::{CipherError, TokenCipher};

/// A token this close to expiry is treated as expired (clock skew, request time); at most a
/// quarter of the token's lifetime, or a short-lived token would count as expired when issued.
const EXPIRY_SKEW: chrono::Duration = chrono::Duration::seconds(30);
/// How often a caller looks again while another process holds the refresh lease.
const LEASE_POLL: Duration = Duration::from_millis(100);
/// How long a refreshed token set is offered to a database that refuses writes before giving up.
/// Measured on the injected clock, so a test can move past it instead of waiting.
const COMMIT_PATIENCE: chrono::Duration = chrono::Duration::minutes(5);

/// Tuning of the token keeper.
#[derive(Debug, Clone)]
pub struct KeeperSettings {
    /// Refresh this long before expiry (at most half the token's lifetime).
    pub refresh_margin: Duration,
    /// Refresh at least this often, even when idle.
    pub refresh_at_least_every: Duration,
    /// How long a refresh may hold the lease; longer than the token call's timeout.
    pub lease: Duration,
    /// First retry delay after a transient failure; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The background task re-reads the token set at least this often, so a connection made by
    /// another process (`ccbridge connect`, a replica) or a changed clock is noticed.
    pub watch_every: Duration,
    /// What a reconnect alert links to.
    pub reconnect_link: reconnect::ReconnectLink,
}

/// An access token ready to use, with the generation of the set it came from.
/// (`Debug` shows `[REDACTED]` for the secret.)
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub secret: SecretString,
    pub generation: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("not connected to Constant Contact yet; an admin must visit /connect")]
    NotConnected,
    #[error(
        "the Constant Contact connection needs a reconnect ({0}); an admin must visit /connect"
    )]
    NeedsReconnect(String),
    /// A connect link connected another account (`0`) than before: no API call until an admin
    /// confirms the switch in the console.
    #[error(
        "the connection was switched to {0} through a connect link; an admin must confirm the switch in the console"
    )]
    SwitchUnconfirmed(String),
    #[error("no fresh token right now: {0}")]
    Transient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
}

/// A failed API call made through the keeper.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

#[derive(Clone)]
pub struct TokenKeeper(Arc<Inner>);

struct Inner {
    store: Store,
    oauth: OAuthClient,
    cipher: TokenCipher,
    clock: SharedClock,
    settings: KeeperSettings,
    alerts: Alerts,
    /// Identifies this process in the refresh lease.
    owner: String,
    /// In-process single flight; the lease covers other processes.
    flight: tokio::sync::Mutex<()>,
    /// Wakes the background task (a new connection, a refreshed set).
    wake: Notify,
    /// A refresh was found interrupted (its lease ran out without a new generation); explains a
    /// following `invalid_grant`.
    interrupted: AtomicBool,
    /// What this process last knew of the stored token set (see `watch`).
    seen: std::sync::Mutex<watch::Seen>,
    /// Counts connections made by other processes, for whoever does the on-connect work.
    elsewhere: tokio::sync::watch::Sender<u64>,
    /// Whether this process announces recovered connections (a command line leaves it to the
    /// service).
    announce_recoveries: AtomicBool,
}

impl TokenKeeper {
    pub fn new(
        store: Store,
        oauth: OAuthClient,
        cipher: TokenCipher,
        clock: SharedClock,
        settings: KeeperSettings,
        alerts: Alerts,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            oauth,
            cipher,
            clock,
            settings,
            alerts,
            owner: format!("ccbridge-{}", Uuid::new_v4()),
            flight: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            interrupted: AtomicBool::new(false),
            seen: std::sync::Mutex::new(watch::Seen::Unknown),
            elsewhere: tokio::sync::watch::Sender::new(0),
            announce_recoveries: AtomicBool::new(true),
        }))
    }

    pub fn oauth(&self) -> &OAuthClient {
        &self.0.oauth
    }

    /// How long a refresh may hold its lease.
    pub fn lease(&self) -> Duration {
        self.0.settings.lease
    }

    /// Wait (at most `max`) until no refresh is in flight in this process. `false` if one still is.
    pub async fn wait_for_refresh(&self, max: Duration) -> bool {
        tokio::time::timeout(max, self.0.flight.lock())
            .await
            .is_ok()
    }

    pub fn cipher(&self) -> &TokenCipher {
        &self.0.cipher
    }

    /// A usable access token, refreshed first if it is (nearly) expired.
    pub async fn access_token(&self) -> Result<AccessToken, TokenError> {
        let set = self.usable_set().await?;
        if set.switch_unconfirmed {
            return Err(TokenError::SwitchUnconfirmed(
                set.account_name
                    .unwrap_or_else(|| "an account that could not be named".into()),
            ));
        }
        let skew = EXPIRY_SKEW.min((set.expires_at - set.obtained_at) / 4);
        if self.0.clock.now() + skew < set.expires_at {
            return match self.unseal(&set) {
                Ok(token) => Ok(token),
                Err(TokenError::Cipher(error)) => Err(self.undecryptable(&set, error).await),
                Err(other) => Err(other),
            };
        }
        self.refresh(set.generation).await
    }

    /// Call the API with a token; on 401, refresh once (single flight) and try once more.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, CallError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let token = self.access_token().await?;
        match f(token.secret.clone()).await {
            Err(error) if error.is_unauthorized() => {
                tracing::info!(
                    generation = token.generation,
                    "access token refused (401); refreshing"
                );
                let fresh = self.refresh(token.generation).await?;
                Ok(f(fresh.secret).await?)
            }
            other => Ok(other?),
        }
    }

    /// The API refused a freshly refreshed token: the app was revoked or deactivated. Only a person
    /// can fix that; record it and say so. Returns the reason.
    pub async fn give_up_unauthorized(&self) -> String {
        let reason = "unauthorized";
        if let Ok(set) = self.usable_set().await {
            self.give_up(
                &set,
                reason,
                "Constant Contact refused a freshly refreshed access token (401): the application's access was revoked or deactivated.".to_owned(),
            )
            .await;
        }
        reason.to_owned()
    }

    /// Only a person can fix the connection now: record `needs_reconnect` with `reason` (which
    /// also releases any refresh lease) and raise the alert.
    async fn give_up(&self, set: &StoredTokenSet, reason: &str, text: String) -> TokenError {
        if let Err(e) = self
            .0
            .store
            .mark_needs_reconnect(set.generation, reason)
            .await
        {
            tracing::error!(error = %e, "could not record needs_reconnect");
        }
        self.alert_reconnect(&text).await;
        TokenError::NeedsReconnect(reason.to_owned())
    }

    /// Replace the token set with one from a completed authorization, and wake the keeper.
    /// (Callers go through `adopt`, which also names the account.)
    async fn store_authorized(
        &self,
        grant: &TokenGrant,
        authorization: &Authorization,
    ) -> Result<i64, TokenError> {
        let refresh = grant.refresh_token.as_ref().ok_or_else(|| {
            TokenError::Transient(
                "the token response has no refresh token (is offline_access in the scopes?)".into(),
            )
        })?;
        let now = self.0.clock.now();
        let new = self.seal(grant, refresh, now);
        let generation = self
            .0
            .store
            .save_authorized_token_set(&new, authorization)
            .await?;
        self.0.interrupted.store(false, Ordering::SeqCst);
        self.saw(watch::Seen::Set {
            generation,
            authorized_at: Some(now),
        });
        self.0.wake.notify_one();
        Ok(generation)
    }

    /// Refresh the token set whose generation the caller saw, unless someone already did, and
    /// hand out its access token, unless the set it comes from is held (a switch of accounts
    /// awaiting confirmation): whichever way the token was found, it passes this check.
    pub async fn refresh(&self, seen_generation: i64) -> Result<AccessToken, TokenError> {
        let token = self.refresh_set(seen_generation).await?;
        match self.0.store.token_set().await? {
            Some(set) if set.generation >= token.generation && set.switch_unconfirmed => {
                Err(TokenError::SwitchUnconfirmed(
                    set.account_name
                        .unwrap_or_else(|| "an account that could not be named".into()),
                ))
            }
            _ => Ok(token),
        }
    }

    /// The refresh itself, for the keeper's own schedule too (a held set is kept fresh).
    async fn refresh_set(&self, seen_generation: i64) -> Result<AccessToken, TokenError> {
        let _flight = self.0.flight.lock().await;
        let Some(set) = self.claim(seen_generation).await? else {
            // Someone else refreshed while we waited: use theirs.
            let set = self.usable_set().await?;
            return self.unseal(&set);
        };
        let refresh_token = match self.0.cipher.open(&set.refresh_token, "refresh_token") {
            Ok(token) => token,
            Err(error) => return Err(self.undecryptable(&set, error).await),
        };
        let result = self.0.oauth.refresh(&refresh_token).await;
        let refreshed = match result {
            Ok(grant) => self.commit_refresh(&set, &grant, &refresh_token).await,
            Err(error) => match self.replaced_meanwhile(&set, &error).await {
                Some(newer) => self.unseal(&newer),
                None => Err(self.refresh_failed(&set, error).await),
            },
        };
        crate::metrics::refresh(match &refreshed {
            Ok(_) => "success",
            Err(TokenError::NeedsReconnect(_)) => "needs_reconnect",
            Err(_) => "transient_failure",
        });
        refreshed
    }

    /// `invalid_grant` can also mean that another process used this refresh token and committed
    /// the result while we held a lease that had run out (its commit outlasted it): then the
    /// connection is fine, and the newer set is the answer, not a reconnect.
    async fn replaced_meanwhile(
        &self,
        set: &StoredTokenSet,
        error: &OAuthError,
    ) -> Option<StoredTokenSet> {
        if !matches!(error, OAuthError::InvalidGrant(_)) {
            return None;
        }
        let current = self.0.store.token_set().await.ok()??;
        (current.generation > set.generation && current.state == "connected").then(|| {
            tracing::info!(
                generation = current.generation,
                "the refresh token was already used by another process, which saved a newer token set; using it"
            );
            current
        })
    }

    /// Take the lease for `generation`. `None` when the set moved past it; waits (bounded) while
    /// another process holds a live lease.
    async fn claim(&self, generation: i64) -> Result<Option<StoredTokenSet>, TokenError> {
        let deadline = tokio::time::Instant::now() + self.0.settings.lease + Duration::from_secs(1);
        loop {
            let set = self.usable_set().await?;
            if set.generation != generation {
                return Ok(None);
            }
            // Taking over a lapsed lease would hide the refresh it guarded: report that first.
            self.notice_lapsed_refresh(&set).await?;
            let now = self.0.clock.now();
            let lease_until = now + to_chrono(self.0.settings.lease);
            if self
                .0
                .store
                .claim_refresh(generation, &self.0.owner, now, lease_until)
                .await?
            {
                return Ok(Some(set));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TokenError::Transient(
                    "another process holds the refresh lease".into(),
                ));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    async fn commit_refresh(
        &self,
        old: &StoredTokenSet,
        grant: &TokenGrant,
        old_refresh: &SecretString,
    ) -> Result<AccessToken, TokenError> {
        let now = self.0.clock.now();
        // Long-lived refresh tokens may be omitted from the answer: the old one stays valid then.
        let refresh = grant.refresh_token.as_ref().unwrap_or(old_refresh);
        let new = self.seal(grant, refresh, now);
        // With rotating refresh tokens the old set is dead now: this set must reach the database.
        // Keep trying for a while (nothing else can refresh without the database either).
        let give_up_at = now + COMMIT_PATIENCE;
        let mut delay = Duration::from_millis(50);
        for attempt in 1.. {
            match self.0.store.finish_refresh(old.generation, &new).await {
                Ok(true) => {
                    tracing::info!(generation = old.generation + 1, expires_at = %new.expires_at, "token set refreshed and committed");
                    self.saw_refresh(old.generation + 1);
                    // An earlier interruption no longer explains a later invalid_grant.
                    self.0.interrupted.store(false, Ordering::SeqCst);
                    self.0.wake.notify_one();
                    return Ok(AccessToken {
                        secret: grant.access_token.clone(),
                        generation: old.generation + 1,
                        expires_at: new.expires_at,
                    });
                }
                Ok(false) => {
                    // A reconnect or a disconnect replaced the set meanwhile: theirs wins.
                    tracing::warn!(
                        "refreshed token set not committed: the token set was replaced meanwhile"
                    );
                    return Err(TokenError::Transient("the token set was replaced".into()));
                }
                Err(error) if self.0.clock.now() < give_up_at => {
                    crate::metrics::token_commit_retry();
                    tracing::error!(attempt, %error, "committing the refreshed token set failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(error) => {
                    tracing::error!(attempt, %error, "committing the refreshed token set failed; giving up");
                    break;
                }
            }
        }
        self.alert_reconnect(
            "A refreshed Constant Contact token set could not be saved (database unavailable). If the refresh token rotated, a reconnect will be needed.",
        )
        .await;
        Err(TokenError::Transient(
            "the refreshed token set could not be saved".into(),
        ))
    }

    async fn refresh_failed(&self, set: &StoredTokenSet, error: OAuthError) -> TokenError {
        let reason = match &error {
            OAuthError::InvalidGrant(_) if self.0.interrupted.load(Ordering::SeqCst) => {
                "refresh_interrupted"
            }
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::Transient(message) => {
                tracing::warn!(error = %message, failures = set.refresh_failures + 1, "token refresh failed; will retry");
                if let Err(e) = self
                    .0
                    .store
                    .release_refresh_after_failure(&self.0.owner)
                    .await
                {
                    tracing::error!(error = %e, "could not release the refresh lease; it expires by itself");
                }
                return TokenError::Transient(message.clone());
            }
        };
        let text = match reason {
            "refresh_interrupted" => "The Constant Contact refresh token was rejected after a refresh was interrupted by a crash (the rotated token was lost).".to_owned(),
            "invalid_client" => format!("Constant Contact refused the client credentials ({error}). Fix constant_contact.client_id / client_secret first."),
            _ => format!("Constant Contact rejected the refresh token ({error}): it was revoked, expired after 180 idle days, or used up."),
        };
        self.give_up(set, reason, text).await
    }

    /// The stored tokens cannot be read (the encryption key was changed or removed): nothing
    /// will work until a person restores the key or reconnects, so say so instead of retrying.
    async fn undecryptable(&self, set: &StoredTokenSet, error: CipherError) -> TokenError {
        let text =
            format!("{error}. Restore the previous security.token_encryption_key, or reconnect.");
        self.give_up(set, "token_undecryptable", text).await
    }

    /// The stored set if it can be used at all.
    async fn usable_set(&self) -> Result<StoredTokenSet, TokenError> {
        match self.0.store.token_set().await? {
            None => Err(TokenError::NotConnected),
            Some(set) if set.state == "needs_reconnect" => Err(TokenError::NeedsReconnect(
                set.state_reason.unwrap_or_else(|| "unknown".into()),
            )),
            Some(set) => Ok(set),
        }
    }

    fn unseal(&self, set: &StoredTokenSet) -> Result<AccessToken, TokenError> {
        Ok(AccessToken {
            secret: self.0.cipher.open(&set.access_token, "access_token")?,
            generation: set.generation,
            expires_at: set.expires_at,
        })
    }

    fn seal(&self, grant: &TokenGrant, refresh: &SecretString, now: DateTime<Utc>) -> NewTokenSet {
        NewTokenSet {
            access_token: self.0.cipher.seal(&grant.access_token, "access_token"),
            refresh_token: self.0.cipher.seal(refresh, "refresh_token"),
            expires_at: now + to_chrono(grant.expires_in),
            scopes: grant.scopes.clone(),
            obtained_at: now,
        }
    }

    /// When the background task should refresh `set`: a margin (at most half the lifetime) plus a
    /// jitter before expiry, or `refresh_at_least_every` after it was obtained, whichever is first.
    /// The jitter is derived from the generation, so it is stable for one set and varies across sets.
    pub fn due_at(&self, set: &StoredTokenSet) -> DateTime<Utc> {
        let lifetime = (set.expires_at - set.obtained_at).max(chrono::Duration::zero());
        let margin = to_chrono(self.0.settings.refresh_margin).min(lifetime / 2);
        let jitter_fraction =
            (set.generation.unsigned_abs().wrapping_mul(2_654_435_761) % 1000) as i32;
        let jitter = margin / 4 * jitter_fraction / 1000;
        let by_expiry = set.expires_at - margin - jitter;
        let by_idle = set.obtained_at + to_chrono(self.0.settings.refresh_at_least_every);
        by_expiry.min(by_idle)
    }

    /// One step of the background task: refresh if due. Returns when to look next (`None`: nothing
    /// to keep until an admin connects).
    pub async fn refresh_if_due(&self) -> Result<Option<DateTime<Utc>>, TokenError> {
        let set = match self.usable_set().await {
            Ok(set) => set,
            Err(TokenError::NotConnected | TokenError::NeedsReconnect(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        // Only while no refresh of ours is in flight: its own lease is not a lapsed one.
        if let Ok(_flight) = self.0.flight.try_lock() {
            self.notice_lapsed_refresh(&set).await?;
        }
        let now = self.0.clock.now();
        let due = self.due_at(&set);
        if now < due {
            // While a lease is held (here or elsewhere), look again when it runs out: if no new
            // generation came by then, the refresh was interrupted, and that is reported then.
            let next = match set.refresh_lease_until {
                Some(until) if until > now => due.min(until),
                _ => due,
            };
            return Ok(Some(next));
        }
        let fresh = self.refresh_set(set.generation).await?;
        let set = self.usable_set().await?;
        debug_assert!(set.generation >= fresh.generation);
        Ok(Some(self.due_at(&set)))
    }

    /// The background task: keep the token set fresh until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(error) = self.report_interrupted_refresh().await {
            tracing::error!(%error, "could not check for an interrupted refresh");
        }
        let mut failures: u32 = 0;
        loop {
            let wait = match self.refresh_if_due().await {
                Ok(Some(next)) => {
                    failures = 0;
                    (next - self.0.clock.now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                }
                Ok(None) => Duration::MAX,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = self.backoff(failures);
                    tracing::warn!(%error, failures, retry_in = ?wait, "token keeping step failed");
                    wait
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.0.wake.notified() => {}
                () = tokio::time::sleep(wait.min(self.0.settings.watch_every)) => {}
            }
        }
    }

    /// Exponential backoff with up to 25% jitter.
    fn backoff(&self, failures: u32) -> Duration {
        let s = &self.0.settings;
        let base = s
            .retry_base
            .saturating_mul(1u32 << failures.min(16).saturating_sub(1))
            .min(s.retry_max);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
        base + jitter
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
