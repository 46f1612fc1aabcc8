//! Configuration of abuse resistance: the `[rate_limit]` and `[spam]` sections and the per-form
//! `captcha` table. Parsed into final types like the rest of the configuration; the rules serde
//! cannot express are checked by the `validate` functions here, which name the offending key.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// `[rate_limit]`: how often one client, and one form, may post signups; how admin logins back off.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Signups per minute from one client address (IPv6: one /64 network). 0 turns it off.
    pub per_ip_per_minute: u32,
    /// How many signups one client may send at once before the per-minute pace applies.
    pub per_ip_burst: u32,
    /// Signups per minute to one form, from everyone together. 0 turns it off.
    pub per_form_per_minute: u32,
    pub per_form_burst: u32,
    /// Failed admin logins from one client address before it has to wait.
    pub admin_failures: u32,
    /// The first wait after `admin_failures` failures; it doubles with each further failure.
    #[serde(with = "humantime_serde")]
    pub admin_lockout: Duration,
    /// The longest wait.
    #[serde(with = "humantime_serde")]
    pub admin_lockout_max: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 10,
            per_ip_burst: 5,
            per_form_per_minute: 600,
            per_form_burst: 100,
            admin_failures: 5,
            admin_lockout: Duration::from_secs(60),
            admin_lockout_max: Duration::from_secs(3600),
        }
    }
}

impl RateLimitConfig {
    /// Returns the offending key (relative to the section) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.per_ip_per_minute > 0 && self.per_ip_burst == 0 {
            return Err(("per_ip_burst", "must be at least 1".into()));
        }
        if self.per_form_per_minute > 0 && self.per_form_burst == 0 {
            return Err(("per_form_burst", "must be at least 1".into()));
        }
        if self.admin_failures == 0 {
            return Err(("admin_failures", "must be at least 1".into()));
        }
        if self.admin_lockout.is_zero() {
            return Err(("admin_lockout", "must be more than zero".into()));
        }
        if self.admin_lockout_max < self.admin_lockout {
            return Err(("admin_lockout_max", "must be at least admin_lockout".into()));
        }
        Ok(())
    }
}

/// `[spam]`: what happens to signups kept as suspected spam.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamConfig {
    /// Suspected spam is deleted this long after it arrived (unless an admin released it).
    #[serde(with = "humantime_serde")]
    pub keep_for: Duration,
}

impl Default for SpamConfig {
    fn default() -> Self {
        Self {
            keep_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl SpamConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.keep_for < Duration::from_secs(60) {
            return Err(("keep_for", "must be at least 1m".into()));
        }
        Ok(())
    }
}

/// The CAPTCHA services a form can ask; they differ only in their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptchaProvider {
    /// Cloudflare Turnstile.
    Turnstile,
    Hcaptcha,
    /// Google reCAPTCHA v2 (checkbox or invisible).
    RecaptchaV2,
    /// Google reCAPTCHA v3: a score per request instead of a challenge.
    RecaptchaV3,
}

impl CaptchaProvider {
    /// Where the provider's verification endpoint is.
    pub fn default_verify_url(self) -> Url {
        let url = match self {
            Self::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            Self::Hcaptcha => "https://api.hcaptcha.com/siteverify",
            Self::RecaptchaV2 | Self::RecaptchaV3 => {
                "https://www.google.com/recaptcha/api/siteverify"
            }
        };
        Url::parse(url).expect("a valid literal URL")
    }

    /// The form field the provider's widget fills in.
    pub fn response_field(self) -> &'static str {
        match self {
            Self::Turnstile => "cf-turnstile-response",
            Self::Hcaptcha => "h-captcha-response",
            Self::RecaptchaV2 | Self::RecaptchaV3 => "g-recaptcha-response",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Turnstile => "turnstile",
            Self::Hcaptcha => "hcaptcha",
            Self::RecaptchaV2 => "recaptcha_v2",
            Self::RecaptchaV3 => "recaptcha_v3",
        }
    }
}

/// What to do with a signup when the CAPTCHA provider cannot be asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnreachable {
    /// Refuse the signup (503 `captcha_unavailable`); nothing is stored.
    #[default]
    Reject,
    /// Accept it, but keep it as spam (`captcha_unreachable`) for an admin to review.
    AcceptAndMark,
}

/// A form's `[forms.captcha]` table.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaConfig {
    pub provider: CaptchaProvider,
    /// The provider's secret key (better: `CCBRIDGE__FORMS__<n>__CAPTCHA__SECRET`).
    #[serde(serialize_with = "super::secret::presence")]
    pub secret: SecretString,
    /// Overrides the provider's verification endpoint (tests, the sandbox, a proxy).
    #[serde(default)]
    pub verify_url: Option<Url>,
    /// reCAPTCHA v3 only: the lowest score accepted (0.0 bot … 1.0 human).
    #[serde(default)]
    pub min_score: Option<f64>,
    /// reCAPTCHA v3 only: the action the page must have declared.
    #[serde(default)]
    pub action: Option<String>,
    /// How long to wait for the provider.
    #[serde(default = "default_captcha_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default)]
    pub on_unreachable: OnUnreachable,
}

/// The score reCAPTCHA v3 must reach when `min_score` is not set (Google's suggested default).
pub const DEFAULT_MIN_SCORE: f64 = 0.5;

fn default_captcha_timeout() -> Duration {
    Duration::from_secs(5)
}

impl CaptchaConfig {
    pub fn verify_url(&self) -> Url {
        self.verify_url
            .clone()
            .unwrap_or_else(|| self.provider.default_verify_url())
    }

    /// reCAPTCHA v3's threshold; `None` for providers without scores.
    pub fn min_score(&self) -> Option<f64> {
        (self.provider == CaptchaProvider::RecaptchaV3)
            .then(|| self.min_score.unwrap_or(DEFAULT_MIN_SCORE))
    }

    /// Returns the offending key (relative to the form) and a message.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.secret.expose_secret().trim().is_empty() {
            return Err((
                "captcha.secret",
                "must be set (the provider's secret key)".into(),
            ));
        }
        if let Some(url) = &self.verify_url
            && !["http", "https"].contains(&url.scheme())
        {
            return Err(("captcha.verify_url", "must be an http or https URL".into()));
        }
        let v3 = self.provider == CaptchaProvider::RecaptchaV3;
        if let Some(score) = self.min_score {
            if !v3 {
                return Err((
                    "captcha.min_score",
                    "only reCAPTCHA v3 (provider = \"recaptcha_v3\") has scores".into(),
                ));
            }
            if !(0.0..=1.0).contains(&score) {
                return Err(("captcha.min_score", "must be between 0.0 and 1.0".into()));
            }
        }
        if self.action.is_some() && !v3 {
            return Err((
                "captcha.action",
                "only reCAPTCHA v3 (provider = \"recaptcha_v3\") has actions".into(),
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(30) {
            return Err(("captcha.timeout", "must be between 1ms and 30s".into()));
        }
        Ok(())
    }
}

/// The hidden field that carries the signed "form shown at" time (`min_submit_time`).
pub const TIMESTAMP_FIELD: &str = "_ts";

/// Per-form abuse settings: checked as part of the form's validation.
pub(super) fn validate_form(form: &super::FormConfig) -> Result<(), (&'static str, String)> {
    let reserved = |name: &str| {
        name == TIMESTAMP_FIELD
            || form
                .captcha
                .as_ref()
                .is_some_and(|c| c.provider.response_field() == name)
    };
    for name in form.custom_fields.keys() {
        if reserved(name) {
            return Err((
                "custom_fields",
                format!("`{name}` is reserved for the anti-spam checks"),
            ));
        }
    }
    if form.honeypot().is_some_and(reserved) {
        return Err((
            "honeypot_field",
            "this name is reserved for the anti-spam checks".into(),
        ));
    }
    if let Some(min) = form.min_submit_time
        && min > Duration::from_secs(600)
    {
        return Err((
            "min_submit_time",
            "must be at most 10m (people fill a form in faster)".into(),
        ));
    }
    if form.max_submit_age < Duration::from_secs(60)
        || form.max_submit_age > Duration::from_secs(7 * 24 * 3600)
    {
        return Err(("max_submit_age", "must be between 1m and 7d".into()));
    }
    if let Some(min) = form.min_submit_time
        && form.max_submit_age <= min
    {
        return Err((
            "max_submit_age",
            "must be longer than min_submit_time".into(),
        ));
    }
    if let Some(captcha) = &form.captcha {
        captcha.validate()?;
    }
    for origin in &form.allowed_origins {
        if !["http", "https"].contains(&origin.scheme()) {
            return Err((
                "allowed_origins",
                format!("`{origin}` is not an http or https origin"),
            ));
        }
    }
    Ok(())
}

/// Summary lines for a form's abuse settings.
#[cfg(test)]
mod tests {
    use crate::config::Config;

    const FORM: &str =
        "[[forms]]\nid = \"f\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\n";

    fn error(text: &str) -> String {
        Config::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::from_toml("").unwrap();
        let r = &config.rate_limit;
        assert_eq!((r.per_ip_per_minute, r.per_ip_burst), (10, 5));
        assert_eq!((r.per_form_per_minute, r.per_form_burst), (600, 100));
        assert_eq!(config.spam.keep_for.as_secs(), 30 * 24 * 3600);
        assert_eq!(config.server.header_read_timeout.as_secs(), 30);
        assert_eq!(config.server.max_connections, 1024);
    }

    #[test]
    fn bad_values_and_unknown_keys_name_their_key() {
        let text = error("[rate_limit]\nper_ip_burst = 0");
        assert!(text.contains("`rate_limit.per_ip_burst`"), "{text}");
        let text = error("[rate_limit]\nper_ip = 3");
        assert!(text.contains("per_ip"), "{text}");
        let text = error("[spam]\nkeep_for = \"1s\"");
        assert!(text.contains("`spam.keep_for`"), "{text}");
        let text = error("[server]\nmax_connections = 0");
        assert!(text.contains("`server.max_connections`"), "{text}");
        let text = error(&format!("{FORM}min_submit_time = \"soon\""));
        assert!(text.contains("forms[0].min_submit_time"), "{text}");
        let text = error(&format!(
            "{FORM}[forms.captcha]\nprovider = \"turnstile\"\nsecret = \"s\"\nsite_key = \"k\""
        ));
        assert!(text.contains("site_key"), "{text}");
        let text = error(&format!(
            "{FORM}[forms.captcha]\nprovider = \"friendlycaptcha\"\nsecret = \"s\""
        ));
        assert!(text.contains("forms[0].captcha.provider"), "{text}");
        let text = error(&format!(
            "{FORM}[forms.captcha]\nprovider = \"hcaptcha\"\nsecret = \"\""
        ));
        assert!(text.contains("`forms[0].captcha.secret`"), "{text}");
    }

    #[test]
    fn the_anti_spam_field_names_are_reserved() {
        let text = error(&format!(
            "{FORM}custom_fields = {{ _ts = \"07936f78-662a-11eb-af0a-fa163e56c9b0\" }}"
        ));
        assert!(text.contains("reserved"), "{text}");
        let text = error(&format!(
            "{FORM}honeypot_field = \"h-captcha-response\"\n[forms.captcha]\nprovider = \"hcaptcha\"\nsecret = \"s\""
        ));
        assert!(text.contains("forms[0].honeypot_field"), "{text}");
    }

    #[test]
    fn the_captcha_secret_never_shows() {
        let config = Config::from_toml(&format!(
            "{FORM}[forms.captcha]\nprovider = \"recaptcha_v3\"\nsecret = \"captcha-secret-value\"\n"
        ))
        .unwrap();
        for text in [config.redacted_summary(), format!("{config:?}")] {
            assert!(!text.contains("captcha-secret-value"), "{text}");
        }
        assert!(config.redacted_summary().contains("secret = \"(set)\""));
    }
}
