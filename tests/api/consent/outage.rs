//! An SMTP server that is down (or refuses the sender) loses no confirmation mail: it stays
//! queued, is retried with backoff, and goes out once the server is back; the outage and the
//! recovery are alerted. Only a refused recipient makes a mail dead.

use std::sync::Arc;
use std::time::Duration;

use ccbridge::alerts::AlertKind;
use ccbridge::clock::{ManualClock, SharedClock};
use ccbridge::store::MailCounts;
use reqwest::Method;

use ccbridge::consent::MailOutcome;

use super::{World, double_opt_in_toml, link_in, open, sign_up};
use crate::helpers::{AppOptions, Backend, eventually, fast_sandbox_on};
use crate::mail::{Security, ServerOptions, SmtpServer};

backends!(a_mail_server_outage_loses_no_mail: sqlite, postgres);
async fn a_mail_server_outage_loses_no_mail(backend: Backend) {
    // The port is held by a listener that hangs up on every connection (a mail server that is
    // down) until aiosmtpd takes it: no other test can grab it meanwhile.
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = down.local_addr().unwrap().port();
    let hanging_up = tokio::spawn(async move {
        loop {
            if let Ok((connection, _)) = down.accept().await {
                drop(connection);
            }
        }
    });
    let clock = ManualClock::new(chrono::Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let app = AppOptions::against(backend, &sandbox, &double_opt_in_toml(port, Security::None))
        .clock(shared)
        .spawn()
        .await;
    app.connect_ok().await;
    let mailer = app.mailer.clone().expect("[smtp] is configured");

    sign_up(&app, "double", "eve@example.org").await;
    let counts = eventually(Duration::from_secs(20), "a failed attempt", || async {
        let counts = app.store.mail_counts().await.unwrap();
        (counts.failed == 1).then_some(counts)
    })
    .await;
    assert_eq!(
        counts,
        MailCounts {
            queued: 1,
            sent: 0,
            failed: 1,
            dead: 0
        }
    );
    let alerted = |kind| {
        app.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.kind == kind)
            .count()
    };
    assert_eq!(alerted(AlertKind::ConfirmationMailsFailing), 1);
    // Not due again before its backoff: a wake-up sends nothing.
    assert_eq!(mailer.send_next().await.unwrap(), None);

    hanging_up.abort();
    let _ = hanging_up.await;
    let Some(server) = SmtpServer::start(
        "a_mail_server_outage_loses_no_mail",
        ServerOptions {
            port: Some(port),
            ..ServerOptions::default()
        },
    )
    .await
    else {
        app.stop().await;
        return;
    };
    // consent.mail_retry_max is an hour by default.
    clock.advance(chrono::Duration::hours(1));
    mailer.mail_queued();
    let mail = &server.wait_for(1, "the mail after the outage").await[0];
    assert_eq!(mail["rcpt_tos"][0], "eve@example.org");
    eventually(
        Duration::from_secs(10),
        "the mail recorded as sent",
        || async {
            let counts = app.store.mail_counts().await.unwrap();
            (counts.sent == 1 && counts.queued == 0).then_some(())
        },
    )
    .await;
    assert_eq!(alerted(AlertKind::ConfirmationMailsRestored), 1);

    // The link in the mail sent after the outage works.
    let (status, _) = open(&app, Method::POST, &link_in(mail)).await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(20), "the delivery", || async {
        (sandbox.contacts().len() == 1).then_some(())
    })
    .await;
    app.stop().await;
    sandbox.shutdown().await;
}

backends!(a_refused_sender_loses_no_mail: sqlite, postgres);
async fn a_refused_sender_loses_no_mail(backend: Backend) {
    let flag = tempfile::NamedTempFile::new().unwrap();
    let options = ServerOptions {
        refuse_sender_while: Some(flag.path().to_owned()),
        ..ServerOptions::default()
    };
    let Some(world) = World::start_with("refused_sender", backend, options, false).await else {
        return;
    };
    let app = &world.app;
    let mailer = app.mailer.as_ref().unwrap();
    sign_up(app, "double", "flo@example.org").await;

    // A 550 to MAIL FROM is the operator's to fix (smtp.from, the server's policy): retried.
    let outcome = mailer.send_next().await.unwrap();
    assert!(
        matches!(&outcome, Some(MailOutcome::Retrying { error }) if error.contains("550")),
        "{outcome:?}"
    );
    let counts = app.store.mail_counts().await.unwrap();
    assert_eq!((counts.queued, counts.failed, counts.dead), (1, 1, 0));

    // Fixed: the same mail goes out at its next attempt.
    flag.close().unwrap();
    world.clock.advance(chrono::Duration::hours(1));
    assert_eq!(mailer.send_next().await.unwrap(), Some(MailOutcome::Sent));
    let mail = &world
        .smtp
        .wait_for(1, "the mail once the sender is accepted")
        .await[0];
    assert_eq!(mail["rcpt_tos"][0], "flo@example.org");
    world.stop().await;
}

backends!(a_refused_recipient_is_dead_and_its_address_is_not_repeated: sqlite, postgres);
async fn a_refused_recipient_is_dead_and_its_address_is_not_repeated(backend: Backend) {
    let options = ServerOptions {
        refuse_recipient: Some("nobody-here@example.org"),
        ..ServerOptions::default()
    };
    let Some(world) = World::start_with("refused_recipient", backend, options, false).await else {
        return;
    };
    let app = &world.app;
    let mailer = app.mailer.as_ref().unwrap();
    sign_up(app, "double", "nobody-here@example.org").await;

    let outcome = mailer.send_next().await.unwrap();
    let Some(MailOutcome::Dead { error }) = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(error.contains("5.1.1"), "{error}");
    assert_eq!(app.store.mail_counts().await.unwrap().dead, 1);
    assert_eq!(mailer.send_next().await.unwrap(), None);

    // The server echoed the address; the outcome, the alert and last_error show it redacted.
    assert!(error.contains("<n***@example.org>"), "{error}");
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    let (last_error,): (Option<String>,) = sqlx::query_as("select last_error from mail_outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let alerts: Vec<String> = app
        .alerts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.text.clone())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    for text in alerts.iter().chain([error, &last_error.unwrap()]) {
        assert!(!text.contains("nobody-here"), "{text}");
    }
    world.stop().await;
}
