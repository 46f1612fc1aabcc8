//! The console's pages and buttons: the overview, Disconnect, dead signups and their retry
//! buttons, the forms page and the landing page.

use std::time::Duration;

use serde_json::json;

use super::{SECRET_EMAIL, app_with_data, get_page, leaks, login, mark_dead};
use crate::database::Backend;
use crate::helpers::{AppOptions, eventually, fast_sandbox};

backends!(the_overview_shows_the_connection_queue_usage_and_account_check: sqlite, postgres);
async fn the_overview_shows_the_connection_queue_usage_and_account_check(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\nscopes = [\"contact_data\", \"offline_access\", \"account_read\"]",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    let response = app
        .post_json("newsletter", &json!({ "email": "someone@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    eventually(Duration::from_secs(20), "a delivery", || async {
        (app.store.queue_counts().await.ok()?.delivered == 1).then_some(())
    })
    .await;
    let session = login(&app).await;

    let page = eventually(Duration::from_secs(10), "the account check", || {
        let app = &app;
        let cookie = session.cookie.clone();
        async move {
            let page = get_page(app, "/admin", &cookie).await;
            page.contains("id=\"account-check\"").then_some(page)
        }
    })
    .await;

    for needle in [
        "<strong id=\"connection-state\" class=\"ok\">Connected</strong>",
        "Sandbox Organization",
        "contact_data offline_access account_read",
        "Access token expires",
        "All configured lists and custom fields exist",
        "<dt>Delivered, last hour</dt><dd>1</dd>",
        "API calls today",
        "of 10000",
        "id=\"disconnect\"",
        ">Reconnect<",
        // Everything delivered: nothing to do, nothing wrong.
        "<span class=\"ok\">idle</span>",
        // The forms lack allowed_origins: the status line says so, with the way to the list.
        "<strong>Needs attention</strong>",
        "set-up item(s) still to do. <a href=\"/admin#setup\">See the checklist</a>",
        // The test forms list no allowed_origins: the checklist says so, with the key.
        "id=\"setup\"",
        "form `newsletter` has no allowed_origins",
    ] {
        assert!(page.contains(needle), "{needle} missing from {page}");
    }
    assert!(
        !page.contains("id=\"host-warning\""),
        "opened at public_url"
    );
    // Opened under another name than public_url's, the console says where to open it.
    let elsewhere = app
        .client
        .get(app.url("/admin"))
        .header("host", format!("localhost:{}", app.addr.port()))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        elsewhere.contains("id=\"host-warning\"")
            && elsewhere.contains(&format!(
                "opened as <code>localhost:{}</code>",
                app.addr.port()
            )),
        "{elsewhere}"
    );
    let signups = get_page(&app, "/admin/signups", &session.cookie).await;
    assert!(signups.contains("someone@example.com"));
    assert!(signups.contains("delivered"));
    app.stop().await;
}

backends!(disconnect_forgets_the_tokens_and_signups_keep_queueing: sqlite, postgres);
async fn disconnect_forgets_the_tokens_and_signups_keep_queueing(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    let session = login(&app).await;
    crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the account check of the connection",
        || async { app.store.account_check().await.unwrap() },
    )
    .await;

    // The overview's Disconnect leads to a page that says what it does; that page's button
    // disconnects.
    let overview = get_page(&app, "/admin", &session.cookie).await;
    assert!(
        overview.contains("<a class=\"button\" id=\"disconnect\" href=\"/admin/disconnect\">"),
        "{overview}"
    );
    let confirm = get_page(&app, "/admin/disconnect", &session.cookie).await;
    assert!(
        confirm.contains("Signups are still accepted and kept"),
        "{confirm}"
    );
    assert!(confirm.contains("id=\"disconnect-confirm\""), "{confirm}");
    assert!(
        app.store.token_set().await.unwrap().is_some(),
        "a GET changes nothing"
    );
    let response = session
        .post(&app, "/admin/disconnect", Some(&session.csrf))
        .await;

    assert_eq!(response.status(), 303);
    assert!(app.store.token_set().await.unwrap().is_none());
    assert!(
        app.store.account_check().await.unwrap().is_none(),
        "the check was about the account that is gone"
    );
    assert_eq!(app.readyz().await["connection"]["state"], "not_connected");
    let page = get_page(&app, "/admin?disconnected", &session.cookie).await;
    assert!(page.contains("Not connected"), "{page}");
    assert!(page.contains("Disconnected"), "{page}");
    // Right after Disconnect, before the worker noticed anything: never "running".
    assert!(
        page.contains(
            "<dd id=\"delivery-state\"><span class=\"warn\">waiting for a connection</span>"
        ),
        "{page}"
    );
    assert!(page.contains("<strong>Action needed</strong>"), "{page}");
    let signup = app
        .post_json("newsletter", &json!({ "email": "waiting@example.com" }))
        .await;
    assert_eq!(signup.status(), 202);
    // The console shows the worker holding the signup for a connection; it is still pending.
    eventually(
        Duration::from_secs(10),
        "the console to show deliveries waiting for a connection",
        || async {
            let page = get_page(&app, "/admin", &session.cookie).await;
            let pending = app.store.queue_counts().await.ok()?.pending;
            (page.contains("waiting for a connection")
                && !page.contains(">running<")
                && pending == 1)
                .then_some(())
        },
    )
    .await;
    assert!(sandbox.contacts().is_empty());

    app.connect_ok().await;
    eventually(
        Duration::from_secs(20),
        "delivery after reconnecting",
        || async { (sandbox.contacts().len() == 1).then_some(()) },
    )
    .await;
    app.stop().await;
}

backends!(dead_signups_show_their_upstream_error_and_the_retry_buttons_requeue_them: sqlite, postgres);
async fn dead_signups_show_their_upstream_error_and_the_retry_buttons_requeue_them(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let (app, id) = app_with_data(backend, &sandbox).await;
    let response = app
        .post_json("newsletter", &json!({ "email": "second@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    mark_dead(&app, "upstream said no").await;
    let session = login(&app).await;

    let page = get_page(&app, "/admin/signups", &session.cookie).await;
    assert!(page.contains(SECRET_EMAIL));
    assert!(page.contains("upstream said no"));
    assert!(page.contains(&format!("action=\"/admin/signups/{id}/retry\"")));

    let one = session
        .post(
            &app,
            &format!("/admin/signups/{id}/retry"),
            Some(&session.csrf),
        )
        .await;
    assert_eq!(one.status(), 303);
    assert_eq!(one.headers()["location"], "/admin/signups?requeued=1");
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (1, 1));

    let all = session
        .post(&app, "/admin/signups/retry", Some(&session.csrf))
        .await;
    assert_eq!(all.headers()["location"], "/admin/signups?requeued=1");
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (2, 0));
    let page = get_page(&app, "/admin/signups?requeued=1", &session.cookie).await;
    assert!(page.contains("1 signup(s) requeued"));
    app.stop().await;
}

backends!(the_forms_page_gives_a_snippet_per_form_with_the_public_url_and_list_names: sqlite, postgres);
async fn the_forms_page_gives_a_snippet_per_form_with_the_public_url_and_list_names(
    backend: Backend,
) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .spawn()
    .await;
    let session = login(&app).await;
    let before = get_page(&app, "/admin/forms", &session.cookie).await;
    // Before the account is checked, lists are shown by id.
    assert!(before.contains("value=&quot;17936f78-662a-11eb-af0a-fa163e56c9b0&quot;&gt; 17936f78"));

    app.connect_ok().await;
    let page = eventually(Duration::from_secs(10), "list names", || {
        let app = &app;
        let cookie = session.cookie.clone();
        async move {
            let page = get_page(app, "/admin/forms", &cookie).await;
            page.contains("&gt; Events&lt;/label&gt;").then_some(page)
        }
    })
    .await;

    let action = format!("action=&quot;{}/signup/newsletter&quot;", app.url(""));
    for needle in [
        action.as_str(),
        "id=\"snippet-newsletter-plain\"",
        "id=\"snippet-newsletter-embed\"",
        "id=\"snippet-site-plain\"",
        "name=&quot;topic&quot;",
        "name=&quot;website&quot;",
        // The scripted snippet loads the embed script, pinned by its integrity value.
        "/embed/v1.js&quot; integrity=&quot;sha384-",
        "General Interest",
        // Where the form may be posted from, and what happens when nothing is listed.
        "<code>allowed_origins</code>)</dt><dd><strong class=\"bad\" id=\"no-origins\">none</strong>",
        "or the post is refused",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    app.stop().await;
}

backends!(the_landing_page_says_what_this_is_and_reveals_nothing_private: sqlite, postgres);
async fn the_landing_page_says_what_this_is_and_reveals_nothing_private(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let (app, _) = app_with_data(backend, &sandbox).await;

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Constant Contact"));
    assert!(page.contains("href=\"/admin\""));
    assert!(!leaks(&page));
    assert!(!page.contains("newsletter"), "no form ids");
    app.stop().await;
}
