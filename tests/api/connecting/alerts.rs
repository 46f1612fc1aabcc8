//! Alerts that carry the way back: a reconnect alert says why, how many signups are waiting and
//! what to do, with a link (the console's /connect page, or a fresh connect link with
//! `alerts.include_connect_link`), by webhook and by mail; the recovery alert follows the reconnect.

use std::time::Duration;

use ccbridge::alerts::AlertKind;
use serde_json::json;

use super::device::ccbridge_connect;
use super::{decide, realtime_device_sandbox};
use crate::alerts::{break_connection, kinds, receiver};
use crate::database::Backend;
use crate::helpers::{AppOptions, eventually, fast_sandbox, serve_config};
use crate::mail::{ServerOptions, SmtpServer, smtp_toml};

backends!(a_reconnect_alert_says_why_how_many_wait_and_where_to_act: sqlite, postgres);
async fn a_reconnect_alert_says_why_how_many_wait_and_where_to_act(backend: Backend) {
    let (hook, received) = receiver().await;
    let server = SmtpServer::start("reconnect alert by mail", ServerOptions::default()).await;
    let mail = server.as_ref().map_or(String::new(), |server| {
        format!(
            "email_to = [\"ops@example.org\"]\n{}",
            smtp_toml(server.port, "none", "")
        )
    });
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!("[alerts]\nwebhook_url = \"http://{hook}/hook\"\n{mail}"),
    )
    // Signups stay queued: the alert counts them.
    .without_background_delivery()
    .spawn()
    .await;
    app.connect_ok().await;
    for email in ["one@example.org", "two@example.org"] {
        let accepted = app
            .post_json("newsletter", &json!({ "email": email }))
            .await;
        assert_eq!(accepted.status(), 202);
    }
    break_connection(&app, &sandbox).await;

    let connect_page = app.url("/connect");
    let alert = eventually(
        Duration::from_secs(10),
        "the webhook's reconnect alert",
        || async { received.lock().unwrap().first().cloned() },
    )
    .await;
    assert_eq!(alert["kind"], "connection_needs_reconnect");
    assert_eq!(alert["link"], connect_page.as_str());
    let text = alert["text"].as_str().unwrap();
    for expected in [
        "rejected the refresh token",
        "2 signups are waiting",
        "To reconnect",
        connect_page.as_str(),
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    if let Some(server) = &server {
        let message = &server.wait_for(1, "the reconnect mail").await[0];
        let body = message["text"].as_str().unwrap();
        for expected in [
            "rejected the refresh token",
            "2 signups are waiting",
            connect_page.as_str(),
        ] {
            assert!(
                body.contains(expected),
                "{expected:?} missing from the mail: {body}"
            );
        }
    }

    app.connect_ok().await;
    eventually(Duration::from_secs(10), "the recovery alert", || async {
        (kinds(&received) == ["connection_needs_reconnect", "connection_restored"]).then_some(())
    })
    .await;
    app.stop().await;
}

// With `alerts.include_connect_link`, the alert carries a fresh connect link that works.
backends!(a_reconnect_alert_can_carry_a_fresh_connect_link: sqlite, postgres);
async fn a_reconnect_alert_can_carry_a_fresh_connect_link(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "[alerts]\ninclude_connect_link = true")
        .spawn()
        .await;
    app.connect_ok().await;
    break_connection(&app, &sandbox).await;
    let alert = app
        .alerts
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.kind == AlertKind::ConnectionNeedsReconnect)
        .cloned()
        .expect("the reconnect alert");
    let link = alert.link.expect("a link").to_string();
    assert!(link.starts_with(&app.url("/connect/link/")), "{link}");
    assert!(
        alert.text.contains("no admin password needed"),
        "{}",
        alert.text
    );
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200, "the link works");
    let links = app.store.connect_links().await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].created_by, "alert");
    app.stop().await;
}

// A reconnect made with `ccbridge connect` while the service was down is announced as restored by
// the service when it starts, once; the command itself leaves it to the service.
backends!(a_recovery_made_while_the_service_was_down_is_announced_when_it_starts: sqlite, postgres);
async fn a_recovery_made_while_the_service_was_down_is_announced_when_it_starts(backend: Backend) {
    let sandbox = realtime_device_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;
    break_connection(&app, &sandbox).await;
    let config_path = app.dir.path().join("cli.toml");
    std::fs::write(
        &config_path,
        serve_config(1, &app.db_url, &sandbox, "flow = \"device\"", ""),
    )
    .unwrap();
    let (dir, db_path) = app.stop().await;

    let (mut child, _lines, first) = ccbridge_connect(&config_path).await;
    decide(&sandbox, first["user_code"].as_str().unwrap(), "approve").await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    let restarted = AppOptions {
        sandbox: Some(&sandbox),
        ..AppOptions::new(backend, dir, db_path, "")
    }
    .spawn()
    .await;
    eventually(Duration::from_secs(10), "the recovery alert", || async {
        let restored = restarted
            .alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.kind == AlertKind::ConnectionRestored)
            .count();
        (restored == 1).then_some(())
    })
    .await;
    restarted.stop().await;
}
