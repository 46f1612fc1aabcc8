//! ccbridge's benchmarks, run with one command: `cargo bench --bench load`.
//!
//! Scenarios (all on this machine, real sockets, the release binary as a child process):
//! - **intake**: N concurrent clients post signups (half JSON, half form) for a fixed time;
//!   accepted signups per second, latency percentiles, errors, RSS. The same load against a bare
//!   axum handler that answers 202 without storing anything gives this machine's ceiling.
//! - **drain**: signups queued, the built-in sandbox at the real 4/s; achieved delivery rate as a
//!   fraction of the limit and the sandbox's 429 count; then with the limits lifted, the worker's
//!   raw deliveries per second.
//! - **resources**: binary size, time from start to `/readyz` 200, idle RSS.
//!
//! Tunables (environment): `BENCH_SCENARIOS` (default `intake,drain`), `BENCH_CLIENTS` (64),
//! `BENCH_SECONDS` (10), `BENCH_DRAIN_QUEUED` (10000), `BENCH_DRAIN_SECONDS` (60),
//! `BENCH_DATABASE_URL` (default: a SQLite file per run; a `postgres://` URL runs the service on
//! PostgreSQL instead, each run in a fresh schema).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbridge::clock::SystemClock;
use ccbridge::config::ConstantContactConfig;
use ccbridge_sandbox::{self as sandbox, Sandbox, SandboxConfig};
use secrecy::SecretString;

const BARE_FLAG: &str = "--bare-server";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == BARE_FLAG) {
        let port: u16 = args[i + 1].parse().expect("port");
        bare_server(port);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and friends
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The service's database for one run: a SQLite file in `dir`, or a fresh schema on the
/// PostgreSQL server of `BENCH_DATABASE_URL` (named after `dir`, created by `psql`).
fn database_url(dir: &Path) -> String {
    let Ok(server) = std::env::var("BENCH_DATABASE_URL") else {
        return format!("sqlite://{}", dir.join("ccbridge.db").display());
    };
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("run")
        .to_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let schema = format!("bench_{name}");
    let status = Command::new("psql")
        .args([&server, "-qc", &format!("create schema {schema}")])
        .status()
        .expect("psql runs (BENCH_DATABASE_URL needs the PostgreSQL client)");
    assert!(status.success(), "could not create schema {schema}");
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options[search_path]={schema}")
}

async fn run() {
    let scenarios = std::env::var("BENCH_SCENARIOS").unwrap_or_else(|_| "intake,drain".into());
    println!("# ccbridge benchmarks");
    println!("machine: {} cores, {}", num_cpus(), cpu_model());
    println!("date: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => match ccbridge::store::DatabaseUrl::parse(&url) {
            Ok(url) => println!("database: PostgreSQL ({url})"),
            Err(message) => panic!("BENCH_DATABASE_URL: {message}"),
        },
        Err(_) => println!("database: SQLite"),
    }
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_ccbridge"));
    println!(
        "binary: {} ({:.1} MB)",
        binary.display(),
        std::fs::metadata(&binary)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    );
    if scenarios.contains("intake") {
        intake(&binary).await;
    }
    if scenarios.contains("drain") {
        drain(&binary).await;
    }
}

// ---------------------------------------------------------------------------------------------
// intake

async fn intake(binary: &Path) {
    let clients: usize = env_or("BENCH_CLIENTS", 64);
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    println!("\n## intake: {clients} clients, {seconds} s each run");

    let bare_port = free_port();
    let mut bare = Command::new(std::env::current_exe().unwrap())
        .args([BARE_FLAG, &bare_port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("bare server starts");
    wait_http(
        &format!("http://127.0.0.1:{bare_port}/healthz"),
        Duration::from_secs(10),
    )
    .await;
    let ceiling = drive(bare_port, clients, Duration::from_secs(seconds)).await;
    let _ = bare.kill();
    let _ = bare.wait();

    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Instant::now();
    let mut server = Server::start(binary, dir.path(), port, &sandbox, 4);
    wait_http(
        &format!("http://127.0.0.1:{port}/readyz"),
        Duration::from_secs(30),
    )
    .await;
    let ready = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_kb(server.pid(), "VmRSS");
    server.connect().await;
    let result = drive(port, clients, Duration::from_secs(seconds)).await;
    let peak_rss = rss_kb(server.pid(), "VmHWM");

    println!("\n| target | accepted/s | p50 ms | p99 ms | p99.9 ms | errors |");
    println!("|---|---|---|---|---|---|");
    ceiling.row("bare axum 202 (ceiling)");
    result.row("ccbridge POST /signup (durable)");
    println!(
        "\nccbridge / ceiling: {:.2}",
        result.per_second() / ceiling.per_second()
    );
    println!("time to /readyz 200: {} ms", ready.as_millis());
    println!(
        "idle RSS: {:.1} MB; peak RSS under load: {:.1} MB",
        idle_rss / 1024.0,
        peak_rss / 1024.0
    );
    server.stop();
}

struct Run {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn row(&self, name: &str) {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            self.per_second(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.percentile(0.999),
            self.errors
        );
    }
}

/// `clients` loops posting signups (alternating JSON and form bodies) for `length`.
async fn drive(port: u16, clients: usize, length: Duration) -> Run {
    // The bare server answers the same path, so both runs send identical requests.
    let url = format!("http://127.0.0.1:{port}/signup/newsletter");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut latencies) = (0u64, 0u64, Vec::new());
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let email = format!("c{client}n{n}@example.com");
                let sent = Instant::now();
                let request = if n.is_multiple_of(2) {
                    http.post(&url)
                        .header("accept", "application/json")
                        .json(&serde_json::json!({ "email": email, "first_name": "Bench" }))
                } else {
                    http.post(&url)
                        .header("accept", "application/json")
                        .form(&[("email", email.as_str()), ("first_name", "Bench")])
                };
                match request.send().await {
                    Ok(response) if response.status() == 202 => {
                        let _ = response.bytes().await;
                        ok += 1;
                        latencies.push(sent.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (ok, errors, latencies)
        }));
    }
    let mut run = Run {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (ok, errors, latencies) = task.await.unwrap();
        run.ok += ok;
        run.errors += errors;
        run.latencies.extend(latencies);
    }
    run.elapsed = start.elapsed();
    run.latencies.sort();
    run
}

/// The ceiling: the same routes answered by a bare axum handler that stores nothing.
fn bare_server(port: u16) {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/signup/{form}",
                post(|body: axum::body::Bytes| async move {
                    let _ = body;
                    (
                        StatusCode::ACCEPTED,
                        r#"{"status":"accepted","id":"00000000-0000-0000-0000-000000000000"}"#,
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// drain

async fn drain(binary: &Path) {
    let queued: usize = env_or("BENCH_DRAIN_QUEUED", 10_000);
    let window: u64 = env_or("BENCH_DRAIN_SECONDS", 60);
    println!("\n## drain: {queued} signups queued");

    // At the real limits: how close to 4/s, and with how many 429s.
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(binary, dir.path(), port, &sandbox, 4);
    wait_http(
        &format!("http://127.0.0.1:{port}/readyz"),
        Duration::from_secs(30),
    )
    .await;
    queue(port, queued).await;
    server.connect().await;
    // Skip the connection's own calls (account name and check), then measure a window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = sandbox.stats();
    tokio::time::sleep(Duration::from_secs(window)).await;
    let after = sandbox.stats();
    let delivered = (after.contacts_created + after.contacts_updated)
        - (before.contacts_created + before.contacts_updated);
    let rate = delivered as f64 / window as f64;
    println!(
        "\n| sandbox limit | window | delivered | rate/s | fraction of limit | 429s | peak req/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| 4/s | {window} s | {delivered} | {rate:.2} | {:.1}% | {} | {} |",
        rate / 4.0 * 100.0,
        after.throttled + after.quota_exceeded,
        after.peak_requests_per_second
    );
    server.stop();
    sandbox.shutdown().await;

    // Limits lifted: the worker's raw speed.
    let sandbox = Sandbox::start(
        SandboxConfig {
            requests_per_second: 1_000_000,
            requests_per_day: 10_000_000,
            ..SandboxConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(binary, dir.path(), port, &sandbox, 1_000_000);
    wait_http(
        &format!("http://127.0.0.1:{port}/readyz"),
        Duration::from_secs(30),
    )
    .await;
    queue(port, queued).await;
    let start = Instant::now();
    server.connect().await;
    let total = queued as u64;
    loop {
        let s = sandbox.stats();
        if s.contacts_created + s.contacts_updated >= total
            || start.elapsed() > Duration::from_secs(600)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    let s = sandbox.stats();
    println!(
        "\nlimits lifted: {} delivered in {:.1} s = {:.0} deliveries/s (concurrency 4)",
        s.contacts_created + s.contacts_updated,
        elapsed.as_secs_f64(),
        (s.contacts_created + s.contacts_updated) as f64 / elapsed.as_secs_f64()
    );
    server.stop();
}

/// Queue `n` signups as fast as 32 clients can post them (the service is not connected yet).
async fn queue(port: u16, n: usize) {
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/signup/newsletter");
    let per = n.div_ceil(32);
    let mut tasks = Vec::new();
    for c in 0..32 {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let index = c * per + i;
                if index >= n {
                    break;
                }
                let response = http
                    .post(&url)
                    .json(&serde_json::json!({ "email": format!("q{index}@example.com") }))
                    .send()
                    .await
                    .expect("queueing works");
                assert_eq!(response.status(), 202);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// the service under test

struct Server {
    child: Child,
    port: u16,
}

const ADMIN_PASSWORD: &str = "bench-admin-password";

impl Server {
    fn start(binary: &Path, dir: &Path, port: u16, sandbox: &Sandbox, rps: u32) -> Self {
        let db = database_url(dir);
        let hash =
            ccbridge::password::hash(&SecretString::from(ADMIN_PASSWORD.to_owned())).unwrap();
        let config = format!(
            r#"
            [server]
            listen = "127.0.0.1:{port}"
            public_url = "http://127.0.0.1:{port}"
            [database]
            url = "{db}"
            [constant_contact]
            {sandbox_keys}
            requests_per_second = {rps}
            requests_per_day = 10000000
            [admin]
            password_hash = "{hash}"
                        [logging]
            level = "warn"
            # Every simulated visitor comes from 127.0.0.1: the per-client limit would measure
            # itself, not the intake.
            [rate_limit]
            per_ip_per_minute = 0
            per_form_per_minute = 0
            [[forms]]
            id = "newsletter"
            list_ids = ["{list}"]
            "#,
            sandbox_keys = ConstantContactConfig::sandbox_toml(sandbox),
            list = sandbox::GENERAL_INTEREST_LIST_ID,
        );
        // The sandbox, like Constant Contact, sends codes only to a registered redirect URI.
        sandbox.register_redirect_uri(
            format!("http://127.0.0.1:{port}/oauth/callback")
                .parse()
                .unwrap(),
        );
        let path = dir.join("ccbridge.toml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(binary)
            .args(["serve", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ccbridge starts");
        Self { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin's browser walk through the OAuth flow against the sandbox.
    async fn connect(&self) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{}", self.port);
        // The confirmation page (and a console session for its button), then the button.
        let confirm = http
            .get(format!("{base}/connect"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        let session = confirm.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = confirm.text().await.unwrap();
        let csrf = page
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the /connect page has a CSRF token")
            .to_owned();
        let start = http
            .post(format!("{base}/connect"))
            .header("cookie", session)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        let cookie = start.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        let approved = http.get(&authorize).send().await.unwrap();
        let callback = approved.headers()["location"].to_str().unwrap().to_owned();
        let done = http
            .get(&callback)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200, "connected");
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_http(url: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A memory figure of a process from /proc (kB): `VmRSS` now, `VmHWM` the peak.
fn rss_kb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into())
}
