//! `ccbridge demo`: the whole product on one machine with no Constant Contact account. It starts
//! the built-in sandbox and the service (SQLite in a temporary directory), connects them through
//! the real OAuth flow (the same `/connect` → authorize → `/oauth/callback` walk a browser does),
//! and serves a demo signup page whose submissions visibly arrive in the sandbox. With `--device`
//! it connects through the device flow instead: the console's Connect shows a code, which the
//! demo enters at the sandbox's verification page as the account owner would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::{Config, ConnectFlow, LogFormat};
use crate::http::demo::{DEMO_DOUBLE_FORM, DEMO_FORM};
use crate::password::random_token;
use crate::startup::{Application, Dependencies};
use crate::{password, telemetry};
use ccbridge_sandbox::{self as sandbox, Sandbox, SandboxConfig};

/// Run the demo until `shutdown`. Prints the URLs to visit on stdout.
pub async fn run(
    listen: SocketAddr,
    sandbox_listen: SocketAddr,
    device: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ccbridge-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = run_in(&dir, listen, sandbox_listen, device, shutdown).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(
    dir: &std::path::Path,
    listen: SocketAddr,
    sandbox_listen: SocketAddr,
    device: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        sandbox_listen,
        Arc::new(SystemClock),
    )
    .await?;
    let admin_password = random_token(12);
    let config = demo_config(&sandbox, dir.join("ccbridge.db"), listen, &admin_password)?;
    telemetry::init(&config.logging);
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let mut config = config;
    config.server.public_url = format!("http://{addr}").parse()?;
    if device {
        config.constant_contact.flow = ConnectFlow::Device;
    }
    // The demo page is ccbridge's own origin; a browser may also reach it as localhost.
    if addr.ip().is_loopback() {
        for form in &mut config.forms {
            form.allowed_origins = vec![format!("http://localhost:{}", addr.port()).parse()?];
        }
    }
    let sandbox_url: url::Url = format!("http://{}/", sandbox.addr()).parse()?;
    let deps = Dependencies {
        listener: Some(listener),
        demo_page: true,
        demo_sandbox: Some(sandbox_url.clone()),
        ..Dependencies::default()
    };
    // The sandbox, like Constant Contact, sends codes only to a registered redirect URI.
    sandbox.register_redirect_uri(config.server.redirect_uri());
    let app = Application::build_with(config, deps).await?;
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    connect(addr, &admin_password, device.then_some(&sandbox))
        .await
        .context("connecting the demo to its sandbox")?;
    // Last, so that nothing logged at start scrolls it away; the demo logs warnings only.
    println!();
    println!("ccbridge demo is running (no Constant Contact account involved).");
    println!("  Demo signup form:        http://{addr}/demo");
    println!("  Contacts arrive here:    {sandbox_url}   (the built-in Constant Contact sandbox)");
    println!("  Confirmation mails:      {sandbox_url}mailbox   (the sandbox's mailbox)");
    println!("  Status (JSON, as admin): http://{addr}/readyz");
    println!(
        "  Database:                {}",
        dir.join("ccbridge.db").display()
    );
    println!("  Admin console:           http://{addr}/admin");
    println!("                           user admin, password {admin_password}");
    println!("Press Ctrl-C to stop.");

    let result = server.await.context("the demo server task")?;
    sandbox.shutdown().await;
    result
}

fn demo_config(
    sandbox: &Sandbox,
    db: PathBuf,
    listen: SocketAddr,
    admin_password: &str,
) -> anyhow::Result<Config> {
    let text = format!(
        r#"
        [server]
        listen = "{listen}"
        shutdown_grace = "5s"

        [database]
        url = "sqlite://{db}"

        [constant_contact]
        scopes = ["contact_data", "offline_access", "account_read"]

        # An evaluator trying the form a dozen times in a minute is not a bot.
        [rate_limit]
        per_ip_per_minute = 60
        per_ip_burst = 20

        # The sandbox's mailbox: a plain SMTP receiver whose page shows what was sent.
        [smtp]
        host = "{smtp_host}"
        port = {smtp_port}
        security = "none"
        from = "ccbridge demo <demo@ccbridge.invalid>"

        [consent]
        site_name = "the ccbridge demo"

        [[forms]]
        id = "{DEMO_FORM}"
        list_ids = ["{general}"]
        optional_list_ids = ["{events}", "{news}"]
        custom_fields = {{ favorite_topic = "{topic}" }}

        [[forms]]
        id = "{DEMO_DOUBLE_FORM}"
        list_ids = ["{general}"]
        consent = "double"
        consent_text = "Yes, send me the demo newsletter. I can unsubscribe at any time."
        "#,
        smtp_host = sandbox.smtp_addr().ip(),
        smtp_port = sandbox.smtp_addr().port(),
        db = db.display(),
        general = sandbox::GENERAL_INTEREST_LIST_ID,
        events = sandbox::EVENTS_LIST_ID,
        news = sandbox::PRODUCT_NEWS_LIST_ID,
        topic = sandbox::FAVORITE_TOPIC_FIELD_ID,
    );
    let mut config = Config::from_toml(&text)?;
    config.constant_contact.point_at_sandbox(sandbox);
    config.admin.password_hash = SecretString::from(password::hash(&SecretString::from(
        admin_password.to_owned(),
    ))?);
    config.logging.format = LogFormat::Pretty;
    // Warnings only: request and delivery lines would scroll the banner away.
    config.logging.level = "warn".to_owned();
    Ok(config)
}

/// Walk the browser's path through the OAuth flow: `/connect` and its button (as the admin) → the sandbox's
/// authorize endpoint (auto-approve) → `/oauth/callback` with the browser cookie. With the device
/// flow (`device` names the sandbox): the button → the code page → the code entered and approved
/// at the sandbox → the code page until it says connected.
async fn connect(
    addr: SocketAddr,
    admin_password: &str,
    device: Option<&Sandbox>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // The confirmation page (and a console session for its button), then the button.
    let confirm = http
        .get(format!("http://{addr}/connect"))
        .basic_auth("admin", Some(admin_password))
        .header(reqwest::header::ACCEPT, "text/html")
        .send()
        .await?;
    if confirm.status() != 200 {
        bail!("GET /connect answered {}", confirm.status());
    }
    let session = header(&confirm, SET_COOKIE)?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let page = confirm.text().await?;
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the /connect page has no CSRF token")?
        .to_owned();
    let start = http
        .post(format!("http://{addr}/connect"))
        .header(COOKIE, session)
        .form(&[("csrf", csrf)])
        .send()
        .await?;
    if start.status() != 303 {
        bail!("/connect answered {}", start.status());
    }
    let cookie = start
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("/connect set no cookie")?
        .to_owned();
    if let Some(sandbox) = device {
        let page = format!("http://{addr}{}", header(&start, LOCATION)?);
        return connect_device(&http, &page, &cookie, sandbox).await;
    }
    let authorize = header(&start, LOCATION)?;
    let approved = http.get(&authorize).send().await?;
    let callback = header(&approved, LOCATION)?;
    let done = http.get(&callback).header(COOKIE, cookie).send().await?;
    if !done.status().is_success() {
        bail!(
            "/oauth/callback answered {}: {}",
            done.status(),
            done.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

/// How long the demo waits for its own device authorization to complete.
const DEVICE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

async fn connect_device(
    http: &reqwest::Client,
    page: &str,
    cookie: &str,
    sandbox: &Sandbox,
) -> anyhow::Result<()> {
    let text = http
        .get(page)
        .header(COOKIE, cookie)
        .send()
        .await?
        .text()
        .await?;
    let user_code = text
        .split(r#"id="user_code"><strong>"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .context("the device page shows no code")?
        .to_owned();
    let approved = http
        .post(sandbox.activate_url())
        .form(&[("user_code", user_code.as_str()), ("decision", "approve")])
        .send()
        .await?;
    if !approved.status().is_success() {
        bail!("the sandbox's /activate answered {}", approved.status());
    }
    let deadline = tokio::time::Instant::now() + DEVICE_WAIT;
    loop {
        let text = http
            .get(page)
            .header(COOKIE, cookie)
            .send()
            .await?
            .text()
            .await?;
        if text.contains("<h1>Connected</h1>") {
            return Ok(());
        }
        if text.contains("<h1>Not connected</h1>") || tokio::time::Instant::now() >= deadline {
            bail!("the device authorization did not complete: {text}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

fn header(
    response: &reqwest::Response,
    name: reqwest::header::HeaderName,
) -> anyhow::Result<String> {
    response
        .headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "{} answered {} without {name}",
                response.url(),
                response.status()
            )
        })
}
