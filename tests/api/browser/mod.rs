//! Pages tested in a real browser: headless Chromium driven through chromedriver (WebDriver) with
//! fantoccini. Each test starts its own chromedriver on a free port and its own Chromium profile,
//! and saves a screenshot to `target/browser-screenshots/<test>.png` when it fails (always, with
//! `BROWSER_SCREENSHOTS=always`).
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (or `$CHROMIUM` / `$CHROMEDRIVER`) the
//! tests print SKIPPED and pass, except under `CI=true`, where they fail and say what to install.

mod accessibility;
mod charts;
mod console;
mod embed;
mod flows;
mod visitor;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbridge::clock::SystemClock;
use ccbridge_sandbox::{Sandbox, SandboxConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;
use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, TestApp, eventually, start_sandbox};

/// How long the browser may take to show something.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Browser {
    client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn tool(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

impl Browser {
    /// A headless Chromium, or `None` (SKIPPED) when it is not installed outside CI.
    async fn start(test: &str) -> Option<Self> {
        let chromium = tool("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
        for path in [&chromium, &chromedriver] {
            if !path.exists() {
                let message = format!(
                    "{} is missing: browser tests need Debian's `chromium` and `chromium-driver` packages \
                     (apt-get install chromium chromium-driver), or $CHROMIUM and $CHROMEDRIVER",
                    path.display()
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{message}");
                }
                eprintln!("SKIPPED {test}: {message}");
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let webdriver = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually(PATIENCE, "chromedriver to listen", || {
            let request = http.get(format!("{webdriver}/status")).send();
            async move { request.await.ok().filter(|r| r.status().is_success()) }
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1024,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("starting a Chromium session through chromedriver: {e}"));
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn screenshot(&self, test: &str) {
        save_screenshot(&self.client, test).await;
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}

/// Save what `client` shows to `target/browser-screenshots/<test>.png` (a test artifact).
pub async fn save_screenshot(client: &Client, test: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    let path = dir.join(format!("{test}.png"));
    match client.screenshot().await {
        Ok(png) => {
            let _ = std::fs::create_dir_all(&dir);
            match std::fs::write(&path, png) {
                Ok(()) => eprintln!("screenshot of {test}: {}", path.display()),
                Err(e) => eprintln!("could not save {}: {e}", path.display()),
            }
        }
        Err(e) => eprintln!("could not take a screenshot of {test}: {e}"),
    }
}

/// One browser at a time: Chromium is heavy on a 2-core machine, and the rest of the suite
/// (rate-limit tests among it) runs alongside.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Run `test` with a browser; on failure save a screenshot, then fail.
pub async fn with_browser<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let _turn = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start(name).await else {
        return;
    };
    let started = Instant::now();
    let outcome = AssertUnwindSafe(test(browser.client.clone()))
        .catch_unwind()
        .await;
    eprintln!("{name}: browser steps took {:?}", started.elapsed());
    let always = std::env::var("BROWSER_SCREENSHOTS").is_ok_and(|v| v == "always");
    if outcome.is_err() || always {
        browser.screenshot(name).await;
    }
    browser.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The README's picture of the console comes from this suite, so it shows the console as it is:
/// `DOCS_SCREENSHOTS=1 cargo test --locked --test api the_admin_logs_in` writes
/// `docs/images/<name>.png`. Without the variable, nothing is written.
pub async fn docs_screenshot(browser: &Client, name: &str) {
    if std::env::var_os("DOCS_SCREENSHOTS").is_none() {
        return;
    }
    browser
        .set_window_size(1100, 1000)
        .await
        .expect("resizing the window");
    let png = browser.screenshot().await.expect("a screenshot");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("documentation screenshot: {}", path.display());
}

/// The page's text, waiting until it contains `needle`.
pub async fn wait_for_text(browser: &Client, needle: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let source = browser.source().await.unwrap_or_default();
        if source.contains(needle) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {needle:?}; it shows:\n{source}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn fill(browser: &Client, id: &str, text: &str) {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

pub async fn click(browser: &Client, id: &str) {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .click()
        .await
        .unwrap();
}

pub async fn log_in(browser: &Client, app: &TestApp) {
    browser.goto(&app.url("/admin")).await.unwrap();
    // A browser without a session is sent to the login page.
    wait_for_text(browser, "Log in").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin/login");
    fill(browser, "username", ADMIN_USER).await;
    fill(browser, "password", ADMIN_PASSWORD).await;
    click(browser, "login").await;
    wait_for_text(browser, "Overview").await;
}

/// The confirmation link of the double opt-in mail the sandbox's mailbox received for `to`.
pub async fn mailed_confirmation_link(sandbox: &Sandbox, app: &TestApp, to: &str) -> String {
    let prefix = app.url("/confirm/");
    eventually(PATIENCE, "the confirmation mail in the mailbox", || async {
        let mail = sandbox
            .mailbox()
            .into_iter()
            .find(|m| m.to.iter().any(|address| address == to))?;
        let text = mail.text?;
        let start = text.find(&prefix)?;
        Some(text[start..].split_whitespace().next()?.to_owned())
    })
    .await
}

pub async fn fast_sandbox(consent: bool) -> Sandbox {
    start_sandbox(
        SandboxConfig {
            requests_per_second: 1000,
            consent,
            ..SandboxConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
}

/// A site's pages on another origin, served by a tiny server of the test's own: each path with
/// its HTML.
pub async fn serve_site(listener: tokio::net::TcpListener, pages: Vec<(&'static str, String)>) {
    let mut router = axum::Router::new();
    for (path, page) in pages {
        router = router.route(
            path,
            axum::routing::get(move || {
                let page = page.clone();
                async move { axum::response::Html(page) }
            }),
        );
    }
    axum::serve(listener, router).await.unwrap();
}
