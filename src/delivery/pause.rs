//! Pauses: when no delivery may be attempted for a while (no usable token, a spent daily quota,
//! a 403), the alerts raised for them once per episode, and their end.

use chrono::{DateTime, Utc};

use super::DeliveryWorker;
use crate::alerts::AlertKind;

/// Why deliveries stop for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    /// No usable token: resume when an admin connects.
    AwaitingConnection(String),
    /// Until a moment (daily quota, 403).
    Until {
        until: DateTime<Utc>,
        reason: String,
    },
}

impl DeliveryWorker {
    pub(super) fn pause_alerted(&self, kind: AlertKind) {
        *self.0.pause_alert.lock().expect("pause alert lock") = Some(kind);
    }

    /// A delivery went through: if a pause was alerted, say that it is over.
    pub(super) fn recovered(&self) {
        let alerted = self.0.pause_alert.lock().expect("pause alert lock").take();
        match alerted {
            Some(AlertKind::QuotaExhausted) => self.0.alerts.raise(
                AlertKind::QuotaReset,
                "The daily Constant Contact API quota was reset; queued signups are being delivered again.",
            ),
            Some(_) => self.0.alerts.raise(
                AlertKind::DeliveriesResumed,
                "Constant Contact accepts deliveries again; queued signups are being delivered.",
            ),
            None => {}
        }
    }

    pub(super) fn set_pause(&self, pause: Pause) {
        let mut current = self.0.pause.lock().expect("pause lock");
        if current.as_ref() != Some(&pause) {
            tracing::warn!(?pause, "deliveries paused");
        }
        *current = Some(pause);
    }

    /// Whether the pause (if any) is still on; clears it when it is over.
    pub(super) fn paused(&self) -> Option<Pause> {
        let mut current = self.0.pause.lock().expect("pause lock");
        if let Some(Pause::Until { until, .. }) = current.as_ref()
            && *until <= self.0.clock.now()
        {
            tracing::info!("deliveries resume");
            *current = None;
        }
        current.clone()
    }

    /// On a shared database a connection made through another replica wakes nobody here, so a
    /// worker waiting for one looks at the token set itself (each time round its loop, at least
    /// every `SHARED_MAX_IDLE`).
    pub(super) async fn notice_connection_made_elsewhere(&self) {
        if !self.0.store.backend().is_shared()
            || !matches!(self.paused(), Some(Pause::AwaitingConnection(_)))
        {
            return;
        }
        if let Ok(Some(set)) = self.0.store.token_set().await
            && set.state == "connected"
            && !set.switch_unconfirmed
        {
            self.clear_connection_pause();
        }
    }

    pub(super) fn clear_connection_pause(&self) {
        let mut current = self.0.pause.lock().expect("pause lock");
        if matches!(current.as_ref(), Some(Pause::AwaitingConnection(_))) {
            tracing::info!("connected; deliveries resume");
            *current = None;
        }
    }
}
