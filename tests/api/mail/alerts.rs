//! Alerts by mail: what a mail says, one of a kind per `alerts.min_interval`, an SMTP outage
//! reported on the webhook (never by mail) and its end, and the app wiring it all from config.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccbridge::alerts::{Alert, AlertKind, Alerts, EmailSettings, EmailSink, WebhookSink};
use ccbridge::config::Config;
use ccbridge::mail::Mailer;
use serde_json::Value;

use super::{CA_FILE, Security, ServerOptions, SmtpServer, smtp_toml};
use crate::alerts::{break_connection, kinds, receiver};
use crate::database::Backend;
use crate::helpers::{AppOptions, eventually, fast_sandbox, free_port};

const PUBLIC_URL: &str = "https://forms.example.org/";

/// A mailer to 127.0.0.1:`port` without TLS.
fn plain_mailer(port: u16) -> Mailer {
    let config = Config::from_toml(&smtp_toml(port, "none", "")).unwrap();
    Mailer::from_config(&config.smtp).unwrap().unwrap()
}

/// Quick retries, so an outage is declared within a second.
fn settings(min_interval: Duration) -> EmailSettings {
    EmailSettings {
        retry_delay: Duration::from_millis(50),
        ..EmailSettings::new(
            vec!["ops@example.org".parse().unwrap()],
            PUBLIC_URL.parse().unwrap(),
            min_interval,
        )
    }
}

/// `base` plus an email sink that reports its failures on `base`, as `startup` wires them.
fn with_email(base: Alerts, mailer: Mailer, settings: EmailSettings) -> Alerts {
    base.clone()
        .with_sink(EmailSink::start(mailer, settings, base))
}

fn count(raised: &Arc<Mutex<Vec<Alert>>>, kind: AlertKind) -> usize {
    raised
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind == kind)
        .count()
}

fn subjects(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn an_alert_with_a_link_is_mailed_once_per_kind_per_interval() {
    let test = "an_alert_with_a_link_is_mailed";
    let Some(server) = SmtpServer::start(test, ServerOptions::default()).await else {
        return;
    };
    let (base, _) = Alerts::recording();
    let alerts = with_email(
        base,
        plain_mailer(server.port),
        settings(Duration::from_secs(3600)),
    );
    let link = "https://forms.example.org/admin/signups".parse().unwrap();

    alerts.raise_with_link(AlertKind::SignupDead, "A signup was refused.", Some(link));
    alerts.raise(AlertKind::SignupDead, "Another signup was refused.");
    alerts.raise(AlertKind::QuotaExhausted, "The daily quota is spent.");

    let messages = server.wait_for(2, "two alert mails").await;
    assert_eq!(
        subjects(&messages),
        [
            "ccbridge: a signup could not be delivered",
            "ccbridge: the daily API quota is spent"
        ]
    );
    let text = messages[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("A signup was refused.\n\nhttps://forms.example.org/admin/signups\n"),
        "{text}"
    );
    assert!(text.contains(PUBLIC_URL), "{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    let html = messages[0]["html"].as_str().unwrap();
    assert!(
        html.contains("<a href=\"https://forms.example.org/admin/signups\">"),
        "{html}"
    );
    assert_eq!(messages[0]["rcpt_tos"][0], "ops@example.org");
    // Mails go out in the order alerts are queued: a second signup_dead mail would have come
    // before the quota one.
    assert_eq!(server.messages().len(), 2);
}

#[tokio::test]
async fn an_smtp_outage_reaches_the_webhook_never_the_mail_and_so_does_its_end() {
    let test = "an_smtp_outage_reaches_the_webhook";
    if super::python_with_aiosmtpd(test).is_none() {
        return;
    }
    let port = free_port();
    let (hook, received) = receiver().await;
    let (base, raised) = Alerts::recording();
    let base = base.with_sink(WebhookSink::start(
        format!("http://{hook}/hook").parse().unwrap(),
        &PUBLIC_URL.parse().unwrap(),
        Duration::from_secs(3600),
        Duration::from_secs(5),
    ));
    let alerts = with_email(
        base,
        plain_mailer(port),
        settings(Duration::from_secs(3600)),
    );

    alerts.raise(AlertKind::SignupDead, "A signup was refused.");
    eventually(
        Duration::from_secs(20),
        "alert_mail_failing on the webhook",
        || async {
            kinds(&received)
                .contains(&"alert_mail_failing".to_owned())
                .then_some(())
        },
    )
    .await;
    let failing = received.lock().unwrap().clone();
    let failing = failing
        .iter()
        .find(|alert| alert["kind"] == "alert_mail_failing")
        .unwrap();
    let text = failing["text"].as_str().unwrap();
    assert!(text.contains("signup_dead"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert_eq!(count(&raised, AlertKind::AlertMailFailing), 1);

    // The mail server comes up where nothing listened: the next alert is mailed, and that is news.
    let options = ServerOptions {
        port: Some(port),
        ..ServerOptions::default()
    };
    let server = SmtpServer::start(test, options).await.unwrap();
    alerts.raise(AlertKind::DeliveryPaused, "Deliveries are paused.");
    let messages = server.wait_for(1, "the alert mail after the outage").await;
    eventually(
        Duration::from_secs(20),
        "alert_mail_restored on the webhook",
        || async {
            kinds(&received)
                .contains(&"alert_mail_restored".to_owned())
                .then_some(())
        },
    )
    .await;
    assert_eq!(subjects(&messages), ["ccbridge: deliveries are paused"]);
    assert_eq!(
        kinds(&received),
        [
            "signup_dead",
            "alert_mail_failing",
            "delivery_paused",
            "alert_mail_restored"
        ]
    );
    assert_eq!(count(&raised, AlertKind::AlertMailFailing), 1);
    assert_eq!(count(&raised, AlertKind::AlertMailRestored), 1);
    // Neither was queued for mail: nothing else arrives after them.
    assert_eq!(server.messages().len(), 1);
}

// SQLite only: the mail path does not touch the database; this checks the wiring in `startup`.
backends!(the_app_mails_its_alerts_over_starttls_to_alerts_email_to: sqlite);
async fn the_app_mails_its_alerts_over_starttls_to_alerts_email_to(backend: Backend) {
    let options = ServerOptions {
        security: Security::Starttls,
        login: Some("ccbridge:app-smtp-pass"),
        ..ServerOptions::default()
    };
    let Some(server) = SmtpServer::start("the_app_mails_its_alerts", options).await else {
        return;
    };
    let sandbox = fast_sandbox().await;
    let smtp = smtp_toml(
        server.port,
        "starttls",
        &format!("username = \"ccbridge\"\npassword = \"app-smtp-pass\"\nca_file = \"{CA_FILE}\""),
    );
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!(
            "[constant_contact]\nrequests_per_second = 1000\n\
             [alerts]\nemail_to = [\"Ops <ops@example.org>\"]\n{smtp}"
        ),
    )
    .spawn()
    .await;
    app.connect_ok().await;

    break_connection(&app, &sandbox).await;

    let message = &server.wait_for(1, "the needs-reconnect mail").await[0];
    assert_eq!(
        message["subject"],
        "ccbridge: the Constant Contact connection needs a reconnect"
    );
    let text = message["text"].as_str().unwrap();
    assert!(text.contains("reconnect"), "{text}");
    assert!(text.contains(&app.url("/")), "{text}");
    assert_eq!(message["authenticated"], true);
    assert_eq!(message["tls"], true);
    app.stop().await;
}
