//! Signups survive a graceful restart on the same database file.

use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{spawn_app, spawn_app_in};

backends!(signups_accepted_by_one_application_are_there_after_a_restart: sqlite, postgres);
async fn signups_accepted_by_one_application_are_there_after_a_restart(backend: Backend) {
    let first = spawn_app(backend).await;
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let response = first
            .post_json(
                "newsletter",
                &json!({ "email": format!("user{i}@example.com") }),
            )
            .await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        acknowledged.push(body["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    let (dir, db_path) = first.stop().await;

    let second = spawn_app_in(backend, dir, db_path, "").await;

    for (i, id) in acknowledged.iter().enumerate() {
        let stored = second
            .store
            .signup(*id)
            .await
            .unwrap()
            .expect("still stored");
        assert_eq!(stored.email.unwrap(), format!("user{i}@example.com"));
    }
    let response = second
        .post_json("newsletter", &json!({ "email": "after@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(second.signups().await.len(), 6);
    second.stop().await;
}
