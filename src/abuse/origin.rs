//! Which web pages may post to a form: the form's `allowed_origins`, plus ccbridge's own origin
//! (`server.public_url`, for its built-in pages). Browsers say where a request comes from in
//! `Origin` (or, failing that, `Referer`); a request with neither is not from a browser page
//! (curl, a server-side script) and is let through, because such a client could send any header
//! it liked anyway. The check keeps *other websites* from making their visitors' browsers sign up.
//!
//! Allowed origins also get CORS headers (`http::signup::cors`), so `fetch()` from their pages can
//! read the answers.

use axum::http::header::{ORIGIN, REFERER};
use axum::http::{HeaderMap, HeaderValue};
use url::Url;

use crate::config::FormConfig;
use crate::signup::SignupError;

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
        // The one thing an operator needs when their own site's form is refused.
        tracing::info!(
            form = %form.id,
            origin = %origin,
            "a page of {origin} posted to form `{}`, whose allowed_origins does not list it; \
             if the page is yours, add \"{origin}\" to that form's allowed_origins",
            form.id
        );
        Err(SignupError::origin_not_allowed())
    }
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
