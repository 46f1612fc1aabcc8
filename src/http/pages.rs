//! The few built-in HTML pages (thank-you, errors). Small, self-contained, no scripts, and every
//! piece of dynamic text escaped.

use axum::response::Html;
use ccbridge_layout::{Look, PreEscaped, Shell};

use crate::config::ConsentMode;

pub use crate::domain::html::escape;

/// A complete visitor page around already-escaped `body` HTML, in the shared shell.
pub fn layout(title: &str, body: &str) -> Html<String> {
    let shell = Shell::new(Look::Visitor, "en", title);
    Html(shell.render(PreEscaped(body.to_owned())).into_string())
}

/// After a signup. On a double opt-in form it says to look for the mail; it says the same whether
/// or not a mail was sent (a cap may hold it), so the page tells nobody about an address.
pub fn thank_you(consent: ConsentMode) -> Html<String> {
    match consent {
        ConsentMode::Single => layout(
            "Thank you",
            "<h1>Thank you for signing up!</h1>\n<p>Your subscription has been received.</p>",
        ),
        ConsentMode::Double => layout(
            "Almost done: please check your mail",
            "<h1>Almost done: please check your mail</h1>\n<p>We have sent you a mail with a link \
             to confirm your subscription. Nothing is subscribed until you follow it.</p>\n\
             <p>No mail after a few minutes? Look in your spam folder, or sign up again later.</p>",
        ),
    }
}

pub fn signup_error(message: &str) -> Html<String> {
    layout(
        "Signup not accepted",
        &format!(
            "<h1>Your signup was not accepted</h1>\n<p>{}</p>\n<p>Please go back, correct the form and try again.</p>",
            escape(message)
        ),
    )
}

/// A page with a heading and one paragraph of (escaped) text.
pub fn notice(title: &str, heading: &str, text: &str) -> Html<String> {
    layout(
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>", escape(heading), escape(text)),
    )
}

pub fn not_found() -> Html<String> {
    layout(
        "Not found",
        "<h1>Not found</h1>\n<p>There is nothing at this address.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert!(signup_error("<script>").0.contains("&lt;script&gt;"));
    }
}
