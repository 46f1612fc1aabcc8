//! Alerts: moments when a human should look (the connection needs a reconnect, signups went dead,
//! the daily quota ran out) and when things recover. Every alert is logged; where else it goes is
//! a sink's business, so tests can record alerts and sinks can be added without touching callers.
//!
//! [`WebhookSink`] posts alerts as JSON to `alerts.webhook_url`; [`EmailSink`] mails them to
//! `alerts.email_to`. Each sends at most once per `alerts.min_interval` for each kind, from a
//! background task so that `raise` never waits. When alert mails fail, the email sink raises
//! [`AlertKind::AlertMailFailing`] on the alerts *without* itself (log, webhook), so a mail
//! outage is reported where it can be, and never loops back into the mail queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

mod email;
mod webhook;

pub use email::{EmailSettings, EmailSink};
pub use webhook::WebhookSink;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    ConnectionNeedsReconnect,
    ConnectionRestored,
    RefreshInterrupted,
    SignupDead,
    /// An admin put dead signups back in the queue (the answer to `SignupDead`).
    DeadSignupsRequeued,
    DeliveryPaused,
    /// A delivery went through after a `DeliveryPaused`.
    DeliveriesResumed,
    QuotaExhausted,
    /// A delivery went through after a `QuotaExhausted`: the daily quota was reset.
    QuotaReset,
    ConfigurationMismatch,
    /// A CAPTCHA provider refuses the configured secret: every signup of that form fails.
    CaptchaMisconfigured,
    /// Someone connected through a connect link (the alert names the account).
    ConnectedThroughLink,
    /// An alert mail could not be sent after its retries. Never mailed itself.
    AlertMailFailing,
    /// An alert mail went through after an `AlertMailFailing`. Never mailed itself.
    AlertMailRestored,
    /// A confirmation mail (double opt-in) could not be sent; it stays queued and is retried.
    ConfirmationMailsFailing,
    /// A confirmation mail went through after a `ConfirmationMailsFailing`.
    ConfirmationMailsRestored,
}

impl AlertKind {
    /// The name in webhook payloads and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionNeedsReconnect => "connection_needs_reconnect",
            Self::ConnectionRestored => "connection_restored",
            Self::RefreshInterrupted => "refresh_interrupted",
            Self::SignupDead => "signup_dead",
            Self::DeadSignupsRequeued => "dead_signups_requeued",
            Self::DeliveryPaused => "delivery_paused",
            Self::DeliveriesResumed => "deliveries_resumed",
            Self::QuotaExhausted => "quota_exhausted",
            Self::QuotaReset => "quota_reset",
            Self::ConfigurationMismatch => "configuration_mismatch",
            Self::CaptchaMisconfigured => "captcha_misconfigured",
            Self::ConnectedThroughLink => "connected_through_link",
            Self::AlertMailFailing => "alert_mail_failing",
            Self::AlertMailRestored => "alert_mail_restored",
            Self::ConfirmationMailsFailing => "confirmation_mails_failing",
            Self::ConfirmationMailsRestored => "confirmation_mails_restored",
        }
    }

    /// A short title for a person, e.g. a mail's subject after "ccbridge: ".
    pub fn title(self) -> &'static str {
        match self {
            Self::ConnectionNeedsReconnect => "the Constant Contact connection needs a reconnect",
            Self::ConnectionRestored => "the Constant Contact connection is restored",
            Self::RefreshInterrupted => "a token refresh was interrupted",
            Self::SignupDead => "a signup could not be delivered",
            Self::DeadSignupsRequeued => "dead signups were requeued",
            Self::DeliveryPaused => "deliveries are paused",
            Self::DeliveriesResumed => "deliveries resumed",
            Self::QuotaExhausted => "the daily API quota is spent",
            Self::QuotaReset => "the daily API quota was reset",
            Self::ConfigurationMismatch => "configured lists or custom fields are missing",
            Self::CaptchaMisconfigured => "a form's CAPTCHA secret is refused",
            Self::ConnectedThroughLink => "someone connected through a connect link",
            Self::AlertMailFailing => "alert mails are failing",
            Self::AlertMailRestored => "alert mails are restored",
            Self::ConfirmationMailsFailing => "confirmation mails are failing",
            Self::ConfirmationMailsRestored => "confirmation mails are going out again",
        }
    }

    /// Good news: something recovered.
    pub fn is_recovery(self) -> bool {
        matches!(
            self,
            Self::ConnectionRestored
                | Self::DeadSignupsRequeued
                | Self::DeliveriesResumed
                | Self::QuotaReset
                | Self::AlertMailRestored
                | Self::ConfirmationMailsRestored
        )
    }

    /// About alert mails themselves: never sent by mail (it failed, or would loop).
    pub fn is_about_alert_mail(self) -> bool {
        matches!(self, Self::AlertMailFailing | Self::AlertMailRestored)
    }

    /// Each one matters on its own, so `min_interval` does not hold any back: every connection
    /// made through a connect link is reported, whoever made it.
    pub fn is_never_throttled(self) -> bool {
        matches!(self, Self::ConnectedThroughLink)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    /// One or two sentences for a person: what happened and what to do.
    pub text: String,
    /// Where to act (a console page), when there is such a place.
    pub link: Option<Url>,
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

    /// These alerts also go to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn AlertSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    pub fn raise(&self, kind: AlertKind, text: impl Into<String>) {
        self.raise_with_link(kind, text, None);
    }

    /// Raise an alert that points to where to act (e.g. the console's signups page).
    pub fn raise_with_link(&self, kind: AlertKind, text: impl Into<String>, link: Option<Url>) {
        self.raise_linked(kind, text.into(), link, false);
    }

    /// The same with a link that is a secret (a connect link): the sinks get it, the log does not.
    pub fn raise_with_secret_link(&self, kind: AlertKind, text: impl Into<String>, link: Url) {
        self.raise_linked(kind, text.into(), Some(link), true);
    }

    fn raise_linked(&self, kind: AlertKind, text: String, link: Option<Url>, secret: bool) {
        let alert = Alert { kind, text, link };
        let link = match &alert.link {
            Some(_) if secret => Some("(a connect link, not logged)"),
            link => link.as_ref().map(Url::as_str),
        };
        if kind.is_recovery() {
            tracing::info!(alert = ?kind, link, "{}", alert.text);
        } else {
            tracing::error!(alert = ?kind, link, "{}", alert.text);
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

/// What a sink does with an alert before its background task sends it: at most one of a kind
/// per `min_interval`, into a bounded queue (full: dropped). Counted in the alert metrics.
struct Throttle {
    /// `webhook` or `mail`, for log lines.
    sink: &'static str,
    queue: mpsc::Sender<Alert>,
    min_interval: Duration,
    /// When each kind was last queued for sending.
    last_sent: Mutex<HashMap<AlertKind, Instant>>,
}

impl Throttle {
    fn new(sink: &'static str, queue: mpsc::Sender<Alert>, min_interval: Duration) -> Self {
        Self {
            sink,
            queue,
            min_interval,
            last_sent: Mutex::new(HashMap::new()),
        }
    }

    fn offer(&self, alert: &Alert) {
        let kind = alert.kind.as_str();
        let sink = self.sink;
        let now = Instant::now();
        let mut last_sent = self.last_sent.lock().expect("alert throttle lock");
        if !alert.kind.is_never_throttled()
            && last_sent
                .get(&alert.kind)
                .is_some_and(|at| now.duration_since(*at) < self.min_interval)
        {
            tracing::debug!(
                alert = kind,
                sink,
                "alert not sent: one of its kind was sent recently"
            );
            crate::metrics::alert(kind, "suppressed");
            return;
        }
        match self.queue.try_send(alert.clone()) {
            Ok(()) => {
                last_sent.insert(alert.kind, now);
            }
            Err(_) => {
                tracing::warn!(
                    alert = kind,
                    sink,
                    "alert queue is full or closed; alert dropped"
                );
                crate::metrics::alert(kind, "dropped");
            }
        }
    }
}

/// `text`, and the link after it when there is one (for text-only receivers).
fn text_with_link(alert: &Alert) -> String {
    match &alert.link {
        Some(link) => format!("{} {link}", alert.text),
        None => alert.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: AlertKind) -> Alert {
        Alert {
            kind,
            text: "t".to_owned(),
            link: None,
        }
    }

    #[tokio::test]
    async fn every_link_connection_passes_the_throttle_other_kinds_once_per_interval() {
        let (queue, mut queued) = mpsc::channel(8);
        let throttle = Throttle::new("test", queue, Duration::from_secs(3600));
        for kind in [AlertKind::ConnectedThroughLink, AlertKind::SignupDead] {
            throttle.offer(&alert(kind));
            throttle.offer(&alert(kind));
        }
        drop(throttle);
        let mut kinds = Vec::new();
        while let Some(alert) = queued.recv().await {
            kinds.push(alert.kind);
        }
        assert_eq!(
            kinds,
            [
                AlertKind::ConnectedThroughLink,
                AlertKind::ConnectedThroughLink,
                AlertKind::SignupDead
            ]
        );
    }
}
