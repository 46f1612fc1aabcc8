//! The per-address cap: at most three confirmation mails to one address in 24 hours, across
//! forms; past it the signup is stored (the visitor sees the usual answer) without a mail.

use std::time::Duration;

use ccbridge::domain::SignupState;

use ccbridge::consent::MailOutcome;
use ccbridge::store::{Held, MailSettle, Released};

use super::{World, sign_up, states};
use crate::helpers::{Backend, eventually};
use crate::mail::Security;

backends!(one_address_gets_at_most_three_mails_a_day: sqlite, postgres);
async fn one_address_gets_at_most_three_mails_a_day(backend: Backend) {
    let Some(world) = World::start("mail_cap", backend, Security::None).await else {
        return;
    };
    let app = &world.app;
    // Each mail is awaited (received by the server) before the next signup: a replaced signup's
    // mail still unclaimed is cancelled and would not count. One the worker is sending counts
    // (see `a_mail_being_sent_when_its_signup_is_replaced_still_counts`).
    for (n, form) in ["double", "landing", "double"].into_iter().enumerate() {
        sign_up(app, form, "fay@example.org").await;
        world.smtp.wait_for(n + 1, "a confirmation mail").await;
    }
    sign_up(app, "landing", "fay@example.org").await;

    // The fourth signup is stored, waiting, with no mail queued for it.
    assert_eq!(
        states(app).await,
        [
            SignupState::AwaitingConfirmation,
            SignupState::AwaitingConfirmation
        ]
    );
    let counts = eventually(Duration::from_secs(10), "three mails sent", || async {
        let counts = app.store.mail_counts().await.unwrap();
        (counts.sent == 3).then_some(counts)
    })
    .await;
    assert_eq!(counts.queued, 0);
    // A wake-up finds nothing to send.
    let mailer = app.mailer.as_ref().unwrap();
    assert_eq!(mailer.send_next().await.unwrap(), None);
    assert_eq!(world.smtp.messages().len(), 3);
    world.stop().await;
}

backends!(released_spam_of_a_double_form_waits_for_confirmation: sqlite, postgres);
async fn released_spam_of_a_double_form_waits_for_confirmation(backend: Backend) {
    let Some(world) = World::start("released_spam", backend, Security::None).await else {
        return;
    };
    let app = &world.app;
    let answer = app
        .post_json(
            "double",
            &serde_json::json!({"email": "gil@example.org", "website": "http://spam.example"}),
        )
        .await;
    assert!(answer.status().is_success());
    assert_eq!(states(app).await, [SignupState::Spam]);
    let id = app.signups().await[0].id;

    let policy = ccbridge::store::ConfirmationPolicy::default();
    let released = app
        .store
        .release_spam(id, ccbridge::clock::Clock::now(&world.clock), &policy)
        .await
        .unwrap();
    assert_eq!(
        released,
        Some(ccbridge::store::Released::AwaitingConfirmation(
            ccbridge::store::Held::MailQueued
        ))
    );
    assert_eq!(states(app).await, [SignupState::AwaitingConfirmation]);
    app.mailer.as_ref().unwrap().mail_queued();
    let mail = &world.smtp.wait_for(1, "the confirmation mail").await[0];
    assert_eq!(mail["rcpt_tos"][0], "gil@example.org");
    assert_eq!(app.delivery.deliver_next().await.unwrap(), None);
    world.stop().await;
}

backends!(a_mail_being_sent_when_its_signup_is_replaced_still_counts: sqlite, postgres);
async fn a_mail_being_sent_when_its_signup_is_replaced_still_counts(backend: Backend) {
    let Some(world) = World::start_stepped("mail_cap_claimed", backend).await else {
        return;
    };
    let app = &world.app;
    let mailer = app.mailer.as_ref().unwrap();
    let now = || ccbridge::clock::Clock::now(&world.clock);
    let address = "hal@example.org";

    // The worker (here: the test) claims the first mail and is sending it when a newer signup
    // replaces its signup.
    sign_up(app, "double", address).await;
    let claimed = app
        .store
        .claim_due_mail("sending", now(), now() + chrono::Duration::minutes(5))
        .await
        .unwrap()
        .expect("the first mail is due");
    sign_up(app, "double", address).await;
    assert_eq!(app.signups().await.len(), 1);
    // The send finishes: it is recorded as sent, and counts.
    let recorded = app
        .store
        .settle_mail(claimed.id, "sending", MailSettle::Sent, now())
        .await
        .unwrap();
    assert!(recorded, "the sent mail was cancelled under the worker");

    // Two more mails reach the cap of three; a fourth signup gets none.
    assert_eq!(mailer.send_next().await.unwrap(), Some(MailOutcome::Sent));
    sign_up(app, "landing", address).await;
    assert_eq!(mailer.send_next().await.unwrap(), Some(MailOutcome::Sent));
    sign_up(app, "landing", address).await;
    assert_eq!(mailer.send_next().await.unwrap(), None);
    let counts = app.store.mail_counts().await.unwrap();
    assert_eq!((counts.sent, counts.queued), (3, 0), "{counts:?}");
    assert_eq!(world.smtp.messages().len(), 2);
    world.stop().await;
}

backends!(a_released_spam_signup_replaces_the_waiting_one_and_is_released_once: sqlite, postgres);
async fn a_released_spam_signup_replaces_the_waiting_one_and_is_released_once(backend: Backend) {
    let Some(world) = World::start_stepped("released_spam_once", backend).await else {
        return;
    };
    let app = &world.app;
    let spam = serde_json::json!({"email": "ida@example.org", "website": "http://spam.example"});
    assert!(app.post_json("double", &spam).await.status().is_success());
    let id = app.signups().await[0].id;
    sign_up(app, "double", "Ida@example.org").await;
    assert_eq!(
        states(app).await,
        [SignupState::Spam, SignupState::AwaitingConfirmation]
    );

    // Two admins release it at the same moment: it is released once, with one mail.
    let policy = ccbridge::store::ConfirmationPolicy::default();
    let now = ccbridge::clock::Clock::now(&world.clock);
    let (first, second) = tokio::join!(
        app.store.release_spam(id, now, &policy),
        app.store.release_spam(id, now, &policy)
    );
    let mut released = [first.unwrap(), second.unwrap()];
    released.sort_by_key(Option::is_none);
    assert_eq!(
        released,
        [Some(Released::AwaitingConfirmation(Held::MailQueued)), None]
    );
    // It replaced the signup that was waiting (and that one's unsent mail).
    let signups = app.signups().await;
    assert_eq!(signups.len(), 1, "{signups:?}");
    assert_eq!(
        (signups[0].id, signups[0].state),
        (id, SignupState::AwaitingConfirmation)
    );
    assert_eq!(app.store.mail_counts().await.unwrap().queued, 1);
    world.stop().await;
}

backends!(old_mails_are_purged_after_the_retention_never_within_the_cap_day: sqlite, postgres);
async fn old_mails_are_purged_after_the_retention_never_within_the_cap_day(backend: Backend) {
    let Some(world) = World::start_stepped("mail_retention", backend).await else {
        return;
    };
    let app = &world.app;
    let mailer = app.mailer.as_ref().unwrap();
    sign_up(app, "double", "ivy@example.org").await;
    assert_eq!(mailer.send_next().await.unwrap(), Some(MailOutcome::Sent));
    sign_up(app, "landing", "ivy@example.org").await;
    let mails = || async { app.store.mail_counts().await.unwrap() };
    assert_eq!((mails().await.sent, mails().await.queued), (1, 1));

    // Within delivery.retention (30 days) nothing goes; a queued mail never does.
    world.clock.advance(chrono::Duration::days(29));
    assert_eq!(mailer.purge_old_mails().await.unwrap(), 0);
    world.clock.advance(chrono::Duration::days(2));
    assert_eq!(mailer.purge_old_mails().await.unwrap(), 1);
    assert_eq!((mails().await.sent, mails().await.queued), (0, 1));
    world.stop().await;
}
