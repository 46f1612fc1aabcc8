//! The mailbox for people and scripts: `GET /mailbox`, a page of every mail newest first, and
//! `GET /_sandbox/mailbox`, the same as JSON (oldest first, as `Sandbox::mailbox`).
//!
//! Mails are untrusted text: everything is escaped, the HTML part is shown as source and never
//! rendered, the page forbids scripts (a Content-Security-Policy on top of the escaping), and only
//! `http`/`https` links in the text part become clickable.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};

use crate::html::{escape, page};
use crate::mailbox::{MailOrigin, MailboxMessage};
use crate::{Sandbox, Shared, lock};

pub const PAGE_PATH: &str = "/mailbox";

impl Sandbox {
    /// `http://ADDR/mailbox`, the mailbox page.
    pub fn mailbox_url(&self) -> url::Url {
        self.shared.settings.url(PAGE_PATH)
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(PAGE_PATH, get(mailbox_page))
        .route("/_sandbox/mailbox", get(mailbox_json))
}

async fn mailbox_json(State(shared): State<Arc<Shared>>) -> Json<Vec<MailboxMessage>> {
    Json(lock(&shared.mailbox).all())
}

/// Reloads itself every five seconds, so a demo sees mails arrive.
async fn mailbox_page(State(shared): State<Arc<Shared>>) -> Html<String> {
    let messages = lock(&shared.mailbox).all();
    let smtp = shared.settings.smtp_addr;
    let mut body = String::from("<h1>Mailbox</h1>\n");
    let _ = writeln!(
        body,
        "<p><a href=\"/\">Overview</a> · <a href=\"/controls\">Controls</a></p>\n\
         <p>Mail sent to the sandbox's SMTP receiver at <code>{}</code> (plain SMTP, no TLS, no \
         AUTH: a test receiver that delivers nothing), and the mails Constant Contact would send \
         to contacts. {} mail(s), newest first.</p>",
        escape(&smtp.to_string()),
        messages.len(),
    );
    if messages.is_empty() {
        body.push_str("<p id=\"no-mail\">No mail yet.</p>\n");
    }
    for message in messages.iter().rev() {
        render(message, &mut body);
    }
    page(
        "Sandbox mailbox",
        "<meta http-equiv=\"refresh\" content=\"5\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        &body,
    )
}

fn render(message: &MailboxMessage, out: &mut String) {
    let origin = match message.origin {
        MailOrigin::Smtp => "SMTP",
        MailOrigin::ConstantContact => "Constant Contact",
    };
    let _ = writeln!(
        out,
        "<article class=\"mail\" id=\"mail-{id}\">\n<h2>{subject}</h2>\n<table>\n\
         <tr><th>From</th><td>{from}</td></tr>\n<tr><th>To</th><td>{to}</td></tr>\n\
         <tr><th>Received</th><td>{at}</td></tr>\n<tr><th>Via</th><td>{origin}</td></tr>\n</table>",
        id = message.id,
        subject = escape(if message.subject.is_empty() {
            "(no subject)"
        } else {
            &message.subject
        }),
        from = escape(&message.from),
        to = escape(&message.to.join(", ")),
        at = message.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    if let Some(text) = &message.text {
        let _ = writeln!(out, "<pre class=\"text\">{}</pre>", linkify(text));
    }
    if let Some(html) = &message.html {
        let _ = writeln!(
            out,
            "<details><summary>HTML part (source)</summary><pre class=\"html\">{}</pre></details>",
            escape(html)
        );
    }
    out.push_str("</article>\n");
}

/// Escape `text`, turning each `http://` or `https://` URL in it into a link.
pub fn linkify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = next_url(rest) {
        out.push_str(&escape(&rest[..start]));
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(candidate.len());
        // Sentence punctuation after a URL is not part of it.
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let scheme_only = url.ends_with("://");
        if scheme_only {
            out.push_str(&escape(url));
        } else {
            let url = escape(url);
            let _ = write!(
                out,
                "<a href=\"{url}\" rel=\"noopener noreferrer\">{url}</a>"
            );
        }
        rest = &candidate[url.len()..];
    }
    out.push_str(&escape(rest));
    out
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

    #[test]
    fn links_become_anchors_and_everything_else_is_escaped() {
        assert_eq!(
            linkify("Confirm at https://x.example/c?a=1&b=2. <b>Thanks</b>"),
            "Confirm at <a href=\"https://x.example/c?a=1&amp;b=2\" rel=\"noopener noreferrer\">\
             https://x.example/c?a=1&amp;b=2</a>. &lt;b&gt;Thanks&lt;/b&gt;"
        );
        assert_eq!(linkify("javascript:alert(1)"), "javascript:alert(1)");
        assert_eq!(
            linkify("http://a\"onmouseover=\"x"),
            "<a href=\"http://a\" rel=\"noopener noreferrer\">http://a</a>&quot;onmouseover=&quot;x"
        );
        assert_eq!(linkify("just https://"), "just https://");
    }
}
