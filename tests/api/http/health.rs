//! `/healthz` and `/readyz`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, TestApp, cookie_pair, spawn_app, spawn_app_with};

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

    let response = app.readyz_as_admin().await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["connection"]["state"], "not_connected");
    assert_eq!(body["connection"]["refresh_failures"], 0);
    assert_eq!(
        body["queue"],
        json!({
            "pending": 1, "failed": 0, "delivered": 0, "dead": 0, "spam": 0,
            "awaiting_confirmation": 0, "suppressed": 0
        })
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

    let ready = app.readyz_as_admin().await;
    let anonymous = app.client.get(app.url("/readyz")).send().await.unwrap();
    let live = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["database"],
        "unavailable"
    );
    assert_eq!(anonymous.status(), 503);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap(),
        json!({ "status": "not_ready", "reason": "database" })
    );
    assert_eq!(live.status(), 200);

    locker.release().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("stops");
}

backends!(readyz_tells_an_anonymous_caller_only_whether_the_instance_is_ready: sqlite, postgres);
async fn readyz_tells_an_anonymous_caller_only_whether_the_instance_is_ready(backend: Backend) {
    let app = spawn_app_with(backend, "[metrics]\nbearer_token = \"scrape-me\"").await;
    app.post_json("newsletter", &json!({ "email": "a@example.com" }))
        .await;
    let readyz = || app.client.get(app.url("/readyz"));

    let anonymous = readyz().send().await.unwrap();
    let wrong_password = readyz()
        .basic_auth(ADMIN_USER, Some("wrong"))
        .send()
        .await
        .unwrap();
    let wrong_token = readyz().bearer_auth("guess").send().await.unwrap();
    let scraper = readyz().bearer_auth("scrape-me").send().await.unwrap();
    let admin = app.readyz_as_admin().await;
    let session = readyz()
        .header("cookie", login(&app).await)
        .send()
        .await
        .unwrap();

    for (who, response) in [
        ("anonymous", anonymous),
        ("wrong password", wrong_password),
        ("wrong bearer token", wrong_token),
    ] {
        assert_eq!(
            response.status(),
            200,
            "{who}: a load balancer never gets a 401"
        );
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{who}: the answer depends on the credentials"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "status": "ready" }), "{who}");
    }
    for (who, response) in [("scraper", scraper), ("admin", admin), ("session", session)] {
        assert_eq!(response.status(), 200, "{who}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["connection"]["state"], "not_connected",
            "{who}: {body}"
        );
        assert_eq!(body["queue"]["pending"], 1, "{who}: {body}");
    }
    app.stop().await;
}

/// Log in at the console; the session cookie to send back.
async fn login(app: &TestApp) -> String {
    let response = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "logged in");
    cookie_pair(&response)
}

backends!(an_unknown_path_is_a_plain_404: sqlite, postgres);
async fn an_unknown_path_is_a_plain_404(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.client.get(app.url("/wp-admin")).send().await.unwrap();

    assert_eq!(response.status(), 404);
    app.stop().await;
}
