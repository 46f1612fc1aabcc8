//! Mail, against a real SMTP server nobody here wrote: aiosmtpd (PyPI), run as a subprocess by
//! `tests/smtp_server.py`, which saves each accepted message as JSON for the test to read. STARTTLS
//! and implicit TLS use the test CA and certificate in `tests/fixtures/smtp/` (127.0.0.1 and
//! localhost; the private key is a test fixture and protects nothing).
//!
//! The Python comes from `$CCBRIDGE_TEST_PYTHON` (`.ci/run` points it at a venv under `target/`
//! with a pinned aiosmtpd), else `python3`. Without Python or aiosmtpd the tests print SKIPPED and
//! pass, except under `CI=true`, where they fail and say what to install.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::helpers::eventually;

mod alerts;
mod transport;

/// The test CA that signed `server.pem`, for `smtp.ca_file`.
pub const CA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smtp/ca.pem");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smtp");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    None,
    Starttls,
    Tls,
}

/// How a test server is run.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub security: Security,
    /// `user:password` the server requires.
    pub login: Option<&'static str>,
    /// A port chosen beforehand (to start a server where nothing listened); free when `None`.
    pub port: Option<u16>,
    /// Answer 550 to MAIL FROM while this file exists.
    pub refuse_sender_while: Option<PathBuf>,
    /// Answer "550 5.1.1 <address>: mailbox unavailable" to RCPT TO this address.
    pub refuse_recipient: Option<&'static str>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            security: Security::None,
            login: None,
            port: None,
            refuse_sender_while: None,
            refuse_recipient: None,
        }
    }
}

pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

fn python() -> PathBuf {
    std::env::var_os("CCBRIDGE_TEST_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// Whether Python with aiosmtpd is there; SKIPPED (`None`) or a panic under CI when not.
fn python_with_aiosmtpd(test: &str) -> Option<PathBuf> {
    let python = python();
    let works = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if works {
        return Some(python);
    }
    let message = format!(
        "{} cannot import aiosmtpd: mail tests need Python with aiosmtpd (python3 -m venv v && \
         v/bin/pip install aiosmtpd==1.4.6, then CCBRIDGE_TEST_PYTHON=v/bin/python)",
        python.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED {test}: {message}");
    None
}

impl SmtpServer {
    /// A running server, or `None` (SKIPPED) without Python and aiosmtpd outside CI.
    pub async fn start(test: &str, options: ServerOptions) -> Option<Self> {
        let python = python_with_aiosmtpd(test)?;
        let port = options.port.unwrap_or_else(crate::helpers::free_port);
        let dir = tempfile::tempdir().unwrap();
        let mut command = tokio::process::Command::new(python);
        command
            .arg(SCRIPT)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path());
        let (cert, key) = (
            Path::new(FIXTURES).join("server.pem"),
            Path::new(FIXTURES).join("server.key"),
        );
        match options.security {
            Security::None => {}
            Security::Starttls => {
                command.arg("--starttls").arg(&cert).arg(&key);
            }
            Security::Tls => {
                command.arg("--tls").arg(&cert).arg(&key);
            }
        }
        if let Some(login) = options.login {
            command.args(["--login", login]);
        }
        if let Some(file) = &options.refuse_sender_while {
            command.arg("--refuse-sender-while").arg(file);
        }
        if let Some(address) = options.refuse_recipient {
            command.args(["--refuse-recipient", address]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP test server starts");
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut first),
        )
        .await
        .expect("the SMTP test server is ready within 30 s")
        .unwrap();
        assert_eq!(first.trim(), "READY", "the SMTP test server did not start");
        Some(Self {
            port,
            dir,
            _child: child,
        })
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
            .collect()
    }

    /// Wait until `n` messages arrived; returns them.
    pub async fn wait_for(&self, n: usize, what: &str) -> Vec<Value> {
        eventually(Duration::from_secs(20), what, || async {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        })
        .await
    }
}

/// The `[smtp]` section for a server on `port`.
pub fn smtp_toml(port: u16, security: &str, extra: &str) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"{security}\"\n\
         from = \"ccbridge <ccbridge@example.org>\"\ntimeout = \"5s\"\n{extra}\n"
    )
}
