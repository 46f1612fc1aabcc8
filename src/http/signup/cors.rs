//! CORS for the signup routes: which pages may post is `abuse::origin`'s decision; this module
//! writes it into headers, and answers `OPTIONS /signup/{form_id}` preflights for allowed origins.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::answer::Caller;
use crate::abuse::origin::check;
use crate::config::Config;
use crate::http::pages;

/// Add the CORS headers for an allowed origin; every answer varies by `Origin`.
pub fn decorate(response: &mut Response, allowed: Option<&HeaderValue>) {
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After, X-Request-Id"),
        );
    }
}

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// `OPTIONS /signup/{form_id}`: the CORS preflight, answered for allowed origins only.
pub async fn preflight(
    State(config): State<Arc<Config>>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(form) = config.form(&form_id) else {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    };
    let allow = HeaderValue::from_static("OPTIONS, POST");
    let mut response = match check(form, &config.server.public_url, &headers) {
        Ok(Some(origin)) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type, Accept, X-Request-Id"),
            );
            h.insert(
                ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
            );
            response
        }
        // Not a CORS request: just say what the route takes.
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => {
            tracing::info!(form = %form.id, "CORS preflight from an origin the form does not allow");
            let language = form.language(
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            );
            let visitor = pages::Visitor::new(form.texts(language), None);
            Caller::Script.refused(Some(form), &error, &visitor)
        }
    };
    response.headers_mut().insert(ALLOW, allow);
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("Origin"));
    response.headers_mut().append(
        VARY,
        HeaderValue::from_static("Access-Control-Request-Headers"),
    );
    response
}
