//! The embed script (`/embed/v1.js`) in Chromium: on the demo page (ccbridge's own origin, under
//! its strict CSP) and on a page of another site that loads it as the console's snippet does
//! (cross-origin, pinned by `integrity`). Errors next to their fields and announced, the success in
//! place, the button disabled while sending, the texts in the page's language, a network failure,
//! and the plain post when JavaScript is off. Also the console's copy button (`console-v1.js`).

use std::time::Instant;

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ccbridge::domain::SignupState;
use ccbridge_sandbox::{
    EVENTS_LIST_ID, FAVORITE_TOPIC_FIELD_ID, GENERAL_INTEREST_LIST_ID, PRODUCT_NEWS_LIST_ID,
};
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha384};

use super::*;
use crate::database::Backend;
use crate::helpers::AppOptions;

/// The demo's form, as `ccbridge demo` configures it.
pub fn demo_forms() -> String {
    format!(
        "[[forms]]\nid = \"demo\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\n\
         optional_list_ids = [\"{EVENTS_LIST_ID}\", \"{PRODUCT_NEWS_LIST_ID}\"]\n\
         custom_fields = {{ favorite_topic = \"{FAVORITE_TOPIC_FIELD_ID}\" }}\n"
    )
}

/// Run `script` (a function body) in the page and return what it returns.
pub async fn js(browser: &Client, script: &str) -> Value {
    browser
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("running {script:?}: {e}"))
}

/// Wait until `expression` is truthy in the page; returns its value.
pub async fn wait_for_js(browser: &Client, expression: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = js(browser, &format!("return {expression};")).await;
        if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "the page never made {expression} true; it shows:\n{}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Record every change of `#button`'s `disabled` in `window.busyLog` (from now on: the log starts
/// empty again at each call).
async fn log_busy_states(browser: &Client, button: &str) {
    js(
        browser,
        &format!(
            "if (!window.busyLog) {{
               const button = document.getElementById('{button}');
               new MutationObserver(() => window.busyLog.push(button.disabled))
                 .observe(button, {{ attributes: true, attributeFilter: ['disabled'] }});
             }}
             window.busyLog = [];
             window.stillThisPage = true;"
        ),
    )
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_demo_form_shows_an_error_next_to_its_field_then_the_success_in_place: sqlite);
async fn the_demo_form_shows_an_error_next_to_its_field_then_the_success_in_place(
    backend: Backend,
) {
    let app = AppOptions::fresh(backend, &demo_forms())
        .with_demo_page()
        .spawn()
        .await;

    with_browser("embed_demo_inline_error", |browser| async move {
        browser.goto(&app.url("/demo")).await.unwrap();
        // The browser's own check passes (`type=email`); ccbridge's refuses: no dot in the domain.
        fill(&browser, "email", "visitor@example").await;
        fill(&browser, "first_name", "Ada").await;
        log_busy_states(&browser, "submit").await;
        click(&browser, "submit").await;

        let error_id = "demo-form-email-error";
        let message = wait_for_js(
            &browser,
            &format!("document.getElementById('{error_id}') && document.getElementById('{error_id}').textContent"),
        )
        .await;
        let message = message.as_str().unwrap().to_owned();
        let email = browser.find(Locator::Id("email")).await.unwrap();
        assert_eq!(email.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
        assert_eq!(email.attr("aria-describedby").await.unwrap().as_deref(), Some(error_id));
        // Next to the field: right after its label.
        let placed = js(
            &browser,
            "return document.getElementById('email').closest('label').nextElementSibling.id;",
        )
        .await;
        assert_eq!(placed, json!(error_id));
        // Announced: the live region says the same, and the field has the focus.
        let status = browser
            .find(Locator::Css("#demo-form [data-ccbridge-status]"))
            .await
            .unwrap();
        assert_eq!(status.attr("role").await.unwrap().as_deref(), Some("status"));
        assert_eq!(status.attr("aria-live").await.unwrap().as_deref(), Some("polite"));
        assert_eq!(status.text().await.unwrap(), message);
        assert_eq!(js(&browser, "return document.activeElement.id;").await, json!("email"));
        assert_eq!(js(&browser, "return window.busyLog;").await, json!([true, false]));
        assert!(app.signups().await.is_empty(), "nothing stored");
        save_screenshot(&browser, "embed-demo-error").await;

        // Corrected: the error goes, the success shows in place, the page stays.
        email.clear().await.unwrap();
        fill(&browser, "email", "visitor@example.com").await;
        log_busy_states(&browser, "submit").await;
        click(&browser, "submit").await;
        // ccbridge's words for this form, in the page's language.
        let thanks = "Thank you for signing up! Your subscription has been received.";
        wait_for_text(&browser, thanks).await;
        assert_eq!(status.text().await.unwrap(), thanks);
        assert_eq!(js(&browser, "return window.busyLog;").await, json!([true, false]));
        assert_eq!(
            js(&browser, "return [document.getElementById('demo-form-email-error'), document.getElementById('email').getAttribute('aria-invalid'), document.getElementById('email').getAttribute('aria-describedby')];").await,
            json!([null, null, null])
        );
        assert_eq!(browser.current_url().await.unwrap().path(), "/demo");
        assert_eq!(js(&browser, "return window.stillThisPage;").await, json!(true));
        save_screenshot(&browser, "embed-demo-success").await;
        let signups = app.signups().await;
        assert_eq!(signups.len(), 1);
        assert_eq!(signups[0].email.as_deref(), Some("visitor@example.com"));
        assert_eq!(signups[0].first_name.as_deref(), Some("Ada"));
        assert_eq!(signups[0].state, SignupState::Pending);
        app.stop().await;
    })
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(a_page_of_an_allowed_site_loads_the_pinned_script_and_speaks_its_language: sqlite);
async fn a_page_of_an_allowed_site_loads_the_pinned_script_and_speaks_its_language(
    backend: Backend,
) {
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}", site.local_addr().unwrap());
    let forms = format!(
        "[[forms]]\nid = \"site-de\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\n\
         allowed_origins = [\"{site_url}\"]\n\
         [[forms]]\nid = \"site-fr\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\n\
         allowed_origins = [\"{site_url}\"]\nconsent = \"double\"\n"
    );
    // Double opt-in needs a mail server; none answers here, and none is needed: the signup is
    // stored with its mail queued.
    let smtp = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"news@example.org\"\n",
        crate::helpers::free_port()
    );
    // One signup per form and minute: a second post to the same form is refused with an error
    // that names no field.
    let limits =
        "[rate_limit]\nper_ip_per_minute = 0\nper_form_per_minute = 1\nper_form_burst = 1\n";
    let app = AppOptions::fresh(backend, &format!("{smtp}{limits}{forms}"))
        .without_background_mail()
        .spawn()
        .await;
    let script = app.url("/embed/v1.js");
    let served = app
        .client
        .get(&script)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let integrity = format!("sha384-{}", STANDARD.encode(Sha384::digest(&served)));
    let nowhere = format!(
        "http://127.0.0.1:{}/signup/site-de",
        crate::helpers::free_port()
    );
    let page = format!(
        r#"<!DOCTYPE html><html lang="de-AT"><head><title>Newsletter</title></head><body>
<form id="de" method="post" action="{de}" data-ccbridge>
  <label>E-Mail <input type="email" name="email" id="de-email"></label>
  <button type="submit" id="de-submit">Anmelden</button>
</form>
<form id="fr" lang="fr" method="post" action="{fr}" data-ccbridge data-ccbridge-sending="Un instant…">
  <label>Courriel <input type="email" name="email" id="fr-email"></label>
  <button type="submit" id="fr-submit">S'inscrire</button>
</form>
<form id="down" method="post" action="{nowhere}" data-ccbridge data-ccbridge-network-error="Server nicht erreichbar.">
  <label>E-Mail <input type="email" name="email" id="down-email"></label>
  <button type="submit" id="down-submit">Anmelden</button>
</form>
<form id="again" method="post" action="{de}" data-ccbridge>
  <label>E-Mail <input type="email" name="email" id="again-email"></label>
  <button type="submit" id="again-submit">Anmelden</button>
</form>
<script src="{script}" integrity="{integrity}" crossorigin="anonymous" defer></script>
</body></html>"#,
        de = app.url("/signup/site-de"),
        fr = app.url("/signup/site-fr"),
    );
    tokio::spawn(serve_site(site, vec![("/", page)]));

    with_browser("embed_on_another_site", |browser| async move {
        browser.goto(&site_url).await.unwrap();
        // Upgraded: the script ran (the integrity matched) and added each form's live region.
        wait_for_js(
            &browser,
            "document.querySelectorAll('[data-ccbridge-status]').length === 4",
        )
        .await;

        fill(&browser, "de-email", "leser@example.com").await;
        click(&browser, "de-submit").await;
        wait_for_text(&browser, "Vielen Dank für Ihre Anmeldung!").await;

        // The form's own `lang` beats the page's; a double opt-in form says to check the mail.
        fill(&browser, "fr-email", "lecteur@example.com").await;
        click(&browser, "fr-submit").await;
        wait_for_text(&browser, "Nous vous avons envoyé un e-mail avec un lien").await;

        // Nothing answers: a status in the page's language (overridden here), the button back.
        fill(&browser, "down-email", "leser2@example.com").await;
        click(&browser, "down-submit").await;
        // The status line, not the page source: the override's text is in the form's attribute
        // from the start.
        wait_for_js(
            &browser,
            "document.querySelector('#down [data-ccbridge-status]').textContent === 'Server nicht erreichbar.'",
        )
        .await;
        let button = browser.find(Locator::Id("down-submit")).await.unwrap();
        assert!(
            button.is_enabled().await.unwrap(),
            "the button is usable again"
        );

        // An error without a field (a rate limit): said in the status line, no field marked.
        fill(&browser, "again-email", "leser3@example.com").await;
        click(&browser, "again-submit").await;
        let status = "document.querySelector('#again [data-ccbridge-status]').textContent";
        let said = wait_for_js(&browser, &format!("{status}.indexOf('…') < 0 && {status}")).await;
        let said = said.as_str().unwrap();
        // ccbridge's own message (in the visitor's language), neither a success nor "not sent".
        assert!(
            !said.is_empty() && !said.contains("Vielen Dank") && !said.contains("nicht gesendet"),
            "{said}"
        );
        let marked = "return document.querySelectorAll('#again [aria-invalid], #again .ccbridge-error').length;";
        assert_eq!(js(&browser, marked).await, json!(0));

        assert_eq!(
            browser.current_url().await.unwrap().as_str(),
            format!("{site_url}/")
        );
        let mut stored: Vec<(String, String)> = app
            .signups()
            .await
            .into_iter()
            .map(|s| (s.form_id, s.email.unwrap_or_default()))
            .collect();
        stored.sort();
        assert_eq!(
            stored,
            [
                ("site-de".to_owned(), "leser@example.com".to_owned()),
                ("site-fr".to_owned(), "lecteur@example.com".to_owned()),
            ]
        );
        app.stop().await;
    })
    .await;
}

/// The console's scripted snippet for `form`, as the forms page shows it (escaped in a textarea).
async fn console_snippet(app: &crate::helpers::TestApp, form: &str) -> String {
    let session = crate::http::admin::login(app).await;
    let page = crate::http::admin::get_page(app, "/admin/forms", &session.cookie).await;
    let action = format!("action=&quot;{}&quot;", app.url(&format!("/signup/{form}")));
    page.split("<textarea")
        .skip(1)
        .filter_map(|rest| {
            let text = &rest[rest.find('>')? + 1..rest.find("</textarea>")?];
            (text.contains(&action) && text.contains("embed/v1.js")).then_some(text)
        })
        .next()
        .unwrap_or_else(|| panic!("no scripted snippet for {form} on the forms page:\n{page}"))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_consoles_snippet_on_a_site_fills_in_the_signed_timestamp_of_a_timed_form: sqlite);
async fn the_consoles_snippet_on_a_site_fills_in_the_signed_timestamp_of_a_timed_form(
    backend: Backend,
) {
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}", site.local_addr().unwrap());
    let forms = format!(
        "[[forms]]\nid = \"timed\"\nlist_ids = [\"{GENERAL_INTEREST_LIST_ID}\"]\n\
         allowed_origins = [\"{site_url}\"]\nmin_submit_time = \"300ms\"\n"
    );
    let app = AppOptions::fresh(backend, &forms).spawn().await;
    let snippet = console_snippet(&app, "timed").await;
    assert!(
        snippet.contains("<input type=\"hidden\" name=\"_ts\">"),
        "{snippet}"
    );
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><title>Newsletter</title></head><body>\n{snippet}</body></html>"
    );
    tokio::spawn(serve_site(site, vec![("/", page)]));

    with_browser("embed_console_snippet_timed", |browser| async move {
        browser.goto(&site_url).await.unwrap();
        // The script fetched the signed "shown at" value (cross-origin) into the hidden field.
        let stamp = wait_for_js(&browser, "document.querySelector('input[name=_ts]').value").await;
        let shown_at: i64 = stamp
            .as_str()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        browser
            .find(Locator::Css("input[name=email]"))
            .await
            .unwrap()
            .send_keys("patient@example.com")
            .await
            .unwrap();
        // A person takes longer than min_submit_time; so does this test before it sends.
        wait_for_js(&browser, &format!("Date.now() > {shown_at} + 500")).await;
        browser
            .find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_text(&browser, "Thank you for signing up!").await;
        let signups = app.signups().await;
        assert_eq!(signups.len(), 1);
        assert_eq!(signups[0].email.as_deref(), Some("patient@example.com"));
        assert_eq!(
            (signups[0].state, signups[0].spam_reason.as_deref()),
            (SignupState::Pending, None),
            "sent with a valid timestamp, not kept as spam"
        );
        app.stop().await;
    })
    .await;
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(without_javascript_the_demo_form_posts_and_lands_on_the_thank_you_page: sqlite);
async fn without_javascript_the_demo_form_posts_and_lands_on_the_thank_you_page(backend: Backend) {
    let app = AppOptions::fresh(backend, &demo_forms())
        .with_demo_page()
        .spawn()
        .await;

    with_browser("embed_without_javascript", |browser| async move {
        browser
            .issue_cmd(DevTools {
                command: "Emulation.setScriptExecutionDisabled",
                params: json!({ "value": true }),
            })
            .await
            .expect("switching JavaScript off");
        browser.goto(&app.url("/demo")).await.unwrap();
        fill(&browser, "email", "no.script@example.com").await;
        click(&browser, "submit").await;

        wait_for_text(&browser, "Thank you").await;
        assert_eq!(
            browser.current_url().await.unwrap().path(),
            "/signup/demo/thank-you"
        );
        let signups = app.signups().await;
        assert_eq!(signups.len(), 1);
        assert_eq!(signups[0].email.as_deref(), Some("no.script@example.com"));
        app.stop().await;
    })
    .await;
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(the_console_scripts_copy_button_says_copied_in_a_live_region: sqlite);
async fn the_console_scripts_copy_button_says_copied_in_a_live_region(backend: Backend) {
    let app = AppOptions::fresh(backend, &demo_forms())
        .with_demo_page()
        .spawn()
        .await;

    with_browser("console_copy_button", |browser| async move {
        // Any page of ccbridge's own (its CSP allows its own script files): a snippet and its
        // button as the forms page has them, and the console's script.
        browser.goto(&app.url("/demo")).await.unwrap();
        js(
            &browser,
            "const text = document.createElement('textarea');
             text.id = 'snippet-x';
             text.value = '<form>…</form>';
             const button = document.createElement('button');
             button.type = 'button';
             button.className = 'copy';
             button.dataset.copy = 'snippet-x';
             button.id = 'copy-x';
             button.textContent = 'Copy';
             document.querySelector('main').append(text, button);
             const script = document.createElement('script');
             script.src = '/assets/console-v1.js';
             document.head.append(script);",
        )
        .await;
        wait_for_js(
            &browser,
            "document.querySelector('#copy-x + [data-copy-status][role=status][aria-live=polite]')",
        )
        .await;
        click(&browser, "copy-x").await;
        let said = wait_for_js(
            &browser,
            "document.querySelector('#copy-x + [data-copy-status]').textContent",
        )
        .await;
        assert_eq!(said, json!("Copied"));
        app.stop().await;
    })
    .await;
}
