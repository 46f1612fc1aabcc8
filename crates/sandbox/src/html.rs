//! The page shell shared by the sandbox's HTML (authorize errors, the consent page, the
//! inspection page), and the escaping every piece of dynamic text goes through before it reaches
//! a page. The sandbox has its own, not ccbridge's: the simulator shares no code with the client.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete page around already-escaped `body` HTML. `head` is extra, already-safe markup.
pub fn page(title: &str, head: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
{head}
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.15rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
th, td {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
code {{ background: #f3f3f3; padding: 0 .25rem; }}
.sandbox {{ background: #fff3cd; padding: .4rem .8rem; border-radius: .3rem; }}
button {{ font-size: 1rem; padding: .4rem 1.2rem; margin-right: .5rem; }}
</style>
</head>
<body>
<p class="sandbox">Constant Contact <strong>sandbox</strong>: a local simulator, not the real service.</p>
{body}
</body>
</html>
"#,
        title = escape(title),
    ))
}

/// An error page for a request that must not be redirected anywhere.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(message));
    (status, page(title, "", &body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_both_quotes_and_keeps_other_text() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>Tom & Jerry</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            escape("&amp;"),
            "&amp;amp;",
            "text is escaped as given, once"
        );
    }
}
