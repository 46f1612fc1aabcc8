//! Security headers. Every answer gets `X-Content-Type-Options: nosniff`; HTML pages also get a
//! Content-Security-Policy that allows scripts only as files from ccbridge itself (no inline
//! script, no `eval`), requests from them only to ccbridge itself (the embed script on the demo
//! page posts the form with `fetch`), no framing and form posts only to ccbridge itself and the
//! forms' own success/error pages (a browser checks `form-action` against the redirect after a
//! post too), plus `X-Frame-Options` and a `Referrer-Policy`.
//!
//! The referrer policy is `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
//! `Origin: null` with a form post, which the origin check would rightly refuse, and the built-in
//! pages (the demo form, the admin console) post to ccbridge itself.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};

use crate::config::Config;

/// The Content-Security-Policy of ccbridge's HTML pages, fixed at start.
#[derive(Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> Self {
        let mut targets: Vec<String> = config
            .forms
            .iter()
            .flat_map(|f| [&f.success_url, &f.error_url, &f.confirmed_url])
            .flatten()
            // The admin console's Connect button posts to ccbridge, which redirects to Constant
            // Contact's authorize endpoint: form-action must allow that redirect too.
            .chain(std::iter::once(&config.constant_contact.authorize_url))
            .map(|url| url.origin().ascii_serialization())
            .filter(|origin| origin != "null")
            .collect();
        targets.sort();
        targets.dedup();
        let mut form_action = "'self'".to_owned();
        for target in targets {
            form_action.push(' ');
            form_action.push_str(&target);
        }
        let csp = format!(
            "default-src 'none'; script-src 'self'; connect-src 'self'; \
             style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        );
        Self {
            csp: HeaderValue::from_str(&csp).expect("origins are valid header text"),
        }
    }

    /// Add the headers to an answer (keeping any a handler set itself).
    pub fn apply(&self, headers: &mut HeaderMap) {
        let html = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
        let mut set = |name, value: HeaderValue| {
            headers.entry(name).or_insert(value);
        };
        set(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if html {
            set(CONTENT_SECURITY_POLICY, self.csp.clone());
            set(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            set(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_names_self_the_authorize_endpoint_and_the_forms_redirect_targets() {
        let config = Config::from_toml(
            r#"
            [[forms]]
            id = "a"
            list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
            success_url = "https://example.org/thanks"
            error_url = "https://example.org/oops?lang=en"
            [[forms]]
            id = "b"
            list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
            success_url = "https://other.example:8443/done"
            "#,
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        SecurityHeaders::new(&config).apply(&mut headers);
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains(
                "form-action 'self' https://authz.constantcontact.com https://example.org https://other.example:8443;"
            ),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
    }

    #[test]
    fn pages_run_only_script_files_from_ccbridge_itself() {
        let config = Config::from_toml("").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        SecurityHeaders::new(&config).apply(&mut headers);
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for expected in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
        ] {
            assert!(directives.contains(&expected), "{expected} missing: {csp}");
        }
        // No inline script, no eval: only files served by ccbridge run.
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert!(
            !csp.split(';')
                .any(|d| d.contains("script-src") && d.contains("unsafe-inline")),
            "{csp}"
        );
    }

    #[test]
    fn json_answers_only_get_nosniff() {
        let config = Config::from_toml("").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        SecurityHeaders::new(&config).apply(&mut headers);
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers.get(CONTENT_SECURITY_POLICY).is_none());
    }
}
