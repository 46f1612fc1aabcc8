//! The reconnect alert: when only a person can fix the connection, say why, how many signups
//! are waiting for it, and where to act — the console's `/connect` page, or (with
//! `alerts.include_connect_link`) a fresh connect link that whoever receives the alert can use
//! without the admin password. The recovery alert follows the reconnect (`adopt`, `watch`).

use std::time::Duration;

use url::Url;

use super::TokenKeeper;
use super::links::create_link;
use crate::alerts::AlertKind;

/// How long the connect link in a reconnect alert stays valid: long enough for a weekend.
const ALERT_LINK_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a reconnect alert links to.
#[derive(Debug, Clone)]
pub enum ReconnectLink {
    /// `public_url + /connect`: the admin logs in and presses Reconnect.
    Console(Url),
    /// A fresh connect link under this `public_url`.
    Fresh(Url),
}

impl ReconnectLink {
    /// From `server.public_url` and `alerts.include_connect_link`.
    pub fn new(public_url: &Url, fresh: bool) -> Self {
        if fresh {
            Self::Fresh(public_url.clone())
        } else {
            let base = public_url.as_str().trim_end_matches('/');
            Self::Console(
                Url::parse(&format!("{base}/connect")).expect("a public URL plus a path is a URL"),
            )
        }
    }
}

impl TokenKeeper {
    /// Raise `ConnectionNeedsReconnect`: `why`, the signups waiting, and the way back.
    pub(super) async fn alert_reconnect(&self, why: &str) {
        let waiting = match self.0.store.queue_counts().await {
            Ok(counts) => format!(
                "{} signups are waiting; they are kept and delivered once the connection is back.",
                counts.pending + counts.failed
            ),
            Err(_) => "Signups keep being accepted and wait for the reconnect.".to_owned(),
        };
        let kind = AlertKind::ConnectionNeedsReconnect;
        match self.reconnect_link().await {
            Ok(link) => self.0.alerts.raise_with_secret_link(
                kind,
                format!(
                    "{why} {waiting} To reconnect: open the connect link (it works once, for 7 days; no admin password needed) and log in to the Constant Contact account."
                ),
                link,
            ),
            Err(console) => self.0.alerts.raise_with_link(
                kind,
                format!(
                    "{why} {waiting} To reconnect: open the link, log in as the admin and press Connect."
                ),
                Some(console),
            ),
        }
    }

    /// A fresh connect link (`Ok`), or the console's `/connect` page (`Err`): when so configured,
    /// or when a link cannot be made.
    async fn reconnect_link(&self) -> Result<Url, Url> {
        let public_url = match &self.0.settings.reconnect_link {
            ReconnectLink::Console(url) => return Err(url.clone()),
            ReconnectLink::Fresh(public_url) => public_url,
        };
        let now = self.0.clock.now();
        create_link(
            &self.0.store,
            public_url,
            now,
            ALERT_LINK_LIFETIME,
            "alert",
            None,
        )
        .await
        .map(|new| new.url)
        .map_err(|error| {
            tracing::error!(%error, "could not create a connect link for the reconnect alert");
            let base = public_url.as_str().trim_end_matches('/');
            Url::parse(&format!("{base}/connect")).expect("a public URL plus a path is a URL")
        })
    }
}
