//! The copy-paste HTML for each configured form: a plain form post, and a `fetch()` variant that
//! asks for JSON and shows the answer in place.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::config::FormConfig;
use crate::http::pages::escape;

/// The URL a form posts to: `server.public_url` + `/signup/{id}` (keeping any path prefix).
pub fn signup_url(public_url: &url::Url, form: &FormConfig) -> String {
    format!(
        "{}/signup/{}",
        public_url.as_str().trim_end_matches('/'),
        form.id
    )
}

/// The fields of `form`, as HTML lines (without the `<form>` element). `list_names` gives the
/// account's names for list ids; an unknown id is shown as itself.
fn fields(form: &FormConfig, list_names: &BTreeMap<Uuid, String>) -> String {
    let mut out = String::new();
    out.push_str(
        "  <label>Email <input type=\"email\" name=\"email\" required maxlength=\"50\" autocomplete=\"email\"></label>\n",
    );
    out.push_str(
        "  <label>First name <input name=\"first_name\" maxlength=\"50\" autocomplete=\"given-name\"></label>\n",
    );
    out.push_str(
        "  <label>Last name <input name=\"last_name\" maxlength=\"50\" autocomplete=\"family-name\"></label>\n",
    );
    if !form.optional_list_ids.is_empty() {
        out.push_str("  <!-- lists the visitor may choose -->\n");
        for id in &form.optional_list_ids {
            let name = list_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string());
            out.push_str(&format!(
                "  <label><input type=\"checkbox\" name=\"list\" value=\"{id}\"> {}</label>\n",
                escape(&name)
            ));
        }
    }
    for name in form.custom_fields.keys() {
        // Field names are checked at load: letters, digits, '-' and '_' only.
        out.push_str(&format!(
            "  <label>{} <input name=\"{name}\" maxlength=\"255\"></label>\n",
            escape(&name.replace(['_', '-'], " "))
        ));
    }
    if let Some(honeypot) = form.honeypot() {
        out.push_str("  <!-- honeypot: people never see it, bots fill it in; keep it empty -->\n");
        out.push_str(&format!(
            "  <input type=\"text\" name=\"{honeypot}\" tabindex=\"-1\" autocomplete=\"off\" aria-hidden=\"true\" style=\"position:absolute;left:-10000px\">\n"
        ));
    }
    out.push_str("  <button type=\"submit\">Sign up</button>\n");
    out
}

/// A plain HTML form: works without JavaScript; the browser lands on the success or error page.
pub fn plain_form(url: &str, form: &FormConfig, list_names: &BTreeMap<Uuid, String>) -> String {
    format!(
        "<form method=\"post\" action=\"{}\">\n{}</form>\n",
        escape(url),
        fields(form, list_names)
    )
}

/// The same form sent with `fetch()`, asking for JSON, with the answer shown next to it.
pub fn fetch_form(url: &str, form: &FormConfig, list_names: &BTreeMap<Uuid, String>) -> String {
    let id = format!("signup-{}", form.id);
    // A JSON string is a valid JavaScript string literal; `<` is escaped so that no URL can
    // close the script element.
    let url_js = serde_json::to_string(url)
        .expect("strings serialize")
        .replace('<', "\\u003c");
    format!(
        r#"<form id="{id}">
{fields}</form>
<p id="{id}-result" role="status"></p>
<script>
document.getElementById("{id}").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const result = document.getElementById("{id}-result");
  try {{
    const response = await fetch({url_js}, {{
      method: "POST",
      headers: {{ "Accept": "application/json" }},
      body: new FormData(event.target),
    }});
    const answer = await response.json();
    if (response.ok) {{
      result.textContent = "Thank you for signing up!";
      event.target.reset();
    }} else {{
      result.textContent = answer.error.message;
    }}
  }} catch (error) {{
    result.textContent = "Something went wrong. Please try again.";
  }}
}});
</script>
"#,
        fields = fields(form, list_names),
    )
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
        let fetch = fetch_form(&url, form, &names);

        for snippet in [&plain, &fetch] {
            for needle in [
                "name=\"email\"",
                "name=\"first_name\"",
                "name=\"last_name\"",
                "name=\"favorite_topic\"",
                "name=\"homepage\"",
                "value=\"17936f78-662a-11eb-af0a-fa163e56c9b0\"> Events &lt;&amp; more&gt;",
                "value=\"27936f78-662a-11eb-af0a-fa163e56c9b0\"> 27936f78-662a-11eb-af0a-fa163e56c9b0",
            ] {
                assert!(snippet.contains(needle), "{needle} missing in {snippet}");
            }
            assert!(
                !snippet.contains("07936f78"),
                "fixed lists are not a choice"
            );
        }
        assert!(plain.contains("action=\"https://forms.example.org/base/signup/news\""));
        assert!(fetch.contains("fetch(\"https://forms.example.org/base/signup/news\""));
        assert!(fetch.contains("\"Accept\": \"application/json\""));
    }
}
