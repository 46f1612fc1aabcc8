//! `Mailer` against aiosmtpd: each security mode, a login, a private CA, and the errors a
//! misconfiguration gives. No database: these run on neither backend.

use ccbridge::config::Config;
use ccbridge::mail::{Email, MailError, Mailer};

use super::{CA_FILE, Security, ServerOptions, SmtpServer, smtp_toml};

fn mailer(toml: &str) -> Mailer {
    let config = Config::from_toml(toml).expect("valid [smtp]");
    Mailer::from_config(&config.smtp)
        .unwrap()
        .expect("smtp.host is set")
}

fn email() -> Email {
    Email {
        to: vec!["Ops <ops@example.org>".parse().unwrap()],
        subject: "ccbridge: a test".into(),
        text: "Plain words.\n".into(),
        html: Some("<p>Plain words.</p>\n".into()),
    }
}

#[tokio::test]
async fn starttls_with_a_private_ca_and_a_login_delivers_both_parts() {
    let options = ServerOptions {
        security: Security::Starttls,
        login: Some("ccbridge:smtp-pass-zq8"),
        ..ServerOptions::default()
    };
    let Some(server) = SmtpServer::start("starttls_with_a_private_ca", options).await else {
        return;
    };
    let mailer = mailer(&smtp_toml(
        server.port,
        "starttls",
        &format!(
            "username = \"ccbridge\"\npassword = \"smtp-pass-zq8\"\nca_file = \"{CA_FILE}\"\n\
             reply_to = \"team@example.org\""
        ),
    ));

    mailer.send(&email()).await.unwrap();

    let message = &server.wait_for(1, "the mail").await[0];
    assert_eq!(message["rcpt_tos"][0], "ops@example.org");
    assert_eq!(message["mail_from"], "ccbridge@example.org");
    assert_eq!(message["subject"], "ccbridge: a test");
    assert_eq!(message["reply_to"], "team@example.org");
    assert_eq!(message["text"], "Plain words.\n");
    assert_eq!(message["html"], "<p>Plain words.</p>\n");
    assert_eq!(message["tls"], true);
    assert_eq!(message["authenticated"], true);
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let options = ServerOptions {
        security: Security::Tls,
        ..ServerOptions::default()
    };
    let Some(server) = SmtpServer::start("implicit_tls_delivers", options).await else {
        return;
    };
    let mailer = mailer(&smtp_toml(
        server.port,
        "tls",
        &format!("ca_file = \"{CA_FILE}\""),
    ));

    mailer.send(&email()).await.unwrap();

    assert_eq!(server.wait_for(1, "the mail").await[0]["tls"], true);
}

#[tokio::test]
async fn an_untrusted_certificate_and_a_wrong_password_are_told_apart() {
    let options = ServerOptions {
        security: Security::Starttls,
        login: Some("ccbridge:right-password"),
        ..ServerOptions::default()
    };
    let Some(server) = SmtpServer::start("an_untrusted_certificate", options).await else {
        return;
    };
    let untrusted = mailer(&smtp_toml(server.port, "starttls", ""));
    let error = untrusted.send(&email()).await.unwrap_err();
    assert!(matches!(error, MailError::Tls { .. }), "{error:?}");

    let wrong = mailer(&smtp_toml(
        server.port,
        "starttls",
        &format!("username = \"ccbridge\"\npassword = \"wrong-zq8\"\nca_file = \"{CA_FILE}\""),
    ));
    let error = wrong.send(&email()).await.unwrap_err();
    assert!(matches!(error, MailError::Auth { .. }), "{error:?}");
    assert!(!error.to_string().contains("wrong-zq8"), "{error}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error_worth_retrying() {
    let port = crate::helpers::free_port();
    let mailer = mailer(&smtp_toml(port, "none", ""));
    let error = mailer.send(&email()).await.unwrap_err();
    assert!(matches!(error, MailError::Connection { .. }), "{error:?}");
    assert!(!error.is_permanent());
}
