//! The confirmation mail's words: the form's `[forms.confirmation]` texts or the built-in ones,
//! with `{site}`, `{lists}`, `{link}` and `{expires}` filled in. Only these four values ever go
//! into a mail, and none of them is something the visitor typed: the form cannot be used to relay
//! someone's words to an address they typed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use url::Url;
use uuid::Uuid;

use crate::config::{Config, ConfirmationMail, FormConfig};
use crate::domain::html::escape;

const SUBJECT: &str = "Please confirm your subscription to {site}";
const TEXT: &str = "Hello,\n\n\
Someone (we hope you) asked to subscribe this address to {lists} from {site}.\n\n\
To confirm, open this link and press the button on the page:\n\n{link}\n\n\
The link works until {expires}. If you did not ask for this, ignore this mail: \
nothing happens and you will not hear from us again.\n";
const HTML: &str = "<p>Hello,</p>\n\
<p>Someone (we hope you) asked to subscribe this address to {lists} from {site}.</p>\n\
<p><a href=\"{link}\">Confirm my subscription</a></p>\n\
<p>Or copy this link into your browser: {link}</p>\n\
<p>The link works until {expires}. If you did not ask for this, ignore this mail: \
nothing happens and you will not hear from us again.</p>\n";
/// `{lists}` when neither the form nor the account names them.
pub const DEFAULT_LISTS: &str = "our mailing list";

/// The values put into a confirmation mail.
#[derive(Debug, Clone)]
pub struct Placeholders {
    pub site: String,
    pub lists: String,
    pub link: Url,
    pub expires: DateTime<Utc>,
}

/// A rendered confirmation mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTexts {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The site's name in mails and pages: `consent.site_name`, else the host of `public_url`.
pub fn site_name(config: &Config) -> String {
    if !config.consent.site_name.is_empty() {
        return config.consent.site_name.clone();
    }
    config
        .server
        .public_url
        .host_str()
        .unwrap_or("this site")
        .to_owned()
}

/// The lists in words: the form's `lists_description`, else the names the account gave them at
/// the last check (`names`), else [`DEFAULT_LISTS`].
pub fn lists_text(form: &FormConfig, list_ids: &[Uuid], names: &BTreeMap<Uuid, String>) -> String {
    if let Some(description) = &form.confirmation.lists_description {
        return description.clone();
    }
    let named: Vec<&str> = list_ids
        .iter()
        .filter_map(|id| names.get(id).map(String::as_str))
        .collect();
    if named.is_empty() || named.len() < list_ids.len() {
        return DEFAULT_LISTS.to_owned();
    }
    match named.as_slice() {
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        [] => DEFAULT_LISTS.to_owned(),
    }
}

/// `public_url` + `/confirm/` + the token, keeping a path prefix of `public_url` (a service
/// behind `https://example.org/ccbridge/`).
pub fn confirm_link(public_url: &Url, token: &str) -> Url {
    let base = public_url.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/confirm/{token}")).expect("a valid base URL plus a path is valid")
}

/// The date a link stops working, for people.
pub fn expiry_words(expires: DateTime<Utc>) -> String {
    expires.format("%-d %B %Y, %H:%M UTC").to_string()
}

/// The mail for `values`, from the form's texts or the built-in ones. A plain-text part always.
pub fn render(mail: &ConfirmationMail, values: &Placeholders) -> MailTexts {
    MailTexts {
        // One line: a value cannot add a header.
        subject: fill(mail.subject.as_deref().unwrap_or(SUBJECT), values, false)
            .replace(['\r', '\n'], " "),
        text: fill(mail.text.as_deref().unwrap_or(TEXT), values, false),
        html: fill(mail.html.as_deref().unwrap_or(HTML), values, true),
    }
}

/// Replace each placeholder in one pass (a value that itself looks like a placeholder stays as
/// it is); in HTML every value is escaped.
fn fill(template: &str, values: &Placeholders, html: bool) -> String {
    let expires = expiry_words(values.expires);
    let pairs: [(&str, &str); 4] = [
        ("{site}", &values.site),
        ("{lists}", &values.lists),
        ("{link}", values.link.as_str()),
        ("{expires}", &expires),
    ];
    let mut out = String::with_capacity(template.len() + 200);
    let mut rest = template;
    'scan: while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        for (name, value) in pairs {
            if let Some(after) = rest.strip_prefix(name) {
                out.push_str(&if html {
                    escape(value)
                } else {
                    value.to_owned()
                });
                rest = after;
                continue 'scan;
            }
        }
        out.push('{');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders {
        Placeholders {
            site: "Bob's <Bakery>".into(),
            lists: "News & Offers".into(),
            link: "https://example.org/sub/confirm/abc_DEF-123"
                .parse()
                .unwrap(),
            expires: "2030-01-02T03:04:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_built_in_mail_names_the_site_lists_link_and_expiry() {
        let mail = render(&ConfirmationMail::default(), &values());
        assert_eq!(
            mail.subject,
            "Please confirm your subscription to Bob's <Bakery>"
        );
        assert!(
            mail.text.contains("News & Offers from Bob's <Bakery>"),
            "{}",
            mail.text
        );
        assert!(
            mail.text
                .contains("https://example.org/sub/confirm/abc_DEF-123")
        );
        assert!(
            mail.text.contains("2 January 2030, 03:04 UTC"),
            "{}",
            mail.text
        );
        assert!(
            mail.html.contains("Bob&#39;s &lt;Bakery&gt;"),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("News &amp; Offers"));
        assert!(
            mail.html
                .contains("href=\"https://example.org/sub/confirm/abc_DEF-123\"")
        );
    }

    #[test]
    fn a_forms_texts_are_used_and_values_are_not_read_as_placeholders() {
        let mail = ConfirmationMail {
            subject: Some("Join {lists}\r\n".into()),
            text: Some("{site}: {link} {unknown} {".into()),
            html: Some("<b>{lists}</b> {link}".into()),
            lists_description: None,
        };
        let mut values = values();
        values.site = "{link}".into();
        let rendered = render(&mail, &values);
        assert_eq!(rendered.subject, "Join News & Offers  ");
        assert_eq!(
            rendered.text,
            "{link}: https://example.org/sub/confirm/abc_DEF-123 {unknown} {"
        );
        assert_eq!(
            rendered.html,
            "<b>News &amp; Offers</b> https://example.org/sub/confirm/abc_DEF-123"
        );
    }

    #[test]
    fn the_link_keeps_a_path_prefix_of_public_url() {
        for base in [
            "https://example.org/ccbridge",
            "https://example.org/ccbridge/",
        ] {
            let link = confirm_link(&base.parse().unwrap(), "tok");
            assert_eq!(link.as_str(), "https://example.org/ccbridge/confirm/tok");
        }
        let link = confirm_link(&"https://example.org".parse().unwrap(), "tok");
        assert_eq!(link.as_str(), "https://example.org/confirm/tok");
    }

    #[test]
    fn lists_are_described_by_the_form_the_account_or_a_default() {
        let config = Config::from_toml(
            r#"
            [[forms]]
            id = "a"
            list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0", "17936f78-662a-11eb-af0a-fa163e56c9b0"]
            [[forms]]
            id = "b"
            list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
            confirmation = { lists_description = "the weekly letter" }
            "#,
        )
        .unwrap();
        let (a, b) = (&config.forms[0], &config.forms[1]);
        let ids = a.list_ids.clone();
        let mut names = BTreeMap::new();
        assert_eq!(lists_text(a, &ids, &names), DEFAULT_LISTS);
        names.insert(ids[0], "News".to_owned());
        assert_eq!(
            lists_text(a, &ids, &names),
            DEFAULT_LISTS,
            "one list unnamed"
        );
        names.insert(ids[1], "Offers".to_owned());
        assert_eq!(lists_text(a, &ids, &names), "News and Offers");
        assert_eq!(lists_text(b, &ids, &names), "the weekly letter");
        assert_eq!(site_name(&config), "localhost");
    }
}
