//! Noticing what other processes did to the stored connection. A connection made by
//! `ccbridge connect` in another process, or through another replica, lands in the database
//! only; a task of its own (not the keeper's loop, which may wait minutes for a lease or a
//! commit) re-reads the token set every `connection_poll_interval` on every backend, and when it
//! finds an authorization newer than
//! the last it knew of (by the time it was made, so a set refreshed since is still recognised),
//! tells whoever does the on-connect work (`connections_elsewhere`) and announces the recovery if
//! the connection had needed a reconnect (once, whichever process claims it first).

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::TokenKeeper;

/// What this process last knew of the stored token set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Not looked yet (the first look only takes note).
    Unknown,
    NotConnected,
    Set {
        generation: i64,
        /// When the set's authorization was made (`None` for sets from before 0.9).
        authorized_at: Option<DateTime<Utc>>,
    },
}

impl Seen {
    fn generation(self) -> Option<i64> {
        match self {
            Self::Set { generation, .. } => Some(generation),
            Self::Unknown | Self::NotConnected => None,
        }
    }
}

impl TokenKeeper {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take note of a token set this process wrote.
    pub(super) fn saw(&self, seen: Seen) {
        *self.seen() = seen;
    }

    /// Take note of a refresh this process made: a new generation, the same authorization.
    pub(super) fn saw_refresh(&self, new_generation: i64) {
        let mut seen = self.seen();
        if let Seen::Set { generation, .. } = &mut *seen {
            *generation = (*generation).max(new_generation);
        }
    }

    /// Changes each time a connection made by another process is noticed.
    pub fn connections_elsewhere(&self) -> watch::Receiver<u64> {
        self.0.elsewhere.subscribe()
    }

    /// The watching task: look now (taking note of the connection as it is), then every
    /// `connection_poll_interval`, until `shutdown`.
    pub async fn watch(self, shutdown: CancellationToken) {
        loop {
            self.notice_changes_elsewhere().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.0.settings.watch_every) => {}
            }
        }
    }

    /// Compare the stored token set with what this process last knew, and act on a connection
    /// made elsewhere (waking the keeper, which schedules its refreshes). A database error is
    /// left to the keeper, which reports it.
    async fn notice_changes_elsewhere(&self) {
        let Ok(stored) = self.0.store.token_set().await else {
            return;
        };
        let now = match &stored {
            None => Seen::NotConnected,
            Some(set) => Seen::Set {
                generation: set.generation,
                authorized_at: set.authorized_at,
            },
        };
        let before = {
            let mut seen = self.seen();
            let before = *seen;
            // Only forward: a write of this process's own, made while this read was under way,
            // must not be taken back (generations never repeat, so a smaller one is older).
            if now.generation() >= before.generation() || now == Seen::NotConnected {
                *seen = now;
            }
            before
        };
        let newly_authorized = match (before, now) {
            (Seen::Unknown, _) | (_, Seen::NotConnected | Seen::Unknown) => false,
            (Seen::NotConnected, Seen::Set { .. }) => true,
            (
                Seen::Set {
                    generation: old,
                    authorized_at: old_at,
                },
                Seen::Set {
                    generation: new,
                    authorized_at: new_at,
                },
            ) => new > old && new_at > old_at,
        };
        if before == Seen::Unknown {
            // A recovery made while this process was not running (`ccbridge connect` with the
            // service stopped) is still owed its announcement: the first process to start says it.
            if let Some(set) = &stored {
                self.announce_recovery(set.generation).await;
            }
            return;
        }
        if !newly_authorized {
            return;
        }
        let set = stored.expect("newly authorized means stored");
        tracing::info!(
            generation = set.generation,
            via = set.authorized_via.as_deref().unwrap_or("unknown"),
            "a connection made by another process was noticed"
        );
        self.announce_recovery(set.generation).await;
        self.0.wake.notify_one();
        self.0.elsewhere.send_modify(|count| *count += 1);
    }
}
