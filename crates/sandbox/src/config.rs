//! What a sandbox is started with: the public [`SandboxConfig`] with its documented defaults, and
//! the immutable [`Settings`] the handlers read.

use std::collections::HashSet;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use url::Url;
use uuid::Uuid;

use crate::faults::Faults;

/// The default list "General Interest" (the list id in Constant Contact's own examples).
pub const GENERAL_INTEREST_LIST_ID: Uuid = Uuid::from_u128(0x07936f78_662a_11eb_af0a_fa163e56c9b0);
/// The default list "Events".
pub const EVENTS_LIST_ID: Uuid = Uuid::from_u128(0x17936f78_662a_11eb_af0a_fa163e56c9b0);
/// The default list "Product News".
pub const PRODUCT_NEWS_LIST_ID: Uuid = Uuid::from_u128(0x27936f78_662a_11eb_af0a_fa163e56c9b0);
/// The default custom field "favorite_topic" (the field id in Constant Contact's own examples).
pub const FAVORITE_TOPIC_FIELD_ID: Uuid = Uuid::from_u128(0x1618ae62_4752_11e9_9c8a_fa163e6b01c1);

/// How to start a sandbox. `Default` gives Constant Contact's real limits and token lifetimes.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Default "sandbox-client-id".
    pub client_id: String,
    /// Default "sandbox-client-secret".
    pub client_secret: String,
    /// Access-token lifetime in seconds. Default 86400 (CC's current 24 h).
    pub expires_in: u64,
    /// Default true: every refresh returns a new refresh token and kills the earlier ones.
    pub rotating_refresh_tokens: bool,
    /// Default 4, CC's per-second limit.
    pub requests_per_second: u32,
    /// Default 10 000, CC's daily limit (per UTC day).
    pub requests_per_day: u32,
    /// false (default): authorize approves at once; true: a consent page with Approve / Deny.
    pub consent: bool,
    /// Default "Sandbox Organization".
    pub account_name: String,
    /// Seeded contact lists. Default: General Interest, Events, Product News (fixed ids).
    pub lists: Vec<SandboxList>,
    /// Seeded custom fields. Default: favorite_topic (fixed id).
    pub custom_fields: Vec<SandboxCustomField>,
    /// Faults active from the start. Default none.
    pub faults: Faults,
    /// The application's registered redirect URIs: the authorize endpoint accepts only these
    /// (compared exactly, as Constant Contact does). More can be registered while it runs
    /// (`Sandbox::register_redirect_uri`). Default: `http://localhost:8080/oauth/callback`, the
    /// redirect URI of ccbridge's default `server.public_url`.
    pub redirect_uris: Vec<Url>,
    /// The device flow's polling `interval` in seconds (RFC 8628 §3.2), where each device code
    /// starts; every `slow_down` adds 5. Default 5, RFC 8628's default.
    pub device_interval: u64,
    /// The lifetime of device and user codes in seconds. Default 600.
    pub device_code_expires_in: u64,
    /// Default true: the device flow gives a refresh token when `offline_access` is asked (CC's
    /// staff say it does; other sources say it gives none, so a client can be tested both ways).
    pub device_refresh_tokens: bool,
    /// The account's Confirmed Opt-In setting, which `Sandbox::set_confirmed_opt_in` changes
    /// while it runs. Default false: new signups are `explicit`; true: `pending_confirmation`,
    /// and Constant Contact's confirmation mail goes into the mailbox.
    pub confirmed_opt_in: bool,
    /// Where the mailbox's SMTP receiver listens. Default `127.0.0.1:0` (a free port; see
    /// `Sandbox::smtp_addr`).
    pub mailbox_listen: SocketAddr,
    /// The largest message the SMTP receiver accepts, in bytes (larger ones get 552). Default
    /// 1 MiB.
    pub mailbox_max_message_bytes: usize,
}

/// The redirect URI registered by default: ccbridge's with its default `server.public_url`.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8080/oauth/callback";

#[derive(Clone, Debug)]
pub struct SandboxList {
    pub list_id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct SandboxCustomField {
    pub custom_field_id: Uuid,
    /// The unique field name, as CC builds it from the label (blanks become underscores).
    pub name: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let list = |list_id, name: &str| SandboxList {
            list_id,
            name: name.to_owned(),
        };
        Self {
            client_id: "sandbox-client-id".to_owned(),
            client_secret: "sandbox-client-secret".to_owned(),
            expires_in: 86_400,
            rotating_refresh_tokens: true,
            requests_per_second: 4,
            requests_per_day: 10_000,
            consent: false,
            account_name: "Sandbox Organization".to_owned(),
            lists: vec![
                list(GENERAL_INTEREST_LIST_ID, "General Interest"),
                list(EVENTS_LIST_ID, "Events"),
                list(PRODUCT_NEWS_LIST_ID, "Product News"),
            ],
            custom_fields: vec![SandboxCustomField {
                custom_field_id: FAVORITE_TOPIC_FIELD_ID,
                name: "favorite_topic".to_owned(),
            }],
            faults: Faults::default(),
            redirect_uris: vec![Url::parse(DEFAULT_REDIRECT_URI).expect("a valid literal URL")],
            device_interval: 5,
            device_code_expires_in: 600,
            device_refresh_tokens: true,
            confirmed_opt_in: false,
            mailbox_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mailbox_max_message_bytes: 1024 * 1024,
        }
    }
}

/// The parts of the configuration that never change while the sandbox runs.
pub(crate) struct Settings {
    pub addr: SocketAddr,
    /// The mailbox's SMTP receiver.
    pub smtp_addr: SocketAddr,
    pub mailbox_max_message_bytes: usize,
    pub client_id: String,
    pub client_secret: String,
    pub consent: bool,
    pub lists: Vec<SandboxList>,
    pub custom_fields: Vec<SandboxCustomField>,
    pub device_refresh_tokens: bool,
    // Enforced by the grants and limits; kept here to show on the overview page.
    pub rotating_refresh_tokens: bool,
    pub requests_per_second: u32,
    pub requests_per_day: u32,
    /// When the seeded lists and fields were "created".
    pub started_at: DateTime<Utc>,
}

impl Settings {
    pub fn new(
        config: SandboxConfig,
        addr: SocketAddr,
        smtp_addr: SocketAddr,
        started_at: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!config.client_id.is_empty(), "client_id must not be empty");
        // RFC 7617: a user-id containing a colon cannot be sent with Basic authentication.
        anyhow::ensure!(
            !config.client_id.contains(':'),
            "client_id must not contain ':'"
        );
        anyhow::ensure!(
            !config.client_secret.is_empty(),
            "client_secret must not be empty"
        );
        ensure_unique("list", config.lists.iter().map(|l| l.list_id))?;
        ensure_unique(
            "custom field",
            config.custom_fields.iter().map(|f| f.custom_field_id),
        )?;
        anyhow::ensure!(
            config.mailbox_max_message_bytes > 0,
            "mailbox_max_message_bytes must be more than 0"
        );
        Ok(Self {
            addr,
            smtp_addr,
            mailbox_max_message_bytes: config.mailbox_max_message_bytes,
            client_id: config.client_id,
            client_secret: config.client_secret,
            consent: config.consent,
            lists: config.lists,
            custom_fields: config.custom_fields,
            device_refresh_tokens: config.device_refresh_tokens,
            rotating_refresh_tokens: config.rotating_refresh_tokens,
            requests_per_second: config.requests_per_second,
            requests_per_day: config.requests_per_day,
            started_at,
        })
    }

    /// An absolute URL on this sandbox.
    pub fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("a socket address makes a URL")
    }

    pub fn list(&self, id: Uuid) -> Option<&SandboxList> {
        self.lists.iter().find(|l| l.list_id == id)
    }

    pub fn custom_field(&self, id: Uuid) -> Option<&SandboxCustomField> {
        self.custom_fields.iter().find(|f| f.custom_field_id == id)
    }
}

fn ensure_unique(what: &str, ids: impl Iterator<Item = Uuid>) -> anyhow::Result<()> {
    let mut seen = HashSet::new();
    for id in ids {
        anyhow::ensure!(seen.insert(id), "{what} id {id} appears twice");
    }
    Ok(())
}
