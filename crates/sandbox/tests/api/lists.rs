//! `GET /v3/contact_lists` and `GET /v3/contact_custom_fields`: the seeded lists and field, paging.

use ccbridge_sandbox::{
    EVENTS_LIST_ID, FAVORITE_TOPIC_FIELD_ID, GENERAL_INTEREST_LIST_ID, PRODUCT_NEWS_LIST_ID,
};
use serde_json::Value;

use crate::helpers::{a_signup, array_error, spawn_sandbox, token_field};

#[tokio::test]
async fn contact_lists_pages_by_next_links_until_every_list_is_seen() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    sandbox.sign_up(&token, &a_signup()).await;

    let mut path =
        "/v3/contact_lists?limit=1&include_count=true&include_membership_count=all".to_owned();
    let mut seen = Vec::new();
    loop {
        let response = sandbox.api_get(&token, &path).await;
        assert_eq!(response.status(), 200, "{path}");
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["lists_count"], 3);
        let lists = page["lists"].as_array().unwrap();
        assert_eq!(lists.len(), 1);
        let list = &lists[0];
        for key in [
            "name",
            "created_at",
            "updated_at",
            "description",
            "favorite",
        ] {
            assert!(list.get(key).is_some(), "{key} in {list}");
        }
        seen.push((
            token_field(list, "list_id"),
            list["membership_count"].as_u64().unwrap(),
        ));
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => path = next.to_owned(),
            None => {
                assert!(page.get("_links").is_none());
                break;
            }
        }
    }

    let expected = [
        (GENERAL_INTEREST_LIST_ID, 1),
        (EVENTS_LIST_ID, 0),
        (PRODUCT_NEWS_LIST_ID, 0),
    ]
    .map(|(id, members)| (id.to_string(), members));
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn contact_lists_refuses_a_limit_out_of_range() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;
    for limit in ["0", "1001", "many"] {
        let response = sandbox
            .api_get(&token, &format!("/v3/contact_lists?limit={limit}"))
            .await;
        assert_eq!(array_error(response).await.0, 400, "{limit}");
    }
    let everything = sandbox
        .api_get(&token, "/v3/contact_lists?limit=1000")
        .await;
    let body: Value = everything.json().await.unwrap();
    assert_eq!(body["lists"].as_array().unwrap().len(), 3);
    assert!(body.get("_links").is_none() && body.get("lists_count").is_none());
}

#[tokio::test]
async fn contact_custom_fields_lists_the_seeded_field() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.access_token().await;

    let response = sandbox.api_get(&token, "/v3/contact_custom_fields").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let field = &body["custom_fields"][0];
    assert_eq!(
        field["custom_field_id"],
        FAVORITE_TOPIC_FIELD_ID.to_string()
    );
    assert_eq!(field["name"], "favorite_topic");
    assert_eq!(field["label"], "favorite topic");
    assert_eq!(field["type"], "string");
}
