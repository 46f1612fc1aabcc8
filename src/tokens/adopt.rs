//! Adopting the token set of a completed authorization, whichever way it was made (the browser's
//! callback, a device code polled from the command line or a page, a connect link): stored as the
//! new generation before anything else, then the account is named, and a connect link that may
//! have connected a stranger's account holds API calls until an admin confirms.

use std::time::Duration;

use super::{TokenError, TokenKeeper};
use crate::alerts::AlertKind;
use crate::constant_contact::{ApiClient, TokenGrant};
use crate::store::Authorization;

/// How long adopting waits for the account's name (a nicety: it needs the account_read scope).
const ACCOUNT_NAME_WAIT: Duration = Duration::from_secs(5);

/// How the authorization behind a grant was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizedVia {
    /// The console's Connect, through the browser and `/oauth/callback`.
    Browser,
    /// A device code (`ccbridge connect`, or the console under `flow = "device"`).
    Device,
    /// A connect link, opened by whoever held it.
    Link,
}

impl AuthorizedVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Device => "device",
            Self::Link => "link",
        }
    }
}

/// What a link connection means for the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSwitch {
    /// Not through a link, or the same account as before, or the first connection ever.
    None,
    /// Through a link, to another account than before (or one that could not be named): API
    /// calls wait for an admin's confirmation.
    Unconfirmed { previous: Option<String> },
}

/// A stored connection.
#[derive(Debug, Clone)]
pub struct Connected {
    pub generation: i64,
    pub account_name: Option<String>,
    pub switch: AccountSwitch,
}

impl Connected {
    /// The account as a person reads it.
    pub fn account(&self) -> &str {
        self.account_name
            .as_deref()
            .unwrap_or("your Constant Contact account")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error(
        "Constant Contact sent no refresh token, so the connection could not be kept alive. Make sure constant_contact.scopes includes offline_access (and, with the device flow, that the application may use refresh tokens)"
    )]
    NoRefreshToken,
    #[error("the connection could not be saved: {0}")]
    NotSaved(#[from] TokenError),
}

impl TokenKeeper {
    /// Store `grant` as the connection, name its account, and decide whether a link switched
    /// accounts. The token set is committed first: the code is spent and these tokens are the
    /// connection from here on. The on-connect work of a running service (the account check,
    /// waking deliveries) is the caller's, or the connection watcher's in another process.
    pub async fn adopt(
        &self,
        api: &ApiClient,
        grant: &TokenGrant,
        via: AuthorizedVia,
    ) -> Result<Connected, AdoptError> {
        if grant.refresh_token.is_none() {
            return Err(AdoptError::NoRefreshToken);
        }
        // Compared with the account an admin stands behind, not with whatever set is stored:
        // that may itself be a held link connection, or gone after a Disconnect.
        let confirmed = self
            .0
            .store
            .confirmed_account()
            .await
            .map_err(TokenError::from)?;
        // Held from the first moment: nothing may be sent to a stranger's account while its name
        // is still being looked up. Released below if it turns out to be the confirmed account.
        let hold = via == AuthorizedVia::Link && confirmed.is_some();
        let previous_name = confirmed.as_ref().and_then(|(_, name)| name.clone());
        let authorization = Authorization {
            via: via.as_str(),
            hold_until_confirmed: hold,
            previous_account_name: if hold { previous_name.clone() } else { None },
        };
        let generation = self.store_authorized(grant, &authorization).await?;
        tracing::info!(generation, via = via.as_str(), scopes = %grant.scopes.join(" "), "connected to Constant Contact");
        let (name, id) = self.name_account(api, grant, generation).await;
        let same_account =
            matches!((&confirmed, &id), (Some((Some(before), _)), Some(now)) if before == now);
        let switch = if hold && !same_account {
            AccountSwitch::Unconfirmed {
                previous: previous_name,
            }
        } else {
            if hold {
                self.release_hold(generation).await;
            }
            self.confirm_account(id.as_deref(), name.as_deref()).await;
            AccountSwitch::None
        };
        let connected = Connected {
            generation,
            account_name: name,
            switch,
        };
        if via == AuthorizedVia::Link {
            self.alert_link_connection(&connected);
        }
        if connected.switch == AccountSwitch::None {
            self.announce_recovery(generation).await;
        }
        Ok(connected)
    }

    /// Remember the account an admin now stands behind.
    pub async fn confirm_account(&self, id: Option<&str>, name: Option<&str>) {
        if let Err(error) = self.0.store.set_confirmed_account(id, name).await {
            tracing::error!(%error, "could not record the confirmed account");
        }
    }

    /// Raise `ConnectionRestored` if token set `generation` replaced one that needed a reconnect
    /// and no process has said so yet (one alert however many replicas notice). A command-line
    /// process leaves this to the service, whose alerts reach the webhook and mail.
    pub async fn announce_recovery(&self, generation: i64) {
        if !self
            .0
            .announce_recoveries
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        match self.0.store.claim_recovery_alert(generation).await {
            Ok(true) => self.0.alerts.raise(
                AlertKind::ConnectionRestored,
                "The Constant Contact connection is restored.",
            ),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not claim the recovery alert"),
        }
    }

    /// This process's alerts reach only its log (a command-line process): recoveries are left
    /// to the running service to announce.
    pub fn leave_recovery_alerts_to_the_service(&self) {
        self.0
            .announce_recoveries
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Ask for the account's name and id with the new access token, briefly, and store them.
    async fn name_account(
        &self,
        api: &ApiClient,
        grant: &TokenGrant,
        generation: i64,
    ) -> (Option<String>, Option<String>) {
        let summary =
            tokio::time::timeout(ACCOUNT_NAME_WAIT, api.account_summary(&grant.access_token))
                .await
                .ok()
                .and_then(Result::ok);
        let (name, id) = summary.map_or((None, None), |s| {
            (s.organization_name, s.encoded_account_id)
        });
        if (name.is_some() || id.is_some())
            && let Err(error) = self
                .0
                .store
                .set_account(generation, name.as_deref(), id.as_deref())
                .await
        {
            tracing::warn!(%error, "could not store the account's name");
        }
        (name, id)
    }

    async fn release_hold(&self, generation: i64) {
        if let Err(error) = self.0.store.confirm_account_switch(generation).await {
            // Safe side: the console offers the confirmation.
            tracing::error!(%error, "could not release the hold on a link connection to the same account");
        }
    }

    fn alert_link_connection(&self, connected: &Connected) {
        let account = connected.account();
        let text = match &connected.switch {
            AccountSwitch::None => {
                format!("Constant Contact was connected through a connect link, to {account}.")
            }
            AccountSwitch::Unconfirmed { previous } => format!(
                "Constant Contact was connected through a connect link, to {account}, which is not the account connected before ({}). Deliveries are paused until an admin confirms the switch in the console (or disconnects).",
                previous.as_deref().unwrap_or("unnamed")
            ),
        };
        self.0.alerts.raise(AlertKind::ConnectedThroughLink, text);
    }
}
