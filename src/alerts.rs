//! Alerts: moments when a human should look (the connection needs a reconnect, signups went dead,
//! the daily quota ran out) and when things recover. Every alert is logged; where else it goes is
//! a sink's business, so tests can record alerts and a webhook can be added without touching callers.
//!
//! [`WebhookSink`] posts alerts as JSON to `alerts.webhook_url`, at most once per
//! `alerts.min_interval` for each kind, from a background task so that `raise` never waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

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
        )
    }
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

    /// These alerts also go to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn AlertSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    pub fn raise(&self, kind: AlertKind, text: impl Into<String>) {
        let alert = Alert {
            kind,
            text: text.into(),
        };
        if kind.is_recovery() {
            tracing::info!(alert = ?kind, "{}", alert.text);
        } else {
            tracing::error!(alert = ?kind, "{}", alert.text);
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

/// How many alerts may wait for the webhook; past that, new ones are dropped (and counted).
const WEBHOOK_QUEUE: usize = 64;
/// Attempts per alert; a webhook that is down for longer loses the alert (it is in the log).
const WEBHOOK_ATTEMPTS: u32 = 3;

/// Posts alerts to a webhook: `{"text": "…", "kind": "…", "ccbridge": {"url": "…", "version": "…"}}`.
/// `text` is what Slack and Mattermost incoming webhooks show; the rest is for other receivers.
pub struct WebhookSink {
    queue: mpsc::Sender<Alert>,
    min_interval: Duration,
    /// When each kind was last queued for sending.
    last_sent: Mutex<HashMap<AlertKind, Instant>>,
}

#[derive(Serialize)]
struct Payload<'a> {
    text: String,
    kind: &'a str,
    ccbridge: Instance<'a>,
}

#[derive(Serialize)]
struct Instance<'a> {
    /// `server.public_url`: which installation speaks.
    url: &'a str,
    version: &'a str,
}

impl WebhookSink {
    /// Start the sending task (on the current Tokio runtime). It ends when the last `Alerts`
    /// holding this sink is dropped.
    pub fn start(
        url: Url,
        public_url: &Url,
        min_interval: Duration,
        timeout: Duration,
    ) -> Arc<Self> {
        let (queue, pending) = mpsc::channel(WEBHOOK_QUEUE);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ccbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with static settings builds");
        tokio::spawn(send_all(http, url, public_url.to_string(), pending));
        Arc::new(Self {
            queue,
            min_interval,
            last_sent: Mutex::new(HashMap::new()),
        })
    }
}

impl AlertSink for WebhookSink {
    fn send(&self, alert: &Alert) {
        let kind = alert.kind.as_str();
        let now = Instant::now();
        let mut last_sent = self.last_sent.lock().expect("webhook lock");
        if last_sent
            .get(&alert.kind)
            .is_some_and(|at| now.duration_since(*at) < self.min_interval)
        {
            tracing::debug!(
                alert = kind,
                "alert not sent to the webhook: one of its kind was sent recently"
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
                    "alert webhook queue is full or closed; alert dropped"
                );
                crate::metrics::alert(kind, "dropped");
            }
        }
    }
}

async fn send_all(
    http: reqwest::Client,
    url: Url,
    public_url: String,
    mut pending: mpsc::Receiver<Alert>,
) {
    while let Some(alert) = pending.recv().await {
        let kind = alert.kind.as_str();
        let payload = Payload {
            text: format!("ccbridge ({public_url}): {}", alert.text),
            kind,
            ccbridge: Instance {
                url: &public_url,
                version: env!("CARGO_PKG_VERSION"),
            },
        };
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=WEBHOOK_ATTEMPTS {
            // The URL is a secret: errors are logged without it.
            let problem = match http.post(url.clone()).json(&payload).send().await {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => Some(format!("answered {}", response.status())),
                Err(error) => Some(error.without_url().to_string()),
            };
            match problem {
                None => {
                    crate::metrics::alert(kind, "sent");
                    break;
                }
                Some(problem) if attempt == WEBHOOK_ATTEMPTS => {
                    tracing::warn!(alert = kind, %problem, "alert webhook failed; alert not delivered (it is in this log)");
                    crate::metrics::alert(kind, "failed");
                }
                Some(problem) => {
                    tracing::info!(alert = kind, %problem, attempt, "alert webhook failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
}
