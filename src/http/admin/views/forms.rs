//! The forms page: per form where it posts, its lists (a list missing from the account in red,
//! with the fix), origins, CAPTCHA and timing, consent, refusals, and its snippets with a Copy
//! button (`/assets/console-v1.js`; without JavaScript the textarea stays selectable).

use std::collections::{BTreeMap, BTreeSet};

use axum::response::Html;
use ccbridge_layout::{Markup, html};
use uuid::Uuid;

use super::super::session::Admin;
use super::super::snippet;
use super::{Nav, page_with_scripts};
use crate::config::{Config, FormConfig};
use crate::domain::ConsentMode;

/// The script that makes the Copy buttons work.
const CONSOLE_SCRIPT: &str = "/assets/console-v1.js";

/// What the forms page knows beyond the configuration.
pub struct FormsPage<'a> {
    /// The account's lists by id (from this process's account check).
    pub list_names: &'a BTreeMap<Uuid, String>,
    /// Lists the account check found missing; `None` before a check.
    pub missing_lists: Option<&'a BTreeSet<Uuid>>,
    /// Refused signups today: form → reason → count.
    pub refusals: &'a BTreeMap<String, BTreeMap<String, u64>>,
}

pub fn forms(admin: &Admin, config: &Config, p: &FormsPage<'_>) -> Html<String> {
    let body = html! {
        h1 { "Forms" }
        @if config.forms.is_empty() {
            p { "No forms are configured: add a " code { "[[forms]]" } " entry to the configuration." }
        }
        @for form in &config.forms { (one(config, form, p)) }
    };
    page_with_scripts(
        config,
        "Forms",
        Some(admin),
        Nav::Forms,
        &[CONSOLE_SCRIPT],
        body,
    )
}

fn one(config: &Config, form: &FormConfig, p: &FormsPage<'_>) -> Markup {
    let url = snippet::signup_url(&config.server.public_url, form);
    let id = form.id.as_str();
    let refusals = p.refusals.get(id);
    html! {
        h2 id={ "form-" (id) } { (id) }
        dl {
            dt { "Posts to" } dd { code { (url) } }
            dt { "Every signup joins" }
            dd { (lists(&form.list_ids, p)) }
            @if !form.optional_list_ids.is_empty() {
                dt { "Visitors may choose" } dd { (lists(&form.optional_list_ids, p)) }
            }
            @if !form.custom_fields.is_empty() {
                dt { "Custom fields" }
                dd { @for (i, (field, cf)) in form.custom_fields.iter().enumerate() {
                    @if i > 0 { ", " } code { (field) } " → " code { (cf) }
                } }
            }
            dt { "Pages allowed to post (" code { "allowed_origins" } ")" }
            dd {
                @if form.allowed_origins.is_empty() {
                    strong.bad #no-origins { "none" }
                    ": a browser posting this form from your site is refused (403 "
                    code { "origin_not_allowed" } "); add the site's origin, e.g. "
                    code { "https://www.example.org" } ", to " code { "allowed_origins" }
                } @else {
                    @for (i, origin) in form.allowed_origins.iter().enumerate() {
                        @if i > 0 { ", " } code { (origin.origin().ascii_serialization()) }
                    }
                }
            }
            dt { "CAPTCHA" }
            dd id={ "captcha-" (id) } {
                @match &form.captcha {
                    Some(c) => {
                        code { (c.provider.name()) } " (waits " (humantime::format_duration(c.timeout).to_string())
                        " for the provider; "
                        @if matches!(c.on_unreachable, crate::config::OnUnreachable::Reject) {
                            "refuses signups when it cannot be asked"
                        } @else {
                            "keeps signups as spam when it cannot be asked"
                        }
                        @if let Some(score) = c.min_score { "; lowest score " (score) }
                        ")"
                    }
                    None => "none",
                }
            }
            dt { "Timing" }
            dd id={ "timing-" (id) } {
                @match form.min_submit_time {
                    Some(min) => {
                        "faster than " code { (humantime::format_duration(min).to_string()) }
                        " after the form was shown is kept as spam; a form older than "
                        code { (humantime::format_duration(form.max_submit_age).to_string()) }
                        " is refused"
                    }
                    None => { "no minimum time (" code { "min_submit_time" } " unset)" }
                }
            }
            dt { "Honeypot field" }
            dd { @match form.honeypot() { Some(name) => code { (name) }, None => "none" } }
            dt { "Consent" }
            dd id={ "consent-" (id) } {
                @match form.consent {
                    ConsentMode::Single => "single opt-in: delivered as submitted",
                    ConsentMode::Double => {
                        "double opt-in: held until the person confirms by mail; then "
                        @match &form.confirmed_url {
                            Some(u) => { "lands on " code { (u.as_str()) } }
                            None => "sees the built-in page",
                        }
                    }
                }
            }
            dt { "After a signup" } dd { (after(form.success_url.as_ref())) }
            dt { "On invalid input" } dd { (after(form.error_url.as_ref())) }
            dt { "Refused today" }
            dd id={ "refusals-" (id) } {
                @match refusals.filter(|r| r.values().any(|n| *n > 0)) {
                    Some(by_reason) => {
                        @for (i, (reason, n)) in by_reason.iter().filter(|(_, n)| **n > 0).enumerate() {
                            @if i > 0 { ", " } code { (reason) } " " (n)
                        }
                    }
                    None => "none",
                }
            }
        }
        h3 { "Plain HTML form" }
        p {
            "Works without JavaScript: the visitor lands on the success (or error) page. The page \
             holding it must be on an origin listed in the form's " code { "allowed_origins" }
            ", or the post is refused."
        }
        (snippet_box(&format!("snippet-{id}-plain"), &format!("HTML for the {id} form"), 14,
            &snippet::plain_form(&url, form, p.list_names)))
        h3 { "With the embed script (recommended)" }
        p {
            "The same form plus ccbridge's small script: the visitor stays on the page, errors \
             appear next to their fields (announced to screen readers) and the success in place; \
             without JavaScript it posts as the plain form. A page on another origin than this \
             service must be listed in the form's " code { "allowed_origins" } "."
        }
        (snippet_box(&format!("snippet-{id}-embed"), &format!("HTML and script for the {id} form"), 20,
            &snippet::scripted_form(&config.server.public_url, form, p.list_names)))
    }
}

/// A read-only textarea and its Copy button.
fn snippet_box(id: &str, label: &str, rows: u32, text: &str) -> Markup {
    html! {
        textarea readonly rows=(rows) id=(id) aria-label=(label) { (text) }
        p { button type="button" class="copy" data-copy=(id) { "Copy" } }
    }
}

/// Lists by name (when the account check knows it), a missing one in red with the fix.
fn lists(ids: &[Uuid], p: &FormsPage<'_>) -> Markup {
    html! {
        @for (i, id) in ids.iter().enumerate() {
            @if i > 0 { ", " }
            @if p.missing_lists.is_some_and(|m| m.contains(id)) {
                span.bad.missing-list {
                    strong { "missing from the account" } ": " code { (id) }
                    " — signups naming it are refused. Fix the id in this form's "
                    code { "list_ids" } " (" code { "ccbridge lists" }
                    " shows the account's lists), or create the list in Constant Contact."
                }
            } @else if let Some(name) = p.list_names.get(id) {
                (name) " (" code { (id) } ")"
            } @else {
                code { (id) }
            }
        }
    }
}

fn after(url: Option<&url::Url>) -> Markup {
    html! {
        @match url {
            Some(u) => code { (u.as_str()) },
            None => "the built-in page",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_shows_its_captcha_timing_consent_refusals_and_copy_buttons() {
        let config = Config::from_toml(
            r#"
            [smtp]
            host = "mail.example.org"
            from = "news@example.org"

            [[forms]]
            id = "news"
            list_ids = ["0b8a2b2c-0000-4000-8000-000000000001", "0b8a2b2c-0000-4000-8000-000000000002"]
            allowed_origins = ["https://www.example.org"]
            min_submit_time = "3s"
            consent = "double"
            confirmed_url = "https://www.example.org/confirmed"
            captcha = { provider = "turnstile", secret = "s3cret" }
            "#,
        )
        .unwrap();
        let known: Uuid = "0b8a2b2c-0000-4000-8000-000000000001".parse().unwrap();
        let missing: Uuid = "0b8a2b2c-0000-4000-8000-000000000002".parse().unwrap();
        let names = BTreeMap::from([(known, "Friends <& family>".to_owned())]);
        let missing_lists = BTreeSet::from([missing]);
        let refusals = BTreeMap::from([(
            "news".to_owned(),
            BTreeMap::from([
                ("rate_limited".to_owned(), 4),
                ("origin_not_allowed".to_owned(), 0),
            ]),
        )]);
        let admin = Admin {
            csrf: Some("t".into()),
            session: None,
            new_cookie: None,
        };
        let Html(page) = forms(
            &admin,
            &config,
            &FormsPage {
                list_names: &names,
                missing_lists: Some(&missing_lists),
                refusals: &refusals,
            },
        );
        for needle in [
            "Friends &lt;&amp; family&gt; (<code>0b8a2b2c-0000-4000-8000-000000000001</code>)",
            "<span class=\"bad missing-list\"><strong>missing from the account</strong>: <code>0b8a2b2c-0000-4000-8000-000000000002</code>",
            "<code>https://www.example.org</code>",
            "<code>turnstile</code> (waits 5s for the provider; refuses signups when it cannot be asked)",
            "faster than <code>3s</code> after the form was shown is kept as spam",
            "double opt-in: held until the person confirms by mail; then lands on <code>https://www.example.org/confirmed</code>",
            "<dd id=\"refusals-news\"><code>rate_limited</code> 4</dd>",
            "<button type=\"button\" class=\"copy\" data-copy=\"snippet-news-plain\">Copy</button>",
            "<script src=\"/assets/console-v1.js\" defer></script>",
        ] {
            assert!(page.contains(needle), "{needle} missing from {page}");
        }
        assert!(
            !page.contains("s3cret"),
            "the CAPTCHA secret is never shown"
        );
    }
}
