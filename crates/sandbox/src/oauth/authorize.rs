//! The authorize endpoint: checks an authorization request, then approves it at once or shows
//! the owner a consent page whose decision comes back to `DECISION_PATH`; either way a single-use
//! code goes back to the client's redirect URI.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;

use super::no_store;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ccbridge_layout::html;
use chrono::{DateTime, TimeDelta, Utc};
use url::Url;

use super::DECISION_PATH;
use super::params::{Params, requested_scopes};
use crate::grants::{self, CodeRequest};
use crate::pages;
use crate::{Shared, lock};

/// How long a consent page may stay open before its request is forgotten.
const CONSENT_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// A valid authorization request, waiting for (or past) the owner's decision.
#[derive(Clone)]
struct AuthorizeRequest {
    code: CodeRequest,
    redirect: Url,
    state: String,
}

/// An RFC 6749 §4.1.2.1 error to send back to the client's redirect URI.
struct RedirectError {
    error: &'static str,
    description: String,
}

impl RedirectError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// `GET /oauth2/default/v1/authorize`
pub(super) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(&[query.as_deref().unwrap_or("").as_bytes()]);
    let redirect = match trusted_redirect(&shared, &params) {
        Ok(redirect) => redirect,
        Err(message) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid authorization request",
                &message,
            );
        }
    };
    let state = params.get("state").map(str::to_owned);
    let request = match authorization_request(&shared, &params, redirect.clone()) {
        Ok(request) => request,
        Err(error) => return redirect_with_error(&redirect, &error, state.as_deref()),
    };
    if shared.settings.consent {
        let now = shared.clock.now();
        let pending_id = lock(&shared.consents).insert(request.clone(), now);
        consent_page(&shared, &request, &pending_id)
    } else {
        approve(&shared, request)
    }
}

/// The client and its redirect URI, checked before anything may be sent to that URI; the error
/// is the message for the page shown instead.
fn trusted_redirect(shared: &Shared, params: &Params) -> Result<Url, String> {
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return Err("The client_id and redirect_uri parameters must be given once each.".into());
    }
    match params.get("client_id") {
        None => return Err("The client_id parameter is missing.".into()),
        Some(id) if id != shared.settings.client_id => {
            return Err(format!(
                "The client_id '{id}' is not a registered application."
            ));
        }
        Some(_) => {}
    }
    let Some(raw) = params.get("redirect_uri") else {
        return Err("The redirect_uri parameter is missing.".into());
    };
    let url = match Url::parse(raw) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.fragment().is_none() =>
        {
            url
        }
        _ => {
            return Err(
                "The redirect_uri must be an absolute http(s) URL without a fragment.".into(),
            );
        }
    };
    registered_redirect(shared, raw, url)
}

/// Like Constant Contact, only a redirect URI registered for the application is trusted, compared
/// exactly: a code is never sent anywhere else. The page says what was expected, because a
/// redirect URI that does not match is the most common mistake when connecting.
fn registered_redirect(shared: &Shared, raw: &str, url: Url) -> Result<Url, String> {
    let registered = lock(&shared.redirect_uris);
    if registered.iter().any(|uri| uri.as_str() == raw) {
        return Ok(url);
    }
    let expected = if registered.is_empty() {
        "no redirect URI is registered".to_owned()
    } else {
        let list: Vec<String> = registered.iter().map(|uri| format!("'{uri}'")).collect();
        format!("the registered redirect URI is {}", list.join(" or "))
    };
    Err(format!(
        "The redirect_uri '{raw}' is not registered for this application: {expected}. \
         It must match exactly (scheme, host, port, path, trailing slash). ccbridge sends \
         server.public_url + /oauth/callback: fix server.public_url, or register that URI \
         (ccbridge sandbox --redirect-uri URL)."
    ))
}

/// Everything else about the request; these errors go back to the (trusted) redirect URI.
fn authorization_request(
    shared: &Shared,
    params: &Params,
    redirect: Url,
) -> Result<AuthorizeRequest, RedirectError> {
    if let Some(name) = params.first_repeated() {
        return Err(RedirectError::new(
            "invalid_request",
            format!("The '{name}' parameter must not be given more than once."),
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(RedirectError::new(
                "invalid_request",
                "The 'response_type' parameter is missing.",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(RedirectError::new(
                "unsupported_response_type",
                "The response type is not supported by the authorization server. Use 'code'.",
            ));
        }
    }
    let Some(state) = params.get("state") else {
        return Err(RedirectError::new(
            "invalid_request",
            "The 'state' parameter is required.",
        ));
    };
    let scopes = requested_scopes(params.get("scope"))
        .map_err(|description| RedirectError::new("invalid_scope", description))?;
    if params.get("code_challenge_method") != Some("S256") {
        return Err(RedirectError::new(
            "invalid_request",
            "PKCE is required: 'code_challenge_method' must be 'S256'.",
        ));
    }
    let challenge = params.get("code_challenge").unwrap_or("");
    if !grants::is_pkce_value(challenge) {
        return Err(RedirectError::new(
            "invalid_request",
            "PKCE is required: 'code_challenge' must be a base64url S256 challenge.",
        ));
    }
    Ok(AuthorizeRequest {
        code: CodeRequest {
            client_id: shared.settings.client_id.clone(),
            // Kept as sent: the token request must repeat it exactly.
            redirect_uri: params.get("redirect_uri").unwrap_or("").to_owned(),
            scopes,
            code_challenge: challenge.to_owned(),
        },
        redirect,
        state: state.to_owned(),
    })
}

/// Issue a code and send the browser back with it.
fn approve(shared: &Shared, request: AuthorizeRequest) -> Response {
    let now = shared.clock.now();
    let code = lock(&shared.grants).issue_code(request.code, now);
    let mut target = request.redirect;
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &request.state);
    found(&target)
}

fn redirect_with_error(redirect: &Url, error: &RedirectError, state: Option<&str>) -> Response {
    let mut target = redirect.clone();
    {
        let mut query = target.query_pairs_mut();
        query
            .append_pair("error", error.error)
            .append_pair("error_description", &error.description);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    found(&target)
}

fn found(target: &Url) -> Response {
    (StatusCode::FOUND, no_store(), [(LOCATION, target.as_str())]).into_response()
}

// ── Consent ──────────────────────────────────────────────────────────────────────────────────

/// Authorization requests shown on a consent page, by an unguessable id. The decision form
/// carries only that id, so nothing the browser sends back can change where the code goes.
#[derive(Default)]
pub struct PendingConsents {
    requests: HashMap<String, (AuthorizeRequest, DateTime<Utc>)>,
}

impl PendingConsents {
    fn insert(&mut self, request: AuthorizeRequest, now: DateTime<Utc>) -> String {
        self.requests
            .retain(|_, (_, shown)| now - *shown < CONSENT_LIFETIME);
        let id = grants::random_token(24);
        self.requests.insert(id.clone(), (request, now));
        id
    }

    /// The request, once: a decision cannot be replayed.
    fn take(&mut self, id: &str, now: DateTime<Utc>) -> Option<AuthorizeRequest> {
        self.requests
            .remove(id)
            .filter(|(_, shown)| now - *shown < CONSENT_LIFETIME)
            .map(|(request, _)| request)
    }
}

fn consent_page(shared: &Shared, request: &AuthorizeRequest, pending_id: &str) -> Response {
    let account = lock(&shared.grants).account().to_owned();
    let body = html! {
        h1 { "Allow access to " (account) "?" }
        p {
            "The application " code { (request.code.client_id) }
            " asks for access to the Constant Contact account " strong { (account) }
            " with these scopes:"
        }
        (pages::scopes(&request.code.scopes))
        p { "After your decision you will be sent to " code { (request.code.redirect_uri) } "." }
        form method="post" action=(DECISION_PATH) {
            input type="hidden" name="request_id" value=(pending_id);
            button type="submit" id="approve" name="decision" value="approve" { "Approve" }
            " "
            button type="submit" id="deny" name="decision" value="deny" { "Deny" }
        }
    };
    (no_store(), pages::page("Authorize application", body)).into_response()
}

/// `POST /oauth2/default/v1/authorize/decision` from the consent page's buttons.
pub(super) async fn decision(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = Params::parse(&[&body]);
    let now = shared.clock.now();
    let pending = params
        .get("request_id")
        .and_then(|id| lock(&shared.consents).take(id, now));
    let Some(request) = pending else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Authorization request expired",
            "This authorization request is unknown, expired or already answered. Start again from the application.",
        );
    };
    match params.get("decision") {
        Some("approve") => approve(&shared, request),
        Some("deny") => redirect_with_error(
            &request.redirect,
            &RedirectError::new("access_denied", "The resource owner denied the request."),
            Some(&request.state),
        ),
        _ => pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid decision",
            "The decision must be approve or deny.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use url::form_urlencoded::Serializer;

    use super::*;
    use crate::pages::testing::{HOSTILE, assert_escaped, shared, text};
    use crate::{DEFAULT_REDIRECT_URI, SandboxConfig};

    fn query(client_id: &str) -> RawQuery {
        let query = Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", DEFAULT_REDIRECT_URI)
            .append_pair("response_type", "code")
            .append_pair("state", "s")
            .append_pair("scope", "contact_data offline_access")
            .append_pair("code_challenge_method", "S256")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .finish();
        RawQuery(Some(query))
    }

    #[tokio::test]
    async fn the_consent_page_escapes_the_account_and_the_client_id() {
        let shared = shared(SandboxConfig {
            consent: true,
            client_id: HOSTILE.into(),
            account_name: HOSTILE.into(),
            ..SandboxConfig::default()
        });

        let response = authorize(State(shared), query(HOSTILE)).await;

        assert_eq!(response.status(), StatusCode::OK);
        let page = text(response).await;
        assert_escaped(&page);
        assert_eq!(page.matches("<h1>").count(), 1, "{page}");
        assert!(
            page.contains("<li><code>offline_access</code></li>"),
            "{page}"
        );
        assert!(
            page.contains(&format!("<code>{DEFAULT_REDIRECT_URI}</code>")),
            "{page}"
        );
    }

    #[tokio::test]
    async fn an_unknown_client_id_is_named_escaped_on_the_error_page() {
        let shared = shared(SandboxConfig::default());

        let response = authorize(State(shared), query(HOSTILE)).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let page = text(response).await;
        assert_escaped(&page);
        assert!(page.contains("is not a registered application"), "{page}");
    }
}
