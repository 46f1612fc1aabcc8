//! `[[forms]]`: one signup form each, `POST /signup/{id}`: its lists, its pages, its fields and
//! its defences.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use super::CaptchaConfig;
pub use crate::domain::ConsentMode;
use crate::domain::FormId;
use crate::i18n::{Catalogs, Language, Overrides, Texts};

/// Constant Contact's `sign_up_form` accepts at most 50 list memberships.
pub const MAX_LISTS_PER_SIGNUP: usize = 50;
/// Field names the signup endpoint reserves; a custom field or honeypot may not reuse them.
pub const STANDARD_FIELDS: [&str; 7] = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "list",
];

/// One signup form: `POST /signup/{id}`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FormConfig {
    pub id: FormId,
    /// Every signup through this form joins these lists (at least one).
    pub list_ids: Vec<Uuid>,
    /// Lists a visitor may choose with the repeatable `list` field.
    #[serde(default)]
    pub optional_list_ids: Vec<Uuid>,
    #[serde(default)]
    pub success_url: Option<Url>,
    /// Gets `?error=<code>` (and `&field=<name>`) appended on invalid input.
    #[serde(default)]
    pub error_url: Option<Url>,
    #[serde(default)]
    pub allowed_origins: Vec<Url>,
    /// A field that people leave empty and bots fill in. Empty string disables it.
    #[serde(default = "default_honeypot")]
    pub honeypot_field: String,
    /// Form field name → Constant Contact custom field id.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Uuid>,
    /// Submissions faster than this after the form was shown are kept as spam (needs the `_ts`
    /// field from `GET /signup/{id}/token`).
    #[serde(default, with = "humantime_serde::option")]
    pub min_submit_time: Option<Duration>,
    /// A `_ts` value older than this is refused (`expired_timestamp`) on forms with
    /// `min_submit_time`, so that a captured value cannot be replayed for ever.
    #[serde(default = "default_max_submit_age", with = "humantime_serde")]
    pub max_submit_age: Duration,
    #[serde(default)]
    pub captcha: Option<CaptchaConfig>,
    /// `single`: delivered as submitted. `double`: held until the person confirms by mail.
    #[serde(default)]
    pub consent: ConsentMode,
    /// What the form tells people they agree to; kept (once per version) with every signup's
    /// consent record.
    #[serde(default)]
    pub consent_text: Option<String>,
    /// Where a person lands after confirming; else a built-in page.
    #[serde(default)]
    pub confirmed_url: Option<Url>,
    /// The confirmation mail's texts; each falls back to a built-in default.
    #[serde(default)]
    pub confirmation: ConfirmationMail,
    /// The language of this form's visitor pages and mails; else each visitor's
    /// `Accept-Language`, else English.
    #[serde(default)]
    pub locale: Option<Language>,
    /// `[forms.texts.de]`: the operator's words for this form in a language, by message id
    /// (docs/languages.md); they win over the shipped catalog.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<Language, Overrides>,
}

/// A form's confirmation mail. Placeholders: `{site}`, `{lists}`, `{link}`, `{expires}`. Nothing
/// the visitor typed is ever put into the mail.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationMail {
    pub subject: Option<String>,
    /// The plain-text part; must contain `{link}`.
    pub text: Option<String>,
    /// The HTML part; must contain `{link}`. Placeholder values are HTML-escaped.
    pub html: Option<String>,
    /// The lists named in the mail (`{lists}`); else the lists' names as Constant Contact
    /// reported them at the last account check, else "our mailing list".
    pub lists_description: Option<String>,
}

impl ConfirmationMail {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(subject) = &self.subject
            && (subject.trim().is_empty() || subject.contains(['\r', '\n']) || subject.len() > 200)
        {
            return Err((
                "confirmation.subject",
                "must be one line of 1 to 200 characters".into(),
            ));
        }
        for (key, body) in [
            ("confirmation.text", &self.text),
            ("confirmation.html", &self.html),
        ] {
            if let Some(body) = body
                && !body.contains("{link}")
            {
                return Err((key, "must contain the {link} placeholder".into()));
            }
        }
        Ok(())
    }
}

fn default_max_submit_age() -> Duration {
    Duration::from_secs(2 * 3600)
}

fn default_honeypot() -> String {
    "website".to_owned()
}

impl FormConfig {
    pub fn honeypot(&self) -> Option<&str> {
        Some(self.honeypot_field.as_str()).filter(|name| !name.is_empty())
    }

    /// This form's words in `language`: the catalog with the form's overrides.
    pub fn texts(&self, language: Language) -> Texts<'_> {
        Texts::new(language, self.texts.get(&language))
    }

    /// The language a visitor of this form is spoken to in (see `Language::choose`).
    pub fn language(&self, accept_language: Option<&str>) -> Language {
        Language::choose(self.locale, accept_language)
    }

    /// Every `[forms.texts.xx]` id must be a shipped message (or `field-NAME` of one of this
    /// form's custom fields) and its text usable.
    fn validate_texts(&self) -> Result<(), (&'static str, String)> {
        let catalogs = Catalogs::shipped();
        for (language, texts) in &self.texts {
            for (id, text) in texts {
                let custom = id
                    .strip_prefix("field-")
                    .is_some_and(|name| self.custom_fields.contains_key(name));
                let Some(variables) = catalogs
                    .variables(id)
                    .or_else(|| custom.then(Default::default))
                else {
                    return Err((
                        "texts",
                        format!(
                            "[forms.texts.{language}] has an unknown text id `{id}`: use an id of                              src/i18n/catalogs/en.ftl (docs/languages.md lists them) or                              field-NAME for one of this form's custom_fields"
                        ),
                    ));
                };
                crate::i18n::check_override(id, text, &variables)
                    .map_err(|m| ("texts", format!("[forms.texts.{language}]: {m}")))?;
            }
        }
        Ok(())
    }

    /// Returns the offending key (relative to the form) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.list_ids.is_empty() {
            return Err((
                "list_ids",
                format!(
                    "form `{}` needs at least one list id: every signup must join a list (find ids with `ccbridge lists`)",
                    self.id
                ),
            ));
        }
        let total = self.list_ids.len() + self.optional_list_ids.len();
        if total > MAX_LISTS_PER_SIGNUP {
            return Err((
                "optional_list_ids",
                format!(
                    "list_ids and optional_list_ids together name {total} lists; Constant Contact accepts at most {MAX_LISTS_PER_SIGNUP}"
                ),
            ));
        }
        if self.custom_fields.len() > 50 {
            return Err(("custom_fields", "at most 50 custom fields".into()));
        }
        for name in self.custom_fields.keys() {
            check_field_name(name).map_err(|m| ("custom_fields", m))?;
            if Some(name.as_str()) == self.honeypot() {
                return Err((
                    "custom_fields",
                    format!("`{name}` is also the honeypot field"),
                ));
            }
        }
        if let Some(honeypot) = self.honeypot() {
            check_field_name(honeypot).map_err(|m| ("honeypot_field", m))?;
        }
        for url in [&self.success_url, &self.error_url].into_iter().flatten() {
            if !["http", "https"].contains(&url.scheme()) {
                let key = if Some(url) == self.success_url.as_ref() {
                    "success_url"
                } else {
                    "error_url"
                };
                return Err((key, "must be an http or https URL".into()));
            }
        }
        if let Some(url) = &self.confirmed_url
            && !["http", "https"].contains(&url.scheme())
        {
            return Err(("confirmed_url", "must be an http or https URL".into()));
        }
        if let Some(text) = &self.consent_text
            && (text.trim().is_empty() || text.len() > 4000)
        {
            return Err(("consent_text", "must be 1 to 4000 characters".into()));
        }
        self.confirmation.validate()?;
        self.validate_texts()?;
        super::abuse::validate_form(self)
    }
}

fn check_field_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(format!(
            "`{name}` is not a usable field name: use 1-64 characters of letters, digits, '-' and '_'"
        ));
    }
    if STANDARD_FIELDS.contains(&name) {
        return Err(format!(
            "`{name}` is a standard signup field and cannot be reused"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::config::tests::FORM;

    #[test]
    fn a_form_without_lists_is_a_clear_error() {
        let err = Config::from_toml("[[forms]]\nid = \"a\"\nlist_ids = []").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("forms[0].list_ids"), "{text}");
        assert!(text.contains("at least one list"), "{text}");
    }

    #[test]
    fn a_form_missing_list_ids_names_the_key() {
        let err = Config::from_toml("[[forms]]\nid = \"a\"").unwrap_err();
        assert!(err.to_string().contains("list_ids"), "{err}");
    }

    #[test]
    fn a_list_id_must_be_a_uuid() {
        let err = Config::from_toml("[[forms]]\nid = \"a\"\nlist_ids = [\"abc\"]").unwrap_err();
        assert!(err.to_string().contains("forms[0].list_ids[0]"), "{err}");
    }

    #[test]
    fn form_ids_are_unique_and_url_safe() {
        let twice = format!("{FORM}{FORM}");
        assert!(
            Config::from_toml(&twice)
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
        let bad = FORM.replace("newsletter", "News Letter");
        assert!(
            Config::from_toml(&bad)
                .unwrap_err()
                .to_string()
                .contains("forms[0].id")
        );
    }

    #[test]
    fn a_locale_must_be_a_shipped_language() {
        let ok = Config::from_toml(&format!("{FORM}locale = \"de\"\n")).unwrap();
        assert_eq!(ok.forms[0].locale, Some(crate::i18n::Language::De));
        let err = Config::from_toml(&format!("{FORM}locale = \"pt\"\n")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("forms[0].locale"), "{text}");
        assert!(text.contains("unknown language `pt`"), "{text}");
    }

    #[test]
    fn texts_are_refused_with_the_unknown_id_or_language_named() {
        let with = |table: &str| Config::from_toml(&format!("{FORM}{table}"));
        let config = with(
            "custom_fields = { favorite_topic = \"07936f78-662a-11eb-af0a-fa163e56c9b0\" }\n\
             [forms.texts.de]\nfield-email = \"Ihre E-Mail\"\n\
             field-favorite_topic = \"Lieblingsthema\"\n\
             error-missing-field = \"Bitte { $field } angeben\"\n",
        )
        .unwrap();
        let texts = config.forms[0].texts(crate::i18n::Language::De);
        assert_eq!(texts.field_label("favorite_topic"), "Lieblingsthema");

        let err = with("[forms.texts.de]\nerror-no-such = \"x\"\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown text id `error-no-such`"),
            "{err}"
        );
        assert!(err.to_string().contains("forms[0].texts"), "{err}");
        let err = with("[forms.texts.pt]\nfield-email = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown language `pt`"), "{err}");
        let err = with("[forms.texts.de]\nfield-topic = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("`field-topic`"), "{err}");
        let err = with("[forms.texts.fr]\nerror-missing-field = \"{ $champ }\"\n").unwrap_err();
        assert!(err.to_string().contains("$champ"), "{err}");
    }

    #[test]
    fn a_custom_field_cannot_shadow_a_standard_field() {
        let text =
            format!("{FORM}custom_fields = {{ email = \"07936f78-662a-11eb-af0a-fa163e56c9b0\" }}");
        let err = Config::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("standard signup field"), "{err}");
    }
}
