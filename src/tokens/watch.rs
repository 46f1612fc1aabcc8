//! Noticing what other processes did to the stored connection. A connection made by
//! `ccbridge connect` in another process, or through another replica, lands in the database
//! only; the keeper's background task re-reads the token set at least every
//! `connection_poll_interval` on every backend, and when it finds an authorization it did not
//! make, tells whoever does the on-connect work (`connections_elsewhere`) and, if the
//! connection had needed a reconnect, raises the recovery alert.

use tokio::sync::watch;

use super::TokenKeeper;
use crate::alerts::AlertKind;

/// What this process last knew of the stored token set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Not looked yet (the first look only takes note).
    Unknown,
    NotConnected,
    Connected(i64),
    /// The generation that needs a reconnect.
    Broken(i64),
}

impl TokenKeeper {
    /// Take note of a token set this process wrote or judged.
    pub(super) fn saw(&self, seen: Seen) {
        *self
            .0
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
    }

    /// Changes each time a connection made by another process is noticed.
    pub fn connections_elsewhere(&self) -> watch::Receiver<u64> {
        self.0.elsewhere.subscribe()
    }

    /// Compare the stored token set with what this process last knew, and act on a connection
    /// made elsewhere. A database error is left to the refresh step, which reports it.
    pub(super) async fn notice_changes_elsewhere(&self) {
        let Ok(stored) = self.0.store.token_set().await else {
            return;
        };
        let now = match &stored {
            None => Seen::NotConnected,
            Some(set) if set.state == "needs_reconnect" => Seen::Broken(set.generation),
            Some(set) => Seen::Connected(set.generation),
        };
        let before = {
            let mut seen = self
                .0
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *seen, now)
        };
        let newly_authorized = stored.as_ref().is_some_and(|set| {
            set.obtained_by == "authorization_code" && Some(set.generation) > generation(before)
        });
        if before == Seen::Unknown || !newly_authorized {
            return;
        }
        let set = stored.expect("newly authorized means stored");
        tracing::info!(
            generation = set.generation,
            via = set.authorized_via.as_deref().unwrap_or("unknown"),
            "a connection made by another process was noticed"
        );
        if matches!(before, Seen::Broken(_)) && set.state == "connected" {
            self.0.alerts.raise(
                AlertKind::ConnectionRestored,
                "The Constant Contact connection is restored.",
            );
        }
        self.0.wake.notify_one();
        self.0.elsewhere.send_modify(|count| *count += 1);
    }
}

fn generation(seen: Seen) -> Option<i64> {
    match seen {
        Seen::Unknown | Seen::NotConnected => None,
        Seen::Connected(generation) | Seen::Broken(generation) => Some(generation),
    }
}
