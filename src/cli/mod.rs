//! The `ccbridge` command line. `main` parses it and calls `run`; each subcommand is a small
//! function over the library.

mod connect;
mod load;
mod privacy;

use std::io::{IsTerminal as _, Read as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use load::{Loaded, load_with_source, open_store};

use crate::alerts::Alerts;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConnectFlow};
use crate::startup::{Application, connection};
use crate::status::Status;
use crate::store::{Held, Released, SingleProcessLock, Store};
use crate::tokens::{CallError, TokenError};
use crate::{password, telemetry};
use ccbridge_sandbox::SandboxConfig;

#[derive(Debug, Parser)]
#[command(
    name = "ccbridge",
    version,
    about = "Signup forms → your own Constant Contact account"
)]
pub struct Cli {
    /// Config file (default: $CCBRIDGE_CONFIG, else ./ccbridge.toml if present, else defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (migrations are applied at start).
    Serve,
    /// Zero-config trial: the service on SQLite in a temp dir plus the built-in Constant Contact
    /// sandbox, connected through the real OAuth flow, with a demo signup page.
    Demo {
        /// Where the service listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the sandbox listens (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        sandbox_listen: SocketAddr,
        /// Connect through the device flow (a code entered at the sandbox) instead of the
        /// browser redirect.
        #[arg(long)]
        device: bool,
    },
    /// Run only the built-in Constant Contact sandbox, for local development against it.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Access-token lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        expires_in: u64,
        /// Long-lived refresh tokens instead of rotating ones.
        #[arg(long)]
        long_lived: bool,
        /// Ask for a click on a consent page instead of approving at once.
        #[arg(long)]
        consent: bool,
        /// Requests per second before 429 throttled.
        #[arg(long, default_value_t = 4)]
        requests_per_second: u32,
        /// Requests per UTC day before 429 quota_exceeded.
        #[arg(long, default_value_t = 10_000)]
        requests_per_day: u32,
        /// A redirect URI registered for the application (repeatable): like Constant Contact,
        /// the sandbox sends codes only to a registered one, compared exactly.
        #[arg(long = "redirect-uri", value_name = "URL", default_value = ccbridge_sandbox::DEFAULT_REDIRECT_URI)]
        redirect_uris: Vec<url::Url>,
    },
    /// Load and validate the configuration, print a redacted summary, the redirect URI to register
    /// at Constant Contact and a warning for each piece still to set.
    /// Exit code: 0 valid, 1 invalid (or, with --strict, any warning).
    CheckConfig {
        /// Fail (exit 1) on warnings too, e.g. in CI before a deploy.
        #[arg(long)]
        strict: bool,
    },
    /// Connect to Constant Contact from this terminal with the device flow: prints a URL and a
    /// code to enter there on any device (no public URL needed). With --link, print a connect
    /// link for the account owner instead.
    /// Exit code: 0 connected (or link created), 3 denied, 4 the code expired, 1 other failures.
    Connect {
        /// One JSON line with the verification data (with --link: the link) for scripts.
        #[arg(long)]
        json: bool,
        /// Create a single-use connect link to send to the Constant Contact account owner.
        #[arg(long)]
        link: bool,
        /// How long the link stays valid (at most 30 days), e.g. 24h, 3days.
        #[arg(long, requires = "link", default_value = "24h", value_parser = humantime::parse_duration)]
        expires: Duration,
        /// Who the link is for, shown on its page and in the console.
        #[arg(long, requires = "link")]
        note: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Read a password from stdin, print an Argon2id hash for `admin.password_hash`.
    HashPassword,
    /// Connection state, token expiry, queue depth by state, today's API usage, the account check.
    /// Exit code: 0 connected, 2 not connected or needs a reconnect, 3 connected but configured
    /// lists or custom fields are missing from the account, 1 on errors (these first).
    Status {
        /// The machine-readable shape shared with /readyz.
        #[arg(long)]
        json: bool,
    },
    /// List the account's contact lists (name, id, members), to find ids for the config.
    /// Exit code: 0 listed, 2 not connected or needs a reconnect, 1 on other errors.
    Lists {
        /// A JSON array of {"list_id", "name", "membership_count"}.
        #[arg(long)]
        json: bool,
    },
    /// Requeue failed signups (and dead ones with --dead, or one by --id).
    /// Exit code: 0 done (also when there was nothing to requeue), 3 no failed or dead signup
    /// has the --id, 1 on errors.
    Retry {
        /// Also requeue dead signups.
        #[arg(long)]
        dead: bool,
        /// Release the suspected-spam signup --id into the delivery queue.
        #[arg(long, requires = "id", conflicts_with = "dead")]
        spam: bool,
        /// Requeue only this signup (failed or dead; spam with --spam).
        #[arg(long)]
        id: Option<uuid::Uuid>,
        /// Print {"requeued": N}.
        #[arg(long)]
        json: bool,
    },
    /// Answer a person's access or erasure request: `privacy export EMAIL [--json]`,
    /// `privacy erase EMAIL [--yes]`.
    Privacy {
        #[command(subcommand)]
        command: privacy::PrivacyCommand,
    },
    /// GET /healthz and exit 0 (healthy) or 1, for a container HEALTHCHECK without curl.
    Healthcheck {
        /// Default: http://127.0.0.1:<port from the config>/healthz
        #[arg(long)]
        url: Option<String>,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve => runtime().and_then(|rt| rt.block_on(serve(cli.config))),
        Command::Demo { .. } if cli.config.is_some() => Err(anyhow::anyhow!(
            "`demo` runs with a configuration of its own (SQLite in a temporary directory, the \
             built-in sandbox); --config is for the other commands"
        )),
        Command::Demo {
            listen,
            sandbox_listen,
            device,
        } => runtime().and_then(|rt| rt.block_on(demo(listen, sandbox_listen, device))),
        Command::Sandbox {
            listen,
            expires_in,
            long_lived,
            consent,
            requests_per_second,
            requests_per_day,
            redirect_uris,
        } => {
            let config = SandboxConfig {
                expires_in,
                rotating_refresh_tokens: !long_lived,
                consent,
                requests_per_second,
                requests_per_day,
                redirect_uris,
                ..SandboxConfig::default()
            };
            runtime().and_then(|rt| rt.block_on(sandbox(listen, config)))
        }
        Command::CheckConfig { strict } => check_config(cli.config, strict),
        Command::Connect {
            json, link: false, ..
        } => runtime().and_then(|rt| rt.block_on(connect::connect(cli.config, json))),
        Command::Connect {
            json,
            link: true,
            expires,
            note,
        } => runtime().and_then(|rt| rt.block_on(connect::link(cli.config, expires, note, json))),
        Command::Migrate => runtime().and_then(|rt| rt.block_on(migrate(cli.config))),
        Command::HashPassword => hash_password(),
        Command::Status { json } => runtime().and_then(|rt| rt.block_on(status(cli.config, json))),
        Command::Lists { json } => runtime().and_then(|rt| rt.block_on(lists(cli.config, json))),
        Command::Retry {
            dead,
            spam,
            id,
            json,
        } => runtime().and_then(|rt| match (spam, id) {
            (true, Some(id)) => rt.block_on(release_spam(cli.config, id)),
            _ => rt.block_on(retry(cli.config, dead, id, json)),
        }),
        Command::Privacy { command } => {
            runtime().and_then(|rt| rt.block_on(privacy::run(cli.config, command)))
        }
        Command::Healthcheck { url } => {
            runtime().and_then(|rt| rt.block_on(healthcheck(cli.config, url)))
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ccbridge: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the line already holds
/// (a database error quotes its source, which quotes its own: said once is enough).
fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn load(path: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(path.as_deref())?)
}

async fn serve(path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let Loaded { config, source } = load_with_source(path)?;
    telemetry::init(&config.logging);
    tracing::info!(
        database = %config.database.url,
        configuration = %source,
        "starting"
    );
    for warning in config.setup_warnings() {
        tracing::warn!("{warning}");
    }
    if config.constant_contact.flow == ConnectFlow::AuthorizationCode {
        tracing::info!(
            redirect_uri = %config.server.redirect_uri(),
            "the redirect URI to register at Constant Contact"
        );
    }
    let app = Application::build(config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    listen: SocketAddr,
    sandbox_listen: SocketAddr,
    device: bool,
) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    crate::demo::run(listen, sandbox_listen, device, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn sandbox(listen: SocketAddr, config: SandboxConfig) -> anyhow::Result<ExitCode> {
    telemetry::init(&crate::config::LoggingConfig::default());
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    ccbridge_sandbox::run(listen, config, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// Cancel `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
    token.cancel();
}

fn check_config(path: Option<PathBuf>, strict: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_with_source(path)?;
    let config = &loaded.config;
    println!("# configuration from {}", loaded.source);
    print!("{}", config.redacted_summary());
    match config.constant_contact.flow {
        ConnectFlow::AuthorizationCode => println!(
            "# the redirect URI to register at Constant Contact: {}",
            config.server.redirect_uri()
        ),
        ConnectFlow::Device => println!(
            "# flow = \"device\": no redirect URI is needed; connect with `ccbridge connect`"
        ),
    }
    let warnings = config.setup_warnings();
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    if strict && !warnings.is_empty() {
        eprintln!(
            "ccbridge: the configuration is valid but {} piece(s) are not set up (--strict)",
            warnings.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("# configuration is valid");
    Ok(ExitCode::SUCCESS)
}

async fn migrate(path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let Loaded { config, source } = load_with_source(path)?;
    // Not under a running service on SQLite (it holds the lock); on PostgreSQL the migrator's
    // own lock orders concurrent migrations.
    let _single_process =
        SingleProcessLock::acquire(&config.database.url).map_err(anyhow::Error::msg)?;
    let store = Store::open(&config.database)
        .await
        .with_context(|| format!("migrating {}", config.database.url.redacted()))?;
    store.close().await;
    println!(
        "migrations applied to {} (configuration from {source})",
        config.database.url.redacted()
    );
    Ok(ExitCode::SUCCESS)
}

fn hash_password() -> anyhow::Result<ExitCode> {
    let password = if std::io::stdin().is_terminal() {
        prompt_password_twice()?
    } else {
        password_from_stdin()?
    };
    let hash = password::hash(&password)?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

/// A person at a terminal: asked twice, nothing echoed.
fn prompt_password_twice() -> anyhow::Result<SecretString> {
    let first = rpassword::prompt_password("New admin password: ")
        .context("reading the password from the terminal")?;
    if first.is_empty() {
        anyhow::bail!("the password is empty; nothing was hashed");
    }
    let second = rpassword::prompt_password("The same password again: ")
        .context("reading the password from the terminal")?;
    if first != second {
        anyhow::bail!("the two passwords differ; nothing was hashed");
    }
    Ok(SecretString::from(first))
}

/// A script: the whole of stdin, less the line ending a shell adds.
fn password_from_stdin() -> anyhow::Result<SecretString> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the password from stdin")?;
    // Drop exactly the line ending a shell adds, nothing else: spaces may be part of a password.
    let password = input
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&input);
    Ok(SecretString::from(password.to_owned()))
}

async fn status(path: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_with_source(path)?;
    let store = open_store(&loaded).await?;
    let config = loaded.config;
    let now = chrono::Utc::now();
    let database_ok = store.probe_write(now).await.is_ok();
    let status = Status::gather(&config, &store, now, database_ok).await;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status.human());
    }
    let mismatch = status
        .account_check
        .as_ref()
        .is_some_and(|check| !check.ok());
    Ok(match status.connection.state {
        _ if !database_ok => ExitCode::FAILURE,
        "connected" | "refreshing" if mismatch => ExitCode::from(EXIT_ACCOUNT_MISMATCH),
        "connected" | "refreshing" => ExitCode::SUCCESS,
        _ => ExitCode::from(EXIT_NOT_CONNECTED),
    })
}

/// Exit code of `status` and `lists` when there is no usable connection.
const EXIT_NOT_CONNECTED: u8 = 2;
/// Exit code of `status` when configured lists or custom fields are missing from the account.
const EXIT_ACCOUNT_MISMATCH: u8 = 3;
/// Exit code of `retry --id` when no failed or dead signup has that id.
const EXIT_NO_MATCH: u8 = 3;

async fn lists(path: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_with_source(path)?;
    telemetry::init(&loaded.config.logging);
    let store = open_store(&loaded).await?;
    let config = loaded.config;
    let clock: SharedClock = Arc::new(SystemClock);
    let (keeper, api) = connection(&config, &store, &clock, &Alerts::log_only());
    let result = keeper
        .call(|token| {
            let api = api.clone();
            async move { api.contact_lists(&token).await }
        })
        .await;
    store.close().await;
    let lists = match result {
        Ok(lists) => lists,
        Err(CallError::Token(
            error @ (TokenError::NotConnected
            | TokenError::NeedsReconnect(_)
            | TokenError::SwitchUnconfirmed(_)),
        )) => {
            eprintln!("ccbridge: {error}");
            return Ok(ExitCode::from(EXIT_NOT_CONNECTED));
        }
        Err(error) => {
            return Err(anyhow::Error::new(error).context("listing the account's contact lists"));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&lists)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<38}  {:>8}  name", "list id", "members");
    for list in lists {
        let members = list
            .membership_count
            .map_or("-".to_owned(), |n| n.to_string());
        println!("{:<38}  {members:>8}  {}", list.list_id, list.name);
    }
    Ok(ExitCode::SUCCESS)
}

async fn retry(
    path: Option<PathBuf>,
    dead: bool,
    id: Option<uuid::Uuid>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = open_store(&load_with_source(path)?).await?;
    let requeued = store
        .requeue(dead || id.is_some(), id, chrono::Utc::now())
        .await?;
    store.close().await;
    if json {
        println!("{}", serde_json::json!({ "requeued": requeued }));
    } else {
        println!("{requeued} signup(s) requeued for delivery");
    }
    if id.is_some() && requeued == 0 {
        eprintln!("no failed or dead signup has that id");
        return Ok(ExitCode::from(EXIT_NO_MATCH));
    }
    Ok(ExitCode::SUCCESS)
}

async fn release_spam(path: Option<PathBuf>, id: uuid::Uuid) -> anyhow::Result<ExitCode> {
    let loaded = load_with_source(path)?;
    let store = open_store(&loaded).await?;
    let policy = (&loaded.config.consent).into();
    let released = store.release_spam(id, chrono::Utc::now(), &policy).await?;
    store.close().await;
    let Some(released) = released else {
        eprintln!("no suspected-spam signup has that id");
        return Ok(ExitCode::FAILURE);
    };
    let next = match released {
        Released::Queued => "queued for delivery",
        Released::AwaitingConfirmation(Held::MailQueued) => {
            "waiting for confirmation (mail queued)"
        }
        Released::AwaitingConfirmation(Held::CapReached) => {
            "waiting for confirmation (mail cap reached: no mail)"
        }
        Released::AwaitingConfirmation(Held::Gone) => "no longer there (replaced meanwhile)",
    };
    println!("signup {id} released from spam and {next}");
    Ok(ExitCode::SUCCESS)
}

async fn healthcheck(path: Option<PathBuf>, url: Option<String>) -> anyhow::Result<ExitCode> {
    let url = match url {
        Some(url) => url,
        None => {
            let port = load(path).map(|c| c.server.listen.port()).unwrap_or(8080);
            format!("http://127.0.0.1:{port}/healthz")
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            eprintln!("{url}: {}", response.status());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("error returned from database: {0}")]
    struct Wrapper(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("database \"nosuch\" does not exist")]
    struct Inner;

    #[test]
    fn a_cause_already_quoted_is_said_once() {
        let error = anyhow::Error::new(Wrapper(Inner)).context("opening the database");
        assert_eq!(
            describe(&error),
            "opening the database: error returned from database: database \"nosuch\" does not exist"
        );
    }
}
