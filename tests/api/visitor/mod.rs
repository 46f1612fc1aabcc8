//! What a visitor reads, over real HTTP: every message of a refused signup, the thank-you pages,
//! the form's own address and the confirmation pages, in each shipped language; how the language
//! is chosen; the link back to the page the form was on; the confirmation mail in the signup's
//! language.

use reqwest::RequestBuilder;

use crate::helpers::{FIXED_LIST, OPTIONAL_LIST, TOPIC_FIELD};

mod choice;
mod mail;
mod messages;

/// The shipped languages, as `Accept-Language` asks for them.
const LANGUAGES: [&str; 4] = ["en", "de", "fr", "es"];

/// The site the visitor forms live on.
const SITE: &str = "https://shop.example";

/// Forms for these tests: `visit` (allowed on `SITE`, a custom field, German texts overridden),
/// `deutsch` (`locale = "de"`), and `robot` (a CAPTCHA whose provider cannot be reached).
fn visitor_forms(closed_port: u16) -> String {
    format!(
        r#"
        [[forms]]
        id = "visit"
        list_ids = ["{FIXED_LIST}"]
        optional_list_ids = ["{OPTIONAL_LIST}"]
        allowed_origins = ["{SITE}"]
        custom_fields = {{ favorite_topic = "{TOPIC_FIELD}" }}

        [forms.texts.de]
        field-favorite_topic = "Lieblingsthema"
        thank-you-heading = "Danke schön, bis bald!"

        [[forms]]
        id = "deutsch"
        list_ids = ["{FIXED_LIST}"]
        locale = "de"
        allowed_origins = ["{SITE}"]

        [[forms]]
        id = "robot"
        list_ids = ["{FIXED_LIST}"]
        [forms.captcha]
        provider = "turnstile"
        secret = "x"
        verify_url = "http://127.0.0.1:{closed_port}/siteverify"
        "#
    )
}

/// A browser's request: HTML wanted, in `language`.
fn as_browser(request: RequestBuilder, language: &str) -> RequestBuilder {
    request
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("accept-language", language)
}

/// The `lang` of a page's `<html>`.
fn html_lang(page: &str) -> &str {
    let at = page.find("<html lang=\"").expect("an <html lang>") + "<html lang=\"".len();
    let end = page[at..].find('"').unwrap();
    &page[at..at + end]
}

/// The link back on a page, if any (`href` of the `p.back` link).
fn back_link(page: &str) -> Option<String> {
    let at = page.find("<p class=\"back\"><a href=\"")? + "<p class=\"back\"><a href=\"".len();
    let end = page[at..].find('"')?;
    Some(page[at..at + end].replace("&amp;", "&"))
}
