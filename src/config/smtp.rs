//! `[smtp]`: the mail server ccbridge sends through. Alert mails use it now, double opt-in mails
//! later, so it says nothing about what is sent: only where, how securely, and as whom.
//!
//! Addresses are parsed into lettre's `Mailbox` and the private CA (`ca_file`) into certificates
//! here, at load, so a typo stops `check-config` instead of the first alert mail.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// The mail server's host name or IP address; empty: no SMTP (nothing is mailed).
    pub host: String,
    /// 0: the default for `security` (587, 465 or 25); see [`SmtpConfig::port`].
    #[serde(rename = "port")]
    pub configured_port: u16,
    pub security: SmtpSecurity,
    /// Empty: no authentication.
    pub username: String,
    #[serde(serialize_with = "super::secret::presence")]
    pub password: SecretString,
    /// The sender, required when `host` is set.
    #[serde(
        deserialize_with = "deserialize_optional_mailbox",
        serialize_with = "serialize_optional_mailbox"
    )]
    pub from: Option<Mailbox>,
    #[serde(
        deserialize_with = "deserialize_optional_mailbox",
        serialize_with = "serialize_optional_mailbox"
    )]
    pub reply_to: Option<Mailbox>,
    /// Connecting, and each command's answer.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Extra trusted roots (a private CA), besides the public ones.
    #[serde(
        deserialize_with = "deserialize_ca_file",
        serialize_with = "serialize_ca_file"
    )]
    pub ca_file: Option<CaFile>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            configured_port: 0,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: SecretString::from(String::new()),
            from: None,
            reply_to: None,
            timeout: Duration::from_secs(30),
            ca_file: None,
        }
    }
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (submission, port 587).
    Starttls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
    /// No encryption at all (port 25): only for a relay on this machine or a trusted network.
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

impl SmtpConfig {
    /// Whether a mail server is configured at all.
    pub fn is_enabled(&self) -> bool {
        !self.host.is_empty()
    }

    /// The port to connect to: the configured one, or the default for `security`.
    pub fn port(&self) -> u16 {
        match self.configured_port {
            0 => self.security.default_port(),
            port => port,
        }
    }

    /// Whether the host is this machine (a clear-text connection to it crosses no network).
    pub fn host_is_loopback(&self) -> bool {
        let host = self.host.trim_matches(|c| c == '[' || c == ']');
        host.eq_ignore_ascii_case("localhost")
            || IpAddr::from_str(host).is_ok_and(|ip| ip.is_loopback())
    }

    /// Returns the offending key (relative to the section) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.timeout < Duration::from_secs(1) || self.timeout > Duration::from_secs(300) {
            return Err(("timeout", "must be between 1s and 5m".into()));
        }
        if !self.is_enabled() {
            return Ok(());
        }
        if self.host.contains("://") || self.host.contains(char::is_whitespace) {
            return Err((
                "host",
                "must be a host name or IP address alone (the port is smtp.port), e.g. \
                 \"smtp.example.org\""
                    .into(),
            ));
        }
        if self.from.is_none() {
            return Err((
                "from",
                "is required when smtp.host is set: the sender of every mail, e.g. \
                 \"ccbridge <ccbridge@example.org>\""
                    .into(),
            ));
        }
        if self.username.is_empty() && !self.password.expose_secret().is_empty() {
            return Err((
                "username",
                "must be set when smtp.password is (the password alone cannot log in)".into(),
            ));
        }
        Ok(())
    }
}

/// A PEM file of CA certificates, read and parsed at load.
#[derive(Clone)]
pub struct CaFile {
    pub path: PathBuf,
    /// DER, in the file's order; never empty.
    pub certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for CaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CaFile({}, {} certificates)",
            self.path.display(),
            self.certificates.len()
        )
    }
}

impl CaFile {
    pub fn read(path: PathBuf) -> Result<Self, String> {
        let pem =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .map(|cert| cert.map(|der| der.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        Ok(Self { path, certificates })
    }
}

fn deserialize_ca_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CaFile>, D::Error> {
    let path = String::deserialize(d)?;
    if path.trim().is_empty() {
        return Ok(None);
    }
    CaFile::read(PathBuf::from(path))
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn serialize_ca_file<S: Serializer>(ca: &Option<CaFile>, s: S) -> Result<S::Ok, S::Error> {
    match ca {
        Some(ca) => s.serialize_str(&ca.path.display().to_string()),
        None => s.serialize_str(""),
    }
}

/// A mailbox (`addr@example.org` or `Name <addr@example.org>`), parsed by lettre.
pub(super) fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    Mailbox::from_str(text.trim()).map_err(|e| {
        format!(
            "`{text}` is not a mail address (addr@example.org or \"Name <addr@example.org>\"): {e}"
        )
    })
}

fn deserialize_optional_mailbox<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Mailbox>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_mailbox(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn serialize_optional_mailbox<S: Serializer>(
    mailbox: &Option<Mailbox>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match mailbox {
        Some(mailbox) => s.serialize_str(&mailbox.to_string()),
        None => s.serialize_str(""),
    }
}

/// A list of mailboxes (`alerts.email_to`).
pub(super) fn deserialize_mailboxes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Mailbox>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| parse_mailbox(text))
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

pub(super) fn serialize_mailboxes<S: Serializer>(
    mailboxes: &[Mailbox],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(mailboxes.iter().map(ToString::to_string))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SmtpSecurity;
    use crate::config::Config;
    use crate::config::tests::env;

    fn error(toml: &str) -> String {
        Config::from_toml(toml).unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_send_no_mail() {
        let config = Config::from_toml("").unwrap();
        assert!(!config.smtp.is_enabled());
        assert_eq!(config.smtp.security, SmtpSecurity::Starttls);
        assert_eq!(config.smtp.port(), 587);
        assert_eq!(config.smtp.timeout, Duration::from_secs(30));
        assert!(config.alerts.email_to.is_empty());
    }

    #[test]
    fn the_port_follows_security_unless_set() {
        let tls = Config::from_toml(
            "[smtp]\nhost = \"mail.example.org\"\nfrom = \"a@example.org\"\nsecurity = \"tls\"",
        )
        .unwrap();
        assert_eq!(tls.smtp.port(), 465);
        let none = Config::from_toml(
            "[smtp]\nhost = \"localhost\"\nfrom = \"a@example.org\"\nsecurity = \"none\"",
        )
        .unwrap();
        assert_eq!(none.smtp.port(), 25);
        let set = Config::from_toml(
            "[smtp]\nhost = \"mail.example.org\"\nfrom = \"a@example.org\"\nport = 2525",
        )
        .unwrap();
        assert_eq!(set.smtp.port(), 2525);
    }

    #[test]
    fn a_host_needs_a_sender() {
        let err = error("[smtp]\nhost = \"mail.example.org\"");
        assert!(err.contains("`smtp.from`"), "{err}");
        assert!(err.contains("required"), "{err}");
    }

    #[test]
    fn a_bad_mailbox_names_its_key() {
        let err = error("[smtp]\nhost = \"mail.example.org\"\nfrom = \"not an address\"");
        assert!(err.contains("`smtp.from`"), "{err}");
        let err = error("[smtp]\nhost = \"m\"\nfrom = \"a@example.org\"\nreply_to = \"@x\"");
        assert!(err.contains("`smtp.reply_to`"), "{err}");
        let err = error("[alerts]\nemail_to = [\"ops@example.org\", \"nope\"]");
        assert!(err.contains("`alerts.email_to`"), "{err}");
    }

    #[test]
    fn alert_mails_need_a_mail_server() {
        let err = error("[alerts]\nemail_to = [\"ops@example.org\"]");
        assert!(err.contains("`alerts.email_to`"), "{err}");
        assert!(err.contains("[smtp]"), "{err}");
        let config = Config::from_toml(
            "[alerts]\nemail_to = [\"Ops <ops@example.org>\"]\n\
             [smtp]\nhost = \"mail.example.org\"\nfrom = \"ccbridge@example.org\"",
        )
        .unwrap();
        assert_eq!(
            config.alerts.email_to[0].email.to_string(),
            "ops@example.org"
        );
    }

    #[test]
    fn a_timeout_out_of_range_and_a_bad_security_name_their_keys() {
        let err = error("[smtp]\ntimeout = \"10m\"");
        assert!(err.contains("`smtp.timeout`"), "{err}");
        let err = error("[smtp]\nsecurity = \"ssl\"");
        assert!(err.contains("`smtp.security`"), "{err}");
        let err = error("[smtp]\nhost = \"smtp://mail.example.org\"\nfrom = \"a@example.org\"");
        assert!(err.contains("`smtp.host`"), "{err}");
    }

    #[test]
    fn an_unreadable_or_unparseable_ca_file_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = error(&format!("[smtp]\nca_file = \"{}\"", missing.display()));
        assert!(err.contains("`smtp.ca_file`"), "{err}");
        assert!(err.contains("cannot read"), "{err}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = error(&format!("[smtp]\nca_file = \"{}\"", junk.display()));
        assert!(err.contains("`smtp.ca_file`"), "{err}");
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn the_password_is_never_shown_and_comes_from_the_environment() {
        let config = Config::load_from(
            None,
            env(&[
                ("CCBRIDGE__SMTP__HOST", "mail.example.org"),
                ("CCBRIDGE__SMTP__FROM", "ccbridge@example.org"),
                ("CCBRIDGE__SMTP__USERNAME", "ccbridge"),
                ("CCBRIDGE__SMTP__PASSWORD", "smtp-password-zq9"),
            ]),
        )
        .unwrap();
        use secrecy::ExposeSecret as _;
        assert_eq!(config.smtp.password.expose_secret(), "smtp-password-zq9");
        for text in [config.redacted_summary(), format!("{config:?}")] {
            assert!(!text.contains("smtp-password-zq9"), "{text}");
        }
        assert!(config.redacted_summary().contains("password = \"(set)\""));
    }

    #[test]
    fn a_clear_text_connection_over_a_network_is_warned_about() {
        let warnings = |toml: &str| Config::from_toml(toml).unwrap().setup_warnings().join("\n");
        let remote = warnings(
            "[smtp]\nhost = \"mail.example.org\"\nfrom = \"a@example.org\"\nsecurity = \"none\"\n\
             username = \"u\"\npassword = \"p\"",
        );
        assert!(remote.contains("smtp.security = \"none\""), "{remote}");
        assert!(remote.contains("password"), "{remote}");
        for local in ["localhost", "127.0.0.1", "::1"] {
            let text = warnings(&format!(
                "[smtp]\nhost = \"{local}\"\nfrom = \"a@example.org\"\nsecurity = \"none\""
            ));
            assert!(!text.contains("smtp.security"), "{local}: {text}");
        }
    }
}
