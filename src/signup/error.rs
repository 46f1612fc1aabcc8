//! Why a signup is refused: one error type with one stable code per problem. How it is shown to
//! a browser or a script is the HTTP layer's business (`http::signup::answer`).

use std::time::Duration;

use axum::http::StatusCode;

/// A refused signup: HTTP status, a stable machine-readable code, a message for people, and the
/// field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// When to try again (sent as `Retry-After`); 503s default to 5 seconds.
    pub retry_after: Option<Duration>,
}

impl SignupError {
    fn new(status: StatusCode, code: &'static str, message: String, field: Option<&str>) -> Self {
        Self {
            status,
            code,
            message,
            field: field.map(str::to_owned),
            retry_after: None,
        }
    }

    fn invalid(code: &'static str, field: &str, message: String) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message, Some(field))
    }

    pub fn malformed(message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            message.to_owned(),
            None,
        )
    }

    pub fn unknown_form(form_id: &str) -> Self {
        let shown: String = form_id.chars().take(64).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_form",
            format!("there is no form `{shown}`"),
            None,
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
            None,
        )
    }

    pub fn unsupported_media_type(message: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "{message}; send application/x-www-form-urlencoded, multipart/form-data or application/json"
            ),
            None,
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the signup could not be stored right now and was not accepted; please try again shortly".to_owned(),
            None,
        )
    }

    pub fn rate_limited(retry_after: Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many signups in a short time; please wait a moment and try again".to_owned(),
            None,
        );
        error.retry_after = Some(retry_after);
        error
    }

    pub fn origin_not_allowed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this form does not accept signups from the page that sent it".to_owned(),
            None,
        )
    }

    /// The CAPTCHA answer is missing or the provider says it is wrong. Nothing is stored.
    pub fn captcha_failed(field: &str) -> Self {
        Self::invalid(
            "captcha_failed",
            field,
            "the CAPTCHA was not solved; please try again".to_owned(),
        )
    }

    /// The CAPTCHA provider could not be asked and the form refuses signups meanwhile.
    pub fn captcha_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "captcha_unavailable",
            "the CAPTCHA could not be checked right now and the signup was not accepted; please try again shortly".to_owned(),
            None,
        )
    }

    /// The signed "form shown at" value (`_ts`) is genuine but older than the form's
    /// `max_submit_age`: the page was left open too long. Not spam; nothing is stored.
    pub fn expired_timestamp(max_age: Duration) -> Self {
        Self::invalid(
            "expired_timestamp",
            crate::config::TIMESTAMP_FIELD,
            format!(
                "the form was shown more than {} ago; please reload the page and send it again",
                humantime::format_duration(max_age)
            ),
        )
    }

    pub fn missing(field: &str) -> Self {
        Self::invalid("missing_field", field, format!("{field} is required"))
    }

    pub fn invalid_email(reason: &str) -> Self {
        Self::invalid(
            "invalid_email",
            "email",
            format!("email is not a valid address: {reason}"),
        )
    }

    pub fn too_long(field: &str, max: usize, got: usize) -> Self {
        Self::invalid(
            "field_too_long",
            field,
            format!("{field} must be at most {max} characters (got {got})"),
        )
    }

    pub fn invalid_characters(field: &str) -> Self {
        Self::invalid(
            "invalid_characters",
            field,
            format!("{field} contains control characters"),
        )
    }

    pub fn unknown_list(value: &str) -> Self {
        let shown: String = value.chars().take(64).collect();
        Self::invalid(
            "unknown_list",
            "list",
            format!("`{shown}` is not one of this form's optional lists"),
        )
    }

    pub fn unknown_field(field: &str) -> Self {
        let shown: String = field.chars().take(64).collect();
        Self::invalid(
            "unknown_field",
            &shown,
            format!("this form has no field `{shown}`"),
        )
    }

    pub fn duplicate_field(field: &str) -> Self {
        Self::invalid(
            "duplicate_field",
            field,
            format!("{field} was sent more than once"),
        )
    }

    pub fn invalid_type(field: &str, expected: &str) -> Self {
        let shown: String = field.chars().take(64).collect();
        Self::invalid(
            "invalid_type",
            &shown,
            format!("{shown} must be {expected}"),
        )
    }

    pub fn unexpected_file(field: &str) -> Self {
        let shown: String = field.chars().take(64).collect();
        Self::invalid(
            "unexpected_file",
            &shown,
            format!("{shown} is a file upload; signup fields are text"),
        )
    }
}
