//! RFC 8628's device authorization endpoint: a device (a public client, with no secret) asks for
//! scopes and gets a device code to poll the token endpoint with and a user code for a person to
//! enter on the `/activate` page (`activate`). The codes are kept by [`crate::devices`].

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::params::{self, requested_scopes};
use super::token::{TokenError, identify_client};
use super::{ACTIVATE_PATH, no_store};
use crate::devices::{Authorization, DeviceRequest};
use crate::{Shared, lock};

/// `POST /oauth2/default/v1/device/authorize`, with `client_id` and `scope` in a form body or
/// the query string, like the token endpoint's.
pub(super) async fn device_authorize(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match device_request(&shared, &headers, query.as_deref(), &body) {
        Ok(request) => {
            let now = shared.clock.now();
            let authorization = lock(&shared.devices).authorize(request, now);
            shared.count(|s| s.device_authorizations += 1);
            answer(&shared, &authorization)
        }
        Err(error) => error.into_response(),
    }
}

/// The client (a Basic header is not needed, but must be right if sent) and its scopes.
fn device_request(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<DeviceRequest, TokenError> {
    let params = params::form_request(headers, query, body).map_err(TokenError::invalid_request)?;
    identify_client(shared, headers, &params)?;
    if let Some(name) = params.first_repeated() {
        return Err(TokenError::invalid_request(format!(
            "The '{name}' parameter must not be given more than once."
        )));
    }
    let scopes = requested_scopes(params.get("scope")).map_err(|description| {
        TokenError::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    })?;
    Ok(DeviceRequest {
        client_id: shared.settings.client_id.clone(),
        scopes,
    })
}

/// RFC 8628 §3.2's answer, never stored: it carries the device code.
fn answer(shared: &Shared, authorization: &Authorization) -> Response {
    let verification_uri = shared.settings.url(ACTIVATE_PATH);
    let mut complete = verification_uri.clone();
    complete
        .query_pairs_mut()
        .append_pair("user_code", &authorization.user_code);
    let body = json!({
        "device_code": authorization.device_code,
        "user_code": authorization.user_code,
        "verification_uri": verification_uri.as_str(),
        "verification_uri_complete": complete.as_str(),
        "expires_in": authorization.expires_in,
        "interval": authorization.interval,
    });
    (StatusCode::OK, no_store(), axum::Json(body)).into_response()
}
