//! The mailbox: its SMTP receiver with a real client (lettre, as ccbridge sends) and with a raw
//! dialogue, its size cap, and the pages that show it.

use ccbridge_sandbox::{MailOrigin, MailboxMessage, SandboxConfig};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use crate::helpers::{TestSandbox, spawn_sandbox, spawn_sandbox_with, start_time, unthrottled};

fn transport(sandbox: &TestSandbox) -> AsyncSmtpTransport<Tokio1Executor> {
    let addr = sandbox.sandbox.smtp_addr();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(std::time::Duration::from_secs(10)))
        .build()
}

fn part(content_type: ContentType, body: &str) -> SinglePart {
    SinglePart::builder()
        .header(content_type)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(body.to_owned())
}

#[tokio::test]
async fn a_multipart_quoted_printable_mail_from_a_real_client_is_decoded() {
    let sandbox = spawn_sandbox().await;
    let text = "Grüße, Jürgen: confirm at https://example.org/confirm?token=a1&x=2 — thanks\n";
    let html = "<p>Grüße, <b>Jürgen</b></p>";
    let message = Message::builder()
        .from("Jürgen Alerts <alerts@example.org>".parse().unwrap())
        .to("owner@example.org".parse().unwrap())
        .subject("Signups paused — Grüße")
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, text))
                .singlepart(part(ContentType::TEXT_HTML, html)),
        )
        .unwrap();
    let raw = String::from_utf8(message.formatted()).unwrap();
    assert!(
        raw.contains("quoted-printable") && raw.contains("=C3=BC"),
        "{raw}"
    );

    transport(&sandbox).send(message).await.expect("accepted");

    let mailbox = sandbox.sandbox.mailbox();
    assert_eq!(mailbox.len(), 1);
    let mail = &mailbox[0];
    assert_eq!(mail.origin, MailOrigin::Smtp);
    assert_eq!(mail.from, "alerts@example.org");
    assert_eq!(mail.to, ["owner@example.org"]);
    assert_eq!(mail.subject, "Signups paused — Grüße");
    assert_eq!(
        mail.text.as_deref().map(str::trim_end),
        Some(text.trim_end())
    );
    assert_eq!(mail.html.as_deref().map(str::trim_end), Some(html));
    assert_eq!(mail.received_at, start_time());
}

#[tokio::test]
async fn an_oversize_mail_is_refused_and_not_kept() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        mailbox_max_message_bytes: 4096,
        ..unthrottled()
    })
    .await;
    let big = Message::builder()
        .from("a@example.org".parse().unwrap())
        .to("b@example.org".parse().unwrap())
        .subject("big")
        .body("0123456789\r\n".repeat(1000))
        .unwrap();
    let small = Message::builder()
        .from("a@example.org".parse().unwrap())
        .to("b@example.org".parse().unwrap())
        .subject("small")
        .body("fits".to_owned())
        .unwrap();
    let transport = transport(&sandbox);

    let refused = transport.send(big).await.expect_err("too big");

    assert!(refused.is_permanent(), "{refused}");
    assert_eq!(refused.status().map(|c| c.to_string()), Some("552".into()));
    assert!(sandbox.sandbox.mailbox().is_empty());
    transport.send(small).await.expect("a small one still fits");
    assert_eq!(sandbox.sandbox.mailbox().len(), 1);
}

/// A raw SMTP session: send `line` and read the whole reply (its last line has a space after
/// the code).
struct Raw {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Raw {
    async fn connect(sandbox: &TestSandbox) -> (Raw, String) {
        let stream = TcpStream::connect(sandbox.sandbox.smtp_addr())
            .await
            .unwrap();
        let (read, writer) = stream.into_split();
        let mut raw = Raw {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = raw.reply().await;
        (raw, greeting)
    }

    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.reader.read_line(&mut line),
            )
            .await
            .expect("a reply in time")
            .unwrap();
            assert!(read > 0, "the receiver closed after {all:?}");
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.writer.write_all(line.as_bytes()).await.unwrap();
        self.writer.write_all(b"\r\n").await.unwrap();
        self.reply().await
    }
}

#[tokio::test]
async fn a_raw_dialogue_is_answered_in_order_and_dots_are_unstuffed() {
    let sandbox = spawn_sandbox().await;
    let (mut smtp, greeting) = Raw::connect(&sandbox).await;
    assert!(greeting.starts_with("220 "), "{greeting}");

    assert!(
        smtp.send("MAIL FROM:<a@example.org>")
            .await
            .starts_with("503")
    );
    let ehlo = smtp.send("EHLO client.example").await;
    assert!(ehlo.starts_with("250-") && ehlo.contains("SIZE"), "{ehlo}");
    assert!(
        !ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    assert!(
        smtp.send("DATA").await.starts_with("503"),
        "no recipient yet"
    );
    assert!(
        smtp.send("MAIL FROM:<a@example.org>")
            .await
            .starts_with("250")
    );
    assert!(smtp.send("RSET").await.starts_with("250"));
    assert!(
        smtp.send("RCPT TO:<b@example.org>")
            .await
            .starts_with("503"),
        "RSET ended it"
    );
    assert!(smtp.send("NOOP").await.starts_with("250"));
    assert!(smtp.send("STARTTLS").await.starts_with("502"));
    assert!(
        smtp.send("MAIL FROM:<a@example.org>")
            .await
            .starts_with("250")
    );
    assert!(
        smtp.send("RCPT TO:<b@example.org>")
            .await
            .starts_with("250")
    );
    assert!(
        smtp.send("RCPT TO:<c@example.org>")
            .await
            .starts_with("250")
    );
    assert!(smtp.send("DATA").await.starts_with("354"));
    let body = "Subject: dots\r\n\r\n..leading dot\r\nplain\r\n.";
    assert!(smtp.send(body).await.starts_with("250"));
    assert!(smtp.send("QUIT").await.starts_with("221"));

    let mail = sandbox.sandbox.mailbox().pop().unwrap();
    assert_eq!(
        mail.from, "a@example.org",
        "no From header: the envelope sender"
    );
    assert_eq!(mail.to, ["b@example.org", "c@example.org"]);
    assert_eq!(mail.text.as_deref(), Some(".leading dot\r\nplain\r\n"));
}

#[tokio::test]
async fn a_declared_size_over_the_cap_is_refused_at_mail_from() {
    let sandbox = spawn_sandbox_with(SandboxConfig {
        mailbox_max_message_bytes: 1000,
        ..unthrottled()
    })
    .await;
    let (mut smtp, _) = Raw::connect(&sandbox).await;
    smtp.send("HELO client.example").await;

    let reply = smtp.send("MAIL FROM:<a@example.org> SIZE=1001").await;

    assert!(reply.starts_with("552"), "{reply}");
}

#[tokio::test]
async fn the_mailbox_page_escapes_mail_and_links_only_web_addresses() {
    let sandbox = spawn_sandbox().await;
    let (mut smtp, _) = Raw::connect(&sandbox).await;
    smtp.send("EHLO client.example").await;
    smtp.send("MAIL FROM:<a@example.org>").await;
    smtp.send("RCPT TO:<b@example.org>").await;
    smtp.send("DATA").await;
    let body = "Subject: <script>alert(1)</script>\r\n\r\n\
                <img src=x onerror=alert(1)> see https://example.org/c?a=1&b=2 or javascript:alert(2)\r\n.";
    assert!(smtp.send(body).await.starts_with("250"));
    smtp.send("QUIT").await;

    let page = sandbox.get(sandbox.sandbox.mailbox_url()).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();

    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<a href=\"https://example.org/c?a=1&amp;b=2\""));
    assert!(!html.contains("href=\"javascript"));
    assert!(html.contains("Content-Security-Policy"));
    let json: Vec<MailboxMessage> = sandbox
        .get(sandbox.url("/_sandbox/mailbox"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json, sandbox.sandbox.mailbox());
    let overview = sandbox.get(sandbox.url("/")).await.text().await.unwrap();
    assert!(overview.contains("href=\"/mailbox\""));
}
