//! Turning the submitted fields into a `NewSignup`, with limits that mirror Constant Contact's
//! `sign_up_form` so that nothing accepted here is refused upstream later.

use uuid::Uuid;

use super::body::LIST_FIELD;
use super::error::SignupError;
use crate::config::FormConfig;
use crate::domain::email::MAX_EMAIL_CHARS;
use crate::domain::{ConsentContext, CustomFieldValue, EmailAddress, EmailError, NewSignup};

/// Constant Contact's limit for names, company and job title.
pub const MAX_NAME_CHARS: usize = 50;
/// Constant Contact's limit for `phone_number`.
pub const MAX_PHONE_CHARS: usize = 25;
/// Constant Contact's limit for a custom field value.
pub const MAX_CUSTOM_FIELD_CHARS: usize = 255;

/// The standard text fields, their limits, and where they go.
const TEXT_FIELDS: [(&str, usize); 5] = [
    ("first_name", MAX_NAME_CHARS),
    ("last_name", MAX_NAME_CHARS),
    ("phone", MAX_PHONE_CHARS),
    ("company", MAX_NAME_CHARS),
    ("job_title", MAX_NAME_CHARS),
];

/// The fields sorted into their slots, before their values are checked.
#[derive(Default)]
struct Sorted {
    email: Option<String>,
    text: [Option<String>; TEXT_FIELDS.len()],
    lists: Vec<String>,
    custom: Vec<(Uuid, String, String)>,
}

/// Validate `fields` against `form`. The first problem found is reported.
pub fn validate(
    form: &FormConfig,
    fields: Vec<(String, String)>,
) -> Result<NewSignup, SignupError> {
    let sorted = sort_fields(form, fields)?;
    let email =
        EmailAddress::parse(sorted.email.as_deref().unwrap_or("")).map_err(|e| match e {
            EmailError::Missing => SignupError::missing("email"),
            EmailError::TooLong(got) => SignupError::too_long("email", MAX_EMAIL_CHARS, got),
            EmailError::Invalid(reason) => SignupError::invalid_email(reason),
        })?;
    let mut text: [Option<String>; TEXT_FIELDS.len()] = Default::default();
    for (i, value) in sorted.text.into_iter().enumerate() {
        let (name, max) = TEXT_FIELDS[i];
        text[i] = value
            .map(|v| check_text(name, &v, max, false))
            .transpose()?
            .flatten();
    }
    let list_ids = choose_lists(form, &sorted.lists)?;
    let mut custom_fields = Vec::new();
    for (custom_field_id, name, value) in sorted.custom {
        if let Some(value) = check_text(&name, &value, MAX_CUSTOM_FIELD_CHARS, true)? {
            custom_fields.push(CustomFieldValue {
                custom_field_id,
                value,
            });
        }
    }
    let [first_name, last_name, phone, company, job_title] = text;
    Ok(NewSignup {
        form_id: form.id.clone(),
        email,
        first_name,
        last_name,
        phone,
        company,
        job_title,
        list_ids,
        custom_fields,
        client_ip: None,
        user_agent: None,
        consent: ConsentContext {
            mode: form.consent,
            text: form.consent_text.clone(),
            source_page: None,
            language: None,
            page_language: None,
        },
    })
}

/// Put each field in its slot; unknown and repeated fields are errors.
fn sort_fields(form: &FormConfig, fields: Vec<(String, String)>) -> Result<Sorted, SignupError> {
    let mut sorted = Sorted::default();
    for (name, value) in fields {
        if name == "email" {
            set_once(&mut sorted.email, &name, value)?;
        } else if let Some(i) = TEXT_FIELDS.iter().position(|(n, _)| *n == name) {
            set_once(&mut sorted.text[i], &name, value)?;
        } else if name == LIST_FIELD {
            sorted.lists.push(value);
        } else if Some(name.as_str()) == form.honeypot() {
            // Checked by the caller before validation; never stored.
        } else if let Some(id) = form.custom_fields.get(&name) {
            if sorted.custom.iter().any(|(_, n, _)| *n == name) {
                return Err(SignupError::duplicate_field(&name));
            }
            sorted.custom.push((*id, name, value));
        } else {
            return Err(SignupError::unknown_field(&name));
        }
    }
    Ok(sorted)
}

fn set_once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), SignupError> {
    if slot.is_some() {
        return Err(SignupError::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Trim; empty means absent. Control characters are refused (custom fields may hold line breaks
/// and tabs, as a textarea would send).
fn check_text(
    name: &str,
    value: &str,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, SignupError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(SignupError::invalid_characters(name));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(SignupError::too_long(name, max, chars));
    }
    Ok(Some(value.to_owned()))
}

/// The form's fixed lists plus the visitor's chosen optional lists, without repeats.
fn choose_lists(form: &FormConfig, chosen: &[String]) -> Result<Vec<Uuid>, SignupError> {
    let mut lists = form.list_ids.clone();
    for value in chosen.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        let id = Uuid::parse_str(value)
            .ok()
            .filter(|id| form.optional_list_ids.contains(id))
            .ok_or_else(|| SignupError::unknown_list(value))?;
        if !lists.contains(&id) {
            lists.push(id);
        }
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const FIXED: &str = "07936f78-662a-11eb-af0a-fa163e56c9b0";
    const OPTIONAL: &str = "17936f78-662a-11eb-af0a-fa163e56c9b0";
    const TOPIC: &str = "1618ae62-4752-11e9-9c8a-fa163e6b01c1";

    fn form() -> FormConfig {
        let config = Config::from_toml(&format!(
            r#"
            [[forms]]
            id = "newsletter"
            list_ids = ["{FIXED}"]
            optional_list_ids = ["{OPTIONAL}"]
            custom_fields = {{ topic = "{TOPIC}" }}
            "#
        ))
        .unwrap();
        config.forms.into_iter().next().unwrap()
    }

    fn fields(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn code(v: &[(&str, &str)]) -> (&'static str, Option<String>) {
        let err = validate(&form(), fields(v)).unwrap_err();
        (err.code, err.field)
    }

    #[test]
    fn a_full_signup_is_accepted_and_normalised() {
        let signup = validate(
            &form(),
            fields(&[
                ("email", " Jane@Example.COM "),
                ("first_name", " Jane "),
                ("last_name", ""),
                ("phone", "+1 555 0100"),
                ("list", OPTIONAL),
                ("list", OPTIONAL),
                ("topic", "rust\nand more"),
                ("website", ""),
            ]),
        )
        .unwrap();
        assert_eq!(signup.email.as_str(), "Jane@example.com");
        assert_eq!(signup.first_name.as_deref(), Some("Jane"));
        assert_eq!(signup.last_name, None);
        assert_eq!(
            signup.list_ids,
            vec![FIXED.parse::<Uuid>().unwrap(), OPTIONAL.parse().unwrap()]
        );
        assert_eq!(
            signup.custom_fields[0].custom_field_id,
            TOPIC.parse::<Uuid>().unwrap()
        );
    }

    #[test]
    fn each_problem_has_its_own_code() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            code(&[("first_name", "Jo")]),
            ("missing_field", some("email"))
        );
        assert_eq!(code(&[("email", "nope")]), ("invalid_email", some("email")));
        let long_email = format!("{}@example.com", "a".repeat(39));
        assert_eq!(
            code(&[("email", &long_email)]),
            ("field_too_long", some("email"))
        );
        let long_name = "n".repeat(51);
        assert_eq!(
            code(&[("email", "a@b.co"), ("last_name", &long_name)]),
            ("field_too_long", some("last_name"))
        );
        let long_phone = "1".repeat(26);
        assert_eq!(
            code(&[("email", "a@b.co"), ("phone", &long_phone)]),
            ("field_too_long", some("phone"))
        );
        let long_topic = "t".repeat(256);
        assert_eq!(
            code(&[("email", "a@b.co"), ("topic", &long_topic)]),
            ("field_too_long", some("topic"))
        );
        assert_eq!(
            code(&[("email", "a@b.co"), ("company", "a\u{0}b")]),
            ("invalid_characters", some("company"))
        );
        assert_eq!(
            code(&[
                ("email", "a@b.co"),
                ("list", FIXED.replace('0', "1").as_str())
            ]),
            ("unknown_list", some("list"))
        );
        assert_eq!(
            code(&[("email", "a@b.co"), ("list", "not-a-uuid")]),
            ("unknown_list", some("list"))
        );
        assert_eq!(
            code(&[("email", "a@b.co"), ("nickname", "x")]),
            ("unknown_field", some("nickname"))
        );
        assert_eq!(
            code(&[("email", "a@b.co"), ("email", "c@d.co")]),
            ("duplicate_field", some("email"))
        );
    }

    #[test]
    fn limits_are_inclusive() {
        let fifty = "n".repeat(50);
        let twenty_five = "1".repeat(25);
        let topic = "t".repeat(255);
        assert!(
            validate(
                &form(),
                fields(&[
                    ("email", "a@b.co"),
                    ("first_name", &fifty),
                    ("phone", &twenty_five),
                    ("topic", &topic)
                ])
            )
            .is_ok()
        );
    }
}
