//! The machine-readable status shared by `/readyz` and `ccbridge status --json`: one shape, so a
//! script written against one works on the other. Fields may be added, never renamed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::domain::AccountCheck;
use crate::store::{MailCounts, QueueCounts, RecentError, Store, StoreError, StoredTokenSet};
use crate::unsubscribes::{self, Gate, MirrorSettings};

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub connection: ConnectionStatus,
    /// `None` when the database could not be read.
    pub queue: Option<QueueCounts>,
    pub api_usage: ApiUsage,
    /// `"ok"`, or `"unavailable"` when the database does not accept writes.
    pub database: &'static str,
    /// The latest upstream errors of failed and dead signups, and why suppressed signups are
    /// held, newest first (at most 5).
    pub last_errors: Vec<RecentError>,
    /// Configured lists and custom fields checked against the account (when connecting, then
    /// daily, by the running service); `null` before the first check of this connection.
    pub account_check: Option<AccountCheck>,
    /// Confirmation mails (double opt-in) by state; `None` when the database could not be read.
    pub mail: Option<MailCounts>,
    /// The mirror of the account's unsubscribed addresses; `None` when it could not be read.
    pub unsubscribes: Option<UnsubscribesStatus>,
}

/// The mirror of the account's unsubscribed addresses, and whether single opt-in deliveries may go.
#[derive(Debug, Clone, Serialize)]
pub struct UnsubscribesStatus {
    /// Addresses in the mirror.
    pub addresses: u64,
    /// The last successful sync, of either kind.
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_full_sync_at: Option<DateTime<Utc>>,
    /// The list is complete and recent: single opt-in deliveries may go. Always true with
    /// `delivery.respect_unsubscribes = false` or while not connected.
    pub fresh: bool,
    /// Why single opt-in deliveries wait, when they do.
    pub waiting: Option<String>,
    /// The first failure of the current run of failed syncs.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl UnsubscribesStatus {
    pub async fn gather(
        config: &Config,
        store: &Store,
        set: Option<&StoredTokenSet>,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let state = store.sync_state().await?;
        let wait =
            unsubscribes::wait_reason(&MirrorSettings::from_config(config), set, &state, now);
        let waiting = wait.map(|wait| match wait.into_gate() {
            Gate::Wait { reason, .. } => reason,
            Gate::Open => String::new(),
        });
        Ok(Self {
            addresses: state.size,
            last_sync_at: state.last_sync_at,
            last_full_sync_at: state.last_full_sync_at,
            fresh: waiting.is_none(),
            waiting,
            failing_since: state.failing_since,
            last_error: state.last_error,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    /// `not_connected | connected | refreshing | needs_reconnect | awaiting_confirmation` (a
    /// connect link connected another account; an admin must confirm the switch in the console)
    pub state: &'static str,
    pub reason: Option<String>,
    pub account: Option<String>,
    pub scopes: Vec<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    pub refresh_failures: u32,
}

impl ConnectionStatus {
    /// Every value `state` takes.
    pub const STATES: &'static [&'static str] = &[
        "not_connected",
        "connected",
        "refreshing",
        "needs_reconnect",
        "awaiting_confirmation",
    ];

    /// The connection as the stored token set describes it.
    pub fn from_stored(set: Option<&StoredTokenSet>, now: DateTime<Utc>) -> Self {
        let Some(set) = set else {
            return Self::not_connected();
        };
        let state = match set.state.as_str() {
            "needs_reconnect" => "needs_reconnect",
            _ if set.switch_unconfirmed => "awaiting_confirmation",
            _ if set.refresh_in_flight(now) => "refreshing",
            _ => "connected",
        };
        Self {
            state,
            reason: match state {
                "needs_reconnect" => set.state_reason.clone(),
                "awaiting_confirmation" => Some(format!(
                    "connected through a connect link to another account than before ({}); confirm the switch in the console",
                    set.previous_account_name.as_deref().unwrap_or("unnamed")
                )),
                _ => None,
            },
            account: set.account_name.clone(),
            scopes: set.scopes.clone(),
            access_token_expires_at: Some(set.expires_at),
            last_refresh_at: set.last_refresh_at,
            refresh_failures: set.refresh_failures,
        }
    }

    /// No token set has been stored: the admin has not connected yet.
    pub fn not_connected() -> Self {
        Self {
            state: "not_connected",
            reason: None,
            account: None,
            scopes: Vec::new(),
            access_token_expires_at: None,
            last_refresh_at: None,
            refresh_failures: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiUsage {
    pub day: NaiveDate,
    pub used: u64,
    pub limit: u32,
}

impl Status {
    /// Gather the status; `database_ok` is the caller's verdict on a write probe.
    pub async fn gather(
        config: &Config,
        store: &Store,
        now: DateTime<Utc>,
        database_ok: bool,
    ) -> Self {
        let queue = match store.queue_counts().await {
            Ok(counts) => Some(counts),
            Err(error) => {
                tracing::warn!(%error, "queue counts unavailable");
                None
            }
        };
        let set = store.token_set().await;
        let connection = match &set {
            Ok(set) => ConnectionStatus::from_stored(set.as_ref(), now),
            Err(error) => {
                tracing::warn!(%error, "connection state unavailable");
                ConnectionStatus::not_connected()
            }
        };
        let unsubscribes = match &set {
            Ok(set) => UnsubscribesStatus::gather(config, store, set.as_ref(), now)
                .await
                .inspect_err(
                    |error| tracing::warn!(%error, "the unsubscribes mirror is unavailable"),
                )
                .ok(),
            Err(_) => None,
        };
        Self {
            connection,
            queue,
            api_usage: ApiUsage {
                day: now.date_naive(),
                used: store.api_calls_on(now.date_naive()).await.unwrap_or(0),
                limit: config.constant_contact.requests_per_day,
            },
            database: if database_ok { "ok" } else { "unavailable" },
            last_errors: store.recent_errors(5).await.unwrap_or_default(),
            account_check: match store.account_check().await {
                Ok(check) => check,
                Err(error) => {
                    tracing::warn!(%error, "the account check is unavailable");
                    None
                }
            },
            unsubscribes,
            mail: match store.mail_counts().await {
                Ok(counts) => Some(counts),
                Err(error) => {
                    tracing::warn!(%error, "mail counts unavailable");
                    None
                }
            },
        }
    }
}

impl Status {
    /// The status for people (`ccbridge status` without `--json`).
    pub fn human(&self) -> String {
        let c = &self.connection;
        let mut out = format!("connection:  {}", c.state);
        if let Some(reason) = &c.reason {
            out.push_str(&format!(" ({reason})"));
        }
        out.push('\n');
        if let Some(account) = &c.account {
            out.push_str(&format!("account:     {account}\n"));
        }
        if !c.scopes.is_empty() {
            out.push_str(&format!("scopes:      {}\n", c.scopes.join(" ")));
        }
        if let Some(expires) = c.access_token_expires_at {
            out.push_str(&format!("token until: {expires}\n"));
        }
        if let Some(last) = c.last_refresh_at {
            out.push_str(&format!("refreshed:   {last}\n"));
        }
        out.push_str(&format!("refresh failures: {}\n", c.refresh_failures));
        match &self.queue {
            Some(q) => out.push_str(&format!(
                "queue:       pending {}, failed {}, delivered {}, dead {}, spam {}, awaiting_confirmation {}, suppressed {}\n",
                q.pending, q.failed, q.delivered, q.dead, q.spam, q.awaiting_confirmation, q.suppressed
            )),
            None => out.push_str("queue:       (unavailable)\n"),
        }
        if let Some(u) = &self.unsubscribes {
            out.push_str(&format!(
                "unsubscribed: {} in the mirror, last sync {}{}\n",
                u.addresses,
                u.last_sync_at
                    .map_or("never".to_owned(), |at| at.to_string()),
                u.waiting
                    .as_deref()
                    .map_or(String::new(), |why| format!("; single opt-in waits: {why}"))
            ));
        }
        if let Some(m) = &self.mail {
            out.push_str(&format!(
                "mails:       queued {} (of which failing {}), sent {}, dead {}\n",
                m.queued, m.failed, m.sent, m.dead
            ));
        }
        out.push_str(&format!(
            "api usage:   {} of {} on {}\n",
            self.api_usage.used, self.api_usage.limit, self.api_usage.day
        ));
        out.push_str(&format!("database:    {}\n", self.database));
        match &self.account_check {
            Some(check) if check.ok() => out.push_str(&format!(
                "account check: every configured list and custom field exists ({})\n",
                check.checked_at
            )),
            Some(check) => {
                let ids = |ids: &[uuid::Uuid]| {
                    ids.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push_str(&format!(
                    "account check: MISSING from the account ({}): lists [{}], custom fields [{}]; \
                     signups naming them are refused upstream. Fix the ids in [[forms]] \
                     (`ccbridge lists` shows the account's lists)\n",
                    check.checked_at,
                    ids(&check.missing_lists),
                    ids(&check.missing_custom_fields)
                ));
            }
            None => {}
        }
        for e in &self.last_errors {
            out.push_str(&format!(
                "last error:  {} ({}): {}\n",
                e.signup_id, e.state, e.error
            ));
        }
        out
    }
}
