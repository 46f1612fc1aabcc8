//! The page shell shared by the sandbox's HTML (authorize errors, the consent page, the
//! inspection page), and the escaping every piece of dynamic text goes through before it reaches
//! a page. The sandbox has its own, not ccbridge's: the simulator shares no code with the client.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use ccbridge_layout::{Look, PreEscaped, Shell};

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

/// A complete page around already-escaped `body` HTML, in the shell ccbridge's pages share.
/// `head` is extra, already-safe markup.
pub fn page(title: &str, head: &str, body: &str) -> Html<String> {
    let shell = Shell {
        head: (!head.is_empty()).then(|| PreEscaped(head.to_owned())),
        ..Shell::new(Look::Sandbox, "en", title)
    };
    Html(shell.render(PreEscaped(body.to_owned())).into_string())
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
