//! The email sink: alerts mailed to `alerts.email_to` through `[smtp]`, at most one of a kind per
//! `alerts.min_interval`, from a bounded queue drained by a background task that tries each mail
//! a few times with a growing pause.
//!
//! A mail that still fails is logged and raises `alert_mail_failing` on the alerts this sink was
//! given, which do not include this sink (the log and the webhook): a broken mail server is
//! reported where it can be, and never queues another mail. The first mail that gets through
//! afterwards raises `alert_mail_restored` the same way.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::mpsc;
use url::Url;

use super::{Alert, AlertKind, AlertSink, Alerts, Throttle};
use crate::domain::html::escape;
use crate::mail::{Email, MailError, Mailer};

/// How many alerts may wait for the mail server; past that, new ones are dropped (and counted).
const EMAIL_QUEUE: usize = 64;

/// What the email sink needs besides the mailer.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub to: Vec<Mailbox>,
    /// `server.public_url`: which installation speaks.
    pub public_url: Url,
    pub min_interval: Duration,
    /// Attempts per mail, at least 1.
    pub attempts: u32,
    /// The pause after the first failed attempt; it doubles after each further one.
    pub retry_delay: Duration,
}

impl EmailSettings {
    /// The production schedule: 3 attempts, 20 s and 40 s apart (about a minute, plus timeouts).
    pub fn new(to: Vec<Mailbox>, public_url: Url, min_interval: Duration) -> Self {
        Self {
            to,
            public_url,
            min_interval,
            attempts: 3,
            retry_delay: Duration::from_secs(20),
        }
    }
}

/// Mails alerts; see the module documentation.
pub struct EmailSink {
    throttle: Throttle,
}

impl EmailSink {
    /// Start the sending task (on the current Tokio runtime). `alerts` is where a failing mail
    /// server is reported: it must not hold this sink. The task ends when the last `Alerts`
    /// holding this sink is dropped.
    pub fn start(mailer: Mailer, settings: EmailSettings, alerts: Alerts) -> Arc<Self> {
        let (queue, pending) = mpsc::channel(EMAIL_QUEUE);
        let min_interval = settings.min_interval;
        tokio::spawn(
            Sender {
                mailer,
                settings,
                alerts,
                failing: false,
            }
            .run(pending),
        );
        Arc::new(Self {
            throttle: Throttle::new("mail", queue, min_interval),
        })
    }
}

impl AlertSink for EmailSink {
    fn send(&self, alert: &Alert) {
        if alert.kind.is_about_alert_mail() {
            return;
        }
        self.throttle.offer(alert);
    }
}

struct Sender {
    mailer: Mailer,
    settings: EmailSettings,
    /// Without the email sink.
    alerts: Alerts,
    /// The last alert mail failed for good (`alert_mail_failing` was raised).
    failing: bool,
}

impl Sender {
    async fn run(mut self, mut pending: mpsc::Receiver<Alert>) {
        while let Some(alert) = pending.recv().await {
            let email = compose(&alert, &self.settings);
            let result = self.send_with_retries(&alert, &email).await;
            self.settle(&alert, result);
        }
    }

    async fn send_with_retries(&self, alert: &Alert, email: &Email) -> Result<(), MailError> {
        let mut delay = self.settings.retry_delay;
        let mut attempt = 1;
        loop {
            match self.mailer.send(email).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is_permanent() || attempt >= self.settings.attempts => {
                    return Err(error);
                }
                Err(error) => {
                    tracing::info!(alert = alert.kind.as_str(), %error, attempt, "alert mail failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// Count the outcome, and raise or clear `alert_mail_failing`.
    fn settle(&mut self, alert: &Alert, result: Result<(), MailError>) {
        let kind = alert.kind.as_str();
        match result {
            Ok(()) => {
                crate::metrics::alert(kind, "sent");
                if std::mem::replace(&mut self.failing, false) {
                    self.alerts.raise(
                        AlertKind::AlertMailRestored,
                        "Alert mails are being delivered again.",
                    );
                }
            }
            Err(error) => {
                tracing::warn!(alert = kind, %error, "alert mail failed; alert not mailed (it is in this log)");
                crate::metrics::alert(kind, "failed");
                if !std::mem::replace(&mut self.failing, true) {
                    self.alerts.raise(
                        AlertKind::AlertMailFailing,
                        format!(
                            "An alert mail ({kind}) could not be sent: {error}. Alerts reach \
                             the log (and the webhook, if set) but not alerts.email_to until \
                             [smtp] works again; check its settings with `ccbridge check-config`."
                        ),
                    );
                }
            }
        }
    }
}

/// The mail for `alert`: subject from its kind, its text, its link, and which instance speaks.
fn compose(alert: &Alert, settings: &EmailSettings) -> Email {
    let version = env!("CARGO_PKG_VERSION");
    let public_url = settings.public_url.as_str();
    let mut text = format!("{}\n", alert.text);
    let mut html = format!("<p>{}</p>\n", escape(&alert.text));
    if let Some(link) = &alert.link {
        text.push_str(&format!("\n{link}\n"));
        let link = escape(link.as_str());
        html.push_str(&format!("<p><a href=\"{link}\">{link}</a></p>\n"));
    }
    text.push_str(&format!("\n-- \nccbridge {version} at {public_url}\n"));
    let url = escape(public_url);
    html.push_str(&format!(
        "<p style=\"color:#666\">ccbridge {version} at <a href=\"{url}\">{url}</a></p>\n"
    ));
    Email {
        to: settings.to.clone(),
        subject: format!("ccbridge: {}", alert.kind.title()),
        text,
        html: Some(html),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{EmailSettings, compose, escape};
    use crate::alerts::{Alert, AlertKind};

    fn settings() -> EmailSettings {
        EmailSettings::new(
            vec!["ops@example.org".parse().unwrap()],
            "https://forms.example.org/".parse().unwrap(),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn a_mail_says_what_where_and_who() {
        let alert = Alert {
            kind: AlertKind::SignupDead,
            text: "A signup <b>died</b> & \"stays\".".into(),
            link: Some(
                "https://forms.example.org/admin/signups?a=1&b=2"
                    .parse()
                    .unwrap(),
            ),
        };
        let email = compose(&alert, &settings());
        assert_eq!(email.subject, "ccbridge: a signup could not be delivered");
        assert!(
            email.text.contains("A signup <b>died</b>"),
            "{}",
            email.text
        );
        assert!(
            email
                .text
                .contains("\nhttps://forms.example.org/admin/signups?a=1&b=2\n"),
            "{}",
            email.text
        );
        assert!(
            email.text.contains("at https://forms.example.org/"),
            "{}",
            email.text
        );
        let html = email.html.unwrap();
        assert!(
            html.contains("A signup &lt;b&gt;died&lt;/b&gt; &amp; &quot;stays&quot;."),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://forms.example.org/admin/signups?a=1&amp;b=2\">"),
            "{html}"
        );
    }

    #[test]
    fn every_kind_has_a_title_and_recoveries_say_so() {
        assert_eq!(escape("<'&'>"), "&lt;&#39;&amp;&#39;&gt;");
        assert!(AlertKind::ConnectionRestored.title().contains("restored"));
        assert!(AlertKind::AlertMailRestored.is_recovery());
        assert!(AlertKind::AlertMailFailing.is_about_alert_mail());
    }
}
