//! Test harness: every test gets its own `Application` on a real socket (port 0) and its own
//! database (a SQLite file in a temporary directory, or a PostgreSQL schema: see `database`),
//! started exactly as `ccbridge serve` starts it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ccbridge::alerts::{Alert, Alerts};
use ccbridge::clock::{SharedClock, SystemClock};
use ccbridge::config::ConstantContactConfig;
use ccbridge::consent::ConfirmationMailer;
use ccbridge::delivery::DeliveryWorker;
use ccbridge::startup::Dependencies;
use ccbridge::store::{SignupRecord, Store};
use ccbridge::tokens::TokenKeeper;
use ccbridge::{Application, Config};
use ccbridge_sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::database::{Backend, WriteLock, database_url, raw_pool, sqlite_url};

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

/// A complete config for a test app on the database at `db_url`.
pub fn config_toml(db_url: &str, extra: &str) -> String {
    // Most tests post many signups from 127.0.0.1; the abuse tests set their own limits.
    let no_rate_limits = if extra.contains("[rate_limit]") {
        ""
    } else {
        "[rate_limit]\nper_ip_per_minute = 0\nper_form_per_minute = 0\nadmin_failures = 1000000"
    };
    format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        shutdown_grace = "5s"

        [database]
        url = "{db_url}"
        busy_timeout = "500ms"

        [logging]
        level = "warn"
        {no_rate_limits}
        {extra}
        {forms}
        "#,
        forms = forms_toml(),
    )
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub client: reqwest::Client,
    /// The backend the test's database is on.
    pub backend: Backend,
    /// Names the test's database (see `database`); `db_url` is its URL.
    pub db_path: PathBuf,
    pub db_url: String,
    pub dir: TempDir,
    pub keeper: TokenKeeper,
    pub api: ccbridge::constant_contact::ApiClient,
    pub delivery: DeliveryWorker,
    /// The confirmation mail worker, when the test configures `[smtp]`.
    pub mailer: Option<ConfirmationMailer>,
    pub unsubscribes: ccbridge::unsubscribes::UnsubscribeMirror,
    /// Refusals counted in memory; `flush` writes them (the background loop does once a minute).
    pub refusals: ccbridge::signup::RefusalCounter,
    pub alerts: Arc<Mutex<Vec<Alert>>>,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

/// A fresh app on a fresh database on `backend`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, "").await
}

/// A fresh app with extra config (inserted before the forms).
pub async fn spawn_app_with(backend: Backend, extra: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("ccbridge.db");
    spawn_app_in(backend, dir, db_path, extra).await
}

/// An app on an existing directory and database (restarts, special filesystems).
pub async fn spawn_app_in(
    backend: Backend,
    dir: TempDir,
    db_path: PathBuf,
    extra: &str,
) -> TestApp {
    AppOptions::new(backend, dir, db_path, extra).spawn().await
}

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// The Argon2id hash of `ADMIN_PASSWORD`, computed once per test run.
pub fn admin_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        ccbridge::password::hash(&SecretString::from(ADMIN_PASSWORD.to_owned())).unwrap()
    })
    .clone()
}

/// A change a test makes to the parsed config.
pub type ConfigChange<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// Everything a test may vary about an app.
pub struct AppOptions<'a> {
    pub backend: Backend,
    pub dir: TempDir,
    pub db_path: PathBuf,
    pub extra: String,
    /// Point the Constant Contact settings at this sandbox.
    pub sandbox: Option<&'a Sandbox>,
    pub clock: SharedClock,
    pub background_delivery: bool,
    pub background_mail: bool,
    /// Serve the demo signup page at `/demo` (as `ccbridge demo` does).
    pub demo_page: bool,
    /// Changes to the parsed config (for keys in sections the test config already has).
    pub configure: Option<ConfigChange<'a>>,
}

impl<'a> AppOptions<'a> {
    pub fn new(backend: Backend, dir: TempDir, db_path: PathBuf, extra: &str) -> Self {
        Self {
            backend,
            dir,
            db_path,
            extra: extra.to_owned(),
            sandbox: None,
            clock: Arc::new(SystemClock),
            background_delivery: true,
            background_mail: true,
            demo_page: false,
            configure: None,
        }
    }

    /// A fresh directory and database.
    pub fn fresh(backend: Backend, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("ccbridge.db");
        Self::new(backend, dir, db_path, extra)
    }

    /// A fresh directory and database, against `sandbox`.
    pub fn against(backend: Backend, sandbox: &'a Sandbox, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("ccbridge.db");
        Self {
            sandbox: Some(sandbox),
            ..Self::new(backend, dir, db_path, extra)
        }
    }

    /// Tests that step the delivery worker themselves.
    pub fn without_background_delivery(mut self) -> Self {
        self.background_delivery = false;
        self
    }

    /// Tests that step the confirmation mail worker themselves.
    pub fn without_background_mail(mut self) -> Self {
        self.background_mail = false;
        self
    }

    pub fn with_demo_page(mut self) -> Self {
        self.demo_page = true;
        self
    }

    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn configure(mut self, change: impl FnOnce(&mut Config) + 'a) -> Self {
        self.configure = Some(Box::new(change));
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db_url = database_url(self.backend, &self.db_path).await;
        let mut config =
            Config::from_toml(&config_toml(&db_url, &self.extra)).expect("test config is valid");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        config.server.public_url = format!("http://{addr}").parse().unwrap();
        config.admin.password_hash = SecretString::from(admin_hash());
        if let Some(sandbox) = self.sandbox {
            config.constant_contact.point_at_sandbox(sandbox);
        }
        if let Some(change) = self.configure {
            change(&mut config);
        }
        if let Some(sandbox) = self.sandbox {
            // Like Constant Contact, the sandbox sends codes only to a registered redirect URI.
            sandbox.register_redirect_uri(config.server.redirect_uri());
        }
        let (alerts, seen) = Alerts::recording();
        let deps = Dependencies {
            clock: self.clock,
            listener: Some(listener),
            alerts,
            demo_page: self.demo_page,
            demo_sandbox: None,
            background_delivery: self.background_delivery,
            background_mail: self.background_mail,
        };
        let app = Application::build_with(config, deps)
            .await
            .expect("app builds");
        let store = app.store();
        let keeper = app.keeper();
        let api = app.state().api;
        let delivery = app.delivery();
        let mailer = app.mailer();
        let unsubscribes = app.unsubscribes();
        let refusals = app.refusals();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        TestApp {
            addr,
            store,
            client: client(),
            backend: self.backend,
            db_path: self.db_path,
            db_url,
            dir: self.dir,
            keeper,
            api,
            delivery,
            mailer,
            unsubscribes,
            refusals,
            alerts: seen,
            shutdown,
            handle,
        }
    }
}

/// A sandbox on a free port.
pub async fn start_sandbox(config: SandboxConfig, clock: SharedClock) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap(), clock)
        .await
        .expect("sandbox starts")
}

/// A sandbox with the default settings, on the system clock.
pub async fn sandbox() -> Sandbox {
    start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await
}

/// A sandbox whose per-second limit does not get in the way, for tests about something else.
pub async fn fast_sandbox() -> Sandbox {
    fast_sandbox_on(Arc::new(SystemClock)).await
}

/// The same, on `clock`.
pub async fn fast_sandbox_on(clock: SharedClock) -> Sandbox {
    start_sandbox(
        SandboxConfig {
            requests_per_second: 1000,
            ..SandboxConfig::default()
        },
        clock,
    )
    .await
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

    /// Walk the whole browser flow: `/connect` with the admin's credentials, the sandbox's
    /// authorize endpoint, back to `/oauth/callback` with the cookie. Returns the final answer.
    pub async fn connect(&self) -> reqwest::Response {
        connect_at(&self.client, &self.url("")).await
    }

    /// Connect and insist that it worked.
    pub async fn connect_ok(&self) {
        let response = self.connect().await;
        let status = response.status();
        let page = response.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("connected"), "{page}");
    }

    /// `GET path` answered 200 with JSON: the document.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Connecting starts the account check (API calls, in the background): wait until its result
    /// is in, so a test's faults or clock jumps meet only the calls it makes itself.
    pub async fn account_checked(&self) {
        eventually(Duration::from_secs(10), "the account check", || async {
            (!self.readyz().await["account_check"].is_null()).then_some(())
        })
        .await;
    }

    /// The full status from `/readyz`, asked as the admin (an anonymous caller gets only
    /// ready / not ready).
    pub async fn readyz(&self) -> Value {
        let response = self.readyz_as_admin().await;
        response.json().await.unwrap()
    }

    /// `GET /readyz` with the admin's credentials: the full status document.
    pub async fn readyz_as_admin(&self) -> reqwest::Response {
        self.client
            .get(self.url("/readyz"))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap()
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

/// Start connecting as the admin's browser does: `GET /connect` with Basic credentials (the
/// confirmation page, and a console session for its button), then the button (`POST /connect`
/// with the session's CSRF token). Returns the POST's answer (a 303 to the authorize endpoint).
pub async fn start_connect(http: &reqwest::Client, base: &str) -> reqwest::Response {
    let confirm = http
        .get(format!("{base}/connect"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        confirm.status(),
        200,
        "/connect shows the confirmation page"
    );
    let session = cookie_pair(&confirm);
    let page = confirm.text().await.unwrap();
    http.post(format!("{base}/connect"))
        .header("cookie", session)
        .form(&[("csrf", csrf_in(&page))])
        .send()
        .await
        .unwrap()
}

/// The CSRF token in a page's form.
pub fn csrf_in(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF field in {page}"))
        + marker.len();
    let len = page[start..].find('"').expect("the value ends");
    page[start..start + len].to_owned()
}

/// The browser's walk through the OAuth flow against the ccbridge at `base` (e.g. `http://127.0.0.1:8080`).
pub async fn connect_at(http: &reqwest::Client, base: &str) -> reqwest::Response {
    let start = start_connect(http, base).await;
    assert_eq!(
        start.status(),
        303,
        "/connect redirects to the authorize endpoint"
    );
    let cookie = cookie_pair(&start);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let approved = http.get(&authorize).send().await.unwrap();
    assert_eq!(approved.status(), 302, "the sandbox auto-approves");
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    http.get(&callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// `name=value` of the response's Set-Cookie, to send back as a Cookie header.
pub fn cookie_pair(response: &reqwest::Response) -> String {
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
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

/// A free TCP port on 127.0.0.1 (for the real binary, which binds its own).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `ccbridge serve` child process (the real binary), killed with SIGKILL when dropped.
pub struct Server {
    child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn start(config: &std::path::Path, port: u16, log: &std::path::Path) -> Self {
        let log = std::fs::File::create(log).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("ccbridge starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn wait_ready(&self) {
        let http = client();
        let url = format!("{}/readyz", self.base);
        eventually(
            Duration::from_secs(30),
            "the server to become ready",
            || {
                let http = http.clone();
                let url = url.clone();
                async move {
                    let ok = http.get(&url).send().await.ok()?.status().is_success();
                    ok.then_some(())
                }
            },
        )
        .await;
    }

    /// SIGKILL (std's `kill` on Unix): no chance to settle, release or close anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A config file's text for the real binary on `port` and `db_url`, connected to `sandbox`
/// (`requests_per_second = 1000`), with extra keys for its `[constant_contact]` and `[delivery]`.
/// Registers the binary's redirect URI with the sandbox.
pub fn serve_config(
    port: u16,
    db_url: &str,
    sandbox: &Sandbox,
    constant_contact: &str,
    delivery: &str,
) -> String {
    sandbox.register_redirect_uri(
        format!("http://127.0.0.1:{port}/oauth/callback")
            .parse()
            .unwrap(),
    );
    format!(
        r#"
        [server]
        listen = "127.0.0.1:{port}"
        public_url = "http://127.0.0.1:{port}"
        [database]
        url = "{db_url}"
        [constant_contact]
        requests_per_second = 1000
        {sandbox_keys}
        {constant_contact}
        [delivery]
        {delivery}
        [admin]
        password_hash = "{hash}"
        [logging]
        level = "warn"
        {forms}
        "#,
        sandbox_keys = ConstantContactConfig::sandbox_toml(sandbox),
        hash = admin_hash(),
        forms = forms_toml(),
    )
}

/// An API call through the keeper (refreshing on 401), for tests.
pub async fn list_count(app: &TestApp) -> Result<usize, ccbridge::tokens::CallError> {
    let api = app.api.clone();
    app.keeper
        .call(|token| {
            let api = api.clone();
            async move { api.contact_lists(&token).await.map(|l| l.len()) }
        })
        .await
}
