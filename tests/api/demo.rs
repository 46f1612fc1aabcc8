//! `ccbridge demo`, run as the real binary: a signup posted to its demo form arrives in its sandbox.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{client, eventually};

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `ccbridge demo` with `args` and read its banner (printed once it is connected).
/// Returns the running demo, its port, the sandbox's URL and the banner's lines.
fn start_demo(args: &[&str]) -> (Demo, u16, Option<String>, Vec<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(child);
    // Read the printed URLs on a thread; the demo prints them once it is connected.
    let (lines, printed) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut sandbox_url = None;
    let mut banner = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        match printed.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.starts_with("Press Ctrl-C") => break,
            Ok(line) => {
                if line.contains("Contacts arrive here:") {
                    sandbox_url = line
                        .split_whitespace()
                        .find(|w| w.starts_with("http://"))
                        .map(str::to_owned);
                }
                banner.push(line);
            }
            Err(_) => {}
        }
    }
    (demo, port, sandbox_url, banner)
}

/// `ccbridge demo --device` connects through the device flow: the console's Connect shows a
/// code, the demo enters it at the sandbox, and the connection is made by the device grant.
#[tokio::test]
async fn the_demo_connects_through_the_device_flow_with_device() {
    let (_demo, _port, sandbox_url, banner) = start_demo(&["--device"]);
    let sandbox_url = sandbox_url
        .unwrap_or_else(|| panic!("the demo connected and printed its banner: {banner:?}"));
    let stats: Value = client()
        .get(format!("{sandbox_url}_sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["device_grants"], 1, "{stats}");
    assert_eq!(stats["codes_exchanged"], 0, "{stats}");
}

// No backend of the suite's: `ccbridge demo` always makes its own SQLite file.
#[tokio::test]
async fn a_signup_on_the_demo_page_arrives_in_the_demo_sandbox() {
    let (_demo, port, sandbox_url, banner) = start_demo(&[]);
    let sandbox_url = sandbox_url.expect("the demo printed its sandbox URL");
    // The console and its credentials come last, where they stay on screen.
    let console = banner
        .iter()
        .position(|line| {
            line.contains(&format!(
                "Admin console:           http://127.0.0.1:{port}/admin"
            ))
        })
        .expect("the banner names the console");
    assert!(
        banner[console + 1].contains("user admin, password "),
        "{banner:?}"
    );
    assert_eq!(console + 2, banner.len(), "{banner:?}");
    let http = client();

    let page = http
        .get(format!("http://127.0.0.1:{port}/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("action=\"/signup/demo\""));
    assert!(
        page.contains(&format!("<a href=\"{sandbox_url}\">the sandbox's page</a>")),
        "the demo page links the sandbox: {page}"
    );
    // An evaluator's first dozen signups, in quick succession, are all accepted.
    for n in 0..12 {
        let email = if n == 0 {
            "visitor@example.com".to_owned()
        } else {
            format!("visitor{n}@example.com")
        };
        let posted = http
            .post(format!("http://127.0.0.1:{port}/signup/demo"))
            .form(&[
                ("email", email.as_str()),
                ("first_name", "Vi"),
                ("favorite_topic", "demos"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 303, "signup {n}");
    }

    let contacts_url = format!("{}_sandbox/contacts", sandbox_url);
    let contact = eventually(
        Duration::from_secs(20),
        "the contact to arrive in the sandbox",
        || {
            let http = http.clone();
            let url = contacts_url.clone();
            async move {
                let contacts: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
                contacts
                    .as_array()?
                    .iter()
                    .find(|c| c["email_address"] == "visitor@example.com")
                    .cloned()
            }
        },
    )
    .await;
    assert_eq!(contact["first_name"], "Vi");
}

// No database: the demo refuses a configuration it would not use.
#[test]
fn demo_refuses_a_config_file_it_would_ignore() {
    let output = Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(["demo", "--config", "ccbridge.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--config is for the other commands"),
        "{stderr}"
    );
}

/// The demo's second form asks for confirmation by mail: the mail lands in the sandbox's mailbox,
/// and the contact appears in the sandbox only after the link's button is pressed.
#[tokio::test]
async fn the_demo_shows_double_opt_in_through_the_sandbox_mailbox() {
    let (_demo, port, sandbox_url, banner) = start_demo(&[]);
    let sandbox_url = sandbox_url.expect("the demo printed its sandbox URL");
    assert!(
        banner
            .iter()
            .any(|line| line.contains(&format!("{sandbox_url}mailbox"))),
        "the banner names the mailbox: {banner:?}"
    );
    let http = client();
    let page = http
        .get(format!("http://127.0.0.1:{port}/demo"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("action=\"/signup/demo-double\""), "{page}");

    let posted = http
        .post(format!("http://127.0.0.1:{port}/signup/demo-double"))
        .form(&[("email", "careful@example.com"), ("first_name", "Cara")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);

    let mailbox_url = format!("{sandbox_url}_sandbox/mailbox");
    let link = eventually(
        Duration::from_secs(20),
        "the confirmation mail in the sandbox's mailbox",
        || {
            let (http, url) = (http.clone(), mailbox_url.clone());
            async move {
                let mails: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
                let mail = mails.as_array()?.iter().find(|m| {
                    m["to"]
                        .as_array()
                        .is_some_and(|to| to.iter().any(|a| a == "careful@example.com"))
                })?;
                let text = mail["text"].as_str()?;
                let start = text.find(&format!("http://127.0.0.1:{port}/confirm/"))?;
                Some(text[start..].split_whitespace().next()?.to_owned())
            }
        },
    )
    .await;

    let contacts = || async {
        let contacts: Value = http
            .get(format!("{sandbox_url}_sandbox/contacts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        contacts
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["email_address"] == "careful@example.com")
    };
    let shown = http.get(&link).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    assert!(
        !contacts().await,
        "nothing reaches the sandbox before confirming"
    );

    let confirmed = http.post(&link).send().await.unwrap();
    assert!(confirmed.status().is_success(), "{}", confirmed.status());
    eventually(
        Duration::from_secs(20),
        "the confirmed contact to arrive in the sandbox",
        || async { contacts().await.then_some(()) },
    )
    .await;
}
