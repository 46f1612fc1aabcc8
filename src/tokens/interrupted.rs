//! A refresh that never finished: its lease ran out while the generation it refreshed is still
//! the stored one. With rotating refresh tokens, Constant Contact may have rotated the token
//! before the process died, so the next refresh fails with `invalid_grant`: that is reported as
//! an interrupted refresh (alert and reason), whenever a process notices the lapse (at start, in
//! the background task when the lease runs out, or before taking over the lease to refresh).

use std::sync::atomic::Ordering;

use super::{TokenError, TokenKeeper};
use crate::alerts::AlertKind;
use crate::store::StoredTokenSet;

impl TokenKeeper {
    /// At start: report a refresh that was in flight when its process stopped (a lease that ran out
    /// without a result), and release that stale lease. A lease still live is left alone: it may
    /// belong to another process refreshing right now; if its refresh never finishes, the
    /// background task notices when the lease runs out (`refresh_if_due`).
    pub async fn report_interrupted_refresh(&self) -> Result<(), TokenError> {
        let _flight = self.0.flight.lock().await;
        let Some(set) = self.0.store.token_set().await? else {
            return Ok(());
        };
        if set.refresh_in_flight(self.0.clock.now()) {
            tracing::info!(
                owner = set.refresh_owner.as_deref(),
                until = set.refresh_lease_until.map(|t| t.to_rfc3339()).as_deref(),
                "a refresh lease is held; it is checked again when it runs out"
            );
            return Ok(());
        }
        self.notice_lapsed_refresh(&set).await?;
        Ok(())
    }

    /// A refresh lease that ran out while `set`'s generation is still the stored one: the refresh
    /// it guarded never finished (its process was stopped or crashed, perhaps after Constant
    /// Contact rotated the refresh token). Release the lease and raise the alert, once across
    /// processes (whoever releases it reports it). The caller holds the in-process flight lock,
    /// so a lease of this process is not in use either. `true` when this call reported it.
    pub(super) async fn notice_lapsed_refresh(
        &self,
        set: &StoredTokenSet,
    ) -> Result<bool, TokenError> {
        let (Some(started), Some(owner)) = (set.refresh_started_at, set.refresh_owner.as_deref())
        else {
            return Ok(false);
        };
        let now = self.0.clock.now();
        if set.refresh_in_flight(now)
            || !self
                .0
                .store
                .release_lapsed_refresh(set.generation, owner, now)
                .await?
        {
            return Ok(false);
        }
        self.0.interrupted.store(true, Ordering::SeqCst);
        tracing::warn!(
            generation = set.generation,
            owner,
            "a token refresh was interrupted: its lease ran out without a new token set"
        );
        self.0.alerts.raise(
            AlertKind::RefreshInterrupted,
            format!(
                "A token refresh (generation {}, started {started} by {owner}) never finished: its lease \
                 ran out without a new token set, so the process refreshing was stopped or crashed. \
                 If Constant Contact completed it, the stored refresh token has been rotated away and the \
                 next refresh will fail with invalid_grant, needing a reconnect at /connect; otherwise it \
                 will simply succeed.",
                set.generation,
            ),
        );
        Ok(true)
    }
}
