//! `GET /demo`: the demo signup page that `ccbridge demo` serves, posting to the demo forms. It
//! loads the embed script (`/embed/v1.js`) as a site would, so the demo shows errors next to
//! their fields and the success in place; without JavaScript the forms post as plain forms.

use std::sync::Arc;

use axum::extract::State;
use ccbridge_layout::{Look, Markup, PreEscaped, Shell, html};
use ccbridge_sandbox as sandbox;

use super::DemoMode;
use super::assets::EMBED_V1_PATH;
use crate::config::Config;

/// The id of the demo's signup form.
pub const DEMO_FORM: &str = "demo";
/// The id of the demo's double opt-in form.
pub const DEMO_DOUBLE_FORM: &str = "demo-double";

/// How the embed script's messages look on this page (a site styles them itself).
const STYLE: &str = "form p { margin: .75rem 0; } \
    input:not([type=checkbox]) { font: inherit; padding: .25rem; width: 100%; max-width: 24rem; box-sizing: border-box; } \
    .ccbridge-error { display: block; color: #a4001d; margin: .25rem 0 0; font-weight: 600; } \
    [aria-invalid=true] { border: 2px solid #a4001d; } \
    .ccbridge-status { font-weight: 600; }";

/// The honeypot: people never see it, bots fill it in.
fn honeypot() -> Markup {
    html! {
        input type="text" name="website" tabindex="-1" autocomplete="off" aria-hidden="true"
            style="position:absolute;left:-10000px";
    }
}

/// `GET /demo`: a signup page for the demo forms.
pub async fn page(
    State(demo): State<DemoMode>,
    State(config): State<Arc<Config>>,
) -> axum::response::Html<String> {
    let sandbox_page = demo.sandbox.as_ref();
    let mailbox = demo
        .sandbox
        .as_ref()
        .and_then(|url| url.join("mailbox").ok());
    let script = config.server.path(EMBED_V1_PATH);
    let scripts = [script.as_str()];
    let shell = Shell {
        scripts: &scripts,
        head: Some(html! { style { (PreEscaped(STYLE)) } }),
        ..Shell::new(Look::Visitor, "en", "ccbridge demo")
    };
    let body = html! {
        h1 { "Sign up for our newsletter" }
        p {
            "This is " strong { "ccbridge demo" } ": submissions are stored, then delivered to the \
             built-in Constant Contact sandbox within its limits. Watch them arrive on "
            @if let Some(url) = sandbox_page {
                a href=(url.as_str()) { "the sandbox's page" }
            } @else {
                "the sandbox's page"
            }
            "."
        }
        form #demo-form method="post" action=(config.server.path(&format!("/signup/{DEMO_FORM}"))) {
            p { label { "Email" br; input type="email" name="email" #email required maxlength="50" autocomplete="email"; } }
            p { label { "First name" br; input name="first_name" #first_name maxlength="50" autocomplete="given-name"; } }
            p { label { "Last name" br; input name="last_name" #last_name maxlength="50" autocomplete="family-name"; } }
            fieldset {
                legend { "Also interested in" }
                label { input type="checkbox" name="list" value=(sandbox::EVENTS_LIST_ID); " Events" }
                br;
                label { input type="checkbox" name="list" value=(sandbox::PRODUCT_NEWS_LIST_ID); " Product news" }
            }
            p { label { "Favorite topic" br; input name="favorite_topic" #favorite_topic maxlength="255"; } }
            (honeypot())
            p { button type="submit" #submit { "Sign up" } }
        }
        h2 { "With double opt-in" }
        p {
            "This form has " code { "consent = \"double\"" } ": nothing reaches Constant Contact \
             until the person clicks the link in the confirmation mail. The demo's mail goes to the \
             sandbox's "
            @if let Some(url) = &mailbox {
                a href=(url.as_str()) { "mailbox" }
            } @else {
                "mailbox"
            }
            "; open the mail there, follow its link and press the button."
        }
        form #demo-double-form method="post" action=(config.server.path(&format!("/signup/{DEMO_DOUBLE_FORM}"))) {
            p { label { "Email" br; input type="email" name="email" #double-email required maxlength="50" autocomplete="email"; } }
            p { label { "First name" br; input name="first_name" #double-first_name maxlength="50" autocomplete="given-name"; } }
            (honeypot())
            p { button type="submit" #double-submit { "Sign up (confirm by mail)" } }
        }
    };
    axum::response::Html(shell.render(body).into_string())
}
