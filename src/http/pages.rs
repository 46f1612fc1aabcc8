//! The built-in HTML pages a visitor sees (thank-you, errors, the form's own address, not found,
//! the confirmation link's pages), in the visitor's language, in the shared shell, written with
//! maud (every value escaped). Each has the link back to the page the form was on, when that page
//! is known and one of the form's allowed origins.
//!
//! `notice` remains for the few English pages of other modules.

use axum::http::header::VARY;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use ccbridge_layout::{Look, Markup, Shell, html};
use url::Url;

use crate::config::ConsentMode;
use crate::i18n::{Language, Texts};

/// Whom a visitor page is for: their language (with the form's words) and where to go back to.
#[derive(Debug, Clone)]
pub struct Visitor<'a> {
    pub texts: Texts<'a>,
    /// The page the form was on, already checked against the form's allowed origins.
    pub back: Option<Url>,
}

impl<'a> Visitor<'a> {
    pub fn new(texts: Texts<'a>, back: Option<Url>) -> Self {
        Self { texts, back }
    }

    /// A visitor of no known form: the catalog's words in `language`, no link back.
    pub fn plain(language: Language) -> Self {
        Self::new(Texts::new(language, None), None)
    }

    /// The page around `body`, with the link back at its end.
    pub fn page(&self, title: &str, body: Markup) -> Html<String> {
        let lang = self.texts.language.code();
        let back = self.back.as_ref().map(|url| {
            let site = url.host_str().unwrap_or(url.as_str());
            (url, self.texts.with("back-link", &[("site", site.into())]))
        });
        let shell = Shell::new(Look::Visitor, lang, title);
        Html(
            shell
                .render(html! {
                    (body)
                    @if let Some((url, words)) = back {
                        p.back { a href=(url.as_str()) rel="noopener" { (words) } }
                    }
                })
                .into_string(),
        )
    }

    /// A page with a heading and paragraphs of text.
    pub fn notice(&self, title: &str, heading: &str, paragraphs: &[&str]) -> Html<String> {
        self.page(
            title,
            html! {
                h1 { (heading) }
                @for text in paragraphs { p { (text) } }
            },
        )
    }

    /// After a signup. On a double opt-in form it says to look for the mail; it says the same
    /// whether or not a mail was sent (a cap may hold it), so the page tells nobody about an
    /// address.
    pub fn thank_you(&self, consent: ConsentMode) -> Html<String> {
        let t = &self.texts;
        match consent {
            ConsentMode::Single => self.notice(
                &t.get("thank-you-title"),
                &t.get("thank-you-heading"),
                &[&t.get("thank-you-text")],
            ),
            ConsentMode::Double => {
                let heading = t.get("thank-you-double-title");
                self.notice(
                    &heading,
                    &heading,
                    &[
                        &t.get("thank-you-double-text"),
                        &t.get("thank-you-double-hint"),
                    ],
                )
            }
        }
    }

    /// The thank-you page's words as one sentence pair, for a script to show in place (the JSON
    /// answer's `message`); the form's overrides apply as on the page.
    pub fn thank_you_message(&self, consent: ConsentMode) -> String {
        let t = &self.texts;
        match consent {
            ConsentMode::Single => {
                format!("{} {}", t.get("thank-you-heading"), t.get("thank-you-text"))
            }
            // "Almost done: please check your mail. We have sent you a mail with a link …"
            ConsentMode::Double => format!(
                "{}. {}",
                t.get("thank-you-double-title").trim_end_matches('.'),
                t.get("thank-you-double-text")
            ),
        }
    }

    /// A refused signup: the heading, what went wrong (announced to screen readers), and the
    /// request to correct the form only when the visitor can.
    pub fn signup_error(&self, message: &str, visitor_can_fix: bool) -> Html<String> {
        let t = &self.texts;
        self.page(
            &t.get("error-title"),
            html! {
                h1 { (t.get("error-heading")) }
                p role="alert" { (message) }
                @if visitor_can_fix { p { (t.get("error-hint-fix")) } }
            },
        )
    }

    /// `GET /signup/{form}`: the address a form posts to, opened in a browser.
    pub fn signup_address(&self) -> Html<String> {
        let t = &self.texts;
        self.notice(
            &t.get("signup-page-title"),
            &t.get("signup-page-heading"),
            &[&t.get("signup-page-text")],
        )
    }

    pub fn not_found(&self) -> Html<String> {
        let t = &self.texts;
        let title = t.get("not-found-title");
        self.notice(&title, &title, &[&t.get("not-found-text")])
    }

    /// A page whose title and heading are the message `title` and whose text is `text`.
    pub fn message(&self, title: &str, text: &str) -> Html<String> {
        let heading = self.texts.get(title);
        self.notice(&heading, &heading, &[text])
    }
}

/// A visitor page's response: its words depend on `Accept-Language`, which caches must know.
pub fn respond(status: StatusCode, page: Html<String>) -> Response {
    let mut response = (status, page).into_response();
    vary_on_language(&mut response);
    response
}

/// Mark a response whose words depend on `Accept-Language`.
pub fn vary_on_language(response: &mut Response) {
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("Accept-Language"));
}

/// An English page with a heading and one paragraph of text.
pub fn notice(title: &str, heading: &str, text: &str) -> Html<String> {
    Visitor::plain(Language::En).notice(title, heading, &[text])
}

/// The English "not found" page.
pub fn not_found() -> Html<String> {
    Visitor::plain(Language::En).not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_page_is_in_the_visitors_language() {
        let visitor = Visitor::plain(Language::De);
        let page = visitor.signup_error("<script>", false).0;
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("<html lang=\"de\">"), "{page}");
        assert!(page.contains("nicht angenommen"), "{page}");
        assert!(!page.contains("korrigieren"), "{page}");
        assert!(visitor.signup_error("x", true).0.contains("korrigieren"));
    }

    #[test]
    fn the_link_back_names_the_site() {
        let back: Url = "https://example.org/join?a=1&b=\"2\"".parse().unwrap();
        let visitor = Visitor::new(Texts::new(Language::Fr, None), Some(back));
        let page = visitor.thank_you(ConsentMode::Single).0;
        assert!(
            page.contains("<a href=\"https://example.org/join?a=1&amp;b=%222%22\""),
            "{page}"
        );
        assert!(page.contains("Retour à example.org"), "{page}");
    }
}
