//! How the signup endpoint answers the two kinds of caller: a browser posting an HTML form
//! (redirects and pages) and a script (JSON).

use axum::Json;
use axum::http::header::{ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use crate::config::{ConsentMode, FormConfig, STANDARD_FIELDS};
use crate::http::pages::{self, Visitor};
use crate::signup::SignupError;

/// How the caller wants its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A browser posting a form: redirects and HTML pages.
    Browser,
    /// A script: JSON bodies and plain status codes.
    Script,
}

impl Caller {
    /// JSON when the body is JSON or the caller accepts JSON; a browser otherwise.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mentions_json = |name| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.to_ascii_lowercase().contains("application/json"))
        };
        if mentions_json(CONTENT_TYPE) || mentions_json(ACCEPT) {
            Self::Script
        } else {
            Self::Browser
        }
    }

    /// The success answer. Only ever called after the signup is committed (or deliberately dropped
    /// as spam, which must look the same to the sender). `thank_you` is the built-in page's
    /// address (with the link back), for a form without `success_url`. A script gets the
    /// thank-you page's words as `message`, in the visitor's language with the form's overrides.
    pub fn accepted(
        self,
        form: &FormConfig,
        id: Uuid,
        thank_you: &str,
        visitor: &Visitor<'_>,
    ) -> Response {
        match self {
            // `confirmation: "mail"` tells a script to say "check your mail"; it is the same for
            // every signup of a double opt-in form, mailed or not (a cap may hold the mail).
            Self::Script => {
                let message = visitor.thank_you_message(form.consent);
                let body = match form.consent {
                    ConsentMode::Single => {
                        json!({ "status": "accepted", "id": id, "message": message })
                    }
                    ConsentMode::Double => json!({
                        "status": "accepted", "id": id, "confirmation": "mail", "message": message,
                    }),
                };
                (StatusCode::ACCEPTED, Json(body)).into_response()
            }
            Self::Browser => {
                let target = form
                    .success_url
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| thank_you.to_owned());
                see_other(&target)
            }
        }
    }

    /// The failure answer, its words in the visitor's language. `form` is `None` when the form
    /// itself is unknown.
    pub fn refused(
        self,
        form: Option<&FormConfig>,
        error: &SignupError,
        visitor: &Visitor<'_>,
    ) -> Response {
        let message = error.message(&visitor.texts, |field| {
            STANDARD_FIELDS.contains(&field)
                || form.is_some_and(|f| f.custom_fields.contains_key(field))
        });
        match self {
            Self::Script => {
                let body = json!({ "error": {
                    "code": error.code, "message": message, "field": error.field,
                }});
                let mut response = (error.status, Json(body)).into_response();
                pages::vary_on_language(&mut response);
                with_retry_after(error, response)
            }
            Self::Browser => match form.and_then(|f| f.error_url.as_ref().map(|u| (f, u))) {
                Some((form, url)) => {
                    let mut url = url.clone();
                    url.query_pairs_mut().append_pair("error", error.code);
                    if let Some(field) = error
                        .field
                        .as_deref()
                        .filter(|f| form.custom_fields.contains_key(*f) || plain_field_name(f))
                    {
                        url.query_pairs_mut().append_pair("field", field);
                    }
                    see_other(url.as_str())
                }
                None => {
                    let page = visitor.signup_error(&message, error.visitor_can_fix());
                    with_retry_after(error, pages::respond(error.status, page))
                }
            },
        }
    }
}

/// Longest field name passed on to a site's `error_url`.
const MAX_REDIRECT_FIELD_CHARS: usize = 64;

/// Whether a field name may be passed on to the site's `error_url`. The name may come from the
/// sender (an unknown field, a file part), and the site's page may show it, so only plain names
/// (`[a-z0-9_-]`) go, besides the form's own custom field names; any other is left out.
fn plain_field_name(field: &str) -> bool {
    !field.is_empty()
        && field.len() <= MAX_REDIRECT_FIELD_CHARS
        && field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response(),
        // Config URLs are parsed `Url`s, form ids are URL-safe and `back` is percent-encoded, so
        // this cannot happen; if it ever did, a page is better than a panic.
        Err(_) => pages::respond(
            StatusCode::OK,
            Visitor::plain(crate::i18n::Language::En).thank_you(ConsentMode::Single),
        ),
    }
}

fn with_retry_after(error: &SignupError, mut response: Response) -> Response {
    let seconds = match error.retry_after {
        // Whole seconds, rounded up: a client that waits as told is not refused again.
        Some(wait) => wait.as_millis().div_ceil(1000).max(1) as u64,
        None if error.status == StatusCode::SERVICE_UNAVAILABLE => 5,
        None => return response,
    };
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::plain_field_name;

    #[test]
    fn only_plain_field_names_are_passed_to_the_error_url() {
        for plain in ["email", "first_name", "favorite-topic", "cf_2"] {
            assert!(plain_field_name(plain), "{plain}");
        }
        let long = "a".repeat(65);
        for odd in [
            "",
            "Email",
            "<script>",
            "a b",
            "x\"y",
            "é",
            "a&b=c",
            long.as_str(),
        ] {
            assert!(!plain_field_name(odd), "{odd}");
        }
    }
}
