//! `[consent]` (double opt-in mails) and `[privacy]` (what the consent record
//! keeps, and for how long). The per-form choices (`consent`, `consent_text`, `confirmed_url`,
//! `[forms.confirmation]`) live with the form in `forms`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[consent]`: confirmation mails.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// Shown in confirmation mails and pages ("Confirm your subscription to …"). Empty: the host
    /// of `server.public_url`.
    pub site_name: String,
    /// A confirmation link works this long after its mail is sent; unconfirmed signups are then
    /// purged.
    #[serde(with = "humantime_serde")]
    pub confirm_expiry: Duration,
    /// Confirmation mails one address may get in any 24 hours, across all forms.
    pub mails_per_address_per_day: u32,
    /// Confirmation mails in any hour, all addresses together.
    pub mails_per_hour: u32,
    /// First retry delay of a mail the server did not take; doubles per attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub mail_retry_base: Duration,
    /// Longest retry delay of a mail.
    #[serde(with = "humantime_serde")]
    pub mail_retry_max: Duration,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        Self {
            site_name: String::new(),
            confirm_expiry: Duration::from_secs(7 * 24 * 3600),
            mails_per_address_per_day: 3,
            mails_per_hour: 200,
            mail_retry_base: Duration::from_secs(30),
            mail_retry_max: Duration::from_secs(3600),
        }
    }
}

impl ConsentConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        let hour = Duration::from_secs(3600);
        if !(hour..=Duration::from_secs(90 * 24 * 3600)).contains(&self.confirm_expiry) {
            return Err(("confirm_expiry", "must be between 1h and 90 days".into()));
        }
        if self.mails_per_address_per_day == 0 || self.mails_per_address_per_day > 20 {
            return Err(("mails_per_address_per_day", "must be 1 to 20".into()));
        }
        if self.mails_per_hour == 0 {
            return Err(("mails_per_hour", "must be at least 1".into()));
        }
        if self.mail_retry_base < Duration::from_secs(1)
            || self.mail_retry_max < self.mail_retry_base
        {
            return Err((
                "mail_retry_base",
                "must be at least 1s and at most mail_retry_max".into(),
            ));
        }
        if self.site_name.chars().count() > 100 || self.site_name.contains(['\r', '\n']) {
            return Err(("site_name", "at most 100 characters on one line".into()));
        }
        Ok(())
    }
}

/// How much of a client detail the consent record keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    Full,
    /// Addresses: IPv4 to its /24, IPv6 to its /48. User agents: the first product token.
    Truncated,
    None,
}

/// `[privacy]`: what the consent record keeps about the client, and how long.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// A consent record is kept this long after its signup was delivered (the signup's other
    /// personal data follow `delivery.retention`).
    #[serde(with = "humantime_serde")]
    pub consent_retention: Duration,
    pub client_address: Keep,
    pub user_agent: Keep,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            consent_retention: Duration::from_secs(3 * 365 * 24 * 3600),
            client_address: Keep::Full,
            user_agent: Keep::Full,
        }
    }
}

impl PrivacyConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.consent_retention < Duration::from_secs(24 * 3600) {
            return Err(("consent_retention", "must be at least 1 day".into()));
        }
        Ok(())
    }
}
