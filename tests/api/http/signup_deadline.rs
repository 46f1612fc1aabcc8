//! The intake answers by its own deadline, and its answer always agrees with the store: a signup
//! the writer has taken is answered by its commit's outcome (never a generic 408 while the commit
//! goes on to succeed), and one still waiting at its deadline is withdrawn and answered 503.

use std::time::Duration;

use serde_json::json;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, WriteLock, error_code};

/// The intake's deadline in this test (`server.request_timeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

async fn post(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("newsletter", &json!({ "email": email }))
        .await
}

backends!(a_commit_outliving_the_request_timeout_decides_the_answer: sqlite, postgres);
async fn a_commit_outliving_the_request_timeout_decides_the_answer(backend: Backend) {
    let app = std::sync::Arc::new(
        AppOptions::fresh(backend, "")
            .configure(|config| {
                config.server.request_timeout = REQUEST_TIMEOUT;
                // The writer's transaction waits this long for the lock: well past the deadline.
                config.database.busy_timeout = Duration::from_secs(10);
            })
            .spawn()
            .await,
    );
    let lock = WriteLock::take(backend, &app.db_path).await;

    // The writer takes `first` at once and its transaction waits for the lock.
    let mut first = tokio::spawn({
        let app = app.clone();
        async move { post(&app, "first@example.com").await.status().as_u16() }
    });
    let early = tokio::time::timeout(REQUEST_TIMEOUT * 2, &mut first).await;
    assert!(
        early.is_err(),
        "a signup in a transaction was answered ({:?}) before the transaction's outcome was known",
        early.map(|joined| joined.unwrap())
    );

    // `second` waits behind that transaction; at its deadline it is withdrawn: 503, not stored.
    let second = post(&app, "second@example.com").await;
    assert_eq!(second.headers()["retry-after"], "5");
    assert_eq!(error_code(second).await, (503, "unavailable".into(), None));

    lock.release().await;
    assert_eq!(
        first.await.unwrap(),
        202,
        "the transaction committed, so the signup is accepted"
    );
    // The writer works in order: once `third` is stored, nothing of `second` can still come.
    assert_eq!(post(&app, "third@example.com").await.status(), 202);
    let mut stored: Vec<String> = app
        .signups()
        .await
        .into_iter()
        .filter_map(|s| s.email)
        .collect();
    stored.sort();
    assert_eq!(stored, ["first@example.com", "third@example.com"]);
    let app = std::sync::Arc::into_inner(app).expect("the request tasks are done");
    app.stop().await;
}

backends!(a_body_still_arriving_at_the_deadline_is_answered_503_and_nothing_is_stored: sqlite, postgres);
async fn a_body_still_arriving_at_the_deadline_is_answered_503_and_nothing_is_stored(
    backend: Backend,
) {
    let app = AppOptions::fresh(backend, "")
        .configure(|config| config.server.request_timeout = REQUEST_TIMEOUT)
        .spawn()
        .await;
    // Half a body, then nothing more until the answer has come.
    let (more, rest) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    more.send(Ok(b"{\"email\": \"slow@exa".to_vec()))
        .await
        .unwrap();
    let stream = futures_util::stream::unfold(rest, |mut rest| async move {
        rest.recv().await.map(|chunk| (chunk, rest))
    });
    let body = reqwest::Body::wrap_stream(stream);

    let response = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(
        error_code(response).await,
        (503, "unavailable".into(), None)
    );
    drop(more);
    assert!(app.signups().await.is_empty());
    app.stop().await;
}
