//! What the consent record keeps about a signup's request, as `[privacy]` allows, and whether a
//! screened signup waits for its person's confirmation.

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, ORIGIN, REFERER, USER_AGENT};

use crate::config::{ConsentMode, Keep, PrivacyConfig};
use crate::domain::Intake;

/// The longest user agent kept.
const MAX_USER_AGENT_CHARS: usize = 512;
/// The longest page address kept.
const MAX_SOURCE_PAGE_CHARS: usize = 2048;

/// A signup the screening let through waits for its confirmation on a double opt-in form.
pub fn intake_for(mode: ConsentMode, screened: Intake) -> Intake {
    match (mode, screened) {
        (ConsentMode::Double, Intake::Deliver) => Intake::AwaitConfirmation,
        (_, intake) => intake,
    }
}

/// The client address as the consent record keeps it: whole, to its network (IPv4 /24, IPv6
/// /48), or not at all.
pub fn kept_address(ip: IpAddr, keep: Keep) -> Option<IpAddr> {
    match (keep, ip) {
        (Keep::Full, ip) => Some(ip),
        (Keep::None, _) => None,
        (Keep::Truncated, IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            Some(IpAddr::from([a, b, c, 0]))
        }
        (Keep::Truncated, IpAddr::V6(v6)) => {
            let mut segments = v6.segments();
            segments[3..].fill(0);
            Some(IpAddr::from(segments))
        }
    }
}

/// The user agent as the consent record keeps it: whole (at most 512 characters), its first
/// product token (`Mozilla/5.0`), or not at all.
pub fn kept_user_agent(headers: &HeaderMap, keep: Keep) -> Option<String> {
    let agent = headers.get(USER_AGENT)?.to_str().ok()?.trim();
    let kept: String = match keep {
        Keep::None => return None,
        Keep::Full => agent.chars().take(MAX_USER_AGENT_CHARS).collect(),
        Keep::Truncated => agent
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect(),
    };
    Some(kept).filter(|a| !a.is_empty())
}

/// The page the form was on: the Referer (a whole page address) or else the Origin.
pub fn source_page(headers: &HeaderMap) -> Option<String> {
    [REFERER, ORIGIN]
        .iter()
        .filter_map(|name| headers.get(name)?.to_str().ok())
        .map(str::trim)
        .find(|value| !value.is_empty() && *value != "null")
        .map(|value| value.chars().take(MAX_SOURCE_PAGE_CHARS).collect())
}

/// The visitor's preferred language: the first tag of `Accept-Language` with a quality above
/// zero, highest quality first (`de-CH`, `fr`), lower-cased.
pub fn language(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(f32, String)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let usable = !tag.is_empty()
            && tag != "*"
            && tag.len() <= 35
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if usable && quality > 0.0 && best.as_ref().is_none_or(|(q, _)| quality > *q) {
            best = Some((quality, tag.to_ascii_lowercase()));
        }
    }
    best.map(|(_, tag)| tag)
}

/// The whole client side of a consent record, as `privacy` keeps it.
pub fn client_details(
    privacy: &PrivacyConfig,
    client: IpAddr,
    headers: &HeaderMap,
) -> (Option<IpAddr>, Option<String>) {
    (
        kept_address(client, privacy.client_address),
        kept_user_agent(headers, privacy.user_agent),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn truncation_keeps_the_network_only() {
        let v4: IpAddr = "203.0.113.77".parse().unwrap();
        assert_eq!(
            kept_address(v4, Keep::Truncated),
            Some("203.0.113.0".parse().unwrap())
        );
        let v6: IpAddr = "2001:db8:1234:5678::1".parse().unwrap();
        assert_eq!(
            kept_address(v6, Keep::Truncated),
            Some("2001:db8:1234::".parse().unwrap())
        );
        assert_eq!(kept_address(v4, Keep::None), None);
        assert_eq!(kept_address(v4, Keep::Full), Some(v4));
    }

    #[test]
    fn user_agent_truncated_is_its_first_product() {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) Chrome/156"),
        );
        assert_eq!(
            kept_user_agent(&headers, Keep::Truncated).as_deref(),
            Some("Mozilla/5.0")
        );
        assert_eq!(kept_user_agent(&headers, Keep::None), None);
    }

    #[test]
    fn language_takes_the_highest_quality() {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_LANGUAGE,
            HeaderValue::from_static("en;q=0.5, de-CH, fr;q=0.9, *;q=0.1"),
        );
        assert_eq!(language(&headers).as_deref(), Some("de-ch"));
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("x;y;q=0"));
        assert_eq!(language(&headers), None);
    }

    #[test]
    fn the_referer_wins_over_the_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_static("https://example.org"));
        assert_eq!(
            source_page(&headers).as_deref(),
            Some("https://example.org")
        );
        headers.insert(
            REFERER,
            HeaderValue::from_static("https://example.org/join"),
        );
        assert_eq!(
            source_page(&headers).as_deref(),
            Some("https://example.org/join")
        );
    }
}
