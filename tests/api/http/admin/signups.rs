//! The signups page: filters by state and form, the address search, errors in words, and the
//! retry and release buttons (one signup or the filter's selection) with their audit lines.

use serde_json::json;

use super::{SECRET_EMAIL, app_with_data, get_page, login, mark_dead};
use crate::database::Backend;
use crate::helpers::{TestApp, fast_sandbox};

/// Set the state (and a reason or error) of the signup of `email`.
async fn set_state(app: &TestApp, email: &str, state: &str, error: Option<&str>) {
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    let reason = (state == "spam").then_some("honeypot");
    sqlx::query(
        "update signups set state = $1, last_error = $2, spam_reason = $3 where email = $4",
    )
    .bind(state)
    .bind(error)
    .bind(reason)
    .bind(email)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

async fn signup(app: &TestApp, form: &str, email: &str) {
    let response = app.post_json(form, &json!({ "email": email })).await;
    assert_eq!(response.status(), 202, "{email}");
}

async fn audit_rows(app: &TestApp) -> Vec<(String, String, i64)> {
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    let rows = sqlx::query_as("select action, target, count from console_audit order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

backends!(the_signups_page_filters_by_state_and_form_and_finds_an_address_in_any_case: sqlite, postgres);
async fn the_signups_page_filters_by_state_and_form_and_finds_an_address_in_any_case(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, _) = app_with_data(backend, &sandbox).await; // SECRET_EMAIL, dead, on newsletter
    signup(&app, "site", "alice@shop.example.net").await;
    signup(&app, "newsletter", "bob@other.example.net").await;
    set_state(&app, "bob@other.example.net", "spam", None).await;
    let session = login(&app).await;
    let page = |query: &'static str| {
        let app = &app;
        let cookie = session.cookie.clone();
        async move { get_page(app, &format!("/admin/signups{query}"), &cookie).await }
    };

    let dead = page("?state=dead").await;
    assert!(dead.contains(SECRET_EMAIL), "{dead}");
    assert!(!dead.contains("alice@") && !dead.contains("bob@"), "{dead}");
    // Every state can be chosen; the chosen one is selected.
    for state in [
        "pending",
        "delivered",
        "failed",
        "dead",
        "spam",
        "awaiting_confirmation",
        "suppressed",
    ] {
        assert!(
            dead.contains(&format!("<option value=\"{state}\"")),
            "{state}"
        );
    }
    assert!(dead.contains("<option value=\"dead\" selected>"), "{dead}");

    let site = page("?form=site").await;
    assert!(site.contains("alice@shop.example.net"), "{site}");
    assert!(
        !site.contains(SECRET_EMAIL) && !site.contains("bob@"),
        "{site}"
    );

    // A part of the address, in any case; `%` and `_` are letters, not wildcards.
    let found = page("?q=SHOP.Example").await;
    assert!(found.contains("alice@shop.example.net"), "{found}");
    assert!(!found.contains("bob@"), "{found}");
    assert!(page("?q=%25").await.contains("No signup matches."));
    let both = page("?state=spam&form=newsletter&q=bob").await;
    assert!(
        both.contains("bob@other.example.net") && both.contains("spam</span> (honeypot)"),
        "{both}"
    );

    let unknown = app
        .client
        .get(app.url("/admin/signups?state=lost"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let text = unknown.text().await.unwrap();
    assert!(text.contains("There is no signup state “lost”"), "{text}");
    app.stop().await;
}

backends!(a_failed_or_dead_signups_error_is_shown_in_words_with_the_raw_error_beside: sqlite, postgres);
async fn a_failed_or_dead_signups_error_is_shown_in_words_with_the_raw_error_beside(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, _) = app_with_data(backend, &sandbox).await;
    mark_dead(
        &app,
        "Constant Contact answered 400 Bad Request: <b>email_address</b> invalid",
    )
    .await;
    let session = login(&app).await;

    let page = get_page(&app, "/admin/signups?state=dead", &session.cookie).await;

    assert!(
        page.contains("refused the signup as invalid (400)"),
        "{page}"
    );
    assert!(
        page.contains("<details><summary>raw error</summary><code>Constant Contact answered 400 Bad Request: &lt;b&gt;email_address&lt;/b&gt; invalid</code></details>"),
        "{page}"
    );
    app.stop().await;
}

backends!(retry_and_release_act_on_one_signup_or_the_filtered_selection_and_leave_audit_lines: sqlite, postgres);
async fn retry_and_release_act_on_one_signup_or_the_filtered_selection_and_leave_audit_lines(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, dead_id) = app_with_data(backend, &sandbox).await;
    signup(&app, "site", "site.one@example.net").await;
    signup(&app, "site", "site.two@example.net").await;
    signup(&app, "newsletter", "spam.one@example.net").await;
    signup(&app, "newsletter", "spam.two@example.net").await;
    for email in ["site.one@example.net", "site.two@example.net"] {
        set_state(&app, email, "dead", Some("Constant Contact answered 503 x")).await;
    }
    for email in ["spam.one@example.net", "spam.two@example.net"] {
        set_state(&app, email, "spam", None).await;
    }
    let session = login(&app).await;
    let state_of = |email: &'static str| {
        let app = &app;
        async move {
            let all = app.store.all_signups().await.unwrap();
            all.into_iter()
                .find(|s| s.email.as_deref() == Some(email))
                .unwrap()
                .state
                .as_str()
        }
    };

    // One dead signup.
    let one = session
        .post(
            &app,
            &format!("/admin/signups/{dead_id}/retry"),
            Some(&session.csrf),
        )
        .await;
    assert_eq!(one.status(), 303);
    assert_eq!(one.headers()["location"], "/admin/signups?requeued=1");
    assert_eq!(state_of(SECRET_EMAIL).await, "pending");

    // The dead signups of the `site` form, through the filter the page was showing.
    let selection = app
        .client
        .post(app.url("/admin/signups/retry"))
        .header("cookie", &session.cookie)
        .form(&[
            ("csrf", session.csrf.as_str()),
            ("state", "dead"),
            ("form", "site"),
            ("q", ""),
        ])
        .send()
        .await
        .unwrap();
    // Back to the list under the same filter.
    assert_eq!(
        selection.headers()["location"],
        "/admin/signups?requeued=2&state=dead&form=site"
    );
    assert_eq!(state_of("site.one@example.net").await, "pending");

    // One spam signup, then the rest of the spam matching `spam.`.
    let page = get_page(&app, "/admin/signups?state=spam", &session.cookie).await;
    assert!(page.contains("id=\"release-all\""), "{page}");
    let spam_one = app
        .store
        .all_signups()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.email.as_deref() == Some("spam.one@example.net"))
        .unwrap()
        .id;
    assert!(page.contains(&format!("action=\"/admin/signups/{spam_one}/release\"")));
    let released = session
        .post(
            &app,
            &format!("/admin/signups/{spam_one}/release"),
            Some(&session.csrf),
        )
        .await;
    assert_eq!(released.headers()["location"], "/admin/signups?released=1");
    assert_eq!(state_of("spam.one@example.net").await, "pending");
    let rest = app
        .client
        .post(app.url("/admin/signups/release"))
        .header("cookie", &session.cookie)
        .form(&[
            ("csrf", session.csrf.as_str()),
            ("state", "spam"),
            ("q", "SPAM."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.headers()["location"],
        "/admin/signups?released=1&state=spam&q=SPAM."
    );
    assert_eq!(state_of("spam.two@example.net").await, "pending");

    // A filter the page never offers changes nothing.
    let bad = app
        .client
        .post(app.url("/admin/signups/retry"))
        .header("cookie", &session.cookie)
        .form(&[("csrf", session.csrf.as_str()), ("form", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    assert_eq!(
        audit_rows(&app).await,
        vec![
            ("retry".to_owned(), dead_id.clone(), 1),
            ("retry".to_owned(), "state=dead form=site".to_owned(), 2),
            ("release".to_owned(), spam_one.to_string(), 1),
            (
                "release".to_owned(),
                "state=spam address~\"SPAM.\"".to_owned(),
                1
            ),
        ]
    );
    let page = get_page(&app, "/admin/signups?released=1", &session.cookie).await;
    assert!(page.contains("1 signup(s) released from spam."), "{page}");
    let audit = &page[page.find("id=\"audit-log\"").expect("the audit lines")..];
    assert!(audit.contains("<td>release</td><td><code>state=spam address~&quot;SPAM.&quot;</code></td><td class=\"num\">1</td>"), "{audit}");
    app.stop().await;
}
