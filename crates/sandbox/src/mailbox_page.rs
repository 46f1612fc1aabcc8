//! The mailbox for people and scripts: `GET /mailbox`, a page of every mail newest first, and
//! `GET /_sandbox/mailbox`, the same as JSON (oldest first, as `Sandbox::mailbox`).
//!
//! Mails are untrusted text: everything is escaped, the HTML part is shown as source and never
//! rendered, the page forbids scripts (a Content-Security-Policy on top of the escaping), and only
//! `http`/`https` links in the text part become clickable.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use ccbridge_layout::{Markup, html};

use crate::mailbox::{MailOrigin, MailboxMessage};
use crate::pages::{self, MAILBOX_PATH};
use crate::{Sandbox, Shared, lock};

impl Sandbox {
    /// `http://ADDR/mailbox`, the mailbox page.
    pub fn mailbox_url(&self) -> url::Url {
        self.shared.settings.url(MAILBOX_PATH)
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(MAILBOX_PATH, get(mailbox_page))
        .route("/_sandbox/mailbox", get(mailbox_json))
}

async fn mailbox_json(State(shared): State<Arc<Shared>>) -> Json<Vec<MailboxMessage>> {
    Json(lock(&shared.mailbox).all())
}

/// Reloads itself every five seconds, so a demo sees mails arrive.
async fn mailbox_page(State(shared): State<Arc<Shared>>) -> Html<String> {
    let messages = lock(&shared.mailbox).all();
    let smtp = shared.settings.smtp_addr;
    let head = html! {
        (pages::reload_every(5))
        // On top of the escaping: were a mail's markup ever to get through, it could run nothing
        // and load nothing.
        meta http-equiv="Content-Security-Policy"
            content="default-src 'none'; style-src 'unsafe-inline'";
    };
    let body = html! {
        h1 { "Mailbox" }
        (pages::other_pages(MAILBOX_PATH))
        p {
            "Mail sent to the sandbox's SMTP receiver at " code { (smtp) }
            " (plain SMTP, no TLS, no AUTH: a test receiver that delivers nothing), and the mails \
             Constant Contact would send to contacts. " (messages.len()) " mail(s), newest first."
        }
        @if messages.is_empty() {
            p id="no-mail" { "No mail yet." }
        }
        @for message in messages.iter().rev() {
            (mail(message))
        }
    };
    pages::page_with_head("Sandbox mailbox", head, body)
}

/// One mail: its envelope, its text with web addresses as links, its HTML part as source.
fn mail(message: &MailboxMessage) -> Markup {
    let origin = match message.origin {
        MailOrigin::Smtp => "SMTP",
        MailOrigin::ConstantContact => "Constant Contact",
    };
    let subject = if message.subject.is_empty() {
        "(no subject)"
    } else {
        &message.subject
    };
    html! {
        article.mail id={ "mail-" (message.id) } {
            h2 { (subject) }
            table {
                tr { th scope="row" { "From" } td { (message.from) } }
                tr { th scope="row" { "To" } td { (message.to.join(", ")) } }
                tr { th scope="row" { "Received" } td { (pages::timestamp(message.received_at)) } }
                tr { th scope="row" { "Via" } td { (origin) } }
            }
            @if let Some(text) = &message.text {
                pre.text { (linkify(text)) }
            }
            @if let Some(html) = &message.html {
                details {
                    summary { "HTML part (source)" }
                    pre.html { (html) }
                }
            }
        }
    }
}

/// A piece of a mail's text: plain, or a web address to link.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// `text` with each `http://` or `https://` URL in it as a link, everything escaped.
pub fn linkify(text: &str) -> Markup {
    html! {
        @for piece in pieces(text) {
            @match piece {
                Piece::Text(text) => (text),
                Piece::Link(url) => a href=(url) rel="noopener noreferrer" { (url) },
            }
        }
    }
}

/// Split `text` into plain text and the web addresses in it.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = next_url(rest) {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(candidate.len());
        // Sentence punctuation after a URL is not part of it.
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        if url.ends_with("://") {
            // A scheme alone is text.
            pieces.push(Piece::Text(&rest[..start + url.len()]));
        } else {
            if start > 0 {
                pieces.push(Piece::Text(&rest[..start]));
            }
            pieces.push(Piece::Link(url));
        }
        rest = &candidate[url.len()..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

fn next_url(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::pages::testing::{ESCAPED, HOSTILE, assert_escaped, shared};

    #[tokio::test]
    async fn a_mail_is_shown_escaped_with_its_html_part_as_source_under_a_strict_policy() {
        let shared = shared(SandboxConfig::default());
        lock(&shared.mailbox).push(MailboxMessage {
            id: 0,
            origin: MailOrigin::Smtp,
            from: HOSTILE.into(),
            to: vec![HOSTILE.into()],
            subject: HOSTILE.into(),
            text: Some(HOSTILE.into()),
            html: Some(HOSTILE.into()),
            received_at: shared.clock.now(),
        });

        let Html(page) = mailbox_page(State(shared)).await;

        assert_eq!(page.matches(ESCAPED).count(), 5, "{page}");
        assert_escaped(&page);
        assert!(
            page.contains(r#"<article class="mail" id="mail-1">"#),
            "{page}"
        );
        assert!(
            page.contains(
                r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">"#
            ),
            "{page}"
        );
    }

    #[tokio::test]
    async fn an_empty_mailbox_says_so() {
        let Html(page) = mailbox_page(State(shared(SandboxConfig::default()))).await;

        assert!(
            page.contains(r#"<p id="no-mail">No mail yet.</p>"#),
            "{page}"
        );
    }

    #[test]
    fn links_become_anchors_and_everything_else_is_escaped() {
        assert_eq!(
            linkify("Confirm at https://x.example/c?a=1&b=2. <b>Thanks</b>").into_string(),
            "Confirm at <a href=\"https://x.example/c?a=1&amp;b=2\" rel=\"noopener noreferrer\">\
             https://x.example/c?a=1&amp;b=2</a>. &lt;b&gt;Thanks&lt;/b&gt;"
        );
        assert_eq!(
            linkify("javascript:alert(1)").into_string(),
            "javascript:alert(1)"
        );
        assert_eq!(
            linkify("http://a\"onmouseover=\"x").into_string(),
            "<a href=\"http://a\" rel=\"noopener noreferrer\">http://a</a>&quot;onmouseover=&quot;x"
        );
        assert_eq!(linkify("just https://").into_string(), "just https://");
    }
}
