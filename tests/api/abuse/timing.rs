//! Minimum time-to-submit.

use std::sync::Arc;

use ccbridge::clock::ManualClock;
use ccbridge::domain::SignupState;
use chrono::Utc;
use serde_json::Value;

use crate::database::Backend;
use crate::helpers::{AppOptions, FIXED_LIST, TestApp};

backends!(a_submission_faster_than_min_submit_time_is_answered_as_success_and_kept_as_spam: sqlite, postgres);
async fn a_submission_faster_than_min_submit_time_is_answered_as_success_and_kept_as_spam(
    backend: Backend,
) {
    let clock = ManualClock::new(Utc::now());
    let extra = format!(
        "[[forms]]\nid = \"timed\"\nlist_ids = [\"{FIXED_LIST}\"]\nmin_submit_time = \"3s\"\n"
    );
    let app = AppOptions::fresh(backend, &extra)
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let token = |app: &TestApp| {
        let url = app.url("/signup/timed/token");
        let client = app.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.headers()["cache-control"], "no-store");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["field"], "_ts");
            assert_eq!(body["min_submit_time_ms"], 3000);
            body["value"].as_str().unwrap().to_owned()
        }
    };
    let post = |email: &str, ts: Option<&str>| {
        let mut fields = vec![("email", email.to_owned())];
        if let Some(ts) = ts {
            fields.push(("_ts", ts.to_owned()));
        }
        app.client
            .post(app.url("/signup/timed"))
            .header("accept", "text/html")
            .form(&fields)
            .send()
    };

    let shown = token(&app).await;
    let fast = post("fast@example.com", Some(&shown)).await.unwrap();
    clock.advance(chrono::Duration::seconds(4));
    let human = post("human@example.com", Some(&shown)).await.unwrap();
    let missing = post("missing@example.com", None).await.unwrap();
    let forged = post("forged@example.com", Some("1.AAAA")).await.unwrap();

    for response in [&fast, &human, &missing, &forged] {
        assert_eq!(response.status(), 303, "every one looks like a success");
        assert_eq!(response.headers()["location"], "/signup/timed/thank-you");
    }
    let by_email = |email: &str, signups: &[ccbridge::store::SignupRecord]| {
        let s = signups
            .iter()
            .find(|s| s.email.as_deref() == Some(email))
            .unwrap();
        (s.state, s.spam_reason.clone())
    };
    let stored = app.signups().await;
    assert_eq!(
        by_email("fast@example.com", &stored),
        (SignupState::Spam, Some("too_fast".into()))
    );
    assert_eq!(
        by_email("human@example.com", &stored),
        (SignupState::Pending, None)
    );
    assert_eq!(
        by_email("missing@example.com", &stored),
        (SignupState::Spam, Some("missing_timestamp".into()))
    );
    assert_eq!(
        by_email("forged@example.com", &stored),
        (SignupState::Spam, Some("invalid_timestamp".into()))
    );
    app.stop().await;
}

backends!(a_timestamp_older_than_max_submit_age_is_refused_as_expired_not_kept_as_spam: sqlite, postgres);
async fn a_timestamp_older_than_max_submit_age_is_refused_as_expired_not_kept_as_spam(
    backend: Backend,
) {
    let clock = ManualClock::new(Utc::now());
    let extra = format!(
        "[[forms]]\nid = \"timed\"\nlist_ids = [\"{FIXED_LIST}\"]\nmin_submit_time = \"3s\"\n\
         error_url = \"https://example.org/oops\"\n"
    );
    let app = AppOptions::fresh(backend, &extra)
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let token: Value = app.get_json("/signup/timed/token").await;
    assert_eq!(token["max_age_ms"], 2 * 3600 * 1000, "the default max age");
    let shown = token["value"].as_str().unwrap().to_owned();
    let post_json = |email: &str| {
        app.client
            .post(app.url("/signup/timed"))
            .json(&serde_json::json!({ "email": email, "_ts": shown }))
            .send()
    };

    // The tab was left open for a day: the old value is replayed.
    clock.advance(chrono::Duration::hours(24));
    let script = post_json("late@example.com").await.unwrap();
    assert_eq!(
        crate::helpers::error_code(script).await,
        (422, "expired_timestamp".into(), Some("_ts".into()))
    );
    let browser = app
        .client
        .post(app.url("/signup/timed"))
        .header("accept", "text/html")
        .form(&[("email", "late2@example.com"), ("_ts", shown.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        browser.headers()["location"],
        "https://example.org/oops?error=expired_timestamp&field=_ts"
    );
    assert!(
        app.signups().await.is_empty(),
        "an expired value is refused, neither delivered nor kept as spam"
    );

    // A fresh value, used after the minimum time, passes.
    let fresh: Value = app.get_json("/signup/timed/token").await;
    clock.advance(chrono::Duration::seconds(4));
    let again = app
        .client
        .post(app.url("/signup/timed"))
        .json(&serde_json::json!({ "email": "late@example.com", "_ts": fresh["value"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    let stored = app.signups().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, SignupState::Pending);
    app.stop().await;
}
