//! The mailbox's SMTP receiver: a demo and test receiver on its own TCP listener, never a mail
//! server. It speaks plain SMTP (RFC 5321: EHLO/HELO, MAIL FROM, RCPT TO, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT), with no TLS and no AUTH (STARTTLS and AUTH answer 502, and
//! neither is advertised), accepts every sender and recipient, and delivers nothing anywhere:
//! accepted messages go into the mailbox.
//!
//! It never hangs and never grows without bound: each read waits at most [`READ_TIMEOUT`], a
//! connection lives at most [`SESSION_LIMIT`], at most [`MAX_CONNECTIONS`] are served at once,
//! command lines are capped, and a message over the configured size is read to its end and
//! refused with 552 without being kept.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::{Shared, lock, mailbox};

/// How long one read from the client may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one connection may last in all.
pub const SESSION_LIMIT: Duration = Duration::from_secs(300);
/// Connections served at once; more are answered 421.
pub const MAX_CONNECTIONS: usize = 16;
/// A command line, CRLF included (RFC 5321 allows 512; extensions make it longer).
const MAX_COMMAND: usize = 2048;
/// How much of a DATA line is read at once; longer lines are read in pieces.
const DATA_CHUNK: usize = 8192;
const MAX_RECIPIENTS: usize = 100;
const HOST: &str = "sandbox.localhost";

/// Accept connections until the sandbox stops.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let sessions = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = shared.stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let mut stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(%error, "the sandbox's SMTP receiver could not accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            sessions.spawn(async move {
                let busy = stream.write_all(b"421 4.3.2 Too many connections, try again later\r\n");
                let _ = tokio::time::timeout(READ_TIMEOUT, busy).await;
            });
            continue;
        };
        sessions.spawn(async move {
            let _permit = permit;
            let (read, write) = stream.into_split();
            let mut session = Session::new(BufReader::new(read), write, &shared);
            let outcome = tokio::select! {
                () = shared.stop.cancelled() => return,
                outcome = tokio::time::timeout(SESSION_LIMIT, session.run()) => outcome,
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "SMTP session ended"),
                Err(_) => session.say("421 4.4.2 Session too long, closing").await,
            }
        });
    }
    sessions.close();
    sessions.wait().await;
}

/// One SMTP connection and its transaction state.
struct Session<'a, R, W> {
    reader: R,
    writer: W,
    shared: &'a Shared,
    greeted: bool,
    sender: Option<String>,
    recipients: Vec<String>,
}

/// What reading a line gave.
enum Line {
    /// A complete line, or the first `max` bytes of a longer one.
    Read(Vec<u8>),
    Closed,
    TimedOut,
}

impl<'a, R: AsyncRead + tokio::io::AsyncBufRead + Unpin, W: AsyncWrite + Unpin> Session<'a, R, W> {
    fn new(reader: R, writer: W, shared: &'a Shared) -> Self {
        Self {
            reader,
            writer,
            shared,
            greeted: false,
            sender: None,
            recipients: Vec::new(),
        }
    }

    async fn run(&mut self) -> io::Result<()> {
        self.reply(&format!(
            "220 {HOST} ESMTP ccbridge sandbox mailbox (a test receiver, delivers nothing)"
        ))
        .await?;
        loop {
            let line = match self.line(MAX_COMMAND).await? {
                Line::Read(line) => line,
                Line::Closed => return Ok(()),
                Line::TimedOut => {
                    return self.reply("421 4.4.2 Idle too long, closing").await;
                }
            };
            if !line.ends_with(b"\n") {
                return self.reply("500 5.5.2 Line too long, closing").await;
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let (verb, argument) = line.split_once(' ').unwrap_or((line, ""));
            let argument = argument.trim();
            match verb.to_ascii_uppercase().as_str() {
                "EHLO" | "HELO" if argument.is_empty() => {
                    self.reply("501 5.5.4 A domain or address is required")
                        .await?;
                }
                "EHLO" => {
                    self.greet();
                    let max = self.shared.settings.mailbox_max_message_bytes;
                    self.reply(&format!(
                        "250-{HOST} greets {argument}\r\n250-SIZE {max}\r\n250-8BITMIME\r\n250 SMTPUTF8"
                    ))
                    .await?;
                }
                "HELO" => {
                    self.greet();
                    self.reply(&format!("250 {HOST}")).await?;
                }
                "MAIL" => self.mail(argument).await?,
                "RCPT" => self.rcpt(argument).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.reset();
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "VRFY" => {
                    self.reply("252 2.1.5 Cannot verify, but will accept")
                        .await?
                }
                "HELP" => {
                    self.reply("214 2.0.0 EHLO HELO MAIL RCPT DATA RSET NOOP QUIT")
                        .await?;
                }
                "QUIT" => return self.reply(&format!("221 2.0.0 {HOST} closing")).await,
                "STARTTLS" | "AUTH" => {
                    self.reply("502 5.5.1 Not implemented by this test receiver")
                        .await?;
                }
                _ => self.reply("500 5.5.2 Command not recognized").await?,
            }
        }
    }

    fn greet(&mut self) {
        self.greeted = true;
        self.reset();
    }

    fn reset(&mut self) {
        self.sender = None;
        self.recipients.clear();
    }

    async fn mail(&mut self, argument: &str) -> io::Result<()> {
        if !self.greeted {
            return self.reply("503 5.5.1 Send EHLO or HELO first").await;
        }
        if self.sender.is_some() {
            return self.reply("503 5.5.1 A transaction is already open").await;
        }
        let Some((path, parameters)) = path_after(argument, "FROM:") else {
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        let max = self.shared.settings.mailbox_max_message_bytes;
        let declared = parameters.split_whitespace().find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.eq_ignore_ascii_case("SIZE")
                .then(|| value.parse::<usize>().ok())
                .flatten()
        });
        if declared.is_some_and(|size| size > max) {
            return self
                .reply("552 5.3.4 Message size exceeds fixed maximum message size")
                .await;
        }
        self.sender = Some(path.to_owned());
        self.reply("250 2.1.0 OK").await
    }

    async fn rcpt(&mut self, argument: &str) -> io::Result<()> {
        if self.sender.is_none() {
            return self.reply("503 5.5.1 Send MAIL first").await;
        }
        let Some((path, _)) = path_after(argument, "TO:").filter(|(p, _)| !p.is_empty()) else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if self.recipients.len() >= MAX_RECIPIENTS {
            return self.reply("452 4.5.3 Too many recipients").await;
        }
        self.recipients.push(path.to_owned());
        self.reply("250 2.1.5 OK").await
    }

    async fn data(&mut self) -> io::Result<()> {
        if self.recipients.is_empty() {
            return self.reply("503 5.5.1 Send RCPT first").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let max = self.shared.settings.mailbox_max_message_bytes;
        let mut message = Vec::new();
        let mut too_big = false;
        let mut at_line_start = true;
        loop {
            let line = match self.line(DATA_CHUNK).await? {
                Line::Read(line) => line,
                Line::Closed => return Err(io::ErrorKind::UnexpectedEof.into()),
                Line::TimedOut => return self.reply("421 4.4.2 Idle too long, closing").await,
            };
            if at_line_start && matches!(line.as_slice(), b".\r\n" | b".\n") {
                break;
            }
            // Dot-unstuffing (RFC 5321 §4.5.2): a line's leading dot was doubled by the sender.
            let content = match line.strip_prefix(b".") {
                Some(rest) if at_line_start => rest,
                _ => &line[..],
            };
            at_line_start = line.ends_with(b"\n");
            if too_big || message.len() + content.len() > max {
                // Read to the end so that the reply lines up, but keep nothing.
                too_big = true;
                message = Vec::new();
            } else {
                message.extend_from_slice(content);
            }
        }
        let sender = self.sender.take().unwrap_or_default();
        let recipients = std::mem::take(&mut self.recipients);
        if too_big {
            return self
                .reply("552 5.3.4 Message size exceeds fixed maximum message size")
                .await;
        }
        let received = mailbox::parse(&sender, recipients, &message, self.shared.clock.now());
        let id = lock(&self.shared.mailbox).push(received);
        self.reply(&format!("250 2.0.0 OK: queued as {id}")).await
    }

    /// Read one line of at most `max` bytes, waiting at most `READ_TIMEOUT`.
    async fn line(&mut self, max: usize) -> io::Result<Line> {
        let mut line = Vec::new();
        let mut limited = (&mut self.reader).take(max as u64);
        let read = limited.read_until(b'\n', &mut line);
        match tokio::time::timeout(READ_TIMEOUT, read).await {
            Err(_) => Ok(Line::TimedOut),
            Ok(Ok(0)) => Ok(Line::Closed),
            Ok(Ok(_)) => Ok(Line::Read(line)),
            Ok(Err(error)) => Err(error),
        }
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        let write = async {
            self.writer.write_all(text.as_bytes()).await?;
            self.writer.write_all(b"\r\n").await?;
            self.writer.flush().await
        };
        tokio::time::timeout(READ_TIMEOUT, write)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }

    /// A last word before closing; failures don't matter any more.
    async fn say(&mut self, text: &str) {
        let _ = self.reply(text).await;
    }
}

/// `FROM:<a@b> SIZE=10` → ("a@b", "SIZE=10"), the keyword matched case-insensitively and a
/// blank after the colon tolerated.
fn path_after<'a>(argument: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (path, parameters) = rest.split_once('>')?;
    Some((path.trim(), parameters.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_read_from_its_angle_brackets() {
        assert_eq!(
            path_after("FROM:<a@example.org> SIZE=10", "FROM:"),
            Some(("a@example.org", "SIZE=10"))
        );
        assert_eq!(
            path_after("to: <b@example.org>", "TO:"),
            Some(("b@example.org", ""))
        );
        assert_eq!(path_after("FROM:<>", "FROM:"), Some(("", "")));
        assert_eq!(path_after("FROM:a@example.org", "FROM:"), None);
        assert_eq!(path_after("TO:<b@example.org>", "FROM:"), None);
    }
}
