//! Accessibility checks with axe-core in Chromium: the visitor pages, the demo form with the embed
//! script (also while it shows an error), and the console. A page passes with no `serious` or
//! `critical` violation.
//!
//! axe-core is pinned and installed by `.ci/run` (from npm, into `target/axe-core-<version>/`),
//! which exports `CCBRIDGE_TEST_AXE`, the path of its `axe.min.js`. Without it the checks print
//! SKIPPED and pass, except under `CI=true`, where they fail.
//!
//! axe is put into the page through WebDriver's "execute script", which runs in the page like
//! DevTools' console does: the pages' Content-Security-Policy (`script-src 'self'`, no inline
//! script, no eval) does not apply to it. That is checked, not assumed: each page checked here is
//! served with that policy, the demo page's test shows an inline script added to the page does not
//! run while axe does, and finds a field without a label.

use std::sync::OnceLock;

use ccbridge_sandbox::GENERAL_INTEREST_LIST_ID;
use fantoccini::Locator;
use serde_json::Value;

use super::embed::{demo_forms, js, wait_for_js};
use super::*;
use crate::database::Backend;
use crate::helpers::AppOptions;

/// axe-core's source, read once; `None` (after saying SKIPPED) where it is not installed.
fn axe_source() -> Option<&'static str> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let problem = match std::env::var_os("CCBRIDGE_TEST_AXE") {
                None => "CCBRIDGE_TEST_AXE is not set".to_owned(),
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(source) => return Some(source),
                    Err(e) => format!("reading {}: {e}", PathBuf::from(path).display()),
                },
            };
            let message = format!(
                "{problem}: the accessibility checks need axe-core's axe.min.js (`bash .ci/run` \
                 installs the pinned version into target/axe-core-<version>/ and sets it)"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("SKIPPED accessibility checks: {message}");
            None
        })
        .as_deref()
}

/// Run axe on the browser's current page (`page` names it in the failure) and fail with every
/// serious or critical violation: its rule, impact, help text and the elements concerned.
pub async fn assert_accessible(browser: &Client, page: &str) {
    let Some(grave) = serious_violations(browser, page).await else {
        return;
    };
    assert!(
        grave.is_empty(),
        "axe-core found serious or critical accessibility violations on {page}:\n{}",
        grave.join("\n")
    );
}

/// axe's serious and critical findings on the current page, one line each (rule id first);
/// `None` where axe-core is not installed. Minor and moderate ones are printed.
async fn serious_violations(browser: &Client, page: &str) -> Option<Vec<String>> {
    let axe = axe_source()?;
    browser
        .execute(axe, vec![])
        .await
        .unwrap_or_else(|e| panic!("putting axe-core into {page}: {e}"));
    let outcome = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(
               (results) => done({ violations: results.violations.map((v) => ({
                 id: v.id, impact: v.impact, help: v.help,
                 targets: v.nodes.map((n) => n.target.join(' ')),
               })) }),
               (error) => done({ error: String(error) }));",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("running axe-core on {page}: {e}"));
    if let Some(error) = outcome.get("error") {
        panic!("axe-core failed on {page}: {error}");
    }
    let violations = outcome["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("axe-core's answer on {page}: {outcome}"));
    let line = |v: &Value| {
        format!(
            "- {} ({}): {} — {}",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or("?"),
            v["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (grave, minor): (Vec<&Value>, Vec<&Value>) = violations
        .iter()
        .partition(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")));
    if !minor.is_empty() {
        let lines: Vec<String> = minor.into_iter().map(line).collect();
        eprintln!(
            "axe-core on {page}: minor or moderate findings\n{}",
            lines.join("\n")
        );
    }
    Some(grave.into_iter().map(line).collect())
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_visitor_pages_pass_axe: sqlite);
async fn the_visitor_pages_pass_axe(backend: Backend) {
    let sandbox = fast_sandbox(false).await;
    let smtp = sandbox.smtp_addr();
    let forms = format!(
        "[constant_contact]\nrequests_per_second = 1000\n\
         [smtp]\nhost = \"{host}\"\nport = {port}\nsecurity = \"none\"\nfrom = \"news@example.org\"\n\
         [[forms]]\nid = \"double\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\nconsent = \"double\"\n",
        host = smtp.ip(),
        port = smtp.port(),
    );
    let app = AppOptions::against(backend, &sandbox, &forms).spawn().await;
    app.connect_ok().await;
    let accepted = app
        .post_form("double", &[("email", "careful@example.com")])
        .await;
    let status = accepted.status();
    assert_eq!(status, 303, "{}", accepted.text().await.unwrap_or_default());

    with_browser("accessibility_visitor_pages", |browser| async move {
        browser
            .goto(&app.url("/signup/newsletter/thank-you"))
            .await
            .unwrap();
        wait_for_text(&browser, "Thank you").await;
        assert_accessible(&browser, "the thank-you page").await;

        browser
            .goto(&app.url("/signup/double/thank-you"))
            .await
            .unwrap();
        wait_for_text(&browser, "check your mail").await;
        assert_accessible(&browser, "the double opt-in thank-you page").await;

        // An error page, as a browser posting a form gets it.
        js(
            &browser,
            "const form = document.createElement('form');
             form.method = 'post';
             form.action = '/signup/newsletter';
             const email = document.createElement('input');
             email.name = 'email';
             email.value = 'not-an-address';
             form.append(email);
             document.body.append(form);
             form.submit();",
        )
        .await;
        wait_for_js(&browser, "location.pathname === '/signup/newsletter'").await;
        wait_for_text(&browser, "</h1>").await;
        assert_accessible(&browser, "the error page of a refused signup").await;

        browser.goto(&app.url("/signup/newsletter")).await.unwrap();
        wait_for_text(&browser, "</h1>").await;
        assert_accessible(&browser, "GET /signup/{form}").await;

        browser.goto(&app.url("/nowhere")).await.unwrap();
        wait_for_text(&browser, "Not found").await;
        assert_accessible(&browser, "the not-found page").await;

        // The double opt-in confirmation: the mailed link's page, then the confirmed page.
        let link = mailed_confirmation_link(&sandbox, &app, "careful@example.com").await;
        browser.goto(&link).await.unwrap();
        wait_for_text(&browser, "Confirm your subscription").await;
        assert_accessible(&browser, "the confirmation link's page").await;
        click(&browser, "confirm").await;
        wait_for_text(&browser, "subscribed").await;
        assert_accessible(&browser, "the confirmed page").await;
        app.stop().await;
    })
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_demo_form_with_the_embed_script_passes_axe_also_with_an_error_shown: sqlite);
async fn the_demo_form_with_the_embed_script_passes_axe_also_with_an_error_shown(backend: Backend) {
    let app = AppOptions::fresh(backend, &demo_forms())
        .with_demo_page()
        .spawn()
        .await;

    with_browser("accessibility_demo_form", |browser| async move {
        browser.goto(&app.url("/demo")).await.unwrap();
        // Upgraded by the embed script: its live region is in place.
        wait_for_js(
            &browser,
            "document.querySelector('#demo-form [data-ccbridge-status]')",
        )
        .await;
        assert_accessible(&browser, "the demo form").await;

        fill(&browser, "email", "visitor@example").await;
        click(&browser, "submit").await;
        wait_for_js(&browser, "document.getElementById('demo-form-email-error')").await;
        assert_accessible(&browser, "the demo form showing an error").await;

        let email = browser.find(Locator::Id("email")).await.unwrap();
        email.clear().await.unwrap();
        fill(&browser, "email", "visitor@example.com").await;
        click(&browser, "submit").await;
        wait_for_text(&browser, "Thank you for signing up!").await;
        assert_accessible(&browser, "the demo form after a signup").await;

        // The page's CSP is in force (an inline script added to it does not run), and axe runs
        // all the same: WebDriver's scripts are not the page's.
        js(
            &browser,
            "const inline = document.createElement('script');
             inline.textContent = 'window.inlineRan = true;';
             document.body.append(inline);",
        )
        .await;
        assert_eq!(
            js(&browser, "return window.inlineRan === undefined;").await,
            Value::Bool(true),
            "the demo page's CSP lets no inline script run"
        );
        // The check is no formality: a field without a label, under the same CSP, is found.
        js(
            &browser,
            "const input = document.createElement('input');
             input.id = 'unlabelled';
             document.querySelector('main').append(input);",
        )
        .await;
        if let Some(found) = serious_violations(&browser, "the demo page with a bad field").await {
            assert!(
                found
                    .iter()
                    .any(|v| v.starts_with("- label (critical)") && v.ends_with("#unlabelled")),
                "axe-core missed the field without a label: {found:?}"
            );
        }
        app.stop().await;
    })
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_console_passes_axe: sqlite);
async fn the_console_passes_axe(backend: Backend) {
    let app = AppOptions::fresh(backend, "").spawn().await;

    with_browser("accessibility_console", |browser| async move {
        browser.goto(&app.url("/admin/login")).await.unwrap();
        wait_for_text(&browser, "Log in").await;
        assert_accessible(&browser, "the console's login page").await;
        log_in(&browser, &app).await;
        for (path, name) in [
            ("/", "the landing page"),
            ("/admin", "the console's overview"),
            ("/admin/signups", "the console's signups page"),
            ("/admin/forms", "the console's forms page"),
            ("/admin/links", "the console's connect links page"),
            ("/admin/privacy", "the console's privacy page"),
        ] {
            browser.goto(&app.url(path)).await.unwrap();
            wait_for_js(&browser, &format!("location.pathname === '{path}'")).await;
            wait_for_text(&browser, "</h1>").await;
            assert_accessible(&browser, name).await;
        }
        app.stop().await;
    })
    .await;
}
