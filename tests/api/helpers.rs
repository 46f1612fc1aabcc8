//! Test harness: every test gets its own `Application` on a real socket (port 0) and its own
//! SQLite file in a temporary directory, started exactly as `ccbridge serve` starts it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ccbridge::store::{SignupRecord, Store};
use ccbridge::{Application, Config};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const FIXED_LIST: &str = "07936f78-662a-11eb-af0a-fa163e56c9b0";
pub const OPTIONAL_LIST: &str = "17936f78-662a-11eb-af0a-fa163e56c9b0";
pub const TOPIC_FIELD: &str = "1618ae62-4752-11e9-9c8a-fa163e6b01c1";

/// The forms most tests use: `newsletter` (built-in pages) and `site` (own success/error URLs).
pub fn forms_toml() -> String {
    format!(
        r#"
        [[forms]]
        id = "newsletter"
        list_ids = ["{FIXED_LIST}"]
        optional_list_ids = ["{OPTIONAL_LIST}"]
        custom_fields = {{ topic = "{TOPIC_FIELD}" }}

        [[forms]]
        id = "site"
        list_ids = ["{FIXED_LIST}"]
        success_url = "https://example.org/thanks"
        error_url = "https://example.org/oops?lang=en"
        "#
    )
}

/// A complete config for a test app whose database lives at `db`.
pub fn config_toml(db: &Path, extra: &str) -> String {
    format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        shutdown_grace = "5s"

        [database]
        url = "sqlite://{}"
        busy_timeout = "500ms"

        [logging]
        level = "warn"
        {extra}
        {forms}
        "#,
        db.display(),
        forms = forms_toml(),
    )
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub client: reqwest::Client,
    pub db_path: PathBuf,
    pub dir: TempDir,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

/// A fresh app on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// A fresh app with extra config (inserted before the forms).
pub async fn spawn_app_with(extra: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("ccbridge.db");
    spawn_app_in(dir, db_path, extra).await
}

/// An app on an existing directory and database file (restarts, special filesystems).
pub async fn spawn_app_in(dir: TempDir, db_path: PathBuf, extra: &str) -> TestApp {
    let config = Config::from_toml(&config_toml(&db_path, extra)).expect("test config is valid");
    let app = Application::build(config).await.expect("app builds");
    let addr = app.local_addr();
    let store = app.store();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        addr,
        store,
        client: client(),
        db_path,
        dir,
        shutdown,
        handle,
    }
}

/// An HTTP client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post_json(&self, form: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/signup/{form}")))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// A plain HTML form post (urlencoded, browser-like `Accept`).
    pub async fn post_form(&self, form: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/signup/{form}")))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_raw(
        &self,
        form: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/signup/{form}")))
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn signups(&self) -> Vec<SignupRecord> {
        self.store.all_signups().await.expect("store readable")
    }

    /// Graceful shutdown; returns the directory so the database can be reopened.
    pub async fn stop(self) -> (TempDir, PathBuf) {
        self.shutdown.cancel();
        self.handle
            .await
            .expect("server task joins")
            .expect("server stops cleanly");
        (self.dir, self.db_path)
    }
}

/// The JSON error code of a response body.
pub async fn error_code(response: reqwest::Response) -> (u16, String, Option<String>) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    let error = &body["error"];
    (
        status,
        error["code"].as_str().expect("error.code").to_owned(),
        error["field"].as_str().map(str::to_owned),
    )
}

/// Poll `check` until it returns `Some`, or panic after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
