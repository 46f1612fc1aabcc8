//! The visitor's and the admin's main journeys, walked in Chromium.

use std::sync::Arc;

use ccbridge::clock::SystemClock;
use ccbridge::domain::SignupState;
use ccbridge_sandbox::{
    EVENTS_LIST_ID, FAVORITE_TOPIC_FIELD_ID, Faults, GENERAL_INTEREST_LIST_ID,
    PRODUCT_NEWS_LIST_ID, SandboxConfig,
};
use fantoccini::Locator;
use serde_json::json;

use super::*;
use crate::database::Backend;
use crate::helpers::{AppOptions, eventually};

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(a_visitor_signs_up_on_the_demo_page_and_the_contact_arrives_in_the_sandbox: sqlite);
async fn a_visitor_signs_up_on_the_demo_page_and_the_contact_arrives_in_the_sandbox(
    backend: Backend,
) {
    let sandbox = fast_sandbox(false).await;
    let demo_form = format!(
        "[constant_contact]\nrequests_per_second = 1000\n\
         [[forms]]\nid = \"demo\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\n\
         optional_list_ids = [\"{EVENTS_LIST_ID}\", \"{PRODUCT_NEWS_LIST_ID}\"]\n\
         custom_fields = {{ favorite_topic = \"{FAVORITE_TOPIC_FIELD_ID}\" }}\n"
    );
    let app = AppOptions::against(backend, &sandbox, &demo_form)
        .with_demo_page()
        .spawn()
        .await;
    app.connect_ok().await;

    with_browser("demo_page_signup", |browser| async move {
        browser.goto(&app.url("/demo")).await.unwrap();
        fill(&browser, "email", "browser.visitor@example.com").await;
        fill(&browser, "first_name", "Bea").await;
        fill(&browser, "favorite_topic", "gardening").await;
        browser
            .find(Locator::Css(&format!(
                "input[name=list][value='{EVENTS_LIST_ID}']"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click(&browser, "submit").await;

        // The demo page loads the embed script: the success shows in place.
        wait_for_text(&browser, "Thank you for signing up!").await;
        assert_eq!(browser.current_url().await.unwrap().path(), "/demo");
        let contact = eventually(PATIENCE, "the contact in the sandbox", || async {
            sandbox
                .contacts()
                .into_iter()
                .find(|c| c.email_address == "browser.visitor@example.com")
        })
        .await;
        assert_eq!(contact.first_name.as_deref(), Some("Bea"));
        assert!(contact.list_memberships.contains(&EVENTS_LIST_ID));
        assert!(contact.list_memberships.contains(&GENERAL_INTEREST_LIST_ID));
        assert_eq!(contact.custom_fields[0].value, "gardening");
        app.stop().await;
    })
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_admin_logs_in_presses_connect_approves_and_sees_connected: sqlite);
async fn the_admin_logs_in_presses_connect_approves_and_sees_connected(backend: Backend) {
    let sandbox = fast_sandbox(true).await;
    // Set up completely (origins, an encryption key), so the console shows no checklist: this
    // test also takes the documentation's picture of the console.
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\nscopes = [\"contact_data\", \"offline_access\", \"account_read\"]\n\
         [security]\ntoken_encryption_key = \"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"",
    )
    .configure(|config| {
        for form in &mut config.forms {
            form.allowed_origins = vec!["https://www.example.org".parse().unwrap()];
        }
    })
    .spawn()
    .await;

    with_browser("console_connect", |browser| async move {
        log_in(&browser, &app).await;
        let overview = wait_for_text(&browser, "Not connected").await;
        assert!(!overview.contains("id=\"disconnect\""));
        // Everything else is set up: the checklist asks only for the connection.
        assert!(
            overview.contains("id=\"setup\"") && overview.contains("press Connect below"),
            "{overview}"
        );

        click(&browser, "connect").await;
        // The sandbox's consent page, as Constant Contact's would be.
        click(&browser, "approve").await;
        wait_for_text(&browser, "<h1>Connected</h1>").await;
        assert_eq!(
            browser.current_url().await.unwrap().path(),
            "/oauth/callback"
        );

        browser
            .find(Locator::LinkText("Go to the admin console"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let state = browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Id("connection-state"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(state, "Connected");
        let connected = wait_for_text(&browser, "Sandbox Organization").await;
        assert!(
            !connected.contains("id=\"setup\""),
            "nothing left to set up"
        );
        docs_screenshot(&browser, "console").await;
        assert_eq!(sandbox.stats().codes_exchanged, 1);

        // GET /connect (a bookmark) only explains; its button reconnects.
        browser.goto(&app.url("/connect")).await.unwrap();
        wait_for_text(
            &browser,
            "connected to <strong>Sandbox Organization</strong> now",
        )
        .await;
        assert_eq!(
            sandbox.stats().codes_exchanged,
            1,
            "opening the page changes nothing"
        );
        click(&browser, "connect").await;
        click(&browser, "approve").await;
        wait_for_text(&browser, "<h1>Connected</h1>").await;
        assert_eq!(sandbox.stats().codes_exchanged, 2);
        assert_eq!(app.readyz().await["connection"]["state"], "connected");
        app.stop().await;
    })
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(a_dead_signup_retried_from_the_console_is_delivered: sqlite);
async fn a_dead_signup_retried_from_the_console_is_delivered(backend: Backend) {
    let sandbox = fast_sandbox(false).await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\n\
         [delivery]\nmax_age = \"1s\"\nretry_base = \"50ms\"\nretry_max = \"200ms\"",
    )
    .spawn()
    .await;
    app.connect_ok().await;
    // The faults are for sign_up_form: the first list of unsubscribed addresses comes first.
    app.unsubscribes
        .sync_now()
        .await
        .expect("the first sync of unsubscribed addresses");
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let response = app
        .post_json("newsletter", &json!({ "email": "lazarus@example.com" }))
        .await;
    assert_eq!(response.status(), 202);
    let id = eventually(PATIENCE, "the signup to be dead", || async {
        let signup = app.signups().await.into_iter().next()?;
        (signup.state == SignupState::Dead).then_some(signup.id)
    })
    .await;
    sandbox.set_faults(Faults::default());

    with_browser("console_retry_dead", |browser| async move {
        log_in(&browser, &app).await;
        browser.goto(&app.url("/admin/signups")).await.unwrap();
        let page = wait_for_text(&browser, "lazarus@example.com").await;
        assert!(page.contains("gave up after 1s"), "{page}");

        click(&browser, &format!("retry-{id}")).await;

        wait_for_text(&browser, "1 signup(s) requeued").await;
        eventually(PATIENCE, "the contact in the sandbox", || async {
            sandbox
                .contacts()
                .into_iter()
                .find(|c| c.email_address == "lazarus@example.com")
        })
        .await;
        browser.refresh().await.unwrap();
        let page = wait_for_text(&browser, "<span class=\"ok\">delivered</span>").await;
        assert!(
            !page.contains("<span class=\"bad\">dead</span>"),
            "no dead signups left"
        );
        app.stop().await;
    })
    .await;
}

// SQLite only, like the other browser tests. The admin makes a connect link in the console; the
// account owner, in a browser with none of the admin's cookies, opens it, presses its button,
// approves at Constant Contact and lands on "Connected"; the console then lists the link as used.
backends!(the_owner_connects_through_a_link_the_admin_made_in_the_console: sqlite);
async fn the_owner_connects_through_a_link_the_admin_made_in_the_console(backend: Backend) {
    let sandbox = fast_sandbox(true).await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .spawn()
    .await;

    with_browser("connect_link", |browser| async move {
        log_in(&browser, &app).await;
        browser.goto(&app.url("/admin/links")).await.unwrap();
        fill(&browser, "note", "Pat at Example Org").await;
        click(&browser, "create-link").await;
        wait_for_text(&browser, "Your connect link").await;
        let link = browser
            .find(Locator::Id("link-url"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .expect("the link is shown");
        assert!(link.starts_with(&app.url("/connect/link/")), "{link}");

        // The owner's browser: no console session, no admin password.
        browser.delete_all_cookies().await.unwrap();
        browser.goto(&link).await.unwrap();
        wait_for_text(&browser, "asks you (for Pat at Example Org)").await;
        click(&browser, "connect").await;
        click(&browser, "approve").await;
        wait_for_text(&browser, "<h1>Connected</h1>").await;
        let done = browser.source().await.unwrap();
        assert!(done.contains("Sandbox Organization"), "{done}");
        assert!(!done.contains("/admin"), "no way into the console: {done}");

        browser.goto(&link).await.unwrap();
        wait_for_text(&browser, "already used").await;

        log_in(&browser, &app).await;
        browser.goto(&app.url("/admin/links")).await.unwrap();
        wait_for_text(&browser, "<td class=\"link-state\">used</td>").await;
        app.stop().await;
    })
    .await;
}

// SQLite only. Under `flow = "device"` the console's Connect shows a code; the owner opens the
// verification address (here in the same browser), approves, and the code page, reloading itself,
// turns into "Connected" without anyone touching it.
backends!(the_console_shows_a_device_code_and_turns_connected_by_itself: sqlite);
async fn the_console_shows_a_device_code_and_turns_connected_by_itself(backend: Backend) {
    let sandbox = start_sandbox(
        SandboxConfig {
            requests_per_second: 1000,
            device_interval: 1,
            ..SandboxConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        "[constant_contact]\nrequests_per_second = 1000\nflow = \"device\"",
    )
    .spawn()
    .await;

    with_browser("console_device", |browser| async move {
        log_in(&browser, &app).await;
        click(&browser, "connect").await;
        let page = wait_for_text(&browser, "Enter this code at Constant Contact").await;
        let code_page = browser.current_url().await.unwrap();
        assert!(
            code_page.path().starts_with("/connect/device/"),
            "{code_page}"
        );
        let user_code = page
            .split(r#"id="user_code"><strong>"#)
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .expect("the page shows the code")
            .to_owned();

        // The owner, at the verification address with the code filled in.
        browser
            .goto(&format!("{}?user_code={user_code}", sandbox.activate_url()))
            .await
            .unwrap();
        click(&browser, "approve").await;
        wait_for_text(&browser, "return to your device").await;

        browser.goto(code_page.as_str()).await.unwrap();
        // No click: the page reloads itself until the poller has stored the connection.
        wait_for_text(&browser, "<h1>Connected</h1>").await;
        assert_eq!(sandbox.stats().device_grants, 1);
        assert_eq!(app.readyz().await["connection"]["state"], "connected");
        app.stop().await;
    })
    .await;
}

// A double opt-in signup in a browser: the thank-you page asks to look for the mail, the mail's
// link shows a button and changes nothing, the button confirms (the page's own form, under the
// console's strict CSP), and only then the contact reaches the sandbox.
backends!(a_visitor_confirms_a_double_opt_in_signup_from_the_mailed_link: sqlite);
async fn a_visitor_confirms_a_double_opt_in_signup_from_the_mailed_link(backend: Backend) {
    let sandbox = fast_sandbox(false).await;
    let smtp = sandbox.smtp_addr();
    let forms = format!(
        "[constant_contact]\nrequests_per_second = 1000\n\
         [smtp]\nhost = \"{host}\"\nport = {port}\nsecurity = \"none\"\nfrom = \"news@example.org\"\n\
         [[forms]]\nid = \"demo\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\n\
         [[forms]]\nid = \"demo-double\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\nconsent = \"double\"\n",
        host = smtp.ip(),
        port = smtp.port(),
    );
    let app = AppOptions::against(backend, &sandbox, &forms)
        .with_demo_page()
        .spawn()
        .await;
    app.connect_ok().await;

    with_browser("double_opt_in_confirmation", |browser| async move {
        browser.goto(&app.url("/demo")).await.unwrap();
        fill(&browser, "double-email", "browser.careful@example.com").await;
        click(&browser, "double-submit").await;
        wait_for_text(&browser, "please check your mail").await;

        let link = mailed_confirmation_link(&sandbox, &app, "browser.careful@example.com").await;
        browser.goto(&link).await.unwrap();
        wait_for_text(&browser, "Confirm your subscription").await;
        assert!(
            sandbox.contacts().is_empty(),
            "opening the link subscribes nobody"
        );
        click(&browser, "confirm").await;
        wait_for_text(&browser, "subscribed").await;
        let contact = eventually(PATIENCE, "the confirmed contact in the sandbox", || async {
            sandbox
                .contacts()
                .into_iter()
                .find(|c| c.email_address == "browser.careful@example.com")
        })
        .await;
        assert_eq!(contact.list_memberships.len(), 1);
        app.stop().await;
    })
    .await;
}
