//! Are the configured lists and custom fields really in the connected account? Checked when an
//! admin connects and daily, so a wrong id is reported once, clearly (log, status, alert), instead
//! of failing deliveries one by one.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::alerts::{AlertKind, Alerts};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::constant_contact::ApiClient;
use crate::store::Store;
use crate::tokens::{CallError, TokenError, TokenKeeper};

const EVERY: Duration = Duration::from_secs(24 * 3600);

pub use crate::domain::AccountCheck;

/// Compare the configuration with the account (2 API calls, or more with paging).
pub async fn check(
    keeper: &TokenKeeper,
    api: &ApiClient,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<AccountCheck, CallError> {
    let lists = keeper
        .call(|token| {
            let api = api.clone();
            async move { api.contact_lists(&token).await }
        })
        .await?;
    let fields = keeper
        .call(|token| {
            let api = api.clone();
            async move { api.custom_fields(&token).await }
        })
        .await?;
    let have_lists: BTreeSet<Uuid> = lists.iter().map(|l| l.list_id).collect();
    let have_fields: BTreeSet<Uuid> = fields.iter().map(|f| f.custom_field_id).collect();
    let wanted_lists: BTreeSet<Uuid> = config
        .forms
        .iter()
        .flat_map(|f| f.list_ids.iter().chain(&f.optional_list_ids))
        .copied()
        .collect();
    let wanted_fields: BTreeSet<Uuid> = config
        .forms
        .iter()
        .flat_map(|f| f.custom_fields.values())
        .copied()
        .collect();
    Ok(AccountCheck {
        checked_at: now,
        missing_lists: wanted_lists.difference(&have_lists).copied().collect(),
        missing_custom_fields: wanted_fields.difference(&have_fields).copied().collect(),
        list_names: lists.into_iter().map(|l| (l.list_id, l.name)).collect(),
    })
}

/// Checks the configuration against the account when asked and daily, and keeps the latest
/// result: in memory for the console (with the account's list names), and in the database for
/// `ccbridge status` and every replica. Cheap to clone.
#[derive(Clone)]
pub struct AccountChecker {
    store: Store,
    keeper: TokenKeeper,
    api: ApiClient,
    config: Arc<Config>,
    clock: SharedClock,
    alerts: Alerts,
    latest: Arc<Mutex<Option<AccountCheck>>>,
}

impl AccountChecker {
    pub fn new(
        store: Store,
        keeper: TokenKeeper,
        api: ApiClient,
        config: Arc<Config>,
        clock: SharedClock,
        alerts: Alerts,
    ) -> Self {
        Self {
            store,
            keeper,
            api,
            config,
            clock,
            alerts,
            latest: Arc::default(),
        }
    }

    /// The latest result (`None` before the first check or after a disconnect).
    pub fn latest(&self) -> Option<AccountCheck> {
        self.lock().clone()
    }

    /// Forget the result (the account it was about is disconnected).
    pub fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<AccountCheck>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Run `check` and publish the result; an alert when something is missing.
    pub async fn check_and_report(&self) {
        match check(&self.keeper, &self.api, &self.config, self.clock.now()).await {
            Ok(result) => {
                // Stored before the alert, so whoever reacts to the alert finds it in the status.
                if let Err(error) = self.store.save_account_check(&result).await {
                    tracing::warn!(%error, "could not store the account check's result");
                }
                if !result.ok() {
                    self.alerts.raise(
                        AlertKind::ConfigurationMismatch,
                        format!(
                            "The connected Constant Contact account lacks configured lists {:?} / custom fields {:?}; signups naming them will be refused upstream. Fix the [[forms]] ids (see `ccbridge lists`).",
                            result.missing_lists.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            result.missing_custom_fields.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        ),
                    );
                } else {
                    tracing::info!("configured lists and custom fields exist in the account");
                }
                *self.lock() = Some(result);
            }
            Err(CallError::Token(
                TokenError::NotConnected
                | TokenError::NeedsReconnect(_)
                | TokenError::SwitchUnconfirmed(_),
            )) => {}
            Err(error) => {
                tracing::warn!(%error, "could not check the configured lists and custom fields")
            }
        }
    }

    /// Check now, in the background (a new connection was just stored).
    pub fn check_soon(&self) {
        let checker = self.clone();
        tokio::spawn(async move { checker.check_and_report().await });
    }

    /// Daily, while connected, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            self.check_and_report().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    }
}
