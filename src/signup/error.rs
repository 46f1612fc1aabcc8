//! Why a signup is refused: one error type with one stable code per problem, and what the visitor
//! is told about it as a message id of the catalogs (`i18n`) with its values, so that the page
//! or the JSON `message` can say it in the visitor's language. How it is shown to a browser or a
//! script is the HTTP layer's business (`http::signup::answer`).

use std::time::Duration;

use axum::http::StatusCode;

use crate::i18n::{Arg, Texts};

/// A value in a visitor message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextValue {
    Number(i64),
    /// Shown as it is (escaped by the page).
    Text(String),
    /// A field's name: shown as its label (`field-NAME`, or the name humanised) when the form
    /// has such a field, else as the name itself.
    Field(String),
}

/// A refused signup: HTTP status, a stable machine-readable code, what the visitor is told, and
/// the field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupError {
    pub status: StatusCode,
    pub code: &'static str,
    /// The message id (`error-…`) of what the visitor is told.
    pub text: &'static str,
    /// The message's values.
    pub args: Box<[(&'static str, TextValue)]>,
    pub field: Option<String>,
    /// When to try again (sent as `Retry-After`); 503s default to 5 seconds.
    pub retry_after: Option<Duration>,
    /// For the log only, in English: a technical detail the visitor has no use for.
    pub detail: Option<Box<str>>,
}

impl SignupError {
    fn new(status: StatusCode, code: &'static str, text: &'static str) -> Self {
        Self {
            status,
            code,
            text,
            args: Box::default(),
            field: None,
            retry_after: None,
            detail: None,
        }
    }

    /// A problem with one field (422); its label is the message's `$field`.
    fn invalid(code: &'static str, text: &'static str, field: &str) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, text);
        error.field = Some(field.to_owned());
        error.arg("field", TextValue::Field(field.to_owned()))
    }

    fn arg(mut self, name: &'static str, value: TextValue) -> Self {
        let mut args = std::mem::take(&mut self.args).into_vec();
        args.push((name, value));
        self.args = args.into_boxed_slice();
        self
    }

    fn detail(mut self, detail: String) -> Self {
        self.detail = Some(detail.into_boxed_str());
        self
    }

    /// The message in the visitor's language. `has_field` says which field names the form has
    /// (they are shown by their labels; any other name as sent).
    pub fn message(&self, texts: &Texts<'_>, has_field: impl Fn(&str) -> bool) -> String {
        let args: Vec<(&str, Arg)> = self
            .args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    TextValue::Number(n) => Arg::Number(*n),
                    TextValue::Text(text) => Arg::Text(text.clone()),
                    TextValue::Field(field) if has_field(field) => {
                        Arg::Text(texts.field_label(field))
                    }
                    TextValue::Field(field) => Arg::Text(field.clone()),
                };
                (*name, value)
            })
            .collect();
        texts.with(self.text, &args)
    }

    /// Whether the visitor can put this right by correcting what they typed (the page then asks
    /// them to go back and correct the form; for anything else that would be no help).
    pub fn visitor_can_fix(&self) -> bool {
        matches!(
            self.code,
            "missing_field" | "invalid_email" | "field_too_long" | "invalid_characters"
        )
    }

    pub fn malformed(message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "error-malformed-body",
        )
        .detail(message.to_owned())
    }

    pub fn unknown_form(form_id: &str) -> Self {
        let shown: String = form_id.chars().take(64).collect();
        Self::new(StatusCode::NOT_FOUND, "unknown_form", "error-unknown-form")
            .detail(format!("there is no form `{shown}`"))
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "error-payload-too-large",
        )
        .detail(format!("the request body is larger than {limit} bytes"))
    }

    pub fn unsupported_media_type(message: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "error-unsupported-media-type",
        )
        .detail(format!(
            "{message}; send application/x-www-form-urlencoded, multipart/form-data or application/json"
        ))
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "error-unavailable",
        )
    }

    /// Too many signups; the message says how long to wait (whole minutes, at least one).
    pub fn rate_limited(retry_after: Duration) -> Self {
        let minutes = retry_after.as_secs().div_ceil(60).max(1);
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "error-rate-limited",
        )
        .arg(
            "minutes",
            TextValue::Number(i64::try_from(minutes).unwrap_or(i64::MAX)),
        );
        error.retry_after = Some(retry_after);
        error
    }

    pub fn origin_not_allowed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "error-origin-not-allowed",
        )
    }

    /// The CAPTCHA answer is missing or the provider says it is wrong. Nothing is stored.
    pub fn captcha_failed(field: &str) -> Self {
        Self::invalid("captcha_failed", "error-captcha-failed", field)
    }

    /// The CAPTCHA provider could not be asked and the form refuses signups meanwhile.
    pub fn captcha_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "captcha_unavailable",
            "error-captcha-unavailable",
        )
    }

    /// The signed "form shown at" value (`_ts`) is genuine but older than the form's
    /// `max_submit_age`: the page was left open too long. Not spam; nothing is stored.
    pub fn expired_timestamp(max_age: Duration) -> Self {
        Self::invalid(
            "expired_timestamp",
            "error-expired-timestamp",
            crate::config::TIMESTAMP_FIELD,
        )
        .detail(format!(
            "the form was shown more than {} ago",
            humantime::format_duration(max_age)
        ))
    }

    pub fn missing(field: &str) -> Self {
        Self::invalid("missing_field", "error-missing-field", field)
    }

    pub fn invalid_email(reason: &str) -> Self {
        Self::invalid("invalid_email", "error-invalid-email", "email").detail(reason.to_owned())
    }

    pub fn too_long(field: &str, max: usize, got: usize) -> Self {
        let number = |n: usize| TextValue::Number(i64::try_from(n).unwrap_or(i64::MAX));
        Self::invalid("field_too_long", "error-field-too-long", field)
            .arg("max", number(max))
            .arg("got", number(got))
    }

    pub fn invalid_characters(field: &str) -> Self {
        Self::invalid("invalid_characters", "error-invalid-characters", field)
    }

    pub fn unknown_list(value: &str) -> Self {
        let shown: String = value.chars().take(64).collect();
        Self::invalid("unknown_list", "error-unknown-list", "list").detail(format!(
            "`{shown}` is not one of this form's optional lists"
        ))
    }

    pub fn unknown_field(field: &str) -> Self {
        let shown: String = field.chars().take(64).collect();
        Self::invalid("unknown_field", "error-unknown-field", &shown)
    }

    pub fn duplicate_field(field: &str) -> Self {
        Self::invalid("duplicate_field", "error-duplicate-field", field)
    }

    pub fn invalid_type(field: &str, expected: &str) -> Self {
        let shown: String = field.chars().take(64).collect();
        Self::invalid("invalid_type", "error-invalid-type", &shown)
            .detail(format!("{shown} must be {expected}"))
    }

    pub fn unexpected_file(field: &str) -> Self {
        let shown: String = field.chars().take(64).collect();
        Self::invalid("unexpected_file", "error-unexpected-file", &shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Language;

    fn en(error: &SignupError) -> String {
        error.message(&Texts::new(Language::En, None), |f| {
            crate::config::STANDARD_FIELDS.contains(&f)
        })
    }

    #[test]
    fn field_errors_use_human_labels() {
        assert_eq!(
            en(&SignupError::too_long("first_name", 50, 80)),
            "First name must be at most 50 characters (it has 80)."
        );
        assert_eq!(
            en(&SignupError::missing("email")),
            "Email address is required."
        );
        // A name the form does not have is shown as sent.
        assert!(en(&SignupError::unknown_field("x_y")).contains("(x_y)"));
    }

    #[test]
    fn a_rate_limit_says_how_long_to_wait() {
        let one = en(&SignupError::rate_limited(Duration::from_secs(20)));
        assert!(one.contains("wait a minute"), "{one}");
        let more = en(&SignupError::rate_limited(Duration::from_secs(150)));
        assert!(more.contains("wait 3 minutes"), "{more}");
    }

    #[test]
    fn every_message_id_is_in_the_catalog() {
        let errors = [
            SignupError::malformed("x"),
            SignupError::unknown_form("x"),
            SignupError::too_large(1),
            SignupError::unsupported_media_type("x"),
            SignupError::unavailable(),
            SignupError::rate_limited(Duration::from_secs(1)),
            SignupError::origin_not_allowed(),
            SignupError::captcha_failed("x"),
            SignupError::captcha_unavailable(),
            SignupError::expired_timestamp(Duration::from_secs(1)),
            SignupError::missing("email"),
            SignupError::invalid_email("x"),
            SignupError::too_long("phone", 1, 2),
            SignupError::invalid_characters("phone"),
            SignupError::unknown_list("x"),
            SignupError::unknown_field("x"),
            SignupError::duplicate_field("x"),
            SignupError::invalid_type("x", "a string"),
            SignupError::unexpected_file("x"),
        ];
        let catalogs = crate::i18n::Catalogs::shipped();
        for error in errors {
            let variables = catalogs.variables(error.text).expect(error.text);
            let given: std::collections::BTreeSet<String> =
                error.args.iter().map(|(n, _)| (*n).to_owned()).collect();
            assert!(variables.is_subset(&given), "{}: {variables:?}", error.text);
        }
    }
}
