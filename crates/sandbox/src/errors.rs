//! The error bodies Constant Contact's v3 API sends, in its two shapes: most errors are an array
//! of `{error_key, error_message}` (`APIErrorSchema`), while 401s and 429s are one such object
//! (`AuthorizationErrorSchema`, the rate-limit bodies). Clients must parse both.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub const VALIDATION: &str = "contacts.api.validation.error";

/// The array shape, one entry per message.
pub fn array<S: AsRef<str>>(status: StatusCode, key: &str, messages: &[S]) -> Response {
    let body: Vec<_> = messages
        .iter()
        .map(|m| json!({ "error_key": key, "error_message": m.as_ref() }))
        .collect();
    (status, Json(body)).into_response()
}

/// One 400 validation error.
pub fn bad_request(message: &str) -> Response {
    array(StatusCode::BAD_REQUEST, VALIDATION, &[message])
}

/// The single-object shape.
fn object(status: StatusCode, key: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error_key": key, "error_message": message })),
    )
        .into_response()
}

pub fn unauthorized() -> Response {
    object(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
}

/// The per-second limit (retry after a short backoff).
pub fn throttled() -> Response {
    object(
        StatusCode::TOO_MANY_REQUESTS,
        "throttled",
        "Too Many Requests",
    )
}

/// The daily limit (nothing works again until 00:00 UTC).
pub fn quota_exceeded() -> Response {
    object(
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
        "Limit Exceeded",
    )
}

/// A real CC 403 means a missing scope, a missing user privilege or a deactivated app.
pub fn forbidden(scope: &str) -> Response {
    array(
        StatusCode::FORBIDDEN,
        "forbidden",
        &[format!(
            "Forbidden request. The access token lacks the required scope: {scope}."
        )],
    )
}

pub fn not_found() -> Response {
    array(
        StatusCode::NOT_FOUND,
        "not_found",
        &["The requested resource was not found."],
    )
}

pub fn method_not_allowed() -> Response {
    array(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &["The HTTP method is not supported for this resource."],
    )
}

pub fn unsupported_media_type() -> Response {
    array(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        &[
            "Unsupported Media Type; the payload must be in JSON format, and Content-Type must be application/json.",
        ],
    )
}

/// The 500 and 503 bodies, worded as in the published API description.
pub fn server_error(status: StatusCode) -> Response {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        array(
            status,
            "service_unavailable",
            &["Our internal service is temporarily unavailable."],
        )
    } else {
        array(
            status,
            "server_error",
            &["There was a problem with our internal service."],
        )
    }
}
