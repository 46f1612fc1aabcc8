//! The webhook sink: a JSON POST per alert to `alerts.webhook_url` (Slack and Mattermost incoming
//! webhooks show `text`), three attempts, never blocking `raise`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use url::Url;

use super::{Alert, AlertSink, Throttle, text_with_link};

/// How many alerts may wait for the webhook; past that, new ones are dropped (and counted).
const WEBHOOK_QUEUE: usize = 64;
/// Attempts per alert; a webhook that is down for longer loses the alert (it is in the log).
const WEBHOOK_ATTEMPTS: u32 = 3;

/// Posts alerts to a webhook:
/// `{"text": "…", "kind": "…", "link": "…" | null, "ccbridge": {"url": "…", "version": "…"}}`.
/// `text` is what Slack and Mattermost incoming webhooks show (the link is in it too); the rest
/// is for other receivers.
pub struct WebhookSink {
    throttle: Throttle,
}

#[derive(Serialize)]
struct Payload<'a> {
    text: String,
    kind: &'a str,
    link: Option<&'a str>,
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
            throttle: Throttle::new("webhook", queue, min_interval),
        })
    }
}

impl AlertSink for WebhookSink {
    fn send(&self, alert: &Alert) {
        self.throttle.offer(alert);
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
            text: format!("ccbridge ({public_url}): {}", text_with_link(&alert)),
            kind,
            link: alert.link.as_ref().map(Url::as_str),
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
