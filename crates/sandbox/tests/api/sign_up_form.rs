//! `POST /v3/contacts/sign_up_form`: the create-or-update semantics and the published schema's
//! checks.

use ccbridge_sandbox::{
    EVENTS_LIST_ID, FAVORITE_TOPIC_FIELD_ID, GENERAL_INTEREST_LIST_ID, PRODUCT_NEWS_LIST_ID,
};
use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::{a_signup, array_error, spawn_sandbox};

#[tokio::test]
async fn sign_up_form_creates_then_updates_merging_lists_and_custom_fields() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;

    let created = sandbox
        .sign_up(
            &token,
            &json!({
                "email_address": "Jane@Example.org",
                "first_name": "Jane",
                "last_name": "Doe",
                "list_memberships": [GENERAL_INTEREST_LIST_ID],
                "custom_fields": [{"custom_field_id": FAVORITE_TOPIC_FIELD_ID, "value": "rust"}],
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["action"], "created");

    sandbox.clock.advance(TimeDelta::minutes(1));
    let updated = sandbox
        .sign_up(
            &token,
            &json!({
                "email_address": "jane@example.ORG",
                "first_name": "Janet",
                "list_memberships": [EVENTS_LIST_ID, GENERAL_INTEREST_LIST_ID],
                "custom_fields": [{"custom_field_id": FAVORITE_TOPIC_FIELD_ID, "value": "tokio"}],
            }),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["action"], "updated");
    assert_eq!(updated["contact_id"], created["contact_id"]);

    let contacts = sandbox.sandbox.contacts();
    assert_eq!(contacts.len(), 1);
    let jane = &contacts[0];
    assert_eq!(jane.first_name.as_deref(), Some("Janet"));
    assert_eq!(jane.last_name.as_deref(), Some("Doe"), "not given, kept");
    assert_eq!(
        jane.list_memberships,
        vec![GENERAL_INTEREST_LIST_ID, EVENTS_LIST_ID]
    );
    assert_eq!(jane.custom_fields.len(), 1);
    assert_eq!(jane.custom_fields[0].value, "tokio");
    assert_eq!(jane.updated_at - jane.created_at, TimeDelta::minutes(1));
    let stats = sandbox.sandbox.stats();
    assert_eq!((stats.contacts_created, stats.contacts_updated), (1, 1));
}

#[tokio::test]
async fn sign_up_form_refuses_each_invalid_body_with_a_validation_error_array() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let long = |n: usize| "x".repeat(n);
    let with = |key: &str, value: Value| {
        let mut body = a_signup();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = a_signup();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let lists = |n: usize| json!(vec![GENERAL_INTEREST_LIST_ID; n]);
    let field = |id: &str, value: &str| json!([{"custom_field_id": id, "value": value}]);
    let topic = FAVORITE_TOPIC_FIELD_ID.to_string();
    let cases = [
        ("email missing", without("email_address")),
        (
            "email over 50",
            with("email_address", json!(format!("{}@example.org", long(39)))),
        ),
        (
            "email invalid",
            with("email_address", json!("jane.example.org")),
        ),
        ("email not a string", with("email_address", json!(42))),
        ("first_name over 50", with("first_name", json!(long(51)))),
        ("last_name over 50", with("last_name", json!(long(51)))),
        ("job_title over 50", with("job_title", json!(long(51)))),
        (
            "company_name over 50",
            with("company_name", json!(long(51))),
        ),
        (
            "phone_number over 25",
            with("phone_number", json!(long(26))),
        ),
        ("lists missing", without("list_memberships")),
        ("lists empty", with("list_memberships", json!([]))),
        ("lists over 50", with("list_memberships", lists(51))),
        (
            "list unknown",
            with("list_memberships", json!([uuid::Uuid::nil()])),
        ),
        (
            "list not a uuid",
            with("list_memberships", json!(["general"])),
        ),
        (
            "custom fields over 50",
            with(
                "custom_fields",
                json!(vec![json!({"custom_field_id": topic, "value": "a"}); 51]),
            ),
        ),
        (
            "custom field unknown",
            with("custom_fields", field(&uuid::Uuid::nil().to_string(), "a")),
        ),
        (
            "custom field value over 255",
            with("custom_fields", field(&topic, &long(256))),
        ),
        (
            "custom field extra property",
            with(
                "custom_fields",
                json!([{"custom_field_id": topic, "value": "a", "name": "x"}]),
            ),
        ),
        (
            "unknown property",
            with("permission_to_send", json!("explicit")),
        ),
        ("birthday without day", with("birthday_month", json!(11))),
        ("bad anniversary", with("anniversary", json!("15 Nov 2006"))),
        (
            "street address without kind",
            with("street_address", json!({"city": "Waltham"})),
        ),
    ];
    for (case, body) in cases {
        let response = sandbox.sign_up(&token, &body).await;

        assert_eq!(
            array_error(response).await,
            (400, "contacts.api.validation.error".into()),
            "{case}"
        );
    }
    assert!(sandbox.sandbox.contacts().is_empty());
}

#[tokio::test]
async fn sign_up_form_accepts_the_schema_limits_exactly() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let fifty = "x".repeat(50);
    let body = json!({
        "email_address": format!("{}@example.org", "j".repeat(38)),
        "first_name": fifty, "last_name": fifty, "job_title": fifty, "company_name": fifty,
        "phone_number": "1".repeat(25),
        "list_memberships": vec![PRODUCT_NEWS_LIST_ID; 50],
        "custom_fields": [{"custom_field_id": FAVORITE_TOPIC_FIELD_ID, "value": "v".repeat(255)}],
        "birthday_month": 11, "birthday_day": 24, "anniversary": "2006-11-15",
        "street_address": {"kind": "home", "city": "Waltham"},
        "sms_channel": null,
    });

    let response = sandbox.sign_up(&token, &body).await;

    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn sign_up_form_refuses_malformed_json_with_400_and_other_media_types_with_415() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    let post = |content_type: &'static str, body: &'static str| {
        sandbox
            .http
            .post(sandbox.url("/v3/contacts/sign_up_form"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post("application/json", "{\"email_address\":")
        .await
        .unwrap();
    assert_eq!(array_error(malformed).await.0, 400);
    let form = post(
        "application/x-www-form-urlencoded",
        "email_address=a%40b.co",
    )
    .await
    .unwrap();
    assert_eq!(array_error(form).await.0, 415);
    let text = post("text/plain", "{}").await.unwrap();
    assert_eq!(array_error(text).await.0, 415);
}
