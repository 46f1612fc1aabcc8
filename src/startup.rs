//! `Application`: the one way to start ccbridge, used by `main` and by every test alike.
//!
//! `build` opens the database (running migrations), binds the listener (port 0 in tests) and
//! wires the shared state; `run_until_stopped` serves until the shutdown token fires, lets
//! in-flight requests finish (bounded by `server.shutdown_grace`), then closes the database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::abuse::Abuse;
use crate::alerts::{Alerts, EmailSettings, EmailSink, WebhookSink};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::consent::{ConfirmationMailer, ListNames};
use crate::constant_contact::{ApiClient, OAuthClient, RateLimiter, http_client};
use crate::delivery::account_check::AccountChecker;
use crate::delivery::{DeliveryWorker, WorkerSettings};
use crate::http::serve::{ServeSettings, serve};
use crate::http::{AppState, DemoMode, router};
use crate::mail::Mailer;
use crate::signup::{RefusalCounter, SignupWriter};
use crate::store::{SingleProcessLock, Store, warn_if_network_filesystem};
use crate::tokens::reconnect::ReconnectLink;
use crate::tokens::{KeeperSettings, TokenCipher, TokenKeeper};
use crate::unsubscribes::{MirrorSettings, UnsubscribeMirror};

/// What a caller (a test, `ccbridge demo`) may supply instead of the defaults.
pub struct Dependencies {
    pub clock: SharedClock,
    /// An already bound listener (lets a caller know the port before the config is final).
    pub listener: Option<std::net::TcpListener>,
    pub alerts: Alerts,
    /// Serve the demo signup page at `/demo` (`ccbridge demo`).
    pub demo_page: bool,
    /// The sandbox's page, linked from the demo page.
    pub demo_sandbox: Option<url::Url>,
    /// Run the delivery worker (and the unsubscribe sync) in the background. Tests that drive
    /// `DeliveryWorker::deliver_next` step by step turn it off.
    pub background_delivery: bool,
    /// Run the confirmation mail worker in the background. Tests that drive
    /// `ConfirmationMailer::send_next` (or claim mails themselves) turn it off.
    pub background_mail: bool,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            listener: None,
            alerts: Alerts::log_only(),
            demo_page: false,
            demo_sandbox: None,
            background_delivery: true,
            background_mail: true,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    background_delivery: bool,
    unsubscribes: UnsubscribeMirror,
    background_mail: bool,
    /// Held while this process serves a SQLite database (`None` on PostgreSQL).
    single_process: Option<SingleProcessLock>,
}

/// Most signups committed in one transaction.
const MAX_COMMIT_BATCH: usize = 256;

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Dependencies::default()).await
    }

    pub async fn build_with(config: Config, deps: Dependencies) -> anyhow::Result<Self> {
        let database = config.database.url.redacted();
        // Taken before the database is even opened: a second process must not migrate or
        // release claims under the first.
        let single_process =
            SingleProcessLock::acquire(&config.database.url).map_err(anyhow::Error::msg)?;
        if single_process.is_some() {
            warn_if_network_filesystem(&config.database.url);
        }
        let store = Store::open(&config.database)
            .await
            .with_context(|| format!("opening the database at {database}"))?;
        let listener = match deps.listener {
            Some(listener) => {
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)?
            }
            None => TcpListener::bind(config.server.listen)
                .await
                .map_err(|error| bind_error(config.server.listen, error))?,
        };
        let alerts = alert_sinks(&config, deps.alerts)?;
        let (keeper, api) = connection(&config, &store, &deps.clock, &alerts);
        // That the key is missing at all is among `Config::setup_warnings`, which `serve` logs.
        if !keeper.cipher().encrypts() {
            let signs_forms = config.forms.iter().any(|f| f.min_submit_time.is_some());
            if store.backend().is_shared() && signs_forms {
                tracing::warn!(
                    "security.token_encryption_key is not set on a shared database: each replica signs forms' _ts values \
                     with its own random key, so a form shown by one replica and posted to another is kept as spam. \
                     Set the same key on every replica"
                );
            }
        }
        let writer = SignupWriter::start(store.clone(), MAX_COMMIT_BATCH, (&config.consent).into());
        let unsubscribes = UnsubscribeMirror::new(
            store.clone(),
            keeper.clone(),
            api.clone(),
            deps.clock.clone(),
            MirrorSettings::from_config(&config),
        );
        let delivery = DeliveryWorker::new(
            store.clone(),
            keeper.clone(),
            api.clone(),
            deps.clock.clone(),
            WorkerSettings {
                delivery: config.delivery.clone(),
                consent_retention: config.privacy.consent_retention,
            },
            alerts.clone(),
            unsubscribes.clone(),
        );
        let abuse = Arc::new(Abuse::new(&config, alerts.clone()));
        let config = Arc::new(config);
        let account = AccountChecker::new(
            store.clone(),
            keeper.clone(),
            api.clone(),
            config.clone(),
            deps.clock.clone(),
            alerts.clone(),
        );
        let mailer = confirmation_mailer(&config, &store, &deps.clock, &alerts, &account)?;
        let state = AppState {
            abuse,
            config,
            store,
            refusals: RefusalCounter::new(deps.clock.clone()),
            clock: deps.clock,
            keeper,
            api,
            delivery,
            alerts,
            writer,
            account,
            mailer,
            readiness: Default::default(),
            basic_session: Default::default(),
            demo: DemoMode {
                enabled: deps.demo_page,
                sandbox: deps.demo_sandbox,
            },
        };
        let released = state.store.release_all_claims().await?;
        if released > 0 {
            tracing::warn!(
                signups = released,
                "signups were being delivered when ccbridge last stopped; they will be sent again"
            );
        }
        Ok(Self {
            listener,
            state,
            background_delivery: deps.background_delivery,
            unsubscribes,
            background_mail: deps.background_mail,
            single_process,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    pub fn keeper(&self) -> TokenKeeper {
        self.state.keeper.clone()
    }

    pub fn delivery(&self) -> DeliveryWorker {
        self.state.delivery.clone()
    }

    /// The confirmation mail worker, when `[smtp]` is configured.
    pub fn mailer(&self) -> Option<ConfirmationMailer> {
        self.state.mailer.clone()
    }

    /// The mirror of unsubscribed addresses (its sync state is for the status).
    pub fn unsubscribes(&self) -> UnsubscribeMirror {
        self.unsubscribes.clone()
    }

    /// Signups refused at the door, not yet written to the hourly counts.
    pub fn refusals(&self) -> RefusalCounter {
        self.state.refusals.clone()
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serve until `shutdown` is cancelled, then drain and close.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            background_delivery,
            unsubscribes,
            background_mail,
            single_process,
        } = self;
        let grace = state.config.server.shutdown_grace;
        let store = state.store.clone();
        let keeper = state.keeper.clone();
        let tasks = TaskTracker::new();
        tasks.spawn(state.keeper.clone().run(shutdown.clone()));
        tasks.spawn(state.keeper.clone().watch(shutdown.clone()));
        if background_delivery {
            tasks.spawn(state.delivery.clone().run(shutdown.clone()));
            tasks.spawn(unsubscribes.run(shutdown.clone()));
        }
        tasks.spawn(state.account.clone().run(shutdown.clone()));
        if let Some(mailer) = state.mailer.as_ref().filter(|_| background_mail) {
            tasks.spawn(mailer.clone().run(shutdown.clone()));
        }
        tasks.spawn(on_connections_elsewhere(
            state.keeper.clone(),
            state.delivery.clone(),
            state.account.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(state.abuse.clone().run_housekeeping(
            state.store.clone(),
            state.clock.clone(),
            state.config.spam.keep_for,
            shutdown.clone(),
        ));
        tasks.spawn(state.refusals.clone().run(store.clone(), shutdown.clone()));
        let refusals = state.refusals.clone();
        tasks.close();
        tracing::info!(address = %listener.local_addr()?, "ccbridge listening");
        let settings = ServeSettings {
            header_read_timeout: state.config.server.header_read_timeout,
            max_connections: state.config.server.max_connections,
            shutdown_grace: grace,
        };
        if !serve(listener, router(state), settings, shutdown).await {
            tracing::warn!(
                ?grace,
                "in-flight requests did not finish within the shutdown grace period"
            );
        }
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            tracing::warn!("background tasks did not stop within the shutdown grace period");
        }
        // Refusals counted since the last flush, including those of the drained requests.
        if let Err(error) = refusals.flush(&store).await {
            tracing::warn!(%error, "refused signups of the last minute could not be counted in the database");
        }
        // A refresh in flight must commit its rotated token set before the database closes, or
        // the refresh token is lost with it; the lease bounds how long that can take.
        if !keeper.wait_for_refresh(keeper.lease()).await {
            tracing::error!(
                "a token refresh was still in flight at shutdown; if it completed upstream, a reconnect may be needed"
            );
        }
        store.close().await;
        drop(single_process);
        tracing::info!("ccbridge stopped; database closed");
        Ok(())
    }
}

/// `alerts` plus the webhook and the email sink, as configured. The email sink reports its own
/// failures on the alerts without it (the log, the webhook), never by mail.
fn alert_sinks(config: &Config, alerts: Alerts) -> anyhow::Result<Alerts> {
    let settings = &config.alerts;
    let alerts = match &settings.webhook_url {
        Some(webhook) => alerts.with_sink(WebhookSink::start(
            webhook.url().clone(),
            &config.server.public_url,
            settings.min_interval,
            settings.timeout,
        )),
        None => alerts,
    };
    if settings.email_to.is_empty() {
        return Ok(alerts);
    }
    let mailer = Mailer::from_config(&config.smtp)
        .context("setting up alert mails (alerts.email_to, [smtp])")?
        .context("alerts.email_to is set but [smtp] host is not")?;
    let email = EmailSink::start(
        mailer,
        EmailSettings::new(
            settings.email_to.clone(),
            config.server.public_url.clone(),
            settings.min_interval,
        ),
        alerts.clone(),
    );
    Ok(alerts.with_sink(email))
}

/// The confirmation mail worker, when `[smtp]` is configured (a double opt-in form needs it;
/// `check-config` says so). Its `{lists}` come from the latest account check.
fn confirmation_mailer(
    config: &Arc<Config>,
    store: &Store,
    clock: &SharedClock,
    alerts: &Alerts,
    account: &AccountChecker,
) -> anyhow::Result<Option<ConfirmationMailer>> {
    let Some(mailer) = Mailer::from_config(&config.smtp).context("setting up [smtp]")? else {
        return Ok(None);
    };
    let account = account.clone();
    let list_names: ListNames = Arc::new(move || {
        account
            .latest()
            .map(|check| check.list_names)
            .unwrap_or_default()
    });
    Ok(Some(ConfirmationMailer::new(
        store.clone(),
        mailer,
        config.clone(),
        clock.clone(),
        alerts.clone(),
        list_names,
    )))
}

/// The token keeper and the API client for `config`, sharing one HTTP client and one rate limiter.
/// The server and the CLI commands that talk to Constant Contact build them the same way.
/// A connection made by another process (`ccbridge connect`, another replica) gets the on-connect
/// work a connection made in this process's console gets: queued signups flow, and the configured
/// lists and fields are checked against the account.
async fn on_connections_elsewhere(
    keeper: TokenKeeper,
    delivery: DeliveryWorker,
    account: AccountChecker,
    shutdown: CancellationToken,
) {
    let mut connections = keeper.connections_elsewhere();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = connections.changed() => {
                if changed.is_err() {
                    return;
                }
                delivery.connection_made();
                account.check_soon();
            }
        }
    }
}

pub fn connection(
    config: &Config,
    store: &Store,
    clock: &SharedClock,
    alerts: &Alerts,
) -> (TokenKeeper, ApiClient) {
    let cc = &config.constant_contact;
    let http = http_client(cc.request_timeout);
    let oauth = OAuthClient::new(cc, config.server.redirect_uri(), http.clone());
    let limiter = Arc::new(RateLimiter::new(
        store.clone(),
        clock.clone(),
        cc.requests_per_second,
        cc.requests_per_day,
    ));
    let api = ApiClient::new(http, cc.api_base_url.clone(), limiter);
    let cipher = TokenCipher::new(config.security.token_encryption_key.as_ref());
    let settings = KeeperSettings {
        refresh_margin: cc.refresh_margin,
        refresh_at_least_every: cc.refresh_at_least_every,
        // Longer than a token call can take, so a live refresh never loses its lease.
        lease: cc.request_timeout * 2 + Duration::from_secs(5),
        retry_base: Duration::from_secs(2),
        retry_max: Duration::from_secs(600),
        watch_every: cc.connection_poll_interval,
        reconnect_link: ReconnectLink::new(
            &config.server.public_url,
            config.alerts.include_connect_link,
        ),
    };
    let keeper = TokenKeeper::new(
        store.clone(),
        oauth,
        cipher,
        clock.clone(),
        settings,
        alerts.clone(),
    );
    (keeper, api)
}

/// Why the listener could not be opened, with what to do about the common cases.
fn bind_error(listen: std::net::SocketAddr, error: std::io::Error) -> anyhow::Error {
    let hint = match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "; another process (another ccbridge?) already listens there: stop it, or set \
             server.listen to a free port"
        }
        std::io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need privileges: use a port such as 8080 behind a reverse proxy"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "; this machine has no such address: use 0.0.0.0 (every interface) or 127.0.0.1"
        }
        _ => "",
    };
    anyhow::anyhow!("cannot listen on {listen} (server.listen): {error}{hint}")
}
