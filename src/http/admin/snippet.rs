//! The copy-paste HTML for each configured form: a plain form post, and a `fetch()` variant that
//! asks for JSON and shows the answer in place.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::config::{FormConfig, TIMESTAMP_FIELD};
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

/// The same form sent with `fetch()`, asking for JSON, with the answer shown next to it. For a
/// form with `min_submit_time` it also fetches the signed `_ts` value when the page loads, and a
/// fresh one when the form is sent after a long pause (or the answer says `expired_timestamp`).
pub fn fetch_form(url: &str, form: &FormConfig, list_names: &BTreeMap<Uuid, String>) -> String {
    let id = format!("signup-{}", form.id);
    let timed = form.min_submit_time.is_some();
    let (ts_field, send, retry) = if timed {
        (
            format!("  <input type=\"hidden\" name=\"{TIMESTAMP_FIELD}\">\n"),
            timed_send(&js_string(&format!("{url}/token"))),
            TIMESTAMP_RETRY,
        )
    } else {
        (String::new(), "const send = post;\n".to_owned(), "")
    };
    format!(
        r#"<form id="{id}">
{ts_field}{fields}</form>
<p id="{id}-result" role="status"></p>
<script>
(() => {{
const form = document.getElementById("{id}");
const post = () => fetch({url_js}, {{
  method: "POST",
  headers: {{ "Accept": "application/json" }},
  body: new FormData(form),
}});
{send}form.addEventListener("submit", async (event) => {{
  event.preventDefault();
  const result = document.getElementById("{id}-result");
  try {{
    let response = await send();
    let answer = await response.json();
{retry}    if (response.ok) {{
      result.textContent = "Thank you for signing up!";
      form.reset();
    }} else {{
      result.textContent = answer.error.message;
    }}
  }} catch (error) {{
    result.textContent = "Something went wrong. Please try again.";
  }}
}});
}})();
</script>
"#,
        url_js = js_string(url),
        fields = fields(form, list_names),
    )
}

/// A JSON string is a valid JavaScript string literal; `<` is escaped so that no URL can close
/// the script element.
fn js_string(value: &str) -> String {
    serde_json::to_string(value)
        .expect("strings serialize")
        .replace('<', "\\u003c")
}

/// For a timed form: fetch the signed "form shown at" value when the page loads, and `send`
/// renews a value that has expired or is about to (its `max_age_ms`) before posting. A renewed
/// value is only a moment old, so it then waits the form's minimum time, or the signup would
/// count as too fast.
fn timed_send(token_url_js: &str) -> String {
    format!(
        r#"let shown = null;
const refreshTimestamp = async (wait) => {{
  const token = await (await fetch({token_url_js})).json();
  form.elements["{TIMESTAMP_FIELD}"].value = token.value;
  shown = {{ at: Date.now(), maxAge: token.max_age_ms, min: token.min_submit_time_ms || 0 }};
  if (wait) await new Promise((done) => setTimeout(done, shown.min));
}};
refreshTimestamp(false).catch(() => {{}});
const send = async () => {{
  if (!shown || Date.now() - shown.at > shown.maxAge - 60000) await refreshTimestamp(true);
  return post();
}};
"#
    )
}

/// In the submit handler of a timed form: once more with a fresh value if the answer is still
/// `expired_timestamp` (the page's clock and ccbridge's may differ).
const TIMESTAMP_RETRY: &str = r#"    if (answer.error && answer.error.code === "expired_timestamp") {
      await refreshTimestamp(true);
      response = await post();
      answer = await response.json();
    }
"#;

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
        assert!(
            !fetch.contains("_ts"),
            "a form without min_submit_time has no timestamp"
        );
    }

    #[test]
    fn a_timed_forms_fetch_snippet_renews_an_old_timestamp_before_sending() {
        let mut config = form();
        config.forms[0].min_submit_time = Some(std::time::Duration::from_secs(3));
        let form = &config.forms[0];
        let url = signup_url(&config.server.public_url, form);
        let fetch = fetch_form(&url, form, &BTreeMap::new());
        for needle in [
            "<input type=\"hidden\" name=\"_ts\">",
            "fetch(\"https://forms.example.org/base/signup/news/token\")",
            "refreshTimestamp(false)",
            "token.max_age_ms",
            "Date.now() - shown.at > shown.maxAge",
            "setTimeout(done, shown.min)",
            "answer.error.code === \"expired_timestamp\"",
        ] {
            assert!(fetch.contains(needle), "{needle} missing in {fetch}");
        }
    }
}
