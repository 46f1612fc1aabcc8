//! The confirmation link: the GET confirms nothing, the POST confirms once, an expired link
//! delivers nothing, a newer signup replaces the waiting one.

use std::time::Duration;

use ccbridge::consent::MailOutcome;
use ccbridge::domain::SignupState;
use reqwest::Method;

use super::{World, link_in, open, sign_up, states};
use crate::helpers::{Backend, eventually};
use crate::mail::Security;

backends!(a_signup_is_delivered_only_after_its_person_confirms: sqlite, postgres);
async fn a_signup_is_delivered_only_after_its_person_confirms(backend: Backend) {
    let Some(world) = World::start("double_opt_in_starttls", backend, Security::Starttls).await
    else {
        return;
    };
    let app = &world.app;
    sign_up(app, "double", "Ann@Example.org").await;

    // The mail arrives over STARTTLS, to the address only, with a link and nothing typed.
    let mail = &world.smtp.wait_for(1, "the confirmation mail").await[0];
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["rcpt_tos"][0], "ann@example.org");
    let link = link_in(mail);
    for part in [&mail["subject"], &mail["text"], &mail["html"]] {
        let part = part.as_str().unwrap();
        assert!(
            !part.contains("Zebediah") && !part.contains("Quux"),
            "{part}"
        );
    }
    assert!(mail["html"].as_str().unwrap().contains(&link));

    // Nothing is deliverable before the confirmation, and the sandbox saw nothing.
    assert_eq!(app.delivery.deliver_next().await.unwrap(), None);
    assert_eq!(states(app).await, [SignupState::AwaitingConfirmation]);

    // The GET (a mail scanner, a preview) shows the button and confirms nothing.
    let (status, page) = open(app, Method::GET, &link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Confirm my subscription"), "{page}");
    assert!(page.contains("method=\"post\""), "{page}");
    assert_eq!(states(app).await, [SignupState::AwaitingConfirmation]);
    assert_eq!(app.delivery.deliver_next().await.unwrap(), None);
    assert!(world.sandbox.contacts().is_empty());
    assert_eq!(world.sandbox.stats().contacts_created, 0);

    // The POST confirms, and the signup is delivered.
    let (status, page) = open(app, Method::POST, &link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("subscribed"), "{page}");
    eventually(Duration::from_secs(20), "the delivery", || async {
        (world.sandbox.contacts().len() == 1).then_some(())
    })
    .await;
    assert!(
        world.sandbox.contacts()[0]
            .email_address
            .eq_ignore_ascii_case("ann@example.org")
    );
    let signup = &app.signups().await[0];
    assert!(signup.confirmed_at.is_some());
    // The consent record has the confirmation's time and address.
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    let (confirmed_at, confirm_ip): (Option<i64>, Option<String>) =
        sqlx::query_as("select confirmed_at, confirm_ip from consent_records where signup_id = $1")
            .bind(signup.id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        confirmed_at,
        signup.confirmed_at.map(|t| t.timestamp_millis())
    );
    assert_eq!(confirm_ip.as_deref(), Some("127.0.0.1"));
    pool.close().await;

    // A second POST: "already confirmed", and nothing changes.
    let (status, page) = open(app, Method::POST, &link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("already confirmed"), "{page}");
    let (status, page) = open(app, Method::GET, &link).await;
    assert_eq!(
        (status, page.contains("already confirmed")),
        (200, true),
        "{page}"
    );
    assert_eq!(app.signups().await[0].confirmed_at, signup.confirmed_at);
    assert_eq!(world.sandbox.stats().contacts_created, 1);
    assert_eq!(world.sandbox.stats().contacts_updated, 0);
    world.stop().await;
}

backends!(a_forms_confirmed_url_is_where_the_person_lands: sqlite, postgres);
async fn a_forms_confirmed_url_is_where_the_person_lands(backend: Backend) {
    let Some(world) = World::start("confirmed_url", backend, Security::None).await else {
        return;
    };
    sign_up(&world.app, "landing", "bo@example.org").await;
    let link = link_in(&world.smtp.wait_for(1, "the mail").await[0]);
    let (status, location) = open(&world.app, Method::POST, &link).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "https://example.org/confirmed")
    );
    world.stop().await;
}

backends!(an_expired_link_delivers_nothing_and_the_signup_is_purged: sqlite, postgres);
async fn an_expired_link_delivers_nothing_and_the_signup_is_purged(backend: Backend) {
    // The worker is stepped here: its hourly purge does not run behind the test's back.
    let Some(world) = World::start_stepped("expired_link", backend).await else {
        return;
    };
    let app = &world.app;
    let mailer = app.mailer.as_ref().expect("[smtp] is configured");
    sign_up(app, "double", "cy@example.org").await;
    assert_eq!(mailer.send_next().await.unwrap(), Some(MailOutcome::Sent));
    let link = link_in(&world.smtp.wait_for(1, "the mail").await[0]);
    assert_eq!(states(app).await, [SignupState::AwaitingConfirmation]);
    // confirm_expiry is 7 days by default.
    world
        .clock
        .advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));

    for method in [Method::GET, Method::POST] {
        let (status, page) = open(app, method, &link).await;
        assert_eq!(status, 410, "{page}");
        assert!(page.contains("expired"), "{page}");
    }
    assert_eq!(app.delivery.deliver_next().await.unwrap(), None);
    assert!(world.sandbox.contacts().is_empty());

    assert_eq!(mailer.purge_expired().await.unwrap(), 1);
    assert!(app.signups().await.is_empty());
    assert_eq!(mailer.purge_expired().await.unwrap(), 0);
    // A late click still reads "expired".
    let (status, _) = open(app, Method::POST, &link).await;
    assert_eq!(status, 410);
    world.stop().await;
}

backends!(a_newer_signup_replaces_the_waiting_one_and_its_link: sqlite, postgres);
async fn a_newer_signup_replaces_the_waiting_one_and_its_link(backend: Backend) {
    let Some(world) = World::start("replaced_link", backend, Security::None).await else {
        return;
    };
    let app = &world.app;
    sign_up(app, "double", "di@example.org").await;
    let old = link_in(&world.smtp.wait_for(1, "the first mail").await[0]);
    sign_up(app, "double", "di@example.org").await;
    let new = link_in(&world.smtp.wait_for(2, "the second mail").await[1]);

    assert_eq!(states(app).await, [SignupState::AwaitingConfirmation]);
    for method in [Method::GET, Method::POST] {
        let (status, page) = open(app, method, &old).await;
        assert_eq!(status, 404, "{page}");
    }
    let (status, _) = open(app, Method::POST, &new).await;
    assert_eq!(status, 200);
    let signups = app.signups().await;
    assert_eq!(signups.len(), 1);
    assert!(signups[0].confirmed_at.is_some());
    world.stop().await;
}

backends!(malformed_tokens_are_unknown_never_an_error: sqlite, postgres);
async fn malformed_tokens_are_unknown_never_an_error(backend: Backend) {
    let Some(world) = World::start("malformed_tokens", backend, Security::None).await else {
        return;
    };
    let well_formed_unknown = format!("/confirm/{}", "A".repeat(43));
    for path in [
        "/confirm/x",
        "/confirm/%00%ff",
        "/confirm/..%2F..%2Fetc",
        &format!("/confirm/{}", "a".repeat(5000)),
        &well_formed_unknown,
    ] {
        for method in [Method::GET, Method::POST] {
            let (status, _) = open(&world.app, method.clone(), path).await;
            assert_eq!(status, 404, "{method} {path}");
        }
    }
    world.stop().await;
}

backends!(two_signups_of_one_address_at_once_both_succeed_and_one_waits: sqlite, postgres);
async fn two_signups_of_one_address_at_once_both_succeed_and_one_waits(backend: Backend) {
    let Some(world) = World::start("same_address_at_once", backend, Security::None).await else {
        return;
    };
    let app = &world.app;
    // Each doubled address is posted twice at the same moment as the others, so the writer
    // commits some pairs in one batch: the later signup of a pair replaces the earlier one
    // inside that transaction.
    let doubled = [
        "twin1@example.org",
        "twin2@example.org",
        "twin3@example.org",
    ];
    let single: Vec<String> = (0..8).map(|n| format!("solo{n}@example.org")).collect();
    let posts = doubled
        .iter()
        .chain(doubled.iter())
        .map(|email| (*email).to_owned())
        .chain(single.iter().cloned())
        .map(|email| async move {
            let answer = app
                .post_json("double", &serde_json::json!({ "email": email }))
                .await;
            (answer.status(), answer.text().await.unwrap())
        });
    for (status, body) in futures_util::future::join_all(posts).await {
        assert!(status.is_success(), "{status}: {body}");
    }

    let signups = app.signups().await;
    for email in doubled
        .iter()
        .copied()
        .chain(single.iter().map(String::as_str))
    {
        let waiting: Vec<_> = signups
            .iter()
            .filter(|s| s.email.as_deref() == Some(email))
            .collect();
        assert_eq!(waiting.len(), 1, "{email}: {signups:?}");
        assert_eq!(waiting[0].state, SignupState::AwaitingConfirmation);
    }
    assert_eq!(signups.len(), doubled.len() + single.len());
    world.stop().await;
}
