//! Alerts: moments when a human should look (the connection needs a reconnect, signups went dead,
//! the daily quota ran out) and when things recover. Every alert is logged; where else it goes is
//! a sink's business, so tests can record alerts and a webhook can be added without touching callers.

use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    ConnectionNeedsReconnect,
    ConnectionRestored,
    RefreshInterrupted,
    SignupDead,
    DeliveryPaused,
    QuotaExhausted,
    ConfigurationMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    /// One or two sentences for a person: what happened and what to do.
    pub text: String,
}

pub trait AlertSink: Send + Sync + 'static {
    fn send(&self, alert: &Alert);
}

#[derive(Clone)]
pub struct Alerts {
    sinks: Vec<Arc<dyn AlertSink>>,
}

impl Default for Alerts {
    fn default() -> Self {
        Self::log_only()
    }
}

impl Alerts {
    /// Alerts go to the log only.
    pub fn log_only() -> Self {
        Self { sinks: Vec::new() }
    }

    /// Alerts are logged and also kept in the returned list (tests).
    pub fn recording() -> (Self, Arc<Mutex<Vec<Alert>>>) {
        let sink = Arc::new(Recorder::default());
        let seen = sink.0.clone();
        (Self { sinks: vec![sink] }, seen)
    }

    pub fn raise(&self, kind: AlertKind, text: impl Into<String>) {
        let alert = Alert {
            kind,
            text: text.into(),
        };
        match kind {
            AlertKind::ConnectionRestored => tracing::info!(alert = ?kind, "{}", alert.text),
            _ => tracing::error!(alert = ?kind, "{}", alert.text),
        }
        for sink in &self.sinks {
            sink.send(&alert);
        }
    }
}

#[derive(Default)]
struct Recorder(Arc<Mutex<Vec<Alert>>>);

impl AlertSink for Recorder {
    fn send(&self, alert: &Alert) {
        self.0.lock().expect("alert list lock").push(alert.clone());
    }
}
