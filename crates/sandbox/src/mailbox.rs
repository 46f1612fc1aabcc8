//! The mailbox: every mail the sandbox's SMTP receiver accepted (`smtp`), and the mails Constant
//! Contact itself would send to a contact (the Confirmed Opt-In confirmation, the resubscribe
//! request), which the sandbox writes straight into it (`consent`). A demo shows a person's inbox here; tests
//! read it with [`Sandbox::mailbox`](crate::Sandbox::mailbox).
//!
//! Received messages are parsed with `mail-parser` (MIME parts, quoted-printable and base64
//! bodies, encoded-word headers). Only the newest [`KEEP`] messages are kept.

use std::collections::VecDeque;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MessagePart, MimeHeaders as _, PartType};
use serde::{Deserialize, Serialize};

use crate::{Sandbox, lock};

/// How many messages the mailbox keeps; older ones are dropped.
pub const KEEP: usize = 1000;

/// The address Constant Contact's own mails come from in the sandbox.
pub const CONSTANT_CONTACT_SENDER: &str = "noreply@sandbox.constantcontact.example";

/// One mail in the mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxMessage {
    /// 1, 2, … in the order the mailbox got them.
    pub id: u64,
    pub origin: MailOrigin,
    /// The address of the `From` header, or the envelope sender when it has none.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), who the mail was delivered to.
    pub to: Vec<String>,
    /// Decoded; empty if the mail has none.
    pub subject: String,
    /// The first text/plain part, decoded.
    pub text: Option<String>,
    /// The first text/html part, decoded (shown escaped, never rendered).
    pub html: Option<String>,
    /// By the sandbox's clock.
    pub received_at: DateTime<Utc>,
}

/// How a mail got into the mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailOrigin {
    /// Sent to the SMTP receiver (by ccbridge, for example).
    Smtp,
    /// Written by the sandbox as Constant Contact would send it.
    ConstantContact,
}

#[derive(Default)]
pub struct Mailbox {
    messages: VecDeque<MailboxMessage>,
    last_id: u64,
}

impl Mailbox {
    /// Add `message` under the next id; returns the id.
    pub fn push(&mut self, mut message: MailboxMessage) -> u64 {
        self.last_id += 1;
        message.id = self.last_id;
        if self.messages.len() == KEEP {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
        self.last_id
    }

    /// Oldest first.
    pub fn all(&self) -> Vec<MailboxMessage> {
        self.messages.iter().cloned().collect()
    }
}

/// A message received over SMTP: `data` is the message after dot-unstuffing.
pub fn parse(
    envelope_from: &str,
    recipients: Vec<String>,
    data: &[u8],
    now: DateTime<Utc>,
) -> MailboxMessage {
    let mut message = MailboxMessage {
        id: 0,
        origin: MailOrigin::Smtp,
        from: envelope_from.to_owned(),
        to: recipients,
        subject: String::new(),
        text: None,
        html: None,
        received_at: now,
    };
    let Some(parsed) = MessageParser::default().parse(data) else {
        // Not a message at all: keep what can be read of it as its text.
        message.text = Some(String::from_utf8_lossy(data).into_owned());
        return message;
    };
    if let Some(address) = parsed
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
    {
        message.from = address.to_owned();
    }
    message.subject = parsed.subject().unwrap_or_default().to_owned();
    // mail-parser lists a text part among the HTML bodies too (and the reverse), converting it
    // on the fly; only parts that really are text/plain or text/html count here.
    message.text = parsed
        .text_body
        .iter()
        .filter_map(|id| parsed.part(*id))
        .find_map(|part| plain_text(part).map(str::to_owned));
    message.html = parsed
        .html_body
        .iter()
        .filter_map(|id| parsed.part(*id))
        .find_map(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        });
    message
}

/// The text of a text/plain part (a part without a Content-Type is text/plain).
fn plain_text<'a>(part: &'a MessagePart<'_>) -> Option<&'a str> {
    let PartType::Text(text) = &part.body else {
        return None;
    };
    let plain = part.content_type().is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
    });
    plain.then_some(text.as_ref())
}

impl Sandbox {
    /// The SMTP receiver's address (see `SandboxConfig::mailbox_listen`).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.shared.settings.smtp_addr
    }

    /// Every mail in the mailbox, oldest first.
    pub fn mailbox(&self) -> Vec<MailboxMessage> {
        lock(&self.shared.mailbox).all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn a_multipart_message_gives_its_decoded_parts_and_headers() {
        let raw = concat!(
            "From: =?UTF-8?Q?J=C3=BCrgen?= <jurgen@example.org>\r\n",
            "To: jane@example.org\r\n",
            "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/alternative; boundary=\"b\"\r\n",
            "\r\n",
            "--b\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
            "\r\n",
            "Caf=C3=A9 =\r\nsoon\r\n",
            "--b\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
            "PHA+Q2Fmw6k8L3A+\r\n",
            "--b--\r\n",
        );
        let message = parse(
            "bounce@example.org",
            vec!["jane@example.org".into()],
            raw.as_bytes(),
            at(),
        );
        assert_eq!(message.from, "jurgen@example.org");
        assert_eq!(message.subject, "Grüße");
        assert_eq!(message.text.as_deref(), Some("Café soon"));
        assert_eq!(message.html.as_deref(), Some("<p>Café</p>"));
    }

    #[test]
    fn a_text_only_message_has_no_html_part() {
        let raw = "Subject: hi\r\n\r\nplain words\r\n";
        let message = parse("a@example.org", vec![], raw.as_bytes(), at());
        assert_eq!(message.from, "a@example.org", "the envelope sender");
        assert_eq!(message.text.as_deref(), Some("plain words\r\n"));
        assert_eq!(message.html, None);
    }

    #[test]
    fn the_mailbox_keeps_the_newest_messages() {
        let mut mailbox = Mailbox::default();
        for _ in 0..KEEP + 2 {
            mailbox.push(parse("a@example.org", vec![], b"Subject: x\r\n\r\nx", at()));
        }
        let all = mailbox.all();
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].id, 3);
        assert_eq!(all[KEEP - 1].id, (KEEP + 2) as u64);
    }
}
