//! The body of `POST /v3/contacts/sign_up_form`, checked against the published schema
//! `ContactCreateOrUpdateInput` and CC's documented rules, every problem reported at once.
//!
//! The checks are written independently of ccbridge's own signup validation on purpose: the
//! sandbox exists to catch the client, so it must not share the client's code.

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::SandboxCustomFieldValue;
use crate::config::Settings;

const MAX_EMAIL: usize = 50;
const MAX_NAME: usize = 50;
const MAX_PHONE: usize = 25;
const MAX_LISTS: usize = 50;
/// `custom_fields` maxItems in the published schema.
const MAX_CUSTOM_FIELDS: usize = 50;
const MAX_CUSTOM_FIELD_VALUE: usize = 255;

/// Every property of `ContactCreateOrUpdateInput`; anything else is refused.
const PROPERTIES: [&str; 13] = [
    "email_address",
    "first_name",
    "last_name",
    "job_title",
    "company_name",
    "phone_number",
    "list_memberships",
    "custom_fields",
    "anniversary",
    "birthday_month",
    "birthday_day",
    "street_address",
    "sms_channel",
];

/// A body that passed every check. Fields the sandbox does not keep (anniversary, birthday,
/// street address) are validated and then dropped.
#[derive(Debug)]
pub struct SignUpForm {
    pub email_address: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub company_name: Option<String>,
    pub phone_number: Option<String>,
    pub list_memberships: Vec<Uuid>,
    pub custom_fields: Vec<SandboxCustomFieldValue>,
}

/// The `email_address` of a body, valid or not, if it has one: what a call is counted under.
pub fn email_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("email_address")?.as_str().map(str::to_owned)
}

/// Parse and check a request body; on failure, one message per problem.
pub fn parse(body: &[u8], settings: &Settings) -> Result<SignUpForm, Vec<String>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| vec![format!("The request body is not valid JSON: {e}.")])?;
    let Value::Object(object) = value else {
        return Err(vec!["The request body must be a JSON object.".to_owned()]);
    };
    let mut check = Checker {
        object: &object,
        errors: Vec::new(),
    };
    for name in object.keys() {
        if !PROPERTIES.contains(&name.as_str()) {
            check.fail(format!("{name} is not a recognized property."));
        }
    }
    let email_address = check.email();
    let form = SignUpForm {
        first_name: check.text("first_name", MAX_NAME),
        last_name: check.text("last_name", MAX_NAME),
        job_title: check.text("job_title", MAX_NAME),
        company_name: check.text("company_name", MAX_NAME),
        phone_number: check.text("phone_number", MAX_PHONE),
        list_memberships: check.lists(settings),
        custom_fields: check.custom_fields(settings),
        email_address: email_address.unwrap_or_default(),
    };
    check.anniversary();
    check.birthday();
    check.street_address();
    if check.present("sms_channel") {
        check.fail("sms_channel is not supported by the sandbox; use email_address.".to_owned());
    }
    if check.errors.is_empty() {
        Ok(form)
    } else {
        Err(check.errors)
    }
}

struct Checker<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl<'a> Checker<'a> {
    fn fail(&mut self, message: String) {
        self.errors.push(message);
    }

    /// JSON `null` counts as absent, as it does for CC's (Jackson-based) API.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    fn present(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional string of at most `max` characters.
    fn text(&mut self, name: &str, max: usize) -> Option<String> {
        let value = self.get(name)?;
        let Some(text) = value.as_str() else {
            self.fail(format!("{name} must be a string."));
            return None;
        };
        let length = text.chars().count();
        if length > max {
            self.fail(format!(
                "{name} exceeds the maximum length of {max} characters (got {length})."
            ));
            return None;
        }
        Some(text.to_owned())
    }

    /// `email_address`: required here, since email is the only channel the sandbox supports.
    fn email(&mut self) -> Option<String> {
        if !self.present("email_address") {
            self.fail("email_address is required.".to_owned());
            return None;
        }
        let email = self.text("email_address", MAX_EMAIL)?;
        if !looks_like_email(&email) {
            self.fail(format!(
                "email_address '{email}' is not a valid email address."
            ));
            return None;
        }
        Some(email)
    }

    /// `list_memberships`: 1 to 50 ids of lists that exist, duplicates collapsed.
    fn lists(&mut self, settings: &Settings) -> Vec<Uuid> {
        let Some(value) = self.get("list_memberships") else {
            self.fail("list_memberships is required.".to_owned());
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.fail("list_memberships must be an array of list ids.".to_owned());
            return Vec::new();
        };
        if items.is_empty() || items.len() > MAX_LISTS {
            self.fail(format!(
                "list_memberships must contain between 1 and {MAX_LISTS} list ids (got {}).",
                items.len()
            ));
            return Vec::new();
        }
        let mut lists = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let Some(id) = item.as_str().and_then(|s| Uuid::parse_str(s).ok()) else {
                self.fail(format!(
                    "list_memberships[{index}] is not a valid list id: {item}."
                ));
                continue;
            };
            if settings.list(id).is_none() {
                self.fail(format!(
                    "list_memberships[{index}]: the list {id} does not exist."
                ));
            } else if !lists.contains(&id) {
                lists.push(id);
            }
        }
        lists
    }

    /// `custom_fields`: at most 50 `{custom_field_id, value}` objects for fields that exist.
    fn custom_fields(&mut self, settings: &Settings) -> Vec<SandboxCustomFieldValue> {
        let Some(value) = self.get("custom_fields") else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.fail("custom_fields must be an array.".to_owned());
            return Vec::new();
        };
        if items.len() > MAX_CUSTOM_FIELDS {
            self.fail(format!(
                "custom_fields must contain at most {MAX_CUSTOM_FIELDS} items (got {}).",
                items.len()
            ));
            return Vec::new();
        }
        let mut fields: Vec<SandboxCustomFieldValue> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(field) = self.custom_field(index, item, settings) {
                // The same field twice in one request: the last value wins.
                fields.retain(|f| f.custom_field_id != field.custom_field_id);
                fields.push(field);
            }
        }
        fields
    }

    fn custom_field(
        &mut self,
        index: usize,
        item: &Value,
        settings: &Settings,
    ) -> Option<SandboxCustomFieldValue> {
        let name = format!("custom_fields[{index}]");
        let Some(object) = item.as_object() else {
            self.fail(format!("{name} must be an object."));
            return None;
        };
        if let Some(key) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "custom_field_id" | "value"))
        {
            self.fail(format!("{name}.{key} is not a recognized property."));
            return None;
        }
        let id = object.get("custom_field_id").and_then(Value::as_str);
        let Some(id) = id.and_then(|s| Uuid::parse_str(s).ok()) else {
            self.fail(format!(
                "{name}.custom_field_id is required and must be a UUID."
            ));
            return None;
        };
        if settings.custom_field(id).is_none() {
            self.fail(format!("{name}: the custom field {id} does not exist."));
            return None;
        }
        let Some(value) = object.get("value").and_then(Value::as_str) else {
            self.fail(format!("{name}.value is required and must be a string."));
            return None;
        };
        let length = value.chars().count();
        if length > MAX_CUSTOM_FIELD_VALUE {
            self.fail(format!(
                "{name}.value exceeds the maximum length of {MAX_CUSTOM_FIELD_VALUE} characters (got {length})."
            ));
            return None;
        }
        Some(SandboxCustomFieldValue {
            custom_field_id: id,
            value: value.to_owned(),
        })
    }

    /// The eight date formats the schema lists (chrono's numeric fields take 1 or 2 digits).
    fn anniversary(&mut self) {
        let Some(text) = self.text("anniversary", usize::MAX) else {
            return;
        };
        let valid = ["%m/%d/%Y", "%Y/%m/%d", "%Y-%m-%d", "%m-%d-%Y"]
            .iter()
            .any(|format| NaiveDate::parse_from_str(&text, format).is_ok());
        if !valid {
            self.fail(format!(
                "anniversary '{text}' is not in a supported date format."
            ));
        }
    }

    /// `birthday_month` 1-12 and `birthday_day` 1-31, each requiring the other.
    fn birthday(&mut self) {
        self.integer("birthday_month", 1..=12);
        self.integer("birthday_day", 1..=31);
        match (self.present("birthday_month"), self.present("birthday_day")) {
            (true, false) => self.fail("birthday_day is required with birthday_month.".to_owned()),
            (false, true) => self.fail("birthday_month is required with birthday_day.".to_owned()),
            _ => {}
        }
    }

    /// An optional integer within `range`.
    fn integer(&mut self, name: &str, range: std::ops::RangeInclusive<i64>) {
        let Some(value) = self.get(name) else {
            return;
        };
        if !value.as_i64().is_some_and(|n| range.contains(&n)) {
            self.fail(format!(
                "{name} must be an integer from {} to {}.",
                range.start(),
                range.end()
            ));
        }
    }

    /// `street_address`: `kind` (home, work or other) plus length-limited parts.
    fn street_address(&mut self) {
        let Some(value) = self.get("street_address") else {
            return;
        };
        let Some(address) = value.as_object() else {
            self.fail("street_address must be an object.".to_owned());
            return;
        };
        let limits = [
            ("kind", 5),
            ("street", 255),
            ("city", 50),
            ("state", 50),
            ("postal_code", 50),
            ("country", 50),
        ];
        for (key, value) in address {
            let Some((_, max)) = limits.iter().find(|(name, _)| name == key) else {
                self.fail(format!(
                    "street_address.{key} is not a recognized property."
                ));
                continue;
            };
            match value.as_str() {
                Some(text) if text.chars().count() <= *max => {}
                Some(_) => self.fail(format!(
                    "street_address.{key} exceeds the maximum length of {max} characters."
                )),
                None => self.fail(format!("street_address.{key} must be a string.")),
            }
        }
        let kind = address.get("kind").and_then(Value::as_str);
        if !matches!(kind, Some("home" | "work" | "other")) {
            self.fail(
                "street_address.kind is required and must be home, work or other.".to_owned(),
            );
        }
    }
}

/// A plausible address: one `@`, a non-empty local part, a dotted domain of letters, digits and
/// hyphens ending in a top-level label of at least two characters that is not all digits, and
/// nothing invisible anywhere. CC's exact rules are not published; this refuses what it surely
/// refuses. The top-level rule is the one ccbridge's intake applies too (`EmailAddress`), so
/// that what the intake accepts, the sandbox delivers.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@()<>[]\\,;:\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_pass_and_broken_ones_do_not() {
        for good in [
            "a@b.co",
            "jane.doe+news@example.org",
            "x_y@sub.example-1.com",
        ] {
            assert!(looks_like_email(good), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            ".a@b.com",
            "a@-b.com",
            "a@b.c",
            "a@1.23",
            " a@b.com",
        ] {
            assert!(!looks_like_email(bad), "{bad:?}");
        }
    }
}
