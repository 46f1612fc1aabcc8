//! `[logging]`, `[metrics]` and `[alerts]`: how ccbridge tells its operator what it does.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

#[derive(Debug, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

fn deserialize_log_level<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    tracing_subscriber::EnvFilter::try_new(&s)
        .map_err(|e| serde::de::Error::custom(format!("not a valid log filter: {e}")))?;
    Ok(s)
}

/// `GET /metrics` (Prometheus text format).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    #[serde(serialize_with = "super::secret::presence")]
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
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// A JSON POST (`{"text": …, "kind": …, "ccbridge": {…}}`) per alert: a Slack or Mattermost
    /// incoming webhook works as is. Its URL usually holds a secret, so it is never shown.
    #[serde(
        deserialize_with = "deserialize_webhook_url",
        serialize_with = "super::secret::optional_presence"
    )]
    pub webhook_url: Option<WebhookUrl>,
    /// An alert of one kind is sent at most once per this interval (the log gets every one).
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// Timeout of one webhook request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Alert mails go to these mailboxes, through `[smtp]` (which must then be set).
    #[serde(
        deserialize_with = "super::smtp::deserialize_mailboxes",
        serialize_with = "super::smtp::serialize_mailboxes"
    )]
    pub email_to: Vec<Mailbox>,
    /// A reconnect alert carries a fresh connect link (valid 7 days) instead of the console's
    /// `/connect` page, so whoever receives it can reconnect without the admin password.
    pub include_connect_link: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            min_interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            email_to: Vec::new(),
            include_connect_link: false,
        }
    }
}

impl AlertsConfig {
    /// Returns the offending key (relative to the section) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(120) {
            return Err(("timeout", "must be more than zero and at most 2m".into()));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_bad_webhook_url_names_its_key() {
        let err = Config::from_toml("[alerts]\nwebhook_url = \"ftp://x.example\"").unwrap_err();
        assert!(err.to_string().contains("alerts.webhook_url"), "{err}");
        let err = Config::from_toml("[alerts]\nmin_interval = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("alerts.min_interval"), "{err}");
        let err = Config::from_toml("[metrics]\nbearer = \"x\"").unwrap_err();
        assert!(err.to_string().contains("bearer"), "{err}");
    }
}
