//! `PUT /v3/contacts/resubscribe/{contact_id}`: once per contact, a mail, and no change until the
//! contact confirms; the refusals in the published codes and the array error shape.

use ccbridge_sandbox::{EVENTS_LIST_ID, MailOrigin, Permission};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{array_error, spawn_sandbox};

fn path(contact_id: impl std::fmt::Display) -> String {
    format!("/v3/contacts/resubscribe/{contact_id}")
}

#[tokio::test]
async fn a_resubscribe_is_asked_once_and_applied_only_when_confirmed() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let jane = sandbox
        .sandbox
        .add_contact("jane@example.org", Permission::Unsubscribed);
    let body = json!({"list_ids": [EVENTS_LIST_ID]});

    let asked = sandbox.api_put(&token, &path(jane.contact_id), &body).await;

    assert_eq!(asked.status(), 200);
    let still = sandbox.sandbox.contact("jane@example.org").unwrap();
    assert_eq!(
        still.permission_to_send,
        Permission::Unsubscribed,
        "not until confirmed"
    );
    let requests = sandbox.sandbox.resubscribe_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].list_ids, [EVENTS_LIST_ID]);
    assert_eq!(requests[0].confirmed_at, None);
    let mail = sandbox.sandbox.mailbox().pop().expect("a resubscribe mail");
    assert_eq!(mail.origin, MailOrigin::ConstantContact);
    assert_eq!(mail.to, ["jane@example.org"]);
    assert!(mail.subject.contains("resubscribe"), "{}", mail.subject);

    let again = sandbox.api_put(&token, &path(jane.contact_id), &body).await;
    assert_eq!(
        array_error(again).await,
        (409, "contacts.api.conflict".into())
    );
    assert_eq!(sandbox.sandbox.mailbox().len(), 1, "one mail only");

    let confirmed = sandbox
        .control(
            "/_sandbox/confirm-resubscribe",
            &json!({"email_address": "jane@example.org"}),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let jane_now = sandbox.sandbox.contact("jane@example.org").unwrap();
    assert_eq!(jane_now.permission_to_send, Permission::Explicit);
    assert_eq!(jane_now.list_memberships, [EVENTS_LIST_ID]);
    assert_eq!(jane_now.opt_out_date, None);
    assert!(
        sandbox.sandbox.resubscribe_requests()[0]
            .confirmed_at
            .is_some()
    );
    assert!(
        sandbox
            .sandbox
            .confirm_resubscribe("jane@example.org")
            .is_none(),
        "nothing left to confirm"
    );

    sandbox.sandbox.unsubscribe("jane@example.org");
    let once_ever = sandbox.api_put(&token, &path(jane.contact_id), &body).await;
    assert_eq!(array_error(once_ever).await.0, 409);
}

#[tokio::test]
async fn a_deleted_unsubscribed_contact_is_restored_when_it_confirms() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let gone = sandbox
        .sandbox
        .add_contact("gone@example.org", Permission::Unsubscribed);
    sandbox.sandbox.delete_contact("gone@example.org");

    let asked = sandbox
        .api_put(
            &token,
            &path(gone.contact_id),
            &json!({"list_ids": [EVENTS_LIST_ID]}),
        )
        .await;
    assert_eq!(asked.status(), 200);
    let restored = sandbox
        .sandbox
        .confirm_resubscribe("gone@example.org")
        .unwrap();

    assert!(!restored.is_deleted());
    assert_eq!(restored.permission_to_send, Permission::Explicit);
}

#[tokio::test]
async fn resubscribe_refuses_what_the_api_refuses() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let out = sandbox
        .sandbox
        .add_contact("out@example.org", Permission::Unsubscribed);
    let subscribed = sandbox
        .sandbox
        .add_contact("in@example.org", Permission::Explicit);
    let lists = json!({"list_ids": [EVENTS_LIST_ID]});

    let cases = [
        (path(Uuid::nil()), lists.clone(), 404),
        (path("not-a-uuid"), lists.clone(), 404),
        (path(subscribed.contact_id), lists.clone(), 400),
        (
            path(out.contact_id),
            json!({"list_ids": [Uuid::nil()]}),
            400,
        ),
        (path(out.contact_id), json!({"list_ids": []}), 400),
        (path(out.contact_id), json!({}), 400),
        (
            path(out.contact_id),
            json!({"list_memberships": [EVENTS_LIST_ID]}),
            400,
        ),
    ];
    for (path, body, status) in cases {
        let response = sandbox.api_put(&token, &path, &body).await;
        assert_eq!(array_error(response).await.0, status, "{path} {body}");
    }

    let not_json = sandbox
        .http
        .put(sandbox.url(&path(out.contact_id)))
        .bearer_auth(&token)
        .body(r#"{"list_ids": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    let wrong_method = sandbox.api_get(&token, &path(out.contact_id)).await;
    assert_eq!(wrong_method.status(), 405);
    assert!(sandbox.sandbox.resubscribe_requests().is_empty());
    assert!(sandbox.sandbox.mailbox().is_empty());
}
