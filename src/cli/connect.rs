//! `ccbridge connect`: connecting from the server's terminal with the device flow (RFC 8628), so
//! a service with no public URL can be connected; and `ccbridge connect --link`, which creates a
//! connect link for the account owner. The token set is adopted exactly as the browser's callback
//! adopts one; a running service notices it within `connection_poll_interval` and does its
//! on-connect work then.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde_json::json;

use super::load::{load_with_source, open_store_as};
use crate::alerts::Alerts;
use crate::clock::{SharedClock, SystemClock};
use crate::constant_contact::{DeviceAuthorization, DeviceError, DeviceProgress, wait_for_device};
use crate::startup::connection;
use crate::telemetry;
use crate::tokens::links::create_link;
use crate::tokens::{AccountSwitch, AdoptError, AuthorizedVia};

/// The person denied the request at Constant Contact.
const EXIT_DENIED: u8 = 3;
/// The code expired before anyone approved it.
const EXIT_EXPIRED: u8 = 4;

/// `ccbridge connect [--json]`.
pub async fn connect(path: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_with_source(path)?;
    telemetry::init(&loaded.config.logging);
    let config = &loaded.config;
    if config.constant_contact.client_id.is_empty() {
        anyhow::bail!(
            "constant_contact.client_id is not set: the device flow needs the application's client id (API key)"
        );
    }
    let store = open_store_as(&loaded, true).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let (keeper, api) = connection(config, &store, &clock, &Alerts::log_only());
    // This process's alerts reach only its log; the running service announces the recovery.
    keeper.leave_recovery_alerts_to_the_service();
    let started = keeper.oauth().start_device_authorization(clock.now()).await;
    let authorization = match started {
        Ok(authorization) => authorization,
        Err(error) => {
            store.close().await;
            return Err(
                anyhow::Error::new(error).context("asking Constant Contact for a device code")
            );
        }
    };
    show(&authorization, json)?;
    let outcome = wait_for_device(keeper.oauth(), &authorization, &clock, |progress| {
        if let DeviceProgress::SlowedDown { interval } = progress {
            eprintln!(
                "ccbridge: Constant Contact asked to poll less often; now every {}s",
                interval.as_secs()
            );
        }
    })
    .await;
    let code = match outcome {
        Ok(grant) => adopted(
            keeper.adopt(&api, &grant, AuthorizedVia::Device).await,
            config,
            json,
        ),
        Err(error) => failed(&error),
    };
    store.close().await;
    code
}

/// What the person needs: the URL and the code (and the URL with the code as a QR code), or one
/// JSON line for scripts.
fn show(authorization: &DeviceAuthorization, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let line = json!({
            "verification_uri": authorization.verification_uri.as_str(),
            "verification_uri_complete": authorization.verification_uri_complete.as_ref().map(url::Url::as_str),
            "user_code": authorization.user_code,
            "expires_at": authorization.expires_at.to_rfc3339(),
            "interval": authorization.interval.as_secs(),
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "To connect ccbridge to Constant Contact, open\n\n    {}\n",
            authorization.verification_uri
        )?;
        writeln!(
            out,
            "on any device, log in to the Constant Contact account and enter the code\n\n    {}\n",
            authorization.user_code
        )?;
        if let Some(qr) = qr(authorization.link().as_str()) {
            writeln!(
                out,
                "Or scan this with a phone (the code is filled in):\n\n{qr}"
            )?;
        }
        writeln!(
            out,
            "Waiting for approval (the code expires at {} UTC; Ctrl-C to give up)…",
            authorization.expires_at.format("%H:%M")
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The URL drawn with half-block characters, two rows of modules per line.
fn qr(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(code.render::<Dense1x2>().quiet_zone(true).build())
}

fn adopted(
    result: Result<crate::tokens::Connected, AdoptError>,
    config: &crate::config::Config,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let connected = result.context("storing the connection")?;
    let poll = humantime::format_duration(config.constant_contact.connection_poll_interval);
    eprintln!(
        "ccbridge: connected to {} (generation {})",
        connected.account(),
        connected.generation
    );
    if let AccountSwitch::Unconfirmed { .. } = connected.switch {
        eprintln!(
            "ccbridge: deliveries wait until an admin confirms the switch of accounts in the console"
        );
    }
    if json {
        let line = json!({
            "connected": true,
            "account": connected.account_name,
            "generation": connected.generation,
            "awaiting_confirmation": matches!(connected.switch, AccountSwitch::Unconfirmed { .. }),
        });
        println!("{line}");
    } else {
        println!(
            "Connected to {}. A running ccbridge picks this up within {poll}.",
            connected.account()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn failed(error: &DeviceError) -> anyhow::Result<ExitCode> {
    eprintln!("ccbridge: not connected: {error}");
    Ok(match error {
        DeviceError::Denied => ExitCode::from(EXIT_DENIED),
        DeviceError::Expired => ExitCode::from(EXIT_EXPIRED),
        _ => ExitCode::FAILURE,
    })
}

/// `ccbridge connect --link [--expires 24h] [--note …]`: print a new connect link.
pub async fn link(
    path: Option<PathBuf>,
    expires: Duration,
    note: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let loaded = load_with_source(path)?;
    telemetry::init(&loaded.config.logging);
    let store = open_store_as(&loaded, true).await?;
    let now = chrono::Utc::now();
    let created = create_link(
        &store,
        &loaded.config.server.public_url,
        now,
        expires,
        "cli",
        note,
    )
    .await;
    store.close().await;
    let new = created.context("storing the connect link")?;
    if json {
        let line = json!({
            "id": new.link.id,
            "url": new.url.as_str(),
            "expires_at": new.link.expires_at.to_rfc3339(),
        });
        println!("{line}");
    } else {
        println!("{}", new.url);
        eprintln!(
            "ccbridge: send this link to the Constant Contact account owner; it works once and expires at {} UTC (revoke it in the console)",
            new.link.expires_at.format("%Y-%m-%d %H:%M")
        );
    }
    Ok(ExitCode::SUCCESS)
}
