//! The built-in Constant Contact sandbox: a stateful simulator of the parts of Constant Contact's
//! OAuth2 server and v3 API that ccbridge uses, strict enough to catch client bugs.
//!
//! Tests, `ccbridge demo` and the benchmarks run against it instead of the real service. It keeps
//! everything in memory and serves HTTP on one socket (and SMTP on another):
//! - `/oauth2/default/v1/authorize` and `/token` (`oauth`, backed by `grants`), and the device
//!   flow of RFC 8628: `/oauth2/default/v1/device/authorize`, the `/activate` page where a person
//!   types the user code, and the device-code grant at `/token` (`oauth`, backed by `devices`),
//! - `/v3/...` behind one gate that applies, in order, arrival counting, faults, bearer auth and
//!   the per-second and daily limits (`api`, `faults`, `limits`); each route then states the
//!   scope it needs, and the GET routes read their query strings and page alike (`query`):
//!   - `POST /v3/contacts/sign_up_form`, the upsert with CC's permission rules (`api`,
//!     `sign_up_form`, `contacts`),
//!   - `GET /v3/contacts`, search by status, email, lists, dates and opt-out date, paged by an
//!     opaque cursor in `_links.next.href` (`search`),
//!   - `PUT /v3/contacts/resubscribe/{contact_id}`, once per unsubscribed contact, applied when
//!     the contact confirms (`resubscribe`),
//!   - `GET /v3/contact_lists`, `GET /v3/contact_custom_fields`, `GET /v3/account/summary` (`api`),
//! - `/_sandbox/...` and `/`: control and inspection for tests and people (`control`): `GET
//!   /_sandbox/stats`, `GET /_sandbox/contacts`, `GET|POST /_sandbox/faults`, `POST
//!   /_sandbox/revoke`, `POST /_sandbox/expire-access-tokens`; consent controls (`consent`), each
//!   taking JSON or a form: `POST /_sandbox/contacts/add` (`email_address`,
//!   `permission_to_send`), `POST /_sandbox/unsubscribe`, `POST /_sandbox/delete-contact`, `POST
//!   /_sandbox/confirm-resubscribe` (each `email_address`), `GET|POST /_sandbox/confirmed-opt-in`
//!   (`enabled`), `GET /_sandbox/resubscribes`, and the `/controls` page with a form for each,
//! - the mailbox (`mailbox`, `mailbox_page`): `GET /mailbox` (a page, newest first) and `GET
//!   /_sandbox/mailbox` (JSON), holding what the SMTP receiver on a second listener accepted
//!   (`smtp`: plain SMTP, no TLS or AUTH, a demo and test receiver that delivers nothing) and the
//!   mails Constant Contact sends contacts (Confirmed Opt-In, resubscribe).
//!
//! It is a crate of its own so that the production binary's code and the simulator that tests it
//! cannot share code by accident; it depends on nothing of ccbridge's but the clock.
//!
//! Everything that decides by the calendar (code and token expiry, device polling intervals, the
//! UTC day of the quota) asks the injected [`Clock`](ccbridge_clock::Clock); only the per-second window uses real time,
//! because a burst is a real-time property of the client.

mod api;
mod captcha;
mod config;
mod consent;
mod contacts;
mod control;
mod devices;
mod errors;
mod faults;
mod grants;
mod limits;
mod mailbox;
mod mailbox_page;
mod oauth;
mod pages;
mod query;
mod resubscribe;
mod search;
mod sign_up_form;
mod smtp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use ccbridge_clock::{SharedClock, SystemClock};

pub use captcha::CAPTCHA_SECRET;
pub use config::{
    DEFAULT_REDIRECT_URI, EVENTS_LIST_ID, FAVORITE_TOPIC_FIELD_ID, GENERAL_INTEREST_LIST_ID,
    PRODUCT_NEWS_LIST_ID, SandboxConfig, SandboxCustomField, SandboxList,
};
pub use contacts::{Permission, ResubscribeRequest, Source};
pub use faults::Faults;
pub use mailbox::{CONSTANT_CONTACT_SENDER, MailOrigin, MailboxMessage};

/// What the sandbox has seen, for tests and benchmarks to assert on.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxStats {
    /// Every POST to the token endpoint.
    pub token_requests: u64,
    /// Successful `authorization_code` grants.
    pub codes_exchanged: u64,
    /// Successful `refresh_token` grants.
    pub refreshes: u64,
    /// Token-endpoint answers with `error=invalid_grant`.
    pub invalid_grants: u64,
    /// Every request to `/v3/*`.
    pub api_requests: u64,
    /// 401s sent from `/v3`.
    pub unauthorized: u64,
    /// 429 `throttled` sent.
    pub throttled: u64,
    /// 429 `quota_exceeded` sent.
    pub quota_exceeded: u64,
    /// Most `/v3` requests that arrived within any sliding one-second window, counting every
    /// arrival (including those answered 429 or failed by a fault).
    pub peak_requests_per_second: u32,
    /// `sign_up_form` 201s.
    pub contacts_created: u64,
    /// `sign_up_form` 200s.
    pub contacts_updated: u64,
    /// Successful device authorization requests (`/device/authorize` 200s).
    pub device_authorizations: u64,
    /// Token requests with the device-code grant type from an identified client.
    pub device_polls: u64,
    /// Device-code polls answered `slow_down`.
    pub device_slow_downs: u64,
    /// Device-code polls answered with tokens.
    pub device_grants: u64,
}

/// A contact as the sandbox holds it (see `contacts` for how its permission changes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SandboxContact {
    pub contact_id: Uuid,
    pub email_address: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub company_name: Option<String>,
    pub phone_number: Option<String>,
    /// In the order the lists were first added.
    pub list_memberships: Vec<Uuid>,
    /// One entry per field, in the order the fields were first set.
    pub custom_fields: Vec<SandboxCustomFieldValue>,
    /// `email_address.permission_to_send`.
    pub permission_to_send: Permission,
    /// `Contact` for a signup, `Account` for a contact the account added (`add_contact`).
    pub create_source: Source,
    pub opt_in_source: Option<Source>,
    pub opt_in_date: Option<DateTime<Utc>>,
    /// Set while unsubscribed.
    pub opt_out_source: Option<Source>,
    /// Set while unsubscribed: when the contact unsubscribed, by the sandbox's clock.
    pub opt_out_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while deleted; `sign_up_form` restores a deleted contact.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl SandboxContact {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// One custom field value on a contact.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxCustomFieldValue {
    pub custom_field_id: Uuid,
    pub value: String,
}

/// The state every handler shares. Each part has its own lock, and no code path holds two of
/// them at once or holds one across an `.await`.
pub(crate) struct Shared {
    pub settings: config::Settings,
    pub clock: SharedClock,
    pub stats: Mutex<SandboxStats>,
    pub grants: Mutex<grants::Grants>,
    pub consents: Mutex<oauth::PendingConsents>,
    pub devices: Mutex<devices::DeviceCodes>,
    /// One book for every account: `set_account_name` changes whose grants new tokens belong to
    /// (and so what `account/summary` says), not which contacts they reach.
    pub contacts: Mutex<contacts::ContactBook>,
    pub mailbox: Mutex<mailbox::Mailbox>,
    pub limits: Mutex<limits::Limits>,
    pub faults: Mutex<faults::FaultState>,
    /// The redirect URIs registered for the application (see `SandboxConfig::redirect_uris`).
    pub redirect_uris: Mutex<Vec<Url>>,
    /// Cancelled at shutdown, so requests sleeping in injected latency give up.
    pub stop: CancellationToken,
}

impl Shared {
    fn new(
        config: SandboxConfig,
        addr: SocketAddr,
        smtp_addr: SocketAddr,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let now = clock.now();
        let contacts = contacts::ContactBook::new(config.confirmed_opt_in);
        let grants = grants::Grants::new(
            config.expires_in,
            config.rotating_refresh_tokens,
            config.account_name.clone(),
        );
        // The account is the grants' to keep from here on: `set_account_name` changes it.
        let devices =
            devices::DeviceCodes::new(config.device_interval, config.device_code_expires_in);
        let limits = limits::Limits::new(config.requests_per_second, config.requests_per_day);
        let faults = faults::FaultState::new(config.faults.clone());
        let redirect_uris = Mutex::new(config.redirect_uris.clone());
        let settings = config::Settings::new(config, addr, smtp_addr, now)?;
        Ok(Self {
            settings,
            clock,
            stats: Mutex::new(SandboxStats::default()),
            grants: Mutex::new(grants),
            redirect_uris,
            consents: Mutex::new(oauth::PendingConsents::default()),
            devices: Mutex::new(devices),
            contacts: Mutex::new(contacts),
            mailbox: Mutex::new(mailbox::Mailbox::default()),
            limits: Mutex::new(limits),
            faults: Mutex::new(faults),
            stop: CancellationToken::new(),
        })
    }

    /// Sleep for an injected latency; false if the sandbox is shutting down meanwhile.
    pub async fn delay(&self, latency: std::time::Duration) -> bool {
        if latency.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(latency) => true,
            () = self.stop.cancelled() => false,
        }
    }

    /// Update the counters in one short critical section.
    pub fn count(&self, update: impl FnOnce(&mut SandboxStats)) {
        update(&mut lock(&self.stats));
    }

    pub fn stats(&self) -> SandboxStats {
        lock(&self.stats).clone()
    }
}

/// Lock a sandbox mutex. A panic while holding one is a sandbox bug; the state is still usable
/// for inspection, so a poisoned lock is taken over rather than spreading the panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long `shutdown` lets in-flight requests finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A running sandbox. Dropping it stops serving; [`Sandbox::shutdown`] also waits for the task.
pub struct Sandbox {
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
    smtp_task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Bind `listen` (use "127.0.0.1:0" in tests) and serve in a background task.
    pub async fn start(
        config: SandboxConfig,
        listen: SocketAddr,
        clock: SharedClock,
    ) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the sandbox to {listen}"))?;
        let addr = listener.local_addr()?;
        let smtp_listen = config.mailbox_listen;
        let smtp = TcpListener::bind(smtp_listen)
            .await
            .with_context(|| format!("binding the sandbox's SMTP receiver to {smtp_listen}"))?;
        let shared = Arc::new(Shared::new(config, addr, smtp.local_addr()?, clock)?);
        let stop = shared.stop.clone();
        let app = router(shared.clone());
        let task = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        let smtp_task = tokio::spawn(smtp::serve(smtp, shared.clone()));
        Ok(Sandbox {
            shared,
            stop,
            task: Some(task),
            smtp_task: Some(smtp_task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.settings.addr
    }

    /// `http://ADDR/oauth2/default/v1/authorize`
    pub fn authorize_url(&self) -> Url {
        self.shared.settings.url(oauth::AUTHORIZE_PATH)
    }

    /// `http://ADDR/oauth2/default/v1/token`
    pub fn token_url(&self) -> Url {
        self.shared.settings.url(oauth::TOKEN_PATH)
    }

    /// `http://ADDR/oauth2/default/v1/device/authorize`, RFC 8628's device authorization endpoint.
    pub fn device_authorization_url(&self) -> Url {
        self.shared.settings.url(oauth::DEVICE_AUTHORIZE_PATH)
    }

    /// `http://ADDR/activate`, the page where a person enters a device's user code.
    pub fn activate_url(&self) -> Url {
        self.shared.settings.url(oauth::ACTIVATE_PATH)
    }

    /// `http://ADDR/v3` (no trailing slash, like `https://api.cc.email/v3`).
    pub fn api_base_url(&self) -> Url {
        self.shared.settings.url(api::BASE_PATH)
    }

    /// `http://ADDR/captcha/verify`, the test CAPTCHA verifier (see `captcha`).
    pub fn captcha_verify_url(&self) -> Url {
        self.shared.settings.url(captcha::VERIFY_PATH)
    }

    pub fn client_id(&self) -> &str {
        &self.shared.settings.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.settings.client_secret
    }

    pub fn stats(&self) -> SandboxStats {
        self.shared.stats()
    }

    /// Every contact, in the order they were created.
    pub fn contacts(&self) -> Vec<SandboxContact> {
        lock(&self.shared.contacts).all()
    }

    /// Replace the active faults (counters start over from the given values).
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.shared.faults).set(faults);
    }

    /// Register another redirect URI for the application, as the developer portal does (the
    /// authorize endpoint accepts only registered ones). Registering one twice changes nothing.
    pub fn register_redirect_uri(&self, uri: Url) {
        let mut registered = lock(&self.shared.redirect_uris);
        if !registered.contains(&uri) {
            registered.push(uri);
        }
    }

    /// The registered redirect URIs, in the order they were registered.
    pub fn redirect_uris(&self) -> Vec<Url> {
        lock(&self.shared.redirect_uris).clone()
    }

    /// The account admin revoked the app: every refresh token answers `invalid_grant` and every
    /// access token 401 from now on.
    pub fn revoke_all_tokens(&self) {
        lock(&self.shared.grants).revoke_all();
    }

    /// Every access token issued so far answers 401; refresh tokens stay valid.
    pub fn expire_access_tokens(&self) {
        lock(&self.shared.grants).expire_access_tokens();
    }

    /// The next device-code poll, of any code, answers `slow_down` (and adds 5 s to that code's
    /// interval) whatever its timing, so a client's handling can be tested without racing.
    pub fn force_device_slow_down(&self) {
        lock(&self.shared.devices).force_slow_down();
    }

    /// Grants made from now on (code or device) belong to the account `name`: `account/summary`
    /// answers for the account of the grant whose access token is used. Earlier grants keep
    /// theirs. The contacts stay one shared book.
    pub fn set_account_name(&self, name: &str) {
        lock(&self.shared.grants).set_account(name);
    }

    /// The `expires_in` of access tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        lock(&self.shared.grants).set_expires_in(secs);
    }

    /// Stop serving and wait for the server task to finish. Requests sleeping in an injected
    /// latency are cut off at once; others get a short grace period.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(smtp) = self.smtp_task.take() {
            // Its sessions end at once on the stop signal.
            if tokio::time::timeout(SHUTDOWN_GRACE, smtp).await.is_err() {
                tracing::warn!("the sandbox's SMTP receiver did not stop in time");
            }
        }
        let Some(mut task) = self.task.take() else {
            return;
        };
        let outcome = match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(outcome) => outcome,
            Err(_) => {
                task.abort();
                task.await
            }
        };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the sandbox server failed"),
            Err(error) if error.is_cancelled() => {
                tracing::debug!("sandbox requests cut off at shutdown");
            }
            Err(error) => tracing::warn!(%error, "the sandbox server task panicked"),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// For the `ccbridge sandbox` CLI command: serve until `shutdown` is cancelled.
pub async fn run(
    listen: SocketAddr,
    config: SandboxConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(config, listen, Arc::new(SystemClock)).await?;
    log_endpoints(&sandbox);
    shutdown.cancelled().await;
    sandbox.shutdown().await;
    tracing::info!("sandbox stopped");
    Ok(())
}

/// Tell the developer everything needed to point a client at this sandbox. The secret is the
/// sandbox's own, worthless anywhere else, and the developer has to copy it into the client.
fn log_endpoints(sandbox: &Sandbox) {
    let settings = &sandbox.shared.settings;
    tracing::info!(
        inspect = %settings.url("/"),
        authorize_url = %sandbox.authorize_url(),
        token_url = %sandbox.token_url(),
        device_authorization_url = %sandbox.device_authorization_url(),
        activate_url = %sandbox.activate_url(),
        api_base_url = %sandbox.api_base_url(),
        smtp = %sandbox.smtp_addr(),
        mailbox = %sandbox.mailbox_url(),
        client_id = %sandbox.client_id(),
        client_secret = %sandbox.client_secret(),
        "Constant Contact sandbox listening"
    );
    for list in &settings.lists {
        tracing::info!(list_id = %list.list_id, name = %list.name, "sandbox contact list");
    }
    for field in &settings.custom_fields {
        tracing::info!(custom_field_id = %field.custom_field_id, name = %field.name, "sandbox custom field");
    }
}

/// Every sandbox route. The `/v3` gate wraps the whole router (it passes other paths straight
/// through) so that unknown `/v3` paths are gated, counted and limited like real ones.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(oauth::routes())
        .merge(api::routes())
        .merge(control::routes())
        .merge(search::routes())
        .merge(resubscribe::routes())
        .merge(consent::routes())
        .merge(mailbox_page::routes())
        .merge(captcha::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            api::gate,
        ))
        .with_state(shared)
}

/// CC's array-shaped 404 under `/v3` (after the gate, so unknown paths count and cost quota
/// like real ones); a page elsewhere.
async fn not_found(uri: Uri) -> Response {
    if api::is_api(uri.path()) {
        errors::not_found()
    } else {
        pages::error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "The sandbox has no page here. Its overview is at /.",
        )
    }
}
