//! The device flow, answer by answer, with the sandbox and ccbridge on one manual clock: each
//! poll happens when the test moves the clock to the poller's deadline, so `slow_down` is seen in
//! the deadline itself.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ccbridge::clock::{Clock as _, ManualClock, SharedClock};
use ccbridge::constant_contact::{DeviceAuthorization, DeviceError, TokenGrant, wait_for_device};
use ccbridge::tokens::{AdoptError, AuthorizedVia};
use ccbridge_sandbox::SandboxConfig;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;

use super::{decide, device_flow, realtime_device_sandbox};
use crate::database::{Backend, database_url};
use crate::helpers::{
    AppOptions, TestApp, cookie_pair, eventually, serve_config, start_connect, start_sandbox,
};

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        requests_per_second: 1000,
        ..SandboxConfig::default()
    }
}

/// ccbridge and the sandbox on one manual clock, connected by the device flow.
struct OnOneClock {
    clock: ManualClock,
    shared: SharedClock,
    sandbox: ccbridge_sandbox::Sandbox,
    app: TestApp,
}

impl OnOneClock {
    async fn start(backend: Backend, sandbox: SandboxConfig) -> Self {
        let clock = ManualClock::new(Utc::now());
        let shared: SharedClock = Arc::new(clock.clone());
        let sandbox = start_sandbox(sandbox, shared.clone()).await;
        // The tests read the poller's schedule off the manual clock (`next_sleeper`), so nothing
        // else may sleep on it: the unsubscribe sync's loop would.
        let app = AppOptions::against(backend, &sandbox, "")
            .clock(shared.clone())
            .configure(|config| {
                device_flow(config);
                config.delivery.respect_unsubscribes = false;
            })
            .spawn()
            .await;
        Self {
            clock,
            shared,
            sandbox,
            app,
        }
    }

    async fn authorize(&self) -> DeviceAuthorization {
        let now = self.clock.now();
        self.app
            .keeper
            .oauth()
            .start_device_authorization(now)
            .await
            .unwrap()
    }

    /// The poller, waiting on the manual clock.
    fn wait(
        &self,
        authorization: &DeviceAuthorization,
    ) -> JoinHandle<Result<TokenGrant, DeviceError>> {
        let (oauth, authorization, clock) = (
            self.app.keeper.oauth().clone(),
            authorization.clone(),
            self.shared.clone(),
        );
        tokio::spawn(async move { wait_for_device(&oauth, &authorization, &clock, |_| {}).await })
    }

    /// A code approved by the owner and polled once: the grant.
    async fn approved_grant(&self) -> TokenGrant {
        let authorization = self.authorize().await;
        decide(&self.sandbox, &authorization.user_code, "approve").await;
        let wait = self.wait(&authorization);
        self.clock.set(self.clock.next_sleeper().await);
        wait.await.unwrap().expect("approved")
    }

    /// The poller's next deadline after `after`.
    async fn next_poll_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        eventually(
            Duration::from_secs(10),
            "the poller sleeps again",
            || async { self.clock.sleeping_until().filter(|d| *d > after) },
        )
        .await
    }
}

#[tokio::test]
async fn pending_slow_down_and_approval_on_the_injected_clock() {
    let t = OnOneClock::start(Backend::Sqlite, sandbox_config()).await;
    let authorization = t.authorize().await;
    assert_eq!(authorization.interval, Duration::from_secs(5));
    let poller = t.wait(&authorization);
    // The first poll waits the server's interval.
    let first = t.clock.next_sleeper().await;
    assert_eq!(first - t.clock.now(), chrono::Duration::seconds(5));
    t.clock.set(first);
    // authorization_pending: the next poll is one interval later.
    let second = t.next_poll_after(first).await;
    assert_eq!(second - first, chrono::Duration::seconds(5));
    assert_eq!(t.sandbox.stats().device_polls, 1);
    // slow_down: 5 seconds more from then on.
    t.sandbox.force_device_slow_down();
    t.clock.set(second);
    let third = t.next_poll_after(second).await;
    assert_eq!(
        third - second,
        chrono::Duration::seconds(10),
        "slow_down adds 5 s"
    );
    assert_eq!(t.sandbox.stats().device_slow_downs, 1);
    decide(&t.sandbox, &authorization.user_code, "approve").await;
    t.clock.set(third);
    let grant = poller.await.unwrap().expect("approved");
    assert!(grant.refresh_token.is_some());
    assert_eq!(t.sandbox.stats().device_grants, 1);
    t.app.stop().await;
}

#[tokio::test]
async fn denied_and_expired_codes_end_the_wait() {
    let t = OnOneClock::start(Backend::Sqlite, sandbox_config()).await;
    let denied = t.authorize().await;
    decide(&t.sandbox, &denied.user_code, "deny").await;
    let wait = t.wait(&denied);
    t.clock.set(t.clock.next_sleeper().await);
    assert!(matches!(wait.await.unwrap(), Err(DeviceError::Denied)));

    let expiring = t.authorize().await;
    let wait = t.wait(&expiring);
    // Past the code's 10 minutes: the poll at the moment of expiry hears expired_token.
    let deadline = t.clock.next_sleeper().await;
    t.clock.set(deadline + chrono::Duration::minutes(10));
    assert!(matches!(wait.await.unwrap(), Err(DeviceError::Expired)));
    assert!(
        t.app.store.token_set().await.unwrap().is_none(),
        "nothing stored"
    );
    t.app.stop().await;
}

backends!(a_device_grant_without_a_refresh_token_is_refused: sqlite, postgres);
async fn a_device_grant_without_a_refresh_token_is_refused(backend: Backend) {
    let config = SandboxConfig {
        device_refresh_tokens: false,
        ..sandbox_config()
    };
    let t = OnOneClock::start(backend, config).await;
    let grant = t.approved_grant().await;
    let refused = t
        .app
        .keeper
        .adopt(&t.app.api, &grant, AuthorizedVia::Device)
        .await;
    assert!(
        matches!(refused, Err(AdoptError::NoRefreshToken)),
        "{refused:?}"
    );
    assert!(
        t.app.store.token_set().await.unwrap().is_none(),
        "nothing stored"
    );
    t.app.stop().await;
}

backends!(a_device_connection_refreshes_as_a_public_client: sqlite, postgres);
async fn a_device_connection_refreshes_as_a_public_client(backend: Backend) {
    let t = OnOneClock::start(backend, sandbox_config()).await;
    let grant = t.approved_grant().await;
    let connected = t
        .app
        .keeper
        .adopt(&t.app.api, &grant, AuthorizedVia::Device)
        .await
        .unwrap();
    assert_eq!(connected.account(), "Sandbox Organization");
    let set = t.app.store.token_set().await.unwrap().unwrap();
    assert_eq!(set.authorized_via.as_deref(), Some("device"));
    // No secret is configured: the refresh goes out with the client id only, and rotates.
    let fresh = t
        .app
        .keeper
        .refresh(connected.generation)
        .await
        .expect("a public-client refresh");
    assert_eq!(fresh.generation, connected.generation + 1);
    assert_eq!(t.sandbox.stats().refreshes, 1);
    t.app.stop().await;
}

/// `ccbridge connect --json` with `config`: the process, its further stdout lines and its first
/// line (the verification data).
pub(super) async fn ccbridge_connect(
    config: &std::path::Path,
) -> (Child, Lines<BufReader<ChildStdout>>, Value) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(["--config", config.to_str().unwrap(), "connect", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    (child, lines, first)
}

// `ccbridge connect --json` in another process, while a service runs on the same database: the
// service picks the connection up (within `connection_poll_interval`, on SQLite as on PostgreSQL)
// and delivers the signup that waited for it; the command's last line says it connected.
backends!(a_running_service_picks_up_a_connection_made_by_ccbridge_connect: sqlite, postgres);
async fn a_running_service_picks_up_a_connection_made_by_ccbridge_connect(backend: Backend) {
    let sandbox = realtime_device_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "")
        .configure(|config| {
            device_flow(config);
            config.constant_contact.connection_poll_interval = Duration::from_secs(1);
        })
        .spawn()
        .await;
    let accepted = app
        .post_json(
            "newsletter",
            &serde_json::json!({"email": "waits@example.org"}),
        )
        .await;
    assert_eq!(accepted.status(), 202);
    let config_path = app.dir.path().join("cli.toml");
    let text = serve_config(1, &app.db_url, &sandbox, "flow = \"device\"", "");
    std::fs::write(&config_path, text).unwrap();
    let (mut child, mut lines, first) = ccbridge_connect(&config_path).await;
    let user_code = first["user_code"].as_str().unwrap();
    assert!(
        first["verification_uri"]
            .as_str()
            .unwrap()
            .ends_with("/activate")
    );
    decide(&sandbox, user_code, "approve").await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "ccbridge connect exits 0 once connected");
    let last: Value =
        serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).expect("JSON only");
    assert_eq!(last["connected"], true);
    assert_eq!(last["account"], "Sandbox Organization");
    eventually(
        Duration::from_secs(20),
        "the waiting signup is delivered",
        || async {
            (sandbox
                .contacts()
                .iter()
                .any(|c| c.email_address == "waits@example.org"))
            .then_some(())
        },
    )
    .await;
    let set = app.store.token_set().await.unwrap().unwrap();
    assert_eq!(set.authorized_via.as_deref(), Some("device"));
    assert_eq!(set.account_name.as_deref(), Some("Sandbox Organization"));
    app.stop().await;
}

/// The exit codes a script can rely on: 3 denied, 4 expired.
#[tokio::test]
async fn ccbridge_connect_exits_3_when_denied_and_4_when_the_code_expires() {
    let sandbox = start_sandbox(
        SandboxConfig {
            device_interval: 1,
            device_code_expires_in: 2,
            ..sandbox_config()
        },
        Arc::new(ccbridge::clock::SystemClock),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = database_url(Backend::Sqlite, &dir.path().join("ccbridge.db")).await;
    let config_path = dir.path().join("ccbridge.toml");
    std::fs::write(
        &config_path,
        serve_config(1, &db_url, &sandbox, "flow = \"device\"", ""),
    )
    .unwrap();
    let run = |decision: Option<&'static str>| {
        let config_path = config_path.clone();
        let sandbox = &sandbox;
        async move {
            let (mut child, _lines, first) = ccbridge_connect(&config_path).await;
            if let Some(decision) = decision {
                decide(sandbox, first["user_code"].as_str().unwrap(), decision).await;
            }
            let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .unwrap()
                .unwrap();
            status.code()
        }
    };
    assert_eq!(run(Some("deny")).await, Some(3));
    assert_eq!(run(None).await, Some(4));
}

// Under `flow = "device"` the console's Connect shows the code and waits: the page reloads
// itself until the owner has approved, then says connected. Only the browser that started it
// sees the page.
backends!(the_console_connect_shows_a_code_and_waits: sqlite, postgres);
async fn the_console_connect_shows_a_code_and_waits(backend: Backend) {
    let sandbox = realtime_device_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "")
        .configure(device_flow)
        .spawn()
        .await;
    let start = start_connect(&app.client, &app.url("")).await;
    assert_eq!(start.status(), 303);
    let page_path = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(page_path.starts_with("/connect/device/"), "{page_path}");
    let cookie = cookie_pair(&start);
    let waiting = app
        .client
        .get(app.url(&page_path))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(waiting.status(), 200);
    assert!(
        waiting.headers().contains_key("refresh"),
        "the page reloads itself"
    );
    let text = waiting.text().await.unwrap();
    let user_code = text
        .split(r#"id="user_code"><strong>"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the page shows the code")
        .to_owned();
    let stranger = app.client.get(app.url(&page_path)).send().await.unwrap();
    assert_eq!(stranger.status(), 404, "another browser sees nothing");
    decide(&sandbox, &user_code, "approve").await;
    eventually(
        Duration::from_secs(20),
        "the page says connected",
        || async {
            let page = app
                .client
                .get(app.url(&page_path))
                .header("cookie", &cookie)
                .send()
                .await
                .ok()?;
            page.text()
                .await
                .ok()?
                .contains("<h1>Connected</h1>")
                .then_some(())
        },
    )
    .await;
    let set = app.store.token_set().await.unwrap().unwrap();
    assert_eq!(set.authorized_via.as_deref(), Some("device"));
    app.stop().await;
}
