//! Configuration: where it comes from, what it may contain, and the final types it is parsed into.
//!
//! Sources, in order of precedence (highest last):
//! 1. built-in defaults,
//! 2. a TOML file (`--config FILE`, else `$CCBRIDGE_CONFIG`, else `./ccbridge.toml` if present),
//! 3. environment variables `CCBRIDGE__<SECTION>__<KEY>` (double underscores; `CCBRIDGE__FORMS__0__ID`
//!    addresses the first `[[forms]]` entry).
//!
//! Everything is parsed once, at load, into final types (`Url`, `SocketAddr`, `Uuid`, `SecretString`,
//! `Duration`); unknown keys and bad values are errors that name the key and where it came from.
//! No code past this module re-checks a configuration value.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::domain::FormId;
use crate::store::Backend;
use base64::Engine as _;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;
use uuid::Uuid;

mod abuse;
pub use abuse::{
    CaptchaConfig, CaptchaProvider, DEFAULT_MIN_SCORE, OnUnreachable, RateLimitConfig, SpamConfig,
    TIMESTAMP_FIELD,
};
mod sandbox;

/// The environment variable that names the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "CCBRIDGE_CONFIG";
/// The prefix of per-key environment overrides.
pub const ENV_PREFIX: &str = "CCBRIDGE__";
/// The file looked for in the working directory when nothing else names one.
pub const DEFAULT_CONFIG_FILE: &str = "ccbridge.toml";

/// Constant Contact's `sign_up_form` accepts at most 50 list memberships.
pub const MAX_LISTS_PER_SIGNUP: usize = 50;
/// Field names the signup endpoint reserves; a custom field or honeypot may not reuse them.
pub const STANDARD_FIELDS: [&str; 7] = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "list",
];

/// The whole, validated configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub constant_contact: ConstantContactConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub security: SecurityConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub spam: SpamConfig,
    #[serde(default)]
    pub forms: Vec<FormConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// External base URL; the OAuth redirect URI is `public_url + "/oauth/callback"`.
    pub public_url: Url,
    /// Peers whose `X-Forwarded-For` is believed (a load balancer or reverse proxy).
    pub trusted_proxies: Vec<IpNet>,
    /// The header the trusted proxies write: `x-forwarded-for` or RFC 7239 `forwarded`.
    pub client_ip_header: crate::client_ip::ForwardingHeader,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take from its first byte to the end of the answer.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// A client must send a request's headers within this (also: the keep-alive idle limit).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            public_url: Url::parse("http://localhost:8080").expect("a valid literal URL"),
            trusted_proxies: Vec::new(),
            client_ip_header: Default::default(),
            max_body_bytes: 16 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl ServerConfig {
    /// Whether `peer` is one of the configured trusted proxies.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (the embedded default, one process) or `postgres://…` (several replicas).
    pub url: String,
    /// How long a write waits for a lock held by another connection before giving up (then: 503).
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// Size of the connection pool.
    pub max_connections: u32,
}

/// By hand: a PostgreSQL URL may carry a password.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &crate::store::redacted_url(&self.url))
            .field("busy_timeout", &self.busy_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://ccbridge.db".to_owned(),
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConstantContactConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub authorize_url: Url,
    pub token_url: Url,
    pub api_base_url: Url,
    pub requests_per_second: u32,
    pub requests_per_day: u32,
    /// Timeout of every call to Constant Contact (token endpoint and API).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Refresh the access token this long before it expires (at most half its lifetime).
    #[serde(with = "humantime_serde")]
    pub refresh_margin: Duration,
    /// Refresh at least this often even when idle, so the refresh token never idles out (180 days).
    #[serde(with = "humantime_serde")]
    pub refresh_at_least_every: Duration,
}

impl ConstantContactConfig {
    /// Whether enough is configured to start an authorization.
    pub fn is_configured(&self) -> bool {
        !self.client_id.is_empty() && !self.client_secret.expose_secret().is_empty()
    }
}

impl Default for ConstantContactConfig {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).expect("a valid literal URL");
        Self {
            client_id: String::new(),
            client_secret: SecretString::from(String::new()),
            scopes: vec!["contact_data".to_owned(), "offline_access".to_owned()],
            authorize_url: url("https://authz.constantcontact.com/oauth2/default/v1/authorize"),
            token_url: url("https://authz.constantcontact.com/oauth2/default/v1/token"),
            api_base_url: url("https://api.cc.email/v3"),
            requests_per_second: 4,
            requests_per_day: 10_000,
            request_timeout: Duration::from_secs(30),
            refresh_margin: Duration::from_secs(3600),
            refresh_at_least_every: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub username: String,
    /// An Argon2id PHC string from `ccbridge hash-password`; empty means "admin pages disabled".
    #[serde(deserialize_with = "deserialize_password_hash")]
    pub password_hash: SecretString,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            username: "admin".to_owned(),
            password_hash: SecretString::from(String::new()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// 32 bytes, base64; encrypts tokens at rest when set.
    #[serde(deserialize_with = "deserialize_encryption_key")]
    pub token_encryption_key: Option<EncryptionKey>,
}

/// A 32-byte key; its `Debug` never shows the bytes.
pub struct EncryptionKey(SecretBox<[u8; 32]>);

impl EncryptionKey {
    pub fn bytes(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Deliveries in flight at once (helps when Constant Contact is slow; the rate limit still holds).
    pub concurrency: usize,
    /// A signup still undeliverable this long after it was accepted becomes `dead`.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// First retry delay after a failure; doubles per attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Personal data of delivered signups is erased after this long (the counts stay).
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How long a claim on signups being delivered lasts. A delivery in flight renews it every
    /// third of this; a process that dies mid-delivery holds them this long before another replica
    /// takes them over (on SQLite a restart releases them at once).
    #[serde(with = "humantime_serde")]
    pub claim_lease: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_age: Duration::from_secs(7 * 24 * 3600),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            retention: Duration::from_secs(30 * 24 * 3600),
            claim_lease: Duration::from_secs(90),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `ccbridge=debug,info`. `RUST_LOG` wins when set.
    #[serde(deserialize_with = "deserialize_log_level")]
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `GET /metrics` (Prometheus text format).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    pub bearer_token: SecretString,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bearer_token: SecretString::from(String::new()),
        }
    }
}

/// Where alerts go besides the log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// A JSON POST (`{"text": …, "kind": …, "ccbridge": {…}}`) per alert: a Slack or Mattermost
    /// incoming webhook works as is. Its URL usually holds a secret, so it is never shown.
    #[serde(deserialize_with = "deserialize_webhook_url")]
    pub webhook_url: Option<WebhookUrl>,
    /// An alert of one kind is sent at most once per this interval (the log gets every one).
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// Timeout of one webhook request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            min_interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A webhook URL; its `Debug` never shows it (incoming-webhook URLs are bearer secrets).
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl([redacted])")
    }
}

fn deserialize_webhook_url<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<WebhookUrl>, D::Error> {
    let s = SecretString::deserialize(d)?;
    let s = s.expose_secret().trim();
    if s.is_empty() {
        return Ok(None);
    }
    // The parser's message never echoes the URL.
    let url = Url::parse(s).map_err(|e| serde::de::Error::custom(format!("not a URL: {e}")))?;
    if !["http", "https"].contains(&url.scheme()) {
        return Err(serde::de::Error::custom("must be an http or https URL"));
    }
    Ok(Some(WebhookUrl(url)))
}

/// One signup form: `POST /signup/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormConfig {
    pub id: FormId,
    /// Every signup through this form joins these lists (at least one).
    pub list_ids: Vec<Uuid>,
    /// Lists a visitor may choose with the repeatable `list` field.
    #[serde(default)]
    pub optional_list_ids: Vec<Uuid>,
    #[serde(default)]
    pub success_url: Option<Url>,
    /// Gets `?error=<code>` (and `&field=<name>`) appended on invalid input.
    #[serde(default)]
    pub error_url: Option<Url>,
    #[serde(default)]
    pub allowed_origins: Vec<Url>,
    /// A field that people leave empty and bots fill in. Empty string disables it.
    #[serde(default = "default_honeypot")]
    pub honeypot_field: String,
    /// Form field name → Constant Contact custom field id.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Uuid>,
    /// Submissions faster than this after the form was shown are kept as spam (needs the `_ts`
    /// field from `GET /signup/{id}/token`).
    #[serde(default, with = "humantime_serde::option")]
    pub min_submit_time: Option<Duration>,
    #[serde(default)]
    pub captcha: Option<CaptchaConfig>,
}

fn default_honeypot() -> String {
    "website".to_owned()
}

impl FormConfig {
    pub fn honeypot(&self) -> Option<&str> {
        Some(self.honeypot_field.as_str()).filter(|name| !name.is_empty())
    }
}

fn deserialize_password_hash<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    let s = String::deserialize(d)?;
    if !s.is_empty() {
        crate::password::check_hash_format(&s).map_err(serde::de::Error::custom)?;
    }
    Ok(SecretString::from(s))
}

fn deserialize_encryption_key<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<EncryptionKey>, D::Error> {
    let s = SecretString::deserialize(d)?;
    let s = s.expose_secret().trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| {
            serde::de::Error::custom("must be base64 (e.g. from `openssl rand -base64 32`)")
        })?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        serde::de::Error::custom(format!(
            "must decode to exactly 32 bytes, got {} bytes",
            b.len()
        ))
    })?;
    Ok(Some(EncryptionKey(SecretBox::new(Box::new(key)))))
}

fn deserialize_log_level<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    tracing_subscriber::EnvFilter::try_new(&s)
        .map_err(|e| serde::de::Error::custom(format!("not a valid log filter: {e}")))?;
    Ok(s)
}

/// A configuration problem, naming the key and where its value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`{origin}: {message}")]
    Invalid {
        key: String,
        origin: Origin,
        message: String,
    },
}

/// Where a key's value came from, for error messages.
#[derive(Debug, Clone, Default)]
pub struct Origin(Option<String>);

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(var) => write!(f, " (from environment variable {var})"),
            None => Ok(()),
        }
    }
}

impl Config {
    /// Find the config file the way the CLI documents: explicit path, `$CCBRIDGE_CONFIG`, `./ccbridge.toml`.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_owned());
        }
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        let local = PathBuf::from(DEFAULT_CONFIG_FILE);
        local.exists().then_some(local)
    }

    /// Load from the process environment and the located file.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let path = Self::locate(explicit);
        Self::load_from(path.as_deref(), std::env::vars())
    }

    /// Load from an optional file and the given environment (tests pass their own).
    pub fn load_from(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
            None => String::new(),
        };
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.map(Path::to_owned).unwrap_or_default(),
                    message: e.message().to_owned(),
                })?;
        let overridden = apply_env_overrides(&mut table, env)?;
        Self::from_table(table, &overridden)
    }

    /// Parse a TOML document (no environment), e.g. in tests.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: PathBuf::from("<inline>"),
                    message: e.message().to_owned(),
                })?;
        Self::from_table(table, &BTreeMap::new())
    }

    fn from_table(
        table: toml::Table,
        overridden: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let message = e.inner().message().to_owned();
                invalid(&key, overridden, message)
            })?;
        config.validate(overridden)?;
        Ok(config)
    }

    /// Rules that span several keys or that serde cannot express.
    fn validate(&self, overridden: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let fail = |key: String, message: String| Err(invalid(&key, overridden, message));
        if !["http", "https"].contains(&self.server.public_url.scheme()) {
            return fail(
                "server.public_url".into(),
                "must be an http or https URL".into(),
            );
        }
        if self.server.max_body_bytes < 1024 {
            return fail(
                "server.max_body_bytes".into(),
                "must be at least 1024".into(),
            );
        }
        if self.server.request_timeout.is_zero() {
            return fail(
                "server.request_timeout".into(),
                "must be more than zero".into(),
            );
        }
        if self.server.header_read_timeout.is_zero() {
            return fail(
                "server.header_read_timeout".into(),
                "must be more than zero".into(),
            );
        }
        if self.server.max_connections == 0 {
            return fail("server.max_connections".into(), "must be at least 1".into());
        }
        if let Err((key, message)) = self.rate_limit.validate() {
            return fail(format!("rate_limit.{key}"), message);
        }
        if let Err((key, message)) = self.spam.validate() {
            return fail(format!("spam.{key}"), message);
        }
        if let Err(message) = Backend::of_url(&self.database.url) {
            return fail("database.url".into(), message);
        }
        if self.database.url.contains(":memory:") || self.database.url.contains("mode=memory") {
            return fail(
                "database.url".into(),
                "an in-memory database would lose every signup on restart; use a file".into(),
            );
        }
        if self.database.max_connections == 0 {
            return fail(
                "database.max_connections".into(),
                "must be at least 1".into(),
            );
        }
        if self.constant_contact.requests_per_second == 0 {
            return fail(
                "constant_contact.requests_per_second".into(),
                "must be at least 1".into(),
            );
        }
        if self.constant_contact.requests_per_day == 0 {
            return fail(
                "constant_contact.requests_per_day".into(),
                "must be at least 1".into(),
            );
        }
        let cc = &self.constant_contact;
        if cc.request_timeout < Duration::from_secs(1) {
            return fail(
                "constant_contact.request_timeout".into(),
                "must be at least 1s".into(),
            );
        }
        if cc.refresh_at_least_every < Duration::from_secs(60)
            || cc.refresh_at_least_every > Duration::from_secs(90 * 24 * 3600)
        {
            return fail(
                "constant_contact.refresh_at_least_every".into(),
                "must be between 1m and 90 days (refresh tokens die after 180 idle days)".into(),
            );
        }
        if !cc.scopes.iter().any(|s| s == "offline_access") {
            return fail(
                "constant_contact.scopes".into(),
                "must include offline_access, or Constant Contact sends no refresh token".into(),
            );
        }
        if !cc.scopes.iter().any(|s| s == "contact_data") {
            return fail(
                "constant_contact.scopes".into(),
                "must include contact_data, which sign_up_form needs".into(),
            );
        }
        let d = &self.delivery;
        for (key, value) in [
            ("delivery.max_age", d.max_age),
            ("delivery.retention", d.retention),
            ("constant_contact.refresh_margin", cc.refresh_margin),
        ] {
            if value < Duration::from_secs(1) {
                return fail(key.into(), "must be at least 1s".into());
            }
        }
        if d.concurrency == 0 || d.concurrency > 64 {
            return fail(
                "delivery.concurrency".into(),
                "must be between 1 and 64".into(),
            );
        }
        if d.retry_base.is_zero() || d.retry_max < d.retry_base {
            return fail(
                "delivery.retry_max".into(),
                "retry_base must be more than zero and retry_max at least retry_base".into(),
            );
        }
        if d.claim_lease < cc.request_timeout * 2 {
            return fail(
                "delivery.claim_lease".into(),
                "must be at least twice constant_contact.request_timeout".into(),
            );
        }
        if self.alerts.timeout.is_zero() || self.alerts.timeout > Duration::from_secs(120) {
            return fail(
                "alerts.timeout".into(),
                "must be more than zero and at most 2m".into(),
            );
        }
        let mut seen = HashSet::new();
        for (i, form) in self.forms.iter().enumerate() {
            if !seen.insert(&form.id) {
                return fail(
                    format!("forms[{i}].id"),
                    format!("form id `{}` is used twice", form.id),
                );
            }
            if let Err((key, message)) = form.validate() {
                return fail(format!("forms[{i}].{key}"), message);
            }
        }
        Ok(())
    }

    /// Look a form up by the id in the request path.
    pub fn form(&self, id: &str) -> Option<&FormConfig> {
        self.forms.iter().find(|f| f.id.as_str() == id)
    }

    /// A human-readable summary with every secret replaced by whether it is set.
    pub fn redacted_summary(&self) -> String {
        let set = |s: &SecretString| {
            if s.expose_secret().is_empty() {
                "(not set)"
            } else {
                "(set)"
            }
        };
        let mut out = String::new();
        let duration =
            |key: &str, value: Duration| format!("{key} = {}", humantime::format_duration(value));
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        let s = &self.server;
        line("[server]".into());
        line(format!("listen = {}", s.listen));
        line(format!("public_url = {}", s.public_url));
        line(format!(
            "trusted_proxies = {:?}",
            s.trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        ));
        line(format!("client_ip_header = {}", s.client_ip_header.name()));
        line(format!("max_body_bytes = {}", s.max_body_bytes));
        line(duration("request_timeout", s.request_timeout));
        line(duration("shutdown_grace", s.shutdown_grace));
        line(duration("header_read_timeout", s.header_read_timeout));
        line(format!("max_connections = {}", s.max_connections));
        let d = &self.database;
        line("[database]".into());
        line(format!("url = {}", crate::store::redacted_url(&d.url)));
        line(duration("busy_timeout", d.busy_timeout));
        line(format!("max_connections = {}", d.max_connections));
        let c = &self.constant_contact;
        line("[constant_contact]".into());
        line(format!(
            "client_id = {}",
            if c.client_id.is_empty() {
                "(not set)"
            } else {
                &c.client_id
            }
        ));
        line(format!("client_secret = {}", set(&c.client_secret)));
        line(format!("scopes = {:?}", c.scopes));
        line(format!("authorize_url = {}", c.authorize_url));
        line(format!("token_url = {}", c.token_url));
        line(format!("api_base_url = {}", c.api_base_url));
        line(format!("requests_per_second = {}", c.requests_per_second));
        line(format!("requests_per_day = {}", c.requests_per_day));
        line(duration("request_timeout", c.request_timeout));
        line(duration("refresh_margin", c.refresh_margin));
        line(duration("refresh_at_least_every", c.refresh_at_least_every));
        let d = &self.delivery;
        line("[delivery]".into());
        line(format!("concurrency = {}", d.concurrency));
        line(duration("max_age", d.max_age));
        line(duration("retry_base", d.retry_base));
        line(duration("retry_max", d.retry_max));
        line(duration("retention", d.retention));
        line(duration("claim_lease", d.claim_lease));
        line("[admin]".into());
        line(format!("username = {}", self.admin.username));
        line(format!(
            "password_hash = {}",
            set(&self.admin.password_hash)
        ));
        line("[security]".into());
        let key = if self.security.token_encryption_key.is_some() {
            "(set)"
        } else {
            "(not set: tokens are stored unencrypted)"
        };
        line(format!("token_encryption_key = {key}"));
        line("[logging]".into());
        line(format!("format = {:?}", self.logging.format).to_lowercase());
        line(format!("level = {}", self.logging.level));
        line("[metrics]".into());
        line(format!("enabled = {}", self.metrics.enabled));
        line(format!(
            "bearer_token = {}",
            if self.metrics.bearer_token.expose_secret().is_empty() {
                "(not set: /metrics is open to anyone who can reach it)"
            } else {
                "(set)"
            }
        ));
        let a = &self.alerts;
        line("[alerts]".into());
        line(format!(
            "webhook_url = {}",
            if a.webhook_url.is_some() {
                "(set)"
            } else {
                "(not set: alerts go to the log only)"
            }
        ));
        line(duration("min_interval", a.min_interval));
        line(duration("timeout", a.timeout));
        self.rate_limit.summary().into_iter().for_each(&mut line);
        self.spam.summary().into_iter().for_each(&mut line);
        for f in &self.forms {
            line("[[forms]]".into());
            line(format!("id = {}  (POST /signup/{})", f.id, f.id));
            line(format!(
                "list_ids = {:?}",
                f.list_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ));
            line(format!(
                "optional_list_ids = {:?}",
                f.optional_list_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ));
            line(format!(
                "success_url = {}",
                f.success_url
                    .as_ref()
                    .map_or("(built-in page)".into(), ToString::to_string)
            ));
            line(format!(
                "error_url = {}",
                f.error_url
                    .as_ref()
                    .map_or("(built-in page)".into(), ToString::to_string)
            ));
            line(format!(
                "allowed_origins = {:?}",
                f.allowed_origins
                    .iter()
                    .map(|u| u.origin().ascii_serialization())
                    .collect::<Vec<_>>()
            ));
            line(format!(
                "honeypot_field = {}",
                f.honeypot().unwrap_or("(disabled)")
            ));
            line(format!(
                "custom_fields = {:?}",
                f.custom_fields
                    .iter()
                    .map(|(k, v)| format!("{k} -> {v}"))
                    .collect::<Vec<_>>()
            ));
            abuse::form_summary(f).into_iter().for_each(&mut line);
        }
        out
    }
}

impl FormConfig {
    /// Returns the offending key (relative to the form) and a message.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.list_ids.is_empty() {
            return Err((
                "list_ids",
                format!(
                    "form `{}` needs at least one list id: every signup must join a list (find ids with `ccbridge lists`)",
                    self.id
                ),
            ));
        }
        let total = self.list_ids.len() + self.optional_list_ids.len();
        if total > MAX_LISTS_PER_SIGNUP {
            return Err((
                "optional_list_ids",
                format!(
                    "list_ids and optional_list_ids together name {total} lists; Constant Contact accepts at most {MAX_LISTS_PER_SIGNUP}"
                ),
            ));
        }
        if self.custom_fields.len() > 50 {
            return Err(("custom_fields", "at most 50 custom fields".into()));
        }
        for name in self.custom_fields.keys() {
            check_field_name(name).map_err(|m| ("custom_fields", m))?;
            if Some(name.as_str()) == self.honeypot() {
                return Err((
                    "custom_fields",
                    format!("`{name}` is also the honeypot field"),
                ));
            }
        }
        if let Some(honeypot) = self.honeypot() {
            check_field_name(honeypot).map_err(|m| ("honeypot_field", m))?;
        }
        for url in [&self.success_url, &self.error_url].into_iter().flatten() {
            if !["http", "https"].contains(&url.scheme()) {
                let key = if Some(url) == self.success_url.as_ref() {
                    "success_url"
                } else {
                    "error_url"
                };
                return Err((key, "must be an http or https URL".into()));
            }
        }
        abuse::validate_form(self)
    }
}

fn check_field_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(format!(
            "`{name}` is not a usable field name: use 1-64 characters of letters, digits, '-' and '_'"
        ));
    }
    if STANDARD_FIELDS.contains(&name) {
        return Err(format!(
            "`{name}` is a standard signup field and cannot be reused"
        ));
    }
    Ok(())
}

fn invalid(key: &str, overridden: &BTreeMap<String, String>, message: String) -> ConfigError {
    // serde_path_to_error writes array indices as `forms[0]`; overrides are recorded the same way.
    let origin = overridden
        .iter()
        .find(|(path, _)| key == path.as_str() || key.starts_with(&format!("{path}.")))
        .map(|(_, var)| var.clone());
    ConfigError::Invalid {
        key: key.to_owned(),
        origin: Origin(origin),
        message,
    }
}

/// Apply `CCBRIDGE__SECTION__KEY=value` overrides onto the parsed file. Returns key path → variable
/// name, so that errors can say which variable held a bad value.
///
/// A value is read as a TOML value when it is one (`8`, `true`, `["a", "b"]`, `"quoted"`), and as a
/// plain string otherwise (`0.0.0.0:8080`, `https://…`), so strings rarely need quoting.
fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut overridden = BTreeMap::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let segments: Vec<String> = var[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if segments.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "expected CCBRIDGE__<SECTION>__<KEY> with no empty parts".into(),
            });
        }
        let value = parse_env_value(&raw);
        let path = set_path(table, &segments, value).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
        overridden.insert(path, var);
    }
    Ok(overridden)
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// Set `value` at `segments` (numeric segments index arrays), creating tables as needed.
/// Returns the path in serde_path_to_error's notation (`forms[0].id`).
fn set_path(
    table: &mut toml::Table,
    segments: &[String],
    value: toml::Value,
) -> Result<String, String> {
    let (first, rest) = segments.split_first().expect("at least one segment");
    let mut path = first.clone();
    let mut node = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    for segment in rest {
        node = match node {
            toml::Value::Table(t) => {
                path.push('.');
                path.push_str(segment);
                t.entry(segment.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(items) => {
                let index = usize::from_str(segment).map_err(|_| {
                    format!("`{path}` is a list: expected an index, got `{segment}`")
                })?;
                if index > items.len() {
                    return Err(format!(
                        "`{path}` has {} entries; index {index} would leave a gap",
                        items.len()
                    ));
                }
                if index == items.len() {
                    items.push(toml::Value::Table(toml::Table::new()));
                }
                path.push_str(&format!("[{index}]"));
                &mut items[index]
            }
            _ => return Err(format!("`{path}` is a single value, not a section")),
        };
    }
    *node = value;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const FORM: &str = r#"
        [[forms]]
        id = "newsletter"
        list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
    "#;

    #[test]
    fn defaults_load_without_a_file() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.server.listen.port(), 8080);
        assert_eq!(config.constant_contact.requests_per_second, 4);
        assert_eq!(config.constant_contact.requests_per_day, 10_000);
        assert!(config.forms.is_empty());
    }

    #[test]
    fn an_unknown_key_is_rejected_with_its_name() {
        let err = Config::from_toml("[server]\nlisten_on = \"0.0.0.0:1\"").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("listen_on"), "{text}");
        assert!(text.contains("server"), "{text}");
    }

    #[test]
    fn an_unknown_section_is_rejected_with_its_name() {
        let err = Config::from_toml("[servre]\nlisten = \"0.0.0.0:1\"").unwrap_err();
        assert!(err.to_string().contains("servre"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Config::from_toml("[server]\nlisten = \"not an address\"").unwrap_err();
        assert!(err.to_string().contains("`server.listen`"), "{err}");
    }

    #[test]
    fn env_override_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1111\"\n").unwrap();
        let config = Config::load_from(
            Some(&path),
            env(&[
                ("CCBRIDGE__SERVER__LISTEN", "127.0.0.1:2222"),
                ("CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET", "s3cret"),
                ("CCBRIDGE__CONSTANT_CONTACT__REQUESTS_PER_SECOND", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 2222);
        assert_eq!(
            config.constant_contact.client_secret.expose_secret(),
            "s3cret"
        );
        assert_eq!(config.constant_contact.requests_per_second, 2);
    }

    #[test]
    fn env_can_override_a_form_key_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, FORM).unwrap();
        let config = Config::load_from(
            Some(&path),
            env(&[(
                "CCBRIDGE__FORMS__0__SUCCESS_URL",
                "https://example.org/thanks",
            )]),
        )
        .unwrap();
        assert_eq!(
            config.forms[0].success_url.as_ref().unwrap().as_str(),
            "https://example.org/thanks"
        );
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let err =
            Config::load_from(None, env(&[("CCBRIDGE__SERVER__LISTEN", "nowhere")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("CCBRIDGE__SERVER__LISTEN"), "{text}");
        assert!(text.contains("server.listen"), "{text}");
    }

    #[test]
    fn an_unknown_env_key_is_rejected() {
        let err = Config::load_from(None, env(&[("CCBRIDGE__SERVER__LISTN", "x")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("listn"), "{text}");
        assert!(text.contains("CCBRIDGE__SERVER__LISTN"), "{text}");
    }

    #[test]
    fn a_form_without_lists_is_a_clear_error() {
        let err = Config::from_toml("[[forms]]\nid = \"a\"\nlist_ids = []").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("forms[0].list_ids"), "{text}");
        assert!(text.contains("at least one list"), "{text}");
    }

    #[test]
    fn a_form_missing_list_ids_names_the_key() {
        let err = Config::from_toml("[[forms]]\nid = \"a\"").unwrap_err();
        assert!(err.to_string().contains("list_ids"), "{err}");
    }

    #[test]
    fn a_list_id_must_be_a_uuid() {
        let err = Config::from_toml("[[forms]]\nid = \"a\"\nlist_ids = [\"abc\"]").unwrap_err();
        assert!(err.to_string().contains("forms[0].list_ids[0]"), "{err}");
    }

    #[test]
    fn form_ids_are_unique_and_url_safe() {
        let twice = format!("{FORM}{FORM}");
        assert!(
            Config::from_toml(&twice)
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
        let bad = FORM.replace("newsletter", "News Letter");
        assert!(
            Config::from_toml(&bad)
                .unwrap_err()
                .to_string()
                .contains("forms[0].id")
        );
    }

    #[test]
    fn a_custom_field_cannot_shadow_a_standard_field() {
        let text =
            format!("{FORM}custom_fields = {{ email = \"07936f78-662a-11eb-af0a-fa163e56c9b0\" }}");
        let err = Config::from_toml(&text).unwrap_err();
        assert!(err.to_string().contains("standard signup field"), "{err}");
    }

    #[test]
    fn the_encryption_key_must_be_32_bytes_of_base64() {
        let err = Config::from_toml("[security]\ntoken_encryption_key = \"c2hvcnQ=\"").unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let config =
            Config::from_toml(&format!("[security]\ntoken_encryption_key = \"{key}\"")).unwrap();
        assert_eq!(
            config.security.token_encryption_key.unwrap().bytes(),
            &[7u8; 32]
        );
    }

    #[test]
    fn the_summary_and_debug_never_show_secrets() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let config = Config::load_from(
            None,
            env(&[
                (
                    "CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET",
                    "very-secret-value",
                ),
                ("CCBRIDGE__SECURITY__TOKEN_ENCRYPTION_KEY", &key),
                (
                    "CCBRIDGE__DATABASE__URL",
                    "postgres://ccbridge:db-password@db:5432/ccbridge",
                ),
            ]),
        )
        .unwrap();
        for text in [config.redacted_summary(), format!("{config:?}")] {
            assert!(!text.contains("very-secret-value"), "{text}");
            assert!(!text.contains(&key), "{text}");
            assert!(!text.contains("db-password"), "{text}");
            assert!(text.contains("ccbridge:redacted@db:5432"), "{text}");
        }
        assert!(config.redacted_summary().contains("client_secret = (set)"));
    }

    #[test]
    fn metrics_and_alerts_secrets_are_never_shown() {
        let config = Config::load_from(
            None,
            env(&[
                ("CCBRIDGE__METRICS__BEARER_TOKEN", "scrape-secret-123"),
                (
                    "CCBRIDGE__ALERTS__WEBHOOK_URL",
                    "https://hooks.example.com/services/T0/B0/webhook-secret",
                ),
                ("CCBRIDGE__ALERTS__MIN_INTERVAL", "15m"),
            ]),
        )
        .unwrap();
        assert_eq!(config.alerts.min_interval, Duration::from_secs(900));
        for text in [config.redacted_summary(), format!("{config:?}")] {
            assert!(!text.contains("scrape-secret-123"), "{text}");
            assert!(!text.contains("webhook-secret"), "{text}");
        }
        let summary = config.redacted_summary();
        assert!(summary.contains("bearer_token = (set)"), "{summary}");
        assert!(summary.contains("webhook_url = (set)"), "{summary}");
    }

    #[test]
    fn a_bad_webhook_url_names_its_key() {
        let err = Config::from_toml("[alerts]\nwebhook_url = \"ftp://x.example\"").unwrap_err();
        assert!(err.to_string().contains("alerts.webhook_url"), "{err}");
        let err = Config::from_toml("[alerts]\nmin_interval = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("alerts.min_interval"), "{err}");
        let err = Config::from_toml("[metrics]\nbearer = \"x\"").unwrap_err();
        assert!(err.to_string().contains("bearer"), "{err}");
    }

    #[test]
    fn env_values_read_as_toml_when_they_are_toml() {
        assert_eq!(parse_env_value("8"), toml::Value::Integer(8));
        assert_eq!(
            parse_env_value("0.0.0.0:80"),
            toml::Value::String("0.0.0.0:80".into())
        );
        assert_eq!(parse_env_value("\"8\""), toml::Value::String("8".into()));
    }
}
