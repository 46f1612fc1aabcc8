//! The link back to the page a form was on. Only a page of one of the form's `allowed_origins`
//! is ever linked: a Referer from anywhere else, or a `?back=` someone made up, shows no link,
//! so a visitor page can never be made to send people to an arbitrary address.

use axum::http::HeaderMap;
use axum::http::header::REFERER;
use url::Url;

use crate::config::FormConfig;

/// The longest page address linked back to.
const MAX_BACK_CHARS: usize = 2048;

/// `candidate` as a link back for `form`: an http(s) address on one of its allowed origins,
/// without its fragment.
pub fn allowed(form: &FormConfig, candidate: &str) -> Option<Url> {
    let candidate = candidate.trim();
    if candidate.len() > MAX_BACK_CHARS {
        return None;
    }
    let mut url = Url::parse(candidate).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    let listed = form
        .allowed_origins
        .iter()
        .any(|allowed| allowed.origin().ascii_serialization() == origin);
    url.set_fragment(None);
    listed.then_some(url)
}

/// The request's Referer as a link back for `form`, when it is allowed.
pub fn from_referer(form: &FormConfig, headers: &HeaderMap) -> Option<Url> {
    let referer = headers.get(REFERER)?.to_str().ok()?;
    allowed(form, referer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn only_pages_of_allowed_origins_are_linked() {
        let config = Config::from_toml(
            "[[forms]]\nid = \"f\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\n\
             allowed_origins = [\"https://example.org\", \"http://127.0.0.1:3000\"]\n",
        )
        .unwrap();
        let form = &config.forms[0];
        let shown = allowed(form, "https://example.org/join?x=1#top").unwrap();
        assert_eq!(shown.as_str(), "https://example.org/join?x=1");
        assert!(allowed(form, "http://127.0.0.1:3000/").is_some());
        for refused in [
            "https://evil.example/",
            "http://example.org/join",
            "https://example.org.evil.example/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
            "",
        ] {
            assert!(allowed(form, refused).is_none(), "{refused}");
        }
        let long = format!("https://example.org/{}", "a".repeat(3000));
        assert!(allowed(form, &long).is_none());
    }
}
