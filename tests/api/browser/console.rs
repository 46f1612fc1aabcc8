//! The console walked in Chromium through its important states — healthy, failing deliveries,
//! needs reconnect, disconnected, a missing list — asserting what each shows, with a screenshot
//! of each page saved always to `target/browser-screenshots/console-<state>.png`; and the
//! signups page's filter, search, release and retry through its buttons.

use std::time::Duration;

use ccbridge::domain::SignupState;
use ccbridge_sandbox::Faults;
use fantoccini::{Client, Locator};
use serde_json::json;

use super::*;
use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually};

/// Set up completely (origins, an encryption key), so nothing but the state walked through
/// decides the status line; failed signups wait an hour, so "backing off" holds still.
fn console_app<'a>(sandbox: &'a Sandbox, extra: &str) -> AppOptions<'a> {
    AppOptions::against(
        Backend::Sqlite,
        sandbox,
        &format!(
            "[constant_contact]\nrequests_per_second = 1000\n\
             [security]\ntoken_encryption_key = \"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"\n{extra}"
        ),
    )
    .configure(|config| {
        for form in &mut config.forms {
            form.allowed_origins = vec!["https://www.example.org".parse().unwrap()];
        }
        config.delivery.retry_base = Duration::from_secs(3600);
        config.delivery.retry_max = Duration::from_secs(7200);
    })
}

/// Reload the page until it shows `needle`; returns the page.
async fn reload_until(browser: &Client, needle: &str) -> String {
    eventually(PATIENCE, needle, || async {
        browser.refresh().await.ok()?;
        let page = browser.source().await.ok()?;
        page.contains(needle).then_some(page)
    })
    .await
}

async fn set_state(app: &TestApp, email: &str, state: &str, error: Option<&str>) {
    let pool = crate::helpers::raw_pool(app.backend, &app.db_path).await;
    sqlx::query(
        "update signups set state = $1, last_error = $2, spam_reason = $3 where email = $4",
    )
    .bind(state)
    .bind(error)
    .bind((state == "spam").then_some("honeypot"))
    .bind(email)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

// SQLite only, like the other browser tests.
backends!(the_overview_tells_the_truth_when_healthy_failing_broken_and_disconnected: sqlite);
async fn the_overview_tells_the_truth_when_healthy_failing_broken_and_disconnected(
    backend: Backend,
) {
    assert_eq!(backend, Backend::Sqlite);
    let sandbox = fast_sandbox(false).await;
    let app = console_app(&sandbox, "").spawn().await;
    app.connect_ok().await;
    let accepted = app
        .post_json("newsletter", &json!({ "email": "first@example.com" }))
        .await;
    assert_eq!(accepted.status(), 202);
    eventually(PATIENCE, "a delivery and the account check", || async {
        let delivered = app.store.queue_counts().await.ok()?.delivered == 1;
        let checked = app.store.account_check().await.ok()?.is_some();
        (delivered && checked).then_some(())
    })
    .await;

    with_browser("console_states", |browser| async move {
        // Tall enough that each screenshot holds the whole overview.
        browser.set_window_size(1100, 1800).await.unwrap();
        log_in(&browser, &app).await;

        // Healthy: connected, delivered, nothing waiting.
        let page = reload_until(&browser, "<strong>All good</strong>").await;
        assert!(page.contains("id=\"connection-state\" class=\"ok\">Connected<"), "{page}");
        assert!(page.contains("<span class=\"ok\">idle</span>"), "{page}");
        assert!(page.contains("first refresh is planned at"), "{page}");
        assert!(!page.contains("id=\"failing\""), "{page}");
        save_screenshot(&browser, "console-healthy").await;

        // Failing deliveries: upstream 503s.
        sandbox.set_faults(Faults {
            fail_next: 1000,
            ..Faults::default()
        });
        for email in ["second@example.com", "third@example.com"] {
            let accepted = app.post_json("newsletter", &json!({ "email": email })).await;
            assert_eq!(accepted.status(), 202);
        }
        eventually(PATIENCE, "two failed signups", || async {
            (app.store.queue_counts().await.ok()?.failed == 2).then_some(())
        })
        .await;
        let page = reload_until(&browser, "<strong>Needs attention</strong>").await;
        for needle in [
            "2 signup(s) failing to deliver; they are retried on their own.",
            "href=\"/admin/signups?state=failed\"",
            "<div class=\"failing\" id=\"failing\"",
            "server error (5xx)",
            "503",
            "id=\"next-attempt\">Next attempt: <time",
            "backing off until",
        ] {
            assert!(page.contains(needle), "{needle} missing from {page}");
        }
        assert!(!page.contains(">running<"), "{page}");
        // The amber box is amber: the computed colour, not just a class.
        let colour = browser
            .find(Locator::Id("failing"))
            .await
            .unwrap()
            .css_value("background-color")
            .await
            .unwrap();
        assert_eq!(colour, "rgba(255, 245, 224, 1)");
        // Dates do not wrap.
        let wrap = browser
            .find(Locator::Css("#next-attempt time"))
            .await
            .unwrap()
            .css_value("white-space")
            .await
            .unwrap();
        assert_eq!(wrap, "nowrap");
        save_screenshot(&browser, "console-failing").await;

        // Needs reconnect: the grant is revoked upstream.
        sandbox.set_faults(Faults::default());
        crate::alerts::break_connection(&app, &sandbox).await;
        let page = reload_until(&browser, "<strong>Action needed</strong>").await;
        for needle in [
            "Needs a reconnect",
            "needs a reconnect: nothing is delivered until then",
            "waiting for a connection",
            ">Reconnect<",
        ] {
            assert!(page.contains(needle), "{needle} missing from {page}");
        }
        assert!(!page.contains(">running<"), "{page}");
        save_screenshot(&browser, "console-needs-reconnect").await;

        // Disconnected, through the confirmation page.
        click(&browser, "disconnect").await;
        wait_for_text(&browser, "Disconnect from Constant Contact?").await;
        assert!(app.store.token_set().await.unwrap().is_some(), "not yet");
        save_screenshot(&browser, "console-disconnect-confirm").await;
        click(&browser, "disconnect-confirm").await;
        let page = wait_for_text(&browser, "Disconnected: the tokens are forgotten").await;
        assert!(app.store.token_set().await.unwrap().is_none());
        for needle in [
            "<strong>Action needed</strong>",
            "Not connected to Constant Contact: signups are kept but not delivered.",
            "<span class=\"warn\">waiting for a connection</span> (not connected to Constant Contact)",
        ] {
            assert!(page.contains(needle), "{needle} missing from {page}");
        }
        assert!(!page.contains(">running<"), "{page}");
        save_screenshot(&browser, "console-disconnected").await;
        app.stop().await;
    })
    .await;
}

// SQLite only, like the other browser tests.
backends!(a_missing_list_is_action_needed_and_red_on_the_forms_page_and_signups_are_handled_from_the_console: sqlite);
async fn a_missing_list_is_action_needed_and_red_on_the_forms_page_and_signups_are_handled_from_the_console(
    backend: Backend,
) {
    assert_eq!(backend, Backend::Sqlite);
    const MISSING: &str = "00000000-0000-4000-8000-00000000dead";
    let sandbox = fast_sandbox(false).await;
    let app = console_app(
        &sandbox,
        &format!("[[forms]]\nid = \"broken\"\nlist_ids = [\"{MISSING}\"]\n"),
    )
    .spawn()
    .await;
    app.connect_ok().await;
    for email in [
        "keep.me@example.com",
        "Maybe.Spam@Example.com",
        "gone@example.com",
    ] {
        let accepted = app
            .post_json("newsletter", &json!({ "email": email }))
            .await;
        assert_eq!(accepted.status(), 202);
    }
    eventually(PATIENCE, "deliveries and the account check", || async {
        let delivered = app.store.queue_counts().await.ok()?.delivered == 3;
        let check = app.store.account_check().await.ok()??;
        (delivered && !check.missing_lists.is_empty()).then_some(())
    })
    .await;
    let stored = app.signups().await;
    let email_of = |needle: &str| {
        stored
            .iter()
            .find(|s| {
                s.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(needle))
            })
            .unwrap()
            .clone()
    };
    let spam = email_of("spam@");
    let dead = email_of("gone@");
    set_state(&app, spam.email.as_deref().unwrap(), "spam", None).await;
    set_state(
        &app,
        "gone@example.com",
        "dead",
        Some("Constant Contact answered 404 Not Found: list not found"),
    )
    .await;

    with_browser("console_missing_list", |browser| async move {
        browser.set_window_size(1100, 1800).await.unwrap();
        log_in(&browser, &app).await;
        let page = reload_until(&browser, "<strong>Action needed</strong>").await;
        assert!(page.contains("1 list(s) and 0 custom field(s)"), "{page}");
        assert!(page.contains("href=\"/admin/forms\">Fix the forms</a>"), "{page}");
        assert!(page.contains("href=\"/admin/signups?state=dead\""), "{page}");
        save_screenshot(&browser, "console-missing-list").await;

        browser
            .find(Locator::LinkText("Fix the forms"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let forms = wait_for_text(&browser, "missing from the account").await;
        assert!(
            forms.contains(&format!("<span class=\"bad missing-list\"><strong>missing from the account</strong>: <code>{MISSING}</code>")),
            "{forms}"
        );
        assert!(forms.contains("<a href=\"/admin/forms\" aria-current=\"page\">Forms</a>"), "{forms}");
        assert!(forms.contains("data-copy=\"snippet-broken-plain\""), "{forms}");
        save_screenshot(&browser, "console-forms").await;

        // The signups page: filter by state, then search by address in another case.
        browser.goto(&app.url("/admin/signups")).await.unwrap();
        browser
            .find(Locator::Css("#filter-state option[value='spam']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click(&browser, "filter-apply").await;
        let page = wait_for_text(&browser, "<option value=\"spam\" selected=\"\">").await;
        assert!(page.contains("maybe.spam@") || page.contains("Maybe.Spam@"), "{page}");
        assert!(!page.contains("keep.me@") && !page.contains("gone@"), "{page}");

        browser.goto(&app.url("/admin/signups")).await.unwrap();
        fill(&browser, "filter-q", "GONE@EXAMPLE").await;
        click(&browser, "filter-apply").await;
        let page = wait_for_text(&browser, "value=\"GONE@EXAMPLE\"").await;
        assert!(page.contains("gone@example.com"), "{page}");
        assert!(page.contains("does not know a list or custom field"), "{page}");
        assert!(!page.contains("keep.me@"), "{page}");
        save_screenshot(&browser, "console-signups").await;

        // Retry the dead one, release the spam one, through their buttons.
        click(&browser, &format!("retry-{}", dead.id)).await;
        wait_for_text(&browser, "1 signup(s) requeued for delivery.").await;
        browser
            .goto(&app.url("/admin/signups?state=spam"))
            .await
            .unwrap();
        click(&browser, &format!("release-{}", spam.id)).await;
        let page = wait_for_text(&browser, "1 signup(s) released from spam.").await;
        assert!(page.contains("id=\"audit-log\""), "{page}");
        assert!(page.contains("<td>release</td>") && page.contains("<td>retry</td>"), "{page}");
        eventually(PATIENCE, "both delivered again", || async {
            let all = app.signups().await;
            let state = |id| all.iter().find(|s| s.id == id).map(|s| s.state);
            (state(spam.id) == Some(SignupState::Delivered)
                && state(dead.id) == Some(SignupState::Delivered))
            .then_some(())
        })
        .await;
        app.stop().await;
    })
    .await;
}
