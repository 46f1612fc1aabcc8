//! The confirmation mail worker: drains `mail_outbox` through `[smtp]`.
//!
//! - **Durable.** A mail is queued in the signup's own transaction; the worker claims it with a
//!   lease, so a crash mid-send only delays it, and an SMTP outage only postpones it: a server
//!   that is down, answers "not now" or refuses the sender gets the mail again later (exponential backoff with
//!   jitter, `consent.mail_retry_base` to `mail_retry_max`).
//! - **The link is made when the mail is sent.** A fresh token per attempt; only its hash is
//!   stored, committed before the mail leaves (a link that works is never lost in a crash after
//!   sending), so the queue never holds a usable link.
//! - **Never useless.** A mail whose signup is gone (replaced, erased) or confirmed is cancelled;
//!   one whose recipient the server refuses, or still unsent when its signup would expire, is
//!   dead.
//!
//! `send_next` is the step (tests drive it); `run` only schedules it, and purges signups nobody
//! confirmed in time and mails past their retention.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::confirm::new_token;
use super::texts::{Placeholders, confirm_link, lists_text, render, site_name};
use crate::alerts::{AlertKind, Alerts};
use crate::clock::SharedClock;
use crate::config::{Config, FormConfig};
use crate::domain::SignupState;
use crate::i18n::Language;
use crate::mail::{Email, MailError, Mailer};
use crate::password::token_hash;
use crate::store::{MailSettle, QueuedMail, SignupRecord, Store, StoreError};

/// The longest the worker sleeps without looking at the queue again.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// The same on a database shared by replicas, where mails are queued without waking this process.
const SHARED_MAX_IDLE: Duration = Duration::from_secs(5);
/// How often signups nobody confirmed are purged.
const PURGE_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The account's list names (from the latest account check), for `{lists}`. Passed in: the
/// account check belongs to delivery.
pub type ListNames = Arc<dyn Fn() -> BTreeMap<Uuid, String> + Send + Sync>;

/// What became of one claimed mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    Retrying {
        error: String,
    },
    Dead {
        error: String,
    },
    /// Not needed any more: its signup is gone or no longer waits.
    Cancelled,
}

impl MailOutcome {
    /// The outcome's name (a metrics label).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retrying { .. } => "retrying",
            Self::Dead { .. } => "dead",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The confirmation mail for `signup`: to its address, in its visitor's `language`, with only the
/// site, the lists, the link and the expiry in it. Nothing else of the signup (names, custom
/// fields: what the visitor typed) is read, so the form cannot relay a stranger's words to the
/// address typed into it.
fn compose(
    config: &Config,
    (form, language): (&FormConfig, Language),
    signup: &SignupRecord,
    names: &BTreeMap<Uuid, String>,
    to: Mailbox,
    token: &str,
    expires: DateTime<Utc>,
) -> Email {
    let words = form.texts(language);
    let texts = render(
        &form.confirmation,
        &Placeholders {
            site: site_name(config),
            lists: lists_text(form, &signup.list_ids, names, &words),
            link: confirm_link(&config.server.public_url, token),
            expires,
        },
        &words,
    );
    Email {
        to: vec![to],
        subject: texts.subject,
        text: texts.text,
        html: Some(texts.html),
    }
}

#[derive(Clone)]
pub struct ConfirmationMailer(Arc<Inner>);

struct Inner {
    store: Store,
    mailer: Mailer,
    config: Arc<Config>,
    clock: SharedClock,
    alerts: Alerts,
    list_names: ListNames,
    owner: String,
    wake: Notify,
    health: Mutex<Health>,
}

/// What the alerts need to remember.
#[derive(Default)]
struct Health {
    /// The last attempt's result; `None` before the first.
    last_sent: Option<bool>,
    /// A `ConfirmationMailsFailing` was raised and not yet answered by a recovery.
    failing_alerted: bool,
}

impl ConfirmationMailer {
    pub fn new(
        store: Store,
        mailer: Mailer,
        config: Arc<Config>,
        clock: SharedClock,
        alerts: Alerts,
        list_names: ListNames,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            mailer,
            config,
            clock,
            alerts,
            list_names,
            owner: format!("mail-{}", Uuid::new_v4()),
            wake: Notify::new(),
            health: Mutex::new(Health::default()),
        }))
    }

    /// A mail was queued: look at the queue now rather than at the next timer.
    pub fn mail_queued(&self) {
        self.0.wake.notify_one();
    }

    /// Claim and send the next due mail. `None` when nothing is due.
    pub async fn send_next(&self) -> Result<Option<MailOutcome>, StoreError> {
        let now = self.0.clock.now();
        let Some(mail) = self
            .0
            .store
            .claim_due_mail(&self.0.owner, now, now + self.lease())
            .await?
        else {
            return Ok(None);
        };
        let outcome = self.handle(&mail, now).await?;
        let settled_at = self.0.clock.now();
        let settle = match &outcome {
            MailOutcome::Sent => MailSettle::Sent,
            MailOutcome::Retrying { error } => MailSettle::Retry {
                error,
                next_attempt_at: settled_at + self.backoff(mail.attempts),
            },
            MailOutcome::Dead { error } => MailSettle::Dead { error },
            MailOutcome::Cancelled => MailSettle::Cancelled,
        };
        if !self
            .0
            .store
            .settle_mail(mail.id, &self.0.owner, settle, settled_at)
            .await?
        {
            tracing::warn!(mail_id = %mail.id, "a mail's claim was taken over before its outcome was recorded");
        }
        crate::metrics::mail(outcome.as_str());
        Ok(Some(outcome))
    }

    /// Decide about one claimed mail and, when it is still wanted, send it.
    async fn handle(
        &self,
        mail: &QueuedMail,
        now: DateTime<Utc>,
    ) -> Result<MailOutcome, StoreError> {
        let expiry = self.expiry();
        if mail.created_at + expiry <= now {
            let error = "not sent before its signup would expire".to_owned();
            tracing::warn!(mail_id = %mail.id, attempts = mail.attempts, "confirmation mail dead: {error}");
            return Ok(MailOutcome::Dead { error });
        }
        let signup = self.0.store.signup(mail.signup_id).await?;
        let Some(signup) =
            signup.filter(|s| s.state == SignupState::AwaitingConfirmation && s.email.is_some())
        else {
            return Ok(MailOutcome::Cancelled);
        };
        let Some(form) = self
            .0
            .config
            .forms
            .iter()
            .find(|f| f.id.as_str() == signup.form_id)
        else {
            return Ok(MailOutcome::Dead {
                error: format!("form {} is no longer configured", signup.form_id),
            });
        };
        let Ok(to) = mail.to_address.parse::<Mailbox>() else {
            return Ok(MailOutcome::Dead {
                error: "the address cannot be mailed".into(),
            });
        };
        // The link is stored (committed) before the mail leaves: a sent link always works.
        let token = new_token();
        let expires = now + expiry;
        if !self
            .0
            .store
            .issue_confirm_token(signup.id, &token_hash(&token), now, expires)
            .await?
        {
            return Ok(MailOutcome::Cancelled);
        }
        // The language its visitor was spoken to in; for a signup from before that was kept, the
        // form's locale, else English.
        let language = self
            .0
            .store
            .signup_page_language(signup.id)
            .await?
            .and_then(|code| Language::from_code(&code))
            .or(form.locale)
            .unwrap_or(Language::En);
        let names = (self.0.list_names)();
        let email = compose(
            &self.0.config,
            (form, language),
            &signup,
            &names,
            to,
            &token,
            expires,
        );
        let result = self.0.mailer.send(&email).await;
        Ok(self.judge(mail, result))
    }

    /// What a send's result means for the mail, and for the alerts.
    fn judge(&self, mail: &QueuedMail, result: Result<(), MailError>) -> MailOutcome {
        let error = match result {
            Ok(()) => {
                tracing::info!(mail_id = %mail.id, "confirmation mail sent");
                self.record(true, None);
                return MailOutcome::Sent;
            }
            Err(error) => error,
        };
        // Servers echo the recipient in their answers: it is kept out of the logs, the alerts
        // and the mail's last_error (the mail row names its recipient already).
        let text = without_address(&error.to_string(), &mail.to_address);
        self.record(false, Some(&text));
        // A refused recipient (or a mail that cannot be built) will not get through later either.
        // A refused sender or message is the operator's to fix and would stop every mail: it is
        // retried (until the signup's expiry makes the mail dead), so nothing is lost meanwhile.
        if error.is_permanent() {
            tracing::warn!(mail_id = %mail.id, error = %text, "confirmation mail refused for good; dead");
            return MailOutcome::Dead { error: text };
        }
        tracing::warn!(mail_id = %mail.id, attempts = mail.attempts + 1, error = %text, "confirmation mail not sent; will retry");
        MailOutcome::Retrying { error: text }
    }

    /// Raise `ConfirmationMailsFailing` when a send fails after a success (or as the first
    /// attempt), and `ConfirmationMailsRestored` on the first success after that alert.
    fn record(&self, sent: bool, error: Option<&str>) {
        let mut health = self.0.health.lock().expect("mail health lock");
        let previous = health.last_sent.replace(sent);
        if sent {
            if std::mem::take(&mut health.failing_alerted) {
                self.0.alerts.raise(
                    AlertKind::ConfirmationMailsRestored,
                    "Confirmation mails are going out again; the queued ones follow.",
                );
            }
        } else if previous != Some(false) {
            health.failing_alerted = true;
            let error = error.unwrap_or_default();
            self.0.alerts.raise(
                AlertKind::ConfirmationMailsFailing,
                format!(
                    "A confirmation mail could not be sent; it stays queued and is retried (check [smtp] and the mail server): {error}"
                ),
            );
        }
    }

    fn expiry(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0.config.consent.confirm_expiry)
            .unwrap_or(chrono::Duration::MAX)
    }

    /// Longer than one mail may take (the mailer's own deadline is four timeouts).
    fn lease(&self) -> chrono::Duration {
        let longest = self.0.config.smtp.timeout * 8 + Duration::from_secs(30);
        chrono::Duration::from_std(longest).unwrap_or(chrono::Duration::MAX)
    }

    /// `mail_retry_base · 2^attempts`, at most `mail_retry_max`, with jitter.
    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let consent = &self.0.config.consent;
        crate::domain::backoff::jittered(consent.mail_retry_base, consent.mail_retry_max, attempts)
    }

    /// Delete signups nobody confirmed in time. Returns how many.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let purged = self
            .0
            .store
            .purge_expired_confirmations(self.0.clock.now())
            .await?;
        if purged > 0 {
            tracing::info!(
                purged,
                "unconfirmed signups past their confirmation expiry deleted"
            );
        }
        Ok(purged)
    }

    /// Delete mails no longer queued after `delivery.retention` (they name their recipient), but
    /// never within 24 hours: the per-address cap counts the last day's mails. Returns how many.
    pub async fn purge_old_mails(&self) -> Result<u64, StoreError> {
        let retention = chrono::Duration::from_std(self.0.config.delivery.retention)
            .unwrap_or(chrono::Duration::MAX)
            .max(chrono::Duration::hours(24));
        let now = self.0.clock.now();
        let cutoff = now.checked_sub_signed(retention).unwrap_or(now);
        let purged = self.0.store.purge_mails_before(cutoff).await?;
        if purged > 0 {
            tracing::info!(purged, "old confirmation mails deleted");
        }
        Ok(purged)
    }

    /// The background loop: send what is due, one mail at a time; sleep until the next mail is
    /// due or one is queued; purge unconfirmed signups and old mails hourly.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_purge = self.0.clock.now();
        while !shutdown.is_cancelled() {
            if self.0.clock.now() >= next_purge {
                if let Err(error) = self.purge_expired().await {
                    tracing::warn!(%error, "purging unconfirmed signups failed");
                }
                if let Err(error) = self.purge_old_mails().await {
                    tracing::warn!(%error, "purging old confirmation mails failed");
                }
                next_purge = self.0.clock.now() + PURGE_EVERY;
            }
            let mut store_failed = false;
            while !shutdown.is_cancelled() {
                match self.send_next().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(error) => {
                        tracing::error!(%error, "claiming or recording a confirmation mail failed");
                        store_failed = true;
                        break;
                    }
                }
            }
            let sleep = if store_failed {
                Duration::from_secs(1)
            } else {
                self.idle_sleep(next_purge).await
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.0.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("confirmation mail worker stopped");
    }

    async fn idle_sleep(&self, next_purge: DateTime<Utc>) -> Duration {
        let now = self.0.clock.now();
        let next_mail = self.0.store.next_mail_due_at().await.ok().flatten();
        let until = next_mail.map_or(next_purge, |due| due.min(next_purge));
        let max_idle = if self.0.store.backend().is_shared() {
            SHARED_MAX_IDLE
        } else {
            MAX_IDLE
        };
        // A moment already past means look again at once (`to_std` fails on a negative span).
        (until - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(max_idle)
    }
}

/// `text` with every occurrence of `address` (in any case) replaced by its redacted form.
fn without_address(text: &str, address: &str) -> String {
    if address.is_empty() {
        return text.to_owned();
    }
    let redacted = crate::domain::email::redact(address);
    let (lower, needle) = (text.to_ascii_lowercase(), address.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(at) = lower[rest..].find(&needle) {
        out.push_str(&text[rest..rest + at]);
        out.push_str(&redacted);
        rest += at + needle.len();
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConsentMode, CustomFieldValue};

    #[test]
    fn the_recipient_is_redacted_from_error_texts() {
        assert_eq!(
            without_address(
                "550 5.1.1 <Ann@Example.org>: no; ann@example.org unknown",
                "ann@example.org"
            ),
            "550 5.1.1 <a***@example.org>: no; a***@example.org unknown"
        );
        assert_eq!(without_address("421 busy", "ann@example.org"), "421 busy");
    }

    #[test]
    fn the_mail_carries_nothing_the_visitor_typed() {
        let config = Config::from_toml(
            r#"
            [[forms]]
            id = "news"
            list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
            custom_fields = { note = "1618ae62-4752-11e9-9c8a-fa163e6b01c1" }
            "#,
        )
        .unwrap();
        let typed = "Buy-cheap-pills-at-spam.example";
        let now = Utc::now();
        let signup = SignupRecord {
            id: Uuid::now_v7(),
            form_id: "news".into(),
            email: Some("victim@example.org".into()),
            first_name: Some(typed.into()),
            last_name: Some(format!("{typed}-last")),
            phone: Some("+1 555 0100".into()),
            company: Some(format!("{typed}-company")),
            job_title: Some(format!("{typed}-title")),
            list_ids: config.forms[0].list_ids.clone(),
            custom_fields: vec![CustomFieldValue {
                custom_field_id: "1618ae62-4752-11e9-9c8a-fa163e6b01c1".parse().unwrap(),
                value: format!("{typed}-field"),
            }],
            state: SignupState::AwaitingConfirmation,
            spam_reason: None,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            contact_id: None,
            created_at: now,
            delivered_at: None,
            client_ip: None,
            user_agent: Some(format!("{typed}-agent")),
            requeued_at: None,
            created_contact: None,
            consent_mode: ConsentMode::Double,
            confirmed_at: None,
            confirm_expires_at: None,
            hold_reason: None,
        };
        let token = super::super::confirm::new_token();
        let email = compose(
            &config,
            (&config.forms[0], Language::En),
            &signup,
            &BTreeMap::new(),
            "victim@example.org".parse().unwrap(),
            &token,
            now,
        );
        for part in [&email.subject, &email.text, email.html.as_ref().unwrap()] {
            assert!(!part.contains("Buy-cheap"), "{part}");
            assert!(!part.contains("555"), "{part}");
        }
        assert!(
            email.text.contains(&format!("/confirm/{token}")),
            "{}",
            email.text
        );
        assert_eq!(email.to.len(), 1);
    }
}
