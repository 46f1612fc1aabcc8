//! The confirmation mail's words: the form's `[forms.confirmation]` texts, or the built-in ones
//! from the catalogs in the signup's language (`i18n`), with `{site}`, `{lists}`, `{link}` and
//! `{expires}` filled in. Only these four values ever go into a mail, and none of them is
//! something the visitor typed: the form cannot be used to relay someone's words to an address
//! they typed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use url::Url;
use uuid::Uuid;

use crate::config::{Config, ConfirmationMail, FormConfig};
use crate::domain::html::escape;
use crate::i18n::Texts;

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
/// the last check (`names`), else `mail-default-lists` ("our mailing list") in `texts`' language.
pub fn lists_text(
    form: &FormConfig,
    list_ids: &[Uuid],
    names: &BTreeMap<Uuid, String>,
    texts: &Texts<'_>,
) -> String {
    if let Some(description) = &form.confirmation.lists_description {
        return description.clone();
    }
    let named: Vec<&str> = list_ids
        .iter()
        .filter_map(|id| names.get(id).map(String::as_str))
        .collect();
    match named.as_slice() {
        _ if named.len() < list_ids.len() => texts.get("mail-default-lists"),
        [one] => (*one).to_owned(),
        [rest @ .., last] => texts.with(
            "list-and",
            &[("rest", rest.join(", ").into()), ("last", (*last).into())],
        ),
        [] => texts.get("mail-default-lists"),
    }
}

/// `public_url` + `/confirm/` + the token, keeping a path prefix of `public_url` (a service
/// behind `https://example.org/ccbridge/`).
pub fn confirm_link(public_url: &Url, token: &str) -> Url {
    let base = public_url.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/confirm/{token}")).expect("a valid base URL plus a path is valid")
}

/// The built-in mail's three parts in `texts`' language, as templates with `{site}`, `{lists}`,
/// `{link}` and `{expires}` (so that a value is filled in, and escaped, exactly like in an
/// operator's template).
fn built_in(texts: &Texts<'_>) -> (String, String, String) {
    let placeholders = |id: &str| {
        texts.with(
            id,
            &[
                ("site", "{site}".into()),
                ("lists", "{lists}".into()),
                ("expires", "{expires}".into()),
            ],
        )
    };
    let subject = placeholders("mail-subject");
    let greeting = texts.get("mail-greeting");
    let request = placeholders("mail-request");
    let expiry = placeholders("mail-expiry");
    let text = format!(
        "{greeting}\n\n{request}\n\n{}\n\n{{link}}\n\n{expiry}\n",
        texts.get("mail-open-link")
    );
    // The catalog's words are escaped here; the placeholders are escaped when filled in.
    let html = format!(
        "<p>{}</p>\n<p>{}</p>\n<p><a href=\"{{link}}\">{}</a></p>\n<p>{} {{link}}</p>\n<p>{}</p>\n",
        escape(&greeting),
        escape(&request),
        escape(&texts.get("mail-button")),
        escape(&texts.get("mail-copy-link")),
        escape(&expiry),
    );
    (subject, text, html)
}

/// The mail for `values`, from the form's texts or the built-in ones in `texts`' language. A
/// plain-text part always.
pub fn render(mail: &ConfirmationMail, values: &Placeholders, texts: &Texts<'_>) -> MailTexts {
    let (subject, text, html) = built_in(texts);
    let expires = texts.date_time(values.expires);
    MailTexts {
        // One line: a value cannot add a header.
        subject: fill(
            mail.subject.as_deref().unwrap_or(&subject),
            values,
            &expires,
            false,
        )
        .replace(['\r', '\n'], " "),
        text: fill(
            mail.text.as_deref().unwrap_or(&text),
            values,
            &expires,
            false,
        ),
        html: fill(
            mail.html.as_deref().unwrap_or(&html),
            values,
            &expires,
            true,
        ),
    }
}

/// Replace each placeholder in one pass (a value that itself looks like a placeholder stays as
/// it is); in HTML every value is escaped.
fn fill(template: &str, values: &Placeholders, expires: &str, html: bool) -> String {
    let pairs: [(&str, &str); 4] = [
        ("{site}", &values.site),
        ("{lists}", &values.lists),
        ("{link}", values.link.as_str()),
        ("{expires}", expires),
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
    use crate::i18n::Language;

    const EN: Texts<'static> = Texts::new(Language::En, None);
    const DEFAULT_LISTS: &str = "our mailing list";

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
        let mail = render(&ConfirmationMail::default(), &values(), &EN);
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
        let rendered = render(&mail, &values, &EN);
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
        assert_eq!(lists_text(a, &ids, &names, &EN), DEFAULT_LISTS);
        names.insert(ids[0], "News".to_owned());
        assert_eq!(
            lists_text(a, &ids, &names, &EN),
            DEFAULT_LISTS,
            "one list unnamed"
        );
        names.insert(ids[1], "Offers".to_owned());
        assert_eq!(lists_text(a, &ids, &names, &EN), "News and Offers");
        assert_eq!(lists_text(b, &ids, &names, &EN), "the weekly letter");
        assert_eq!(site_name(&config), "localhost");
        let de = Texts::new(Language::De, None);
        assert_eq!(lists_text(a, &ids, &names, &de), "News und Offers");
        assert_eq!(
            lists_text(a, &ids[..0], &BTreeMap::new(), &de),
            "unseren Newsletter"
        );
    }

    #[test]
    fn the_built_in_mail_speaks_the_signups_language_and_escapes_values() {
        let de = Texts::new(Language::De, None);
        let mail = render(&ConfirmationMail::default(), &values(), &de);
        assert_eq!(
            mail.subject,
            "Bitte bestätigen Sie Ihre Anmeldung bei Bob's <Bakery>"
        );
        assert!(
            mail.text.contains("2. Januar 2030, 03:04 UTC"),
            "{}",
            mail.text
        );
        assert!(
            mail.html.contains("Meine Anmeldung bestätigen</a>"),
            "{}",
            mail.html
        );
        assert!(
            mail.html.contains("Bob&#39;s &lt;Bakery&gt;"),
            "{}",
            mail.html
        );
        let fr = render(
            &ConfirmationMail::default(),
            &values(),
            &Texts::new(Language::Fr, None),
        );
        assert!(fr.text.contains("Bonjour,"), "{}", fr.text);
    }
}
