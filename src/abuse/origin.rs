//! Which web pages may post to a form: the form's `allowed_origins`, plus ccbridge's own origin
//! (`server.public_url`, for its built-in pages). Browsers say where a request comes from in
//! `Origin` (or, failing that, `Referer`); a request with neither is not from a browser page
//! (curl, a server-side script) and is let through, because such a client could send any header
//! it liked anyway. The check keeps *other websites* from making their visitors' browsers sign up.
//!
//! Allowed origins also get CORS headers, so `fetch()` from their pages can read the answers, and
//! `OPTIONS /signup/{form_id}` answers their preflights.

use axum::extract::{Path, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW, ORIGIN, REFERER, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::config::FormConfig;
use crate::pages;
use crate::signup::answer::{Caller, SignupError};
use crate::startup::AppState;

/// Where a browser says a request comes from: the `Origin` header, else the origin of `Referer`.
/// `None` when there is neither. An opaque origin is `"null"`, which matches nothing.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("null").trim();
        return Some(match Url::parse(origin) {
            Ok(url) => url.origin().ascii_serialization(),
            Err(_) => "null".to_owned(),
        });
    }
    let referer = headers.get(REFERER)?;
    Some(
        referer
            .to_str()
            .ok()
            .and_then(|r| Url::parse(r.trim()).ok())
            .map_or("null".to_owned(), |url| url.origin().ascii_serialization()),
    )
}

/// Whether pages of `origin` may post to `form`.
pub fn is_allowed(form: &FormConfig, public_url: &Url, origin: &str) -> bool {
    origin != "null"
        && (public_url.origin().ascii_serialization() == origin
            || form
                .allowed_origins
                .iter()
                .any(|allowed| allowed.origin().ascii_serialization() == origin))
}

/// Check the request's origin against the form. `Ok(Some(origin))`: a browser page that may post
/// (its origin, to echo in CORS headers); `Ok(None)`: no browser page named; `Err`: refused.
pub fn check(
    form: &FormConfig,
    public_url: &Url,
    headers: &HeaderMap,
) -> Result<Option<HeaderValue>, SignupError> {
    let Some(origin) = request_origin(headers) else {
        return Ok(None);
    };
    if is_allowed(form, public_url, &origin) {
        Ok(HeaderValue::from_str(&origin).ok())
    } else {
        Err(SignupError::origin_not_allowed())
    }
}

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
    State(state): State<AppState>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(form) = state.config.form(&form_id) else {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    };
    let allow = HeaderValue::from_static("OPTIONS, POST");
    let mut response = match check(form, &state.config.server.public_url, &headers) {
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
            Caller::Script.refused(Some(form), &error)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn form(origins: &str) -> FormConfig {
        let config = Config::from_toml(&format!(
            "[[forms]]\nid = \"f\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\nallowed_origins = [{origins}]\n"
        ))
        .unwrap();
        config.forms.into_iter().next().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    fn public() -> Url {
        "https://forms.example.org/".parse().unwrap()
    }

    #[test]
    fn an_allowed_origin_passes_and_is_echoed_without_a_trailing_slash() {
        let form = form("\"https://example.org/\"");
        let echoed = check(
            &form,
            &public(),
            &headers(&[("origin", "https://example.org")]),
        );
        assert_eq!(echoed.unwrap().unwrap(), "https://example.org");
    }

    #[test]
    fn another_site_a_lookalike_and_an_opaque_origin_are_refused() {
        let form = form("\"https://example.org\"");
        for origin in [
            "https://evil.example",
            "https://example.org.evil.example",
            "http://example.org",
            "https://example.org:8443",
            "null",
        ] {
            let result = check(&form, &public(), &headers(&[("origin", origin)]));
            assert_eq!(result.unwrap_err().code, "origin_not_allowed", "{origin}");
        }
    }

    #[test]
    fn without_origin_the_referer_decides() {
        let form = form("\"https://example.org\"");
        let good = headers(&[("referer", "https://example.org/join?x=1")]);
        assert!(check(&form, &public(), &good).unwrap().is_some());
        let bad = headers(&[("referer", "https://evil.example/page")]);
        assert!(check(&form, &public(), &bad).is_err());
        let garbage = headers(&[("referer", "not a url")]);
        assert!(check(&form, &public(), &garbage).is_err());
    }

    #[test]
    fn no_origin_and_no_referer_is_not_a_browser_page_and_passes() {
        let form = form("");
        assert_eq!(check(&form, &public(), &HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn an_empty_list_allows_only_ccbridges_own_pages() {
        let form = form("");
        let own = headers(&[("origin", "https://forms.example.org")]);
        assert!(check(&form, &public(), &own).unwrap().is_some());
        let site = headers(&[("origin", "https://example.org")]);
        assert!(check(&form, &public(), &site).is_err());
    }
}
