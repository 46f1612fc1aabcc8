//! The per-address cap: at most three confirmation mails to one address in 24 hours, across
//! forms; past it the signup is stored (the visitor sees the usual answer) without a mail.

use std::time::Duration;

use ccbridge::domain::SignupState;

use super::{World, sign_up, states};
use crate::helpers::{Backend, eventually};
use crate::mail::Security;

backends!(one_address_gets_at_most_three_mails_a_day: sqlite, postgres);
async fn one_address_gets_at_most_three_mails_a_day(backend: Backend) {
    let Some(world) = World::start("mail_cap", backend, Security::None).await else {
        return;
    };
    let app = &world.app;
    // Each mail is awaited before the next signup: a replaced signup's mail that was never sent
    // is cancelled and would not count.
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
