//! The sandbox's pages in the shell every ccbridge page shares (`ccbridge_layout::Shell`, look
//! `Sandbox`), and the pieces more than one page shows: the error page, the list of scopes an
//! application asks for, a timestamp. Pages are maud templates, so every dynamic value is escaped
//! where it is written; nothing here builds HTML from strings.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use ccbridge_layout::{Look, Markup, Shell, html};
use chrono::{DateTime, Utc};

/// The overview: what to configure a client with, and what arrived (`control`).
pub const OVERVIEW_PATH: &str = "/";
/// The mailbox page (`mailbox_page`).
pub const MAILBOX_PATH: &str = "/mailbox";
/// The page with a form for each consent control (`consent`).
pub const CONTROLS_PATH: &str = "/controls";

/// A complete page around `body`.
pub fn page(title: &str, body: Markup) -> Html<String> {
    render(Shell::new(Look::Sandbox, "en", title), body)
}

/// A complete page around `body`, with extra `<head>` markup (a refresh, a policy).
pub fn page_with_head(title: &str, head: Markup, body: Markup) -> Html<String> {
    let shell = Shell {
        head: Some(head),
        ..Shell::new(Look::Sandbox, "en", title)
    };
    render(shell, body)
}

fn render(shell: Shell<'_>, body: Markup) -> Html<String> {
    Html(shell.render(body).into_string())
}

/// A `<meta>` that reloads the page every `seconds`, for pages people watch things arrive on.
pub fn reload_every(seconds: u32) -> Markup {
    html! { meta http-equiv="refresh" content=(seconds); }
}

/// Links to the pages for people other than `current`, the one shown.
pub fn other_pages(current: &str) -> Markup {
    let others = [
        (OVERVIEW_PATH, "Overview"),
        (MAILBOX_PATH, "Mailbox"),
        (CONTROLS_PATH, "Controls"),
    ]
    .into_iter()
    .filter(|(path, _)| *path != current);
    html! {
        p {
            @for (i, (path, label)) in others.enumerate() {
                @if i > 0 { " · " }
                a href=(path) { (label) }
            }
        }
    }
}

/// An error page for a request that must not be redirected anywhere.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p id="message" { (message) }
    };
    (status, page(title, body)).into_response()
}

/// The scopes an application asks for, as the consent and activation pages list them.
pub fn scopes<S: AsRef<str>>(scopes: &[S]) -> Markup {
    html! {
        ul id="scopes" {
            @for scope in scopes { li { code { (scope.as_ref()) } } }
        }
    }
}

/// A table's column headers, from fixed labels.
pub fn column_headers(labels: &[&str]) -> Markup {
    html! {
        thead { tr { @for label in labels { th scope="col" { (label) } } } }
    }
}

/// How every sandbox page writes a moment.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// What the page tests of each module share: a sandbox's state without sockets, and the text
/// that must come out escaped.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use axum::body::to_bytes;
    use axum::response::Response;

    use crate::{SandboxConfig, Shared};

    /// Markup, both quotes and an ampersand: what a hostile name or mail would carry.
    pub const HOSTILE: &str = r#"<script>alert("x")</script> & 'y'"#;
    /// `HOSTILE` as it must appear on a page.
    pub const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'";

    /// A sandbox's state, as `Sandbox::start` builds it, on addresses nothing listens on.
    pub fn shared(config: SandboxConfig) -> Arc<Shared> {
        let clock = Arc::new(ccbridge_clock::SystemClock);
        let addr = "127.0.0.1:9".parse().unwrap();
        Arc::new(Shared::new(config, addr, addr, clock).unwrap())
    }

    /// The page shows `HOSTILE` escaped, and nowhere as markup.
    #[track_caller]
    pub fn assert_escaped(page: &str) {
        assert!(page.contains(ESCAPED), "{page}");
        assert!(!page.contains("<script>"), "{page}");
    }

    pub async fn text(response: Response) -> String {
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{HOSTILE, assert_escaped, text};
    use super::*;

    #[tokio::test]
    async fn an_error_page_escapes_its_title_and_message_in_the_sandbox_shell() {
        let response = error_page(StatusCode::BAD_REQUEST, HOSTILE, HOSTILE);

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let page = text(response).await;
        assert_escaped(&page);
        assert!(
            page.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{page}"
        );
        assert!(page.contains("sandbox-banner"), "{page}");
        assert_eq!(page.matches("<h1>").count(), 1, "{page}");
    }

    #[test]
    fn scopes_are_listed_escaped() {
        let list = scopes(&["contact_data", HOSTILE]).into_string();

        assert!(
            list.starts_with("<ul id=\"scopes\"><li><code>contact_data</code></li>"),
            "{list}"
        );
        assert_escaped(&list);
    }
}
