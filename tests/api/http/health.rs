//! `/healthz` and `/readyz`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::spawn_app;

backends!(healthz_answers_200: sqlite, postgres);
async fn healthz_answers_200(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
    app.stop().await;
}

backends!(readyz_reports_the_status_shape_and_queue_depth: sqlite, postgres);
async fn readyz_reports_the_status_shape_and_queue_depth(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post_json("newsletter", &json!({ "email": "a@example.com" }))
        .await;

    let response = app.client.get(app.url("/readyz")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["connection"]["state"], "not_connected");
    assert_eq!(body["connection"]["refresh_failures"], 0);
    assert_eq!(
        body["queue"],
        json!({ "pending": 1, "failed": 0, "delivered": 0, "dead": 0, "spam": 0 })
    );
    assert_eq!(body["api_usage"]["limit"], 10_000);
    assert_eq!(body["api_usage"]["used"], 0);
    assert!(body["api_usage"]["day"].as_str().unwrap().len() == 10);
    app.stop().await;
}

backends!(readyz_is_503_while_the_database_refuses_writes_and_healthz_stays_200: sqlite, postgres);
async fn readyz_is_503_while_the_database_refuses_writes_and_healthz_stays_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let locker = crate::helpers::WriteLock::take(backend, &app.db_path).await;

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    let live = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["database"],
        "unavailable"
    );
    assert_eq!(live.status(), 200);

    locker.release().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("stops");
}

backends!(an_unknown_path_is_a_plain_404: sqlite, postgres);
async fn an_unknown_path_is_a_plain_404(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.client.get(app.url("/wp-admin")).send().await.unwrap();

    assert_eq!(response.status(), 404);
    app.stop().await;
}
