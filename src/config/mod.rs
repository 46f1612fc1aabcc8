//! Configuration: where it comes from, what it may contain, and the final types it is parsed into.
//!
//! Sources, in order of precedence (highest last):
//! 1. built-in defaults,
//! 2. a TOML file (`--config FILE`, else `$CCBRIDGE_CONFIG`, else `./ccbridge.toml` if present),
//! 3. environment variables `CCBRIDGE__<SECTION>__<KEY>` (double underscores; `CCBRIDGE__FORMS__0__ID`
//!    addresses the first `[[forms]]` entry), applied by `env`.
//!
//! Everything is parsed once, at load, into final types (`Url`, `SocketAddr`, `Uuid`,
//! `DatabaseUrl`, `SecretString`, `Duration`); unknown keys and bad values are errors that name the
//! key and where it came from. No code past this module re-checks a configuration value.
//!
//! One file per section, each with the rules serde cannot express in its own `validate`; the
//! few rules that span sections are in `Config::validate`. The redacted summary is the
//! configuration serialized (secrets as `(set)`, see `secret`), so the structs and
//! `config.example.toml` are the only two lists of keys, and a test keeps those two in step.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod abuse;
mod admin;
mod consent;
mod constant_contact;
mod database;
mod delivery;
mod env;
mod forms;
mod observability;
mod sandbox;
mod secret;
mod server;
mod setup;
mod smtp;
#[cfg(test)]
mod tests;

pub use abuse::{
    CaptchaConfig, CaptchaProvider, DEFAULT_MIN_SCORE, OnUnreachable, RateLimitConfig, SpamConfig,
    TIMESTAMP_FIELD,
};
pub use admin::{AdminConfig, EncryptionKey, SecurityConfig};
pub use consent::{ConsentConfig, Keep, PrivacyConfig};
pub use constant_contact::{ConnectFlow, ConstantContactConfig};
pub use database::DatabaseConfig;
pub use delivery::DeliveryConfig;
pub use forms::{ConfirmationMail, ConsentMode, FormConfig, MAX_LISTS_PER_SIGNUP, STANDARD_FIELDS};
pub use observability::{AlertsConfig, LogFormat, LoggingConfig, MetricsConfig, WebhookUrl};
pub use server::ServerConfig;
pub use smtp::{CaFile, SmtpConfig, SmtpSecurity};

/// The environment variable that names the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "CCBRIDGE_CONFIG";
/// The prefix of per-key environment overrides.
pub const ENV_PREFIX: &str = "CCBRIDGE__";
/// The file looked for in the working directory when nothing else names one.
pub const DEFAULT_CONFIG_FILE: &str = "ccbridge.toml";

/// The whole, validated configuration.
#[derive(Debug, Deserialize, Serialize)]
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
    pub smtp: SmtpConfig,
    #[serde(default)]
    pub consent: ConsentConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub spam: SpamConfig,
    #[serde(default)]
    pub forms: Vec<FormConfig>,
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
        let overridden = env::apply_env_overrides(&mut table, env)?;
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

    /// Each section's rules, then the rules that span sections.
    fn validate(&self, overridden: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let in_section = |section: &str, result: Result<(), (&'static str, String)>| {
            result
                .map_err(|(key, message)| invalid(&format!("{section}.{key}"), overridden, message))
        };
        in_section("server", self.server.validate())?;
        in_section("rate_limit", self.rate_limit.validate())?;
        in_section("spam", self.spam.validate())?;
        in_section("database", self.database.validate())?;
        in_section("constant_contact", self.constant_contact.validate())?;
        in_section("delivery", self.delivery.validate())?;
        if self.delivery.claim_lease < self.constant_contact.request_timeout * 2 {
            return Err(invalid(
                "delivery.claim_lease",
                overridden,
                "must be at least twice constant_contact.request_timeout".into(),
            ));
        }
        in_section("alerts", self.alerts.validate())?;
        in_section("smtp", self.smtp.validate())?;
        if !self.alerts.email_to.is_empty() && !self.smtp.is_enabled() {
            return Err(invalid(
                "alerts.email_to",
                overridden,
                "alert mails need a mail server: set [smtp] host and from".into(),
            ));
        }
        in_section("consent", self.consent.validate())?;
        in_section("privacy", self.privacy.validate())?;
        let mut seen = HashSet::new();
        for (i, form) in self.forms.iter().enumerate() {
            if !seen.insert(&form.id) {
                return Err(invalid(
                    &format!("forms[{i}].id"),
                    overridden,
                    format!("form id `{}` is used twice", form.id),
                ));
            }
            in_section(&format!("forms[{i}]"), form.validate())?;
            if form.consent == ConsentMode::Double && !self.smtp.is_enabled() {
                return Err(invalid(
                    &format!("forms[{i}].consent"),
                    overridden,
                    format!(
                        "form `{}` asks for double opt-in, which mails a confirmation link: set [smtp] host and from",
                        form.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Look a form up by the id in the request path.
    pub fn form(&self, id: &str) -> Option<&FormConfig> {
        self.forms.iter().find(|f| f.id.as_str() == id)
    }

    /// The configuration as TOML, every secret replaced by whether it is set.
    pub fn redacted_summary(&self) -> String {
        toml::to_string(self)
            .unwrap_or_else(|e| format!("(the configuration cannot be shown: {e})\n"))
    }
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
