//! `GET /v3/contacts`: paging by `_links.next.href`, the status and opt-out filters, the
//! `Contacts` shape, and its refusals.

use std::collections::HashSet;

use ccbridge_sandbox::{GENERAL_INTEREST_LIST_ID, Permission};
use chrono::{Duration, SecondsFormat};
use serde_json::Value;

use crate::helpers::{a_signup_for, array_error, spawn_sandbox, start_time, token_field};

fn emails(contacts: &[Value]) -> Vec<String> {
    contacts
        .iter()
        .map(|c| c["email_address"]["address"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn following_next_links_pages_through_every_contact_once() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    for n in 0..7 {
        sandbox
            .sandbox
            .add_contact(&format!("person{n}@example.org"), Permission::Explicit);
    }

    let first = sandbox
        .api_get(&token, "/v3/contacts?limit=3&include_count=true")
        .await;
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["contacts_count"], 7);
    let next = first["_links"]["next"]["href"].as_str().unwrap();
    assert!(
        next.starts_with("/v3/contacts?cursor="),
        "host-relative: {next}"
    );
    assert!(!next.contains("page"), "no page parameter: {next}");
    let (contacts, pages) = sandbox
        .all_contacts(&token, "/v3/contacts?limit=3&include_count=true")
        .await;

    assert_eq!(pages, 3);
    let unique: HashSet<String> = emails(&contacts).into_iter().collect();
    assert_eq!((contacts.len(), unique.len()), (7, 7));
    let contact = &contacts[0];
    for key in ["contact_id", "created_at", "updated_at", "create_source"] {
        assert!(contact.get(key).is_some(), "{key} in {contact}");
    }
    let email = &contact["email_address"];
    assert_eq!(email["permission_to_send"], "explicit");
    assert!(email["created_at"].is_string() && email.get("opt_out_date").is_none());
}

#[tokio::test]
async fn optout_after_finds_only_later_opt_outs() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    for email in ["early@example.org", "late@example.org", "stays@example.org"] {
        sandbox.sandbox.add_contact(email, Permission::Explicit);
    }
    sandbox.sandbox.unsubscribe("early@example.org");
    sandbox.clock.advance(Duration::hours(2));
    sandbox.sandbox.unsubscribe("late@example.org");
    let since = (start_time() + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Millis, true);

    let (found, _) = sandbox
        .all_contacts(
            &token,
            &format!("/v3/contacts?status=unsubscribed&optout_after={since}"),
        )
        .await;

    assert_eq!(emails(&found), ["late@example.org"]);
    let email = &found[0]["email_address"];
    assert_eq!(email["permission_to_send"], "unsubscribed");
    assert_eq!(email["opt_out_source"], "Contact");
    assert_eq!(email["opt_out_date"], "2026-03-02T14:00:00.000Z");
    let (all_opt_outs, _) = sandbox
        .all_contacts(&token, "/v3/contacts?status=unsubscribed")
        .await;
    assert_eq!(
        emails(&all_opt_outs),
        ["early@example.org", "late@example.org"],
        "by opt-out date"
    );
}

#[tokio::test]
async fn deleted_contacts_appear_only_when_asked_for() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox
        .sandbox
        .add_contact("active@example.org", Permission::Explicit);
    sandbox
        .sandbox
        .add_contact("gone@example.org", Permission::Unsubscribed);
    sandbox.sandbox.delete_contact("gone@example.org");
    sandbox
        .sandbox
        .add_contact("out@example.org", Permission::Unsubscribed);

    let query = |q: &'static str| {
        let sandbox = &sandbox;
        let token = &token;
        async move { emails(&sandbox.all_contacts(token, q).await.0) }
    };

    assert_eq!(
        query("/v3/contacts").await,
        ["active@example.org", "out@example.org"]
    );
    assert_eq!(
        query("/v3/contacts?status=unsubscribed").await,
        ["out@example.org"]
    );
    assert_eq!(
        query("/v3/contacts?status=active").await,
        ["active@example.org"]
    );
    assert_eq!(query("/v3/contacts?status=all").await.len(), 3);
    let (deleted, _) = sandbox
        .all_contacts(&token, "/v3/contacts?status=deleted")
        .await;
    assert_eq!(emails(&deleted), ["gone@example.org"]);
    assert_eq!(
        deleted[0]["email_address"]["permission_to_send"],
        "unsubscribed"
    );
    assert_eq!(
        deleted[0]["deleted_at"], "2026-03-02",
        "a date, as published"
    );
    assert_eq!(
        query("/v3/contacts?status=unsubscribed,deleted")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn email_finds_one_contact_and_include_adds_its_lists() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox
        .sign_up(&token, &a_signup_for("jane@example.org"))
        .await;
    sandbox
        .sandbox
        .add_contact("bob@example.org", Permission::Implicit);

    let response = sandbox
        .api_get(
            &token,
            "/v3/contacts?email=Jane%40example.org&status=all&include=list_memberships,custom_fields,taggings",
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let contacts = body["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0]["list_memberships"][0],
        GENERAL_INTEREST_LIST_ID.to_string()
    );
    assert_eq!(contacts[0]["custom_fields"], serde_json::json!([]));
    assert!(contacts[0].get("taggings").is_none(), "not kept, left out");
    assert!(body.get("_links").is_none() && body.get("contacts_count").is_none());
}

#[tokio::test]
async fn bad_queries_get_a_400_array_error() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    for query in [
        "status=explicit",
        "status=implicit",
        "include=everything",
        "limit=501",
        "limit=0",
        "optout_after=yesterday",
        "page=2",
        "cursor=not-a-cursor",
        "lists=not-a-uuid",
    ] {
        let response = sandbox
            .api_get(&token, &format!("/v3/contacts?{query}"))
            .await;
        assert_eq!(array_error(response).await.0, 400, "{query}");
    }
    let most = sandbox.api_get(&token, "/v3/contacts?limit=500").await;
    assert_eq!(most.status(), 200);
}

#[tokio::test]
async fn searching_contacts_needs_the_contact_data_scope() {
    let sandbox = spawn_sandbox().await;
    let token = token_field(&sandbox.connect("account_read").await, "access_token");

    let response = sandbox.api_get(&token, "/v3/contacts").await;

    assert_eq!(array_error(response).await.0, 403);
}
