//! The scripts ccbridge serves: `/embed/v1.js`, which a site's page loads to upgrade its signup
//! form, and `/assets/console-v1.js`, the console's copy buttons. Both are files in
//! `src/http/assets/`, compiled into the binary.
//!
//! A released file never changes: a site's `<script integrity="sha384-…">` pins its bytes, so an
//! edit would silently switch the script off on every site that copied the snippet. The tests
//! below pin each file's SHA-384; a change is a new file at a new path (`/embed/v2.js`), served
//! beside the old one. That is also why the answers may be cached for a year (`immutable`).

use std::sync::OnceLock;

use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha384};

/// Where the embed script is served (under `server.public_url`'s path prefix).
pub const EMBED_V1_PATH: &str = "/embed/v1.js";
/// Where the console's script is served.
pub const CONSOLE_V1_PATH: &str = "/assets/console-v1.js";

/// The embed script's bytes, as released.
pub const EMBED_V1: &str = include_str!("assets/embed-v1.js");
/// The console script's bytes, as released.
pub const CONSOLE_V1: &str = include_str!("assets/console-v1.js");

/// A Subresource Integrity value for `bytes`: `sha384-` and the base64 of their SHA-384.
pub fn integrity(bytes: &[u8]) -> String {
    format!("sha384-{}", STANDARD.encode(Sha384::digest(bytes)))
}

/// The embed script's integrity value, for the snippets' `<script integrity=…>`.
pub fn embed_v1_integrity() -> &'static str {
    static VALUE: OnceLock<String> = OnceLock::new();
    VALUE.get_or_init(|| integrity(EMBED_V1.as_bytes()))
}

/// Cached for a year, never revalidated: the bytes at a path never change.
const FOREVER: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const JAVASCRIPT: HeaderValue = HeaderValue::from_static("text/javascript; charset=utf-8");
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

/// `GET /embed/v1.js`: loaded by pages on any site, with `crossorigin="anonymous"` so the browser
/// checks its integrity value, which needs `Access-Control-Allow-Origin` (the script is public,
/// so `*`) and a `Cross-Origin-Resource-Policy` that lets other sites embed it.
pub async fn embed_v1() -> Response {
    (
        [
            (CONTENT_TYPE, JAVASCRIPT),
            (CACHE_CONTROL, FOREVER),
            (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            (
                CROSS_ORIGIN_RESOURCE_POLICY,
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        EMBED_V1,
    )
        .into_response()
}

/// `GET /assets/console-v1.js`: loaded by the console's own pages only.
pub async fn console_v1() -> Response {
    (
        [
            (CONTENT_TYPE, JAVASCRIPT),
            (CACHE_CONTROL, FOREVER),
            (
                CROSS_ORIGIN_RESOURCE_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
        ],
        CONSOLE_V1,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A released script's bytes are pinned: sites hold their hash in `integrity`.
    fn assert_released(path: &str, bytes: &str, pinned: &str) {
        assert_eq!(
            integrity(bytes.as_bytes()),
            pinned,
            "{path} was edited after its release. Sites pin its SHA-384 in their <script \
             integrity>, so an edit switches the script off on each of them: restore the file, \
             and publish the change as a new version beside it (e.g. /embed/v2.js, with a route, \
             an OpenAPI operation and a snippet that loads it)"
        );
    }

    #[test]
    fn the_released_embed_script_never_changes() {
        assert_released(
            EMBED_V1_PATH,
            EMBED_V1,
            "sha384-etcFntbT+n3QmtJY/9ekkvcLIGsUEV+mVVkN81KSEFr+Wbt8EUroeBO6hQgxb5Yf",
        );
    }

    #[test]
    fn the_released_console_script_never_changes() {
        assert_released(
            CONSOLE_V1_PATH,
            CONSOLE_V1,
            "sha384-GzSsdagSf+dZPZ+SaZNohC8BPpGbk4iAujd9lQg7eAruzvZz7v1323WPoDVsvyOz",
        );
    }

    #[test]
    fn the_integrity_value_is_sri_sha384_in_standard_base64() {
        // SHA-384 of "abc" (FIPS 180-2, appendix D.1), base64.
        assert_eq!(
            integrity(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
        assert_eq!(embed_v1_integrity(), integrity(EMBED_V1.as_bytes()));
    }
}
