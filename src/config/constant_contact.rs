//! `[constant_contact]`: the OAuth client, the endpoints, the limits and the refresh schedule.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConstantContactConfig {
    pub client_id: String,
    /// Not needed with `flow = "device"` (a public client).
    #[serde(serialize_with = "super::secret::presence")]
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    /// How an admin connects: a browser redirect back to `/oauth/callback`, or the device flow
    /// (a code entered at Constant Contact), which needs no public URL.
    pub flow: ConnectFlow,
    pub authorize_url: Url,
    pub token_url: Url,
    /// RFC 8628's device authorization endpoint (`flow = "device"`).
    pub device_authorization_url: Url,
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
    /// How often a running service looks for a token set written elsewhere (`ccbridge connect`,
    /// another replica), so such a connection is picked up without a restart.
    #[serde(with = "humantime_serde")]
    pub connection_poll_interval: Duration,
}

/// How ccbridge obtains its first token set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectFlow {
    /// The browser goes to Constant Contact and comes back to `/oauth/callback` (PKCE, a client
    /// secret, a redirect URI registered at Constant Contact).
    #[default]
    AuthorizationCode,
    /// RFC 8628: ccbridge shows a code, the account owner enters it at Constant Contact on any
    /// device; no redirect, no client secret.
    Device,
}

impl ConstantContactConfig {
    /// Whether enough is configured to start an authorization.
    pub fn is_configured(&self) -> bool {
        self.missing_keys().is_empty()
    }

    /// The keys an authorization still needs, by their full names.
    pub fn missing_keys(&self) -> Vec<&'static str> {
        [
            ("constant_contact.client_id", self.client_id.is_empty()),
            (
                "constant_contact.client_secret",
                self.flow == ConnectFlow::AuthorizationCode
                    && self.client_secret.expose_secret().is_empty(),
            ),
        ]
        .into_iter()
        .filter_map(|(key, missing)| missing.then_some(key))
        .collect()
    }

    /// Returns the offending key (relative to the section) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.requests_per_second == 0 {
            return Err(("requests_per_second", "must be at least 1".into()));
        }
        if self.requests_per_day == 0 {
            return Err(("requests_per_day", "must be at least 1".into()));
        }
        if self.request_timeout < Duration::from_secs(1) {
            return Err(("request_timeout", "must be at least 1s".into()));
        }
        if self.refresh_at_least_every < Duration::from_secs(60)
            || self.refresh_at_least_every > Duration::from_secs(90 * 24 * 3600)
        {
            return Err((
                "refresh_at_least_every",
                "must be between 1m and 90 days (refresh tokens die after 180 idle days)".into(),
            ));
        }
        if !self.scopes.iter().any(|s| s == "offline_access") {
            return Err((
                "scopes",
                "must include offline_access, or Constant Contact sends no refresh token".into(),
            ));
        }
        if !self.scopes.iter().any(|s| s == "contact_data") {
            return Err((
                "scopes",
                "must include contact_data, which sign_up_form needs".into(),
            ));
        }
        if self.connection_poll_interval < Duration::from_secs(1)
            || self.connection_poll_interval > Duration::from_secs(60)
        {
            return Err((
                "connection_poll_interval",
                "must be between 1s and 1m".into(),
            ));
        }
        if self.refresh_margin < Duration::from_secs(1) {
            return Err(("refresh_margin", "must be at least 1s".into()));
        }
        Ok(())
    }
}

impl Default for ConstantContactConfig {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).expect("a valid literal URL");
        Self {
            client_id: String::new(),
            client_secret: SecretString::from(String::new()),
            // account_read names the account: on pages, in the status, and to tell whether a
            // connect link connected another account than the confirmed one.
            scopes: vec![
                "contact_data".to_owned(),
                "offline_access".to_owned(),
                "account_read".to_owned(),
            ],
            authorize_url: url("https://authz.constantcontact.com/oauth2/default/v1/authorize"),
            token_url: url("https://authz.constantcontact.com/oauth2/default/v1/token"),
            flow: ConnectFlow::AuthorizationCode,
            device_authorization_url: url(
                "https://authz.constantcontact.com/oauth2/default/v1/device/authorize",
            ),
            api_base_url: url("https://api.cc.email/v3"),
            requests_per_second: 4,
            requests_per_day: 10_000,
            request_timeout: Duration::from_secs(30),
            refresh_margin: Duration::from_secs(3600),
            refresh_at_least_every: Duration::from_secs(7 * 24 * 3600),
            connection_poll_interval: Duration::from_secs(60),
        }
    }
}
