//! The copy-paste HTML for each configured form: a plain form post, and the same form with the
//! embed script (`/embed/v1.js`), which sends it with `fetch` and shows errors and success in
//! place. Each line is a maud template, so a list name from the account is escaped by default.

use std::collections::BTreeMap;

use ccbridge_layout::{Markup, PreEscaped, html};
use uuid::Uuid;

use crate::config::{FormConfig, TIMESTAMP_FIELD};
use crate::http::assets::{EMBED_V1_PATH, embed_v1_integrity};

/// The URL a form posts to: `server.public_url` + `/signup/{id}` (keeping any path prefix).
pub fn signup_url(public_url: &url::Url, form: &FormConfig) -> String {
    format!(
        "{}/signup/{}",
        public_url.as_str().trim_end_matches('/'),
        form.id
    )
}

/// Where a site's page loads the embed script: `server.public_url` + `/embed/v1.js`.
pub fn embed_script_url(public_url: &url::Url) -> String {
    format!(
        "{}{EMBED_V1_PATH}",
        public_url.as_str().trim_end_matches('/')
    )
}

/// The `<script>` element that loads the embed script, pinned by its integrity value (computed
/// from the bytes compiled into this binary, which never change: see `http::assets`).
pub fn embed_script_tag(script_url: &str) -> String {
    html! {
        script src=(script_url) integrity=(embed_v1_integrity()) crossorigin="anonymous" defer {}
    }
    .into_string()
}

/// The fields of `form`, one element per line (without the `<form>` element). `list_names` gives
/// the account's names for list ids; an unknown id is shown as itself.
fn fields(form: &FormConfig, list_names: &BTreeMap<Uuid, String>) -> Vec<Markup> {
    let mut lines = vec![
        html! { label { "Email " input type="email" name="email" required maxlength="50" autocomplete="email"; } },
        html! { label { "First name " input name="first_name" maxlength="50" autocomplete="given-name"; } },
        html! { label { "Last name " input name="last_name" maxlength="50" autocomplete="family-name"; } },
    ];
    if !form.optional_list_ids.is_empty() {
        lines.push(html! { (PreEscaped("<!-- lists the visitor may choose -->")) });
        for id in &form.optional_list_ids {
            let name = list_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string());
            lines
                .push(html! { label { input type="checkbox" name="list" value=(id); " " (name) } });
        }
    }
    for name in form.custom_fields.keys() {
        // Field names are checked at load: letters, digits, '-' and '_' only.
        let label = name.replace(['_', '-'], " ");
        lines.push(html! { label { (label) " " input name=(name) maxlength="255"; } });
    }
    if let Some(honeypot) = form.honeypot() {
        lines.push(html! {
            (PreEscaped("<!-- honeypot: people never see it, bots fill it in; keep it empty -->"))
        });
        lines.push(html! {
            input type="text" name=(honeypot) tabindex="-1" autocomplete="off" aria-hidden="true"
                style="position:absolute;left:-10000px";
        });
    }
    lines.push(html! { button type="submit" { "Sign up" } });
    lines
}

/// `<form …>`, the lines indented, `</form>`.
fn form_element(open: Markup, lines: &[Markup]) -> String {
    let open = open.into_string();
    let open = open.trim_end_matches("</form>");
    let mut out = format!("{open}\n");
    for line in lines {
        out.push_str("  ");
        out.push_str(&line.0);
        out.push('\n');
    }
    out.push_str("</form>\n");
    out
}

/// A plain HTML form: works without JavaScript; the browser lands on the success or error page.
pub fn plain_form(url: &str, form: &FormConfig, list_names: &BTreeMap<Uuid, String>) -> String {
    form_element(
        html! { form method="post" action=(url) {} },
        &fields(form, list_names),
    )
}

/// The plain form and the embed script: with JavaScript the form is sent with `fetch`, errors
/// appear next to their fields and the success in place; without it, it posts as
/// [`plain_form`]. A form with `min_submit_time` gets the hidden `_ts` field, which the script
/// fills in (and renews before sending after a long pause).
pub fn scripted_form(
    public_url: &url::Url,
    form: &FormConfig,
    list_names: &BTreeMap<Uuid, String>,
) -> String {
    let url = signup_url(public_url, form);
    let id = format!("signup-{}", form.id);
    let mut lines = Vec::new();
    if form.min_submit_time.is_some() {
        lines.push(html! { input type="hidden" name=(TIMESTAMP_FIELD); });
    }
    lines.extend(fields(form, list_names));
    let mut out = form_element(
        html! { form id=(id) method="post" action=(url) data-ccbridge {} },
        &lines,
    );
    out.push_str(&embed_script_tag(&embed_script_url(public_url)));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn form() -> Config {
        Config::from_toml(
            r#"
            [server]
            public_url = "https://forms.example.org/base/"
            [[forms]]
            id = "news"
            list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
            optional_list_ids = ["17936f78-662a-11eb-af0a-fa163e56c9b0", "27936f78-662a-11eb-af0a-fa163e56c9b0"]
            custom_fields = { favorite_topic = "1618ae62-4752-11e9-9c8a-fa163e6b01c1" }
            honeypot_field = "homepage"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn the_snippets_post_to_the_public_url_with_every_field_of_the_form() {
        let config = form();
        let form = &config.forms[0];
        let url = signup_url(&config.server.public_url, form);
        assert_eq!(url, "https://forms.example.org/base/signup/news");
        let names = BTreeMap::from([(
            "17936f78-662a-11eb-af0a-fa163e56c9b0".parse().unwrap(),
            "Events <& more>".to_owned(),
        )]);

        let plain = plain_form(&url, form, &names);
        let scripted = scripted_form(&config.server.public_url, form, &names);

        for snippet in [&plain, &scripted] {
            for needle in [
                "action=\"https://forms.example.org/base/signup/news\"",
                "method=\"post\"",
                "name=\"email\"",
                "name=\"first_name\"",
                "name=\"last_name\"",
                "name=\"favorite_topic\"",
                "name=\"homepage\"",
                "value=\"17936f78-662a-11eb-af0a-fa163e56c9b0\"> Events &lt;&amp; more&gt;",
                "value=\"27936f78-662a-11eb-af0a-fa163e56c9b0\"> 27936f78-662a-11eb-af0a-fa163e56c9b0",
                "<!-- honeypot:",
            ] {
                assert!(snippet.contains(needle), "{needle} missing in {snippet}");
            }
            assert!(
                !snippet.contains("07936f78"),
                "fixed lists are not a choice"
            );
            assert!(snippet.ends_with('\n') && snippet.lines().count() > 8);
        }
        assert!(!plain.contains("<script"), "{plain}");
        assert!(
            !scripted.contains("_ts"),
            "a form without min_submit_time has no timestamp"
        );
    }

    #[test]
    fn the_scripted_snippet_is_the_plain_form_plus_the_pinned_embed_script() {
        let config = form();
        let form = &config.forms[0];
        let scripted = scripted_form(&config.server.public_url, form, &BTreeMap::new());
        let script = format!(
            "<script src=\"https://forms.example.org/base/embed/v1.js\" integrity=\"{}\" \
             crossorigin=\"anonymous\" defer></script>\n",
            embed_v1_integrity()
        );
        assert!(scripted.ends_with(&script), "{scripted}");
        assert!(
            scripted.starts_with("<form id=\"signup-news\" method=\"post\" action=\"https://forms.example.org/base/signup/news\" data-ccbridge>\n"),
            "{scripted}"
        );
        // No inline script: the page's own CSP may forbid it, and nothing needs it.
        assert_eq!(scripted.matches("<script").count(), 1, "{scripted}");
    }

    #[test]
    fn a_timed_forms_snippet_carries_the_hidden_timestamp_the_script_fills_in() {
        let mut config = form();
        config.forms[0].min_submit_time = Some(std::time::Duration::from_secs(3));
        let form = &config.forms[0];
        let scripted = scripted_form(&config.server.public_url, form, &BTreeMap::new());
        assert!(
            scripted.contains("\n  <input type=\"hidden\" name=\"_ts\">\n"),
            "{scripted}"
        );
        let url = signup_url(&config.server.public_url, form);
        assert!(!plain_form(&url, form, &BTreeMap::new()).contains("_ts"));
    }
}
