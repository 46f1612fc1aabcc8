//! Sending one mail through the configured SMTP server (`[smtp]`).
//!
//! This module knows how to reach the server (TLS mode, login, timeout, a private CA) and how to
//! turn an [`Email`] into a MIME message; it knows nothing of why a mail is sent. Alerts use it
//! now; a durable queue for double opt-in mails can later call [`Mailer::send`] the same way, and
//! decide from [`MailError::is_permanent`] whether to try again.
//!
//! The transport is lettre's, on tokio and rustls with ring and the webpki roots, the TLS stack
//! reqwest already brings, so mail adds no second one. No connection is kept open between mails.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::{SmtpConfig, SmtpSecurity};

/// How many `smtp.timeout`s one mail may take in all (connect, greeting, TLS, login, envelope,
/// data, quit).
const SESSION_STEPS: u32 = 4;

/// One mail to send: who to, the subject, a plain-text body and optionally an HTML one.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    /// Sent as `multipart/alternative` with `text` when present.
    pub html: Option<String>,
}

/// Why a mail was not sent. Messages never hold the password.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server could not be reached, or the connection broke or timed out.
    #[error("cannot reach the mail server {server}: {message}")]
    Connection { server: String, message: String },
    /// The TLS handshake failed (certificate not trusted, wrong name, no STARTTLS offered).
    #[error("TLS with the mail server {server} failed: {message}")]
    Tls { server: String, message: String },
    /// The server refused the login.
    #[error("the mail server {server} refused the login of smtp.username: {message}")]
    Auth { server: String, message: String },
    /// The server refused the sender, a recipient or the message (a 5xx answer). Not
    /// permanent: a refused sender or message is the operator's to fix (`smtp.from`, the
    /// server's policy), and every mail would meet it; once fixed, the same mail goes through.
    #[error("the mail server {server} refused the mail: {message}")]
    Refused { server: String, message: String },
    /// The server said this recipient's mailbox does not exist or takes no mail (a 5xx answer
    /// with a "bad destination" enhanced status code, RFC 3463): this mail will never get
    /// through, whatever the operator does.
    #[error("the mail server {server} refused the recipient: {message}")]
    RecipientRefused { server: String, message: String },
    /// The server answered "not now" (a 4xx answer).
    #[error("the mail server {server} answered with a temporary error: {message}")]
    Temporary { server: String, message: String },
    /// The mail itself could not be built (no recipient, a bad header).
    #[error("the mail cannot be built: {0}")]
    Message(String),
    /// The settings do not make a transport (e.g. a certificate rustls refuses).
    #[error("the SMTP settings do not work: {0}")]
    Settings(String),
}

impl MailError {
    /// Trying the same mail again cannot help: its recipient is refused, or it cannot be built
    /// or sent with these settings. (A refused sender or message is not: the operator can fix
    /// it, and the mail should then go out.)
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::RecipientRefused { .. } | Self::Message(_) | Self::Settings(_)
        )
    }
}

/// Sends mails through `[smtp]`. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// `host:port`, for messages.
    server: String,
    /// The most one mail may take, start to end (lettre's own timeout does not cover every
    /// wait on a TLS connection).
    deadline: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .finish()
    }
}

impl Mailer {
    /// A mailer for `config`, or `None` when no SMTP host is configured.
    pub fn from_config(config: &SmtpConfig) -> Result<Option<Self>, MailError> {
        if !config.is_enabled() {
            return Ok(None);
        }
        let from = config
            .from
            .clone()
            .ok_or_else(|| MailError::Settings("smtp.from is not set".into()))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port())
            .timeout(Some(config.timeout))
            .tls(tls(config)?);
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.expose_secret().to_owned(),
            ));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
            reply_to: config.reply_to.clone(),
            server: format!("{}:{}", config.host, config.port()),
            deadline: config.timeout * SESSION_STEPS,
        }))
    }

    /// The configured sender.
    pub fn from_address(&self) -> &Mailbox {
        &self.from
    }

    /// Send one mail: connect, (STARTTLS,) log in, deliver, quit.
    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Ok(sent) => sent.map(drop).map_err(|error| self.classify(&error)),
            Err(_) => Err(MailError::Connection {
                server: self.server.clone(),
                message: format!("no answer within {:?}", self.deadline),
            }),
        }
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        if email.to.is_empty() {
            return Err(MailError::Message("no recipient".into()));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone())
            .user_agent(concat!("ccbridge/", env!("CARGO_PKG_VERSION")).to_owned());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        for to in &email.to {
            builder = builder.to(to.clone());
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone());
        let built = match &email.html {
            None => builder.singlepart(text),
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
        };
        built.map_err(|e| MailError::Message(e.to_string()))
    }

    /// Which of our kinds of failure lettre's error is.
    fn classify(&self, error: &lettre::transport::smtp::Error) -> MailError {
        let server = self.server.clone();
        let message = describe(error);
        let code = error.status().map(|code| code.to_string());
        if error.is_tls() || looks_like_tls(&message) {
            MailError::Tls { server, message }
        } else if code.as_deref().is_some_and(is_auth_code) {
            MailError::Auth { server, message }
        } else if error.is_permanent() && names_a_bad_recipient(&message) {
            MailError::RecipientRefused { server, message }
        } else if error.is_permanent() {
            MailError::Refused { server, message }
        } else if error.is_transient() {
            MailError::Temporary { server, message }
        } else if error.is_client() && message.contains("authentication") {
            MailError::Auth { server, message }
        } else {
            MailError::Connection { server, message }
        }
    }
}

/// A 5xx answer's enhanced status code says the recipient is the problem (RFC 3463 X.1.1 bad
/// destination mailbox, X.1.2 bad destination system, X.1.3 bad destination address syntax,
/// X.1.6 mailbox moved, X.2.1 mailbox disabled; RFC 7505 X.1.10 null MX). lettre does not say
/// which command was refused, and a bare 550 may be the sender's: without such a code the
/// refusal is not taken as the recipient's.
fn names_a_bad_recipient(message: &str) -> bool {
    message
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .any(|word| {
            matches!(
                word,
                "5.1.1" | "5.1.2" | "5.1.3" | "5.1.6" | "5.1.10" | "5.2.1"
            )
        })
}

/// lettre reports a failed handshake (an untrusted certificate) as a connection error.
fn looks_like_tls(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["certificate", "handshake", "tls"]
        .iter()
        .any(|word| message.contains(word))
}

/// 530 (authentication required), 534/538 (mechanism too weak, encryption required), 535
/// (credentials invalid), 454 (temporary authentication failure).
fn is_auth_code(code: &str) -> bool {
    matches!(code, "530" | "534" | "535" | "538" | "454")
}

/// lettre's error with its sources, on one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn tls(config: &SmtpConfig) -> Result<Tls, MailError> {
    if config.security == SmtpSecurity::None {
        return Ok(Tls::None);
    }
    let mut parameters = TlsParameters::builder(config.host.clone());
    for der in config.ca_file.iter().flat_map(|ca| &ca.certificates) {
        let certificate = Certificate::from_der(der.clone())
            .map_err(|e| MailError::Settings(format!("smtp.ca_file: {e}")))?;
        parameters = parameters.add_root_certificate(certificate);
    }
    let parameters = parameters
        .build_rustls()
        .map_err(|e| MailError::Settings(format!("TLS for smtp.host: {}", describe(&e))))?;
    Ok(match config.security {
        SmtpSecurity::Tls => Tls::Wrapper(parameters),
        _ => Tls::Required(parameters),
    })
}

#[cfg(test)]
mod tests {
    use super::{Email, MailError, Mailer};
    use crate::config::Config;

    fn mailer(extra: &str) -> Mailer {
        let config = Config::from_toml(&format!(
            "[smtp]\nhost = \"127.0.0.1\"\nfrom = \"ccbridge <ccbridge@example.org>\"\n{extra}"
        ))
        .unwrap();
        Mailer::from_config(&config.smtp).unwrap().unwrap()
    }

    #[test]
    fn no_host_no_mailer() {
        let config = Config::from_toml("").unwrap();
        assert!(Mailer::from_config(&config.smtp).unwrap().is_none());
    }

    #[test]
    fn a_mail_with_html_is_multipart_alternative_with_reply_to() {
        let mailer = mailer("reply_to = \"team@example.org\"");
        let message = mailer
            .message(&Email {
                to: vec!["ops@example.org".parse().unwrap()],
                subject: "ccbridge: test".into(),
                text: "plain".into(),
                html: Some("<p>html</p>".into()),
            })
            .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("Reply-To: team@example.org"), "{raw}");
        assert!(raw.contains("To: ops@example.org"), "{raw}");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connection_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mailer = mailer(&format!(
            "security = \"none\"\nport = {port}\ntimeout = \"2s\""
        ));
        let error = mailer
            .send(&Email {
                to: vec!["ops@example.org".parse().unwrap()],
                subject: "s".into(),
                text: "t".into(),
                html: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::Connection { .. }), "{error:?}");
        assert!(!error.is_permanent());
    }

    #[test]
    fn only_a_bad_destination_code_makes_a_refusal_the_recipients() {
        for message in [
            "permanent error (550): 5.1.1 <x@example.org>: mailbox unavailable",
            "permanent error (550): 5.1.10 null MX",
            "permanent error (550): mailbox disabled (5.2.1)",
        ] {
            assert!(super::names_a_bad_recipient(message), "{message}");
        }
        for message in [
            "permanent error (550): 5.7.1 sender not allowed",
            "permanent error (550): mailbox unavailable",
            "permanent error (552): 5.3.4 message too big",
            "permanent error (550): 15.1.1 something else",
        ] {
            assert!(!super::names_a_bad_recipient(message), "{message}");
        }
    }

    #[tokio::test]
    async fn no_recipient_is_refused_before_connecting() {
        let error = mailer("")
            .send(&Email {
                to: vec![],
                subject: "s".into(),
                text: "t".into(),
                html: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::Message(_)), "{error:?}");
    }
}
