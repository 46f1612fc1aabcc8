//! The forms page: per form where it posts, its lists, origins and snippets.

use std::fmt::Write as _;

use axum::response::Html;

use super::page;
use crate::http::pages::escape;
use std::collections::BTreeMap;

use uuid::Uuid;

use super::super::session::Admin;
use super::super::snippet;
use crate::config::Config;

pub fn forms(admin: &Admin, config: &Config, list_names: &BTreeMap<Uuid, String>) -> Html<String> {
    let mut body = String::from("<h1>Forms</h1>\n");
    if config.forms.is_empty() {
        body.push_str("<p>No forms are configured: add a <code>[[forms]]</code> entry to the configuration.</p>\n");
    }
    let name = |id: &Uuid| {
        list_names.get(id).map_or_else(
            || format!("<code>{id}</code>"),
            |n| format!("{} (<code>{id}</code>)", escape(n)),
        )
    };
    for form in &config.forms {
        let url = snippet::signup_url(&config.server.public_url, form);
        let _ = writeln!(body, "<h2 id=\"form-{id}\">{id}</h2>\n<dl>", id = form.id);
        let _ = writeln!(
            body,
            "<dt>Posts to</dt><dd><code>{}</code></dd>",
            escape(&url)
        );
        let lists: Vec<String> = form.list_ids.iter().map(name).collect();
        let _ = writeln!(
            body,
            "<dt>Every signup joins</dt><dd>{}</dd>",
            lists.join(", ")
        );
        if !form.optional_list_ids.is_empty() {
            let lists: Vec<String> = form.optional_list_ids.iter().map(name).collect();
            let _ = writeln!(
                body,
                "<dt>Visitors may choose</dt><dd>{}</dd>",
                lists.join(", ")
            );
        }
        if !form.custom_fields.is_empty() {
            let fields: Vec<String> = form
                .custom_fields
                .iter()
                .map(|(field, id)| format!("<code>{field}</code> → <code>{id}</code>"))
                .collect();
            let _ = writeln!(body, "<dt>Custom fields</dt><dd>{}</dd>", fields.join(", "));
        }
        let origins: Vec<String> = form
            .allowed_origins
            .iter()
            .map(|u| format!("<code>{}</code>", escape(&u.origin().ascii_serialization())))
            .collect();
        let origins = if origins.is_empty() {
            "<strong class=\"bad\" id=\"no-origins\">none</strong>: a browser posting this form \
             from your site is refused (403 <code>origin_not_allowed</code>); add the site's origin, \
             e.g. <code>https://www.example.org</code>, to <code>allowed_origins</code>"
                .to_owned()
        } else {
            origins.join(", ")
        };
        let _ = writeln!(
            body,
            "<dt>Pages allowed to post (<code>allowed_origins</code>)</dt><dd>{origins}</dd>"
        );
        let after = |u: &Option<url::Url>| {
            u.as_ref().map_or("the built-in page".to_owned(), |u| {
                format!("<code>{}</code>", escape(u.as_str()))
            })
        };
        let _ = writeln!(
            body,
            "<dt>After a signup</dt><dd>{}</dd>\n<dt>On invalid input</dt><dd>{}</dd>\n</dl>",
            after(&form.success_url),
            after(&form.error_url)
        );
        let _ = writeln!(
            body,
            r#"<h3>Plain HTML form</h3>
<p>Works without JavaScript: the visitor lands on the success (or error) page. The page holding it must be on an origin listed in the form's <code>allowed_origins</code>, or the post is refused.</p>
<textarea readonly rows="14" id="snippet-{id}-plain" aria-label="HTML for the {id} form">{}</textarea>
<h3>With fetch()</h3>
<p>Stays on the page and shows the answer in place. A page on another origin than this service must be listed in the form's <code>allowed_origins</code>.</p>
<textarea readonly rows="20" id="snippet-{id}-fetch" aria-label="HTML and script for the {id} form">{}</textarea>"#,
            escape(&snippet::plain_form(&url, form, list_names)),
            escape(&snippet::fetch_form(&url, form, list_names)),
            id = form.id,
        );
    }
    page("Forms", Some(admin), &body)
}
