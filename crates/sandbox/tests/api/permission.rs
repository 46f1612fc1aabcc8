//! Contacts' permission: what `sign_up_form` does to it (the real API's documented re-opt-in of
//! unsubscribed contacts included), the Confirmed Opt-In switch, and the consent controls.

use ccbridge_sandbox::{MailOrigin, Permission, SandboxConfig, Source};
use serde_json::{Value, json};

use crate::helpers::{a_signup_for, spawn_sandbox, spawn_sandbox_with, start_time, unthrottled};

#[tokio::test]
async fn sign_up_form_re_opts_an_unsubscribed_contact_to_explicit() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    assert_eq!(
        sandbox
            .sign_up(&token, &a_signup_for("jane@example.org"))
            .await
            .status(),
        201
    );
    let jane = sandbox.sandbox.contact("Jane@Example.org").expect("jane");
    assert_eq!(jane.permission_to_send, Permission::Explicit);
    assert_eq!(jane.opt_in_source, Some(Source::Contact));

    sandbox.clock.advance(chrono::Duration::hours(1));
    let unsubscribed = sandbox
        .sandbox
        .unsubscribe("jane@example.org")
        .expect("jane");
    assert_eq!(unsubscribed.permission_to_send, Permission::Unsubscribed);
    assert_eq!(unsubscribed.opt_out_source, Some(Source::Contact));
    assert_eq!(
        unsubscribed.opt_out_date,
        Some(start_time() + chrono::Duration::hours(1))
    );
    assert!(
        unsubscribed.list_memberships.is_empty(),
        "an opt-out leaves every list"
    );

    // What happens without ccbridge's protection: the API opts the person back in.
    let again = sandbox
        .sign_up(&token, &a_signup_for("JANE@example.org"))
        .await;

    assert_eq!(again.status(), 200);
    let jane = sandbox.sandbox.contact("jane@example.org").unwrap();
    assert_eq!(jane.permission_to_send, Permission::Explicit);
    assert_eq!((jane.opt_out_date, jane.opt_out_source), (None, None));
    assert_eq!(jane.list_memberships.len(), 1);
    assert_eq!(sandbox.sandbox.sign_up_calls_for("jane@EXAMPLE.org"), 2);
    assert_eq!(
        sandbox
            .sandbox
            .sign_up_calls_for("someone.else@example.org"),
        0
    );
}

#[tokio::test]
async fn a_call_is_counted_even_when_its_body_is_refused() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;

    let refused = sandbox
        .sign_up(&token, &json!({"email_address": "jane@example.org"}))
        .await;

    assert_eq!(refused.status(), 400, "list_memberships is required");
    assert_eq!(sandbox.sandbox.sign_up_calls_for("jane@example.org"), 1);
    assert!(sandbox.sandbox.contact("jane@example.org").is_none());
}

#[tokio::test]
async fn signing_up_a_deleted_contact_restores_it() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox
        .sign_up(&token, &a_signup_for("jane@example.org"))
        .await;
    let deleted = sandbox.sandbox.delete_contact("jane@example.org").unwrap();
    assert!(deleted.is_deleted());
    assert_eq!(
        deleted.permission_to_send,
        Permission::Explicit,
        "deleting keeps it"
    );

    let restored = sandbox
        .sign_up(&token, &a_signup_for("jane@example.org"))
        .await;

    assert_eq!(restored.status(), 200);
    assert!(
        !sandbox
            .sandbox
            .contact("jane@example.org")
            .unwrap()
            .is_deleted()
    );
}

#[tokio::test]
async fn confirmed_opt_in_makes_a_new_signup_pending_and_mails_it() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        confirmed_opt_in: true,
        ..unthrottled()
    })
    .await;
    let token = sandbox.access_token().await;
    sandbox
        .sign_up(&token, &a_signup_for("known@example.org"))
        .await;
    let mails_before = sandbox.sandbox.mailbox().len();

    let created = sandbox
        .sign_up(&token, &a_signup_for("jane@example.org"))
        .await;

    assert_eq!(created.status(), 201);
    let jane = sandbox.sandbox.contact("jane@example.org").unwrap();
    assert_eq!(jane.permission_to_send, Permission::PendingConfirmation);
    assert_eq!(jane.opt_in_source, None);
    let mailbox = sandbox.sandbox.mailbox();
    assert_eq!(mailbox.len(), mails_before + 1);
    let mail = mailbox.last().unwrap();
    assert_eq!(mail.origin, MailOrigin::ConstantContact);
    assert_eq!(mail.to, ["jane@example.org"]);
    assert!(mail.subject.contains("confirm"), "{}", mail.subject);
    assert_eq!(mail.received_at, start_time());

    // An update is explicit even with the switch on, and mails nothing.
    let updated = sandbox
        .sign_up(&token, &a_signup_for("jane@example.org"))
        .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(
        sandbox
            .sandbox
            .contact("jane@example.org")
            .unwrap()
            .permission_to_send,
        Permission::Explicit
    );
    assert_eq!(sandbox.sandbox.mailbox().len(), mails_before + 1);
}

#[tokio::test]
async fn the_confirmed_opt_in_switch_can_be_turned_at_runtime() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    assert!(!sandbox.sandbox.confirmed_opt_in());

    let on = sandbox
        .control("/_sandbox/confirmed-opt-in", &json!({"enabled": true}))
        .await;
    assert_eq!(on.status(), 200);
    assert!(sandbox.sandbox.confirmed_opt_in());
    sandbox
        .sign_up(&token, &a_signup_for("pending@example.org"))
        .await;

    sandbox.sandbox.set_confirmed_opt_in(false);
    sandbox
        .sign_up(&token, &a_signup_for("explicit@example.org"))
        .await;

    let permission = |email| sandbox.sandbox.contact(email).unwrap().permission_to_send;
    assert_eq!(
        permission("pending@example.org"),
        Permission::PendingConfirmation
    );
    assert_eq!(permission("explicit@example.org"), Permission::Explicit);
    assert_eq!(sandbox.sandbox.mailbox().len(), 1);
    let state: Value = sandbox
        .get(sandbox.url("/_sandbox/confirmed-opt-in"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state, json!({"enabled": false}));
}

#[tokio::test]
async fn the_consent_control_routes_act_like_the_rust_api() {
    let sandbox = spawn_sandbox().await;

    let added = sandbox
        .control(
            "/_sandbox/contacts/add",
            &json!({"email_address": "seed@example.org", "permission_to_send": "implicit"}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["permission_to_send"], "implicit");
    assert_eq!(added["create_source"], "Account");

    let unsubscribed = sandbox
        .control(
            "/_sandbox/unsubscribe",
            &json!({"email_address": "seed@example.org"}),
        )
        .await;
    assert_eq!(unsubscribed.status(), 200);
    let deleted = sandbox
        .control(
            "/_sandbox/delete-contact",
            &json!({"email_address": "seed@example.org"}),
        )
        .await;
    assert_eq!(deleted.status(), 200);
    let seed = sandbox.sandbox.contact("seed@example.org").unwrap();
    assert_eq!(seed.permission_to_send, Permission::Unsubscribed);
    assert!(seed.is_deleted() && seed.opt_out_date.is_some());

    let unknown = sandbox
        .control(
            "/_sandbox/unsubscribe",
            &json!({"email_address": "nobody@example.org"}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let bad = sandbox
        .control(
            "/_sandbox/contacts/add",
            &json!({"email_address": "x@example.org", "permission_to_send": "maybe"}),
        )
        .await;
    assert!(bad.status().is_client_error());
}

#[tokio::test]
async fn the_controls_page_drives_the_same_controls_with_forms() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .sandbox
        .add_contact("jane@example.org", Permission::Explicit);

    let page = sandbox.get(sandbox.url("/controls")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for action in [
        "/_sandbox/unsubscribe",
        "/_sandbox/delete-contact",
        "/_sandbox/confirm-resubscribe",
        "/_sandbox/contacts/add",
        "/_sandbox/confirmed-opt-in",
    ] {
        assert!(html.contains(action), "{action} on the page");
    }

    let submitted = sandbox
        .http
        .post(sandbox.url("/_sandbox/unsubscribe"))
        .form(&[("email_address", "jane@example.org")])
        .send()
        .await
        .unwrap();

    assert_eq!(submitted.status(), 303);
    assert_eq!(submitted.headers()["location"], "/controls");
    assert_eq!(
        sandbox
            .sandbox
            .contact("jane@example.org")
            .unwrap()
            .permission_to_send,
        Permission::Unsubscribed
    );
    let overview = sandbox.get(sandbox.url("/")).await.text().await.unwrap();
    assert!(overview.contains("unsubscribed") && overview.contains("href=\"/controls\""));
}
