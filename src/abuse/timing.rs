//! Minimum time-to-submit: people take a few seconds to fill a form in, simple bots post at once.
//!
//! The page that shows the form gets a signed "shown at" time from `GET /signup/{form_id}/token`
//! (served by `http::signup`)
//! and sends it back in the hidden `_ts` field. The value is `<unix ms>.<signature>`, where the
//! signature is HMAC-SHA256 over the form id and the time, so it cannot be forged, moved to
//! another form, or edited to look older.
//!
//! A value is good for `max_submit_age` (2 hours by default): an older one is refused with its own
//! code, `expired_timestamp` ([`SubmitTimer::expired`]), and not kept as spam, because a person
//! who left the tab open is no bot; the page fetches a fresh value and sends the form again. So a
//! captured value cannot be replayed for ever.
//!
//! The signing key is derived from `security.token_encryption_key` (so every replica and every
//! restart agrees) or, without one, drawn at random when the process starts: then a restart
//! invalidates the values of pages shown before it, and those signups are kept as spam
//! (`invalid_timestamp`) for review instead of being delivered.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

use crate::config::{EncryptionKey, FormConfig};
use crate::domain::FormId;

type HmacSha256 = Hmac<Sha256>;

/// A value from the future by more than this (clock steps between replicas) is not believed.
const ALLOWED_CLOCK_SKEW_MS: i64 = 5_000;

/// Why a submission's timing makes it suspect; stored as the spam reason.
pub const TOO_FAST: &str = "too_fast";
pub const MISSING_TIMESTAMP: &str = "missing_timestamp";
pub const INVALID_TIMESTAMP: &str = "invalid_timestamp";
/// A genuine value older than the form's `max_submit_age`: a refusal (the intake checks
/// [`SubmitTimer::expired`] first); as a spam reason only if a caller skipped that check.
pub const EXPIRED_TIMESTAMP: &str = "expired_timestamp";

/// Issues and checks signed "form shown at" times.
pub struct SubmitTimer {
    key: [u8; 32],
}

impl SubmitTimer {
    pub fn new(encryption_key: Option<&EncryptionKey>) -> Self {
        let key = match encryption_key {
            // A key of its own, so the signatures never reveal anything about the encryption key.
            Some(master) => {
                let mut mac = HmacSha256::new_from_slice(master.bytes())
                    .expect("HMAC takes keys of any length");
                mac.update(b"ccbridge form timestamp signing key v1");
                mac.finalize().into_bytes().into()
            }
            None => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                key
            }
        };
        Self { key }
    }

    /// A fresh value for `form`, shown at `now`.
    pub fn issue(&self, form: &FormId, now: DateTime<Utc>) -> String {
        let millis = now.timestamp_millis();
        let signature = URL_SAFE_NO_PAD.encode(self.mac(form, millis).finalize().into_bytes());
        format!("{millis}.{signature}")
    }

    /// The spam reason for a submission at `now` carrying `value`, or `None` when it may pass.
    /// Forms without `min_submit_time` are not checked.
    pub fn judge(
        &self,
        form: &FormConfig,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<&'static str> {
        let min = form.min_submit_time?;
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Some(MISSING_TIMESTAMP);
        };
        let Some(shown_at) = self.verify(&form.id, value) else {
            return Some(INVALID_TIMESTAMP);
        };
        let elapsed = now.timestamp_millis() - shown_at;
        if elapsed < -ALLOWED_CLOCK_SKEW_MS {
            return Some(INVALID_TIMESTAMP);
        }
        if elapsed > millis(form.max_submit_age) {
            return Some(EXPIRED_TIMESTAMP);
        }
        (elapsed < millis(min)).then_some(TOO_FAST)
    }

    /// Whether `value` is a genuine value for `form` that is older than its `max_submit_age` at
    /// `now`: the submission is then refused, not judged. Forms without `min_submit_time` ignore
    /// `_ts`, so nothing expires there.
    pub fn expired(&self, form: &FormConfig, value: Option<&str>, now: DateTime<Utc>) -> bool {
        if form.min_submit_time.is_none() {
            return false;
        }
        let Some(shown_at) = value.and_then(|v| self.verify(&form.id, v.trim())) else {
            return false;
        };
        now.timestamp_millis() - shown_at > millis(form.max_submit_age)
    }

    /// The time in a genuine value, in unix milliseconds.
    fn verify(&self, form: &FormId, value: &str) -> Option<i64> {
        let (millis, signature) = value.split_once('.')?;
        let millis: i64 = millis.parse().ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        // `verify_slice` compares in constant time.
        self.mac(form, millis).verify_slice(&signature).ok()?;
        Some(millis)
    }

    fn mac(&self, form: &FormId, millis: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(form.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(millis.to_string().as_bytes());
        mac
    }
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn form(min: Option<&str>) -> FormConfig {
        let min = min.map_or(String::new(), |m| format!("min_submit_time = \"{m}\""));
        let config = Config::from_toml(&format!(
            "[[forms]]\nid = \"newsletter\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\n{min}\n"
        ))
        .unwrap();
        config.forms.into_iter().next().unwrap()
    }

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(millis).unwrap()
    }

    #[test]
    fn a_value_older_than_the_minimum_passes_and_a_younger_one_is_too_fast() {
        let timer = SubmitTimer::new(None);
        let form = form(Some("3s"));
        let value = timer.issue(&form.id, at(1_000_000));
        assert_eq!(timer.judge(&form, Some(&value), at(1_003_000)), None);
        assert_eq!(
            timer.judge(&form, Some(&value), at(1_002_999)),
            Some(TOO_FAST)
        );
    }

    #[test]
    fn missing_forged_edited_and_future_values_are_suspect() {
        let timer = SubmitTimer::new(None);
        let form = form(Some("3s"));
        let now = at(1_000_000);
        assert_eq!(timer.judge(&form, None, now), Some(MISSING_TIMESTAMP));
        assert_eq!(timer.judge(&form, Some(" "), now), Some(MISSING_TIMESTAMP));
        assert_eq!(
            timer.judge(&form, Some("garbage"), now),
            Some(INVALID_TIMESTAMP)
        );
        let genuine = timer.issue(&form.id, at(990_000));
        let (_, signature) = genuine.split_once('.').unwrap();
        let older = format!("900000.{signature}");
        assert_eq!(
            timer.judge(&form, Some(&older), now),
            Some(INVALID_TIMESTAMP)
        );
        let other_key = SubmitTimer::new(None).issue(&form.id, at(990_000));
        assert_eq!(
            timer.judge(&form, Some(&other_key), now),
            Some(INVALID_TIMESTAMP)
        );
        let future = timer.issue(&form.id, at(1_010_000));
        assert_eq!(
            timer.judge(&form, Some(&future), now),
            Some(INVALID_TIMESTAMP)
        );
    }

    #[test]
    fn a_value_for_another_form_does_not_count() {
        let timer = SubmitTimer::new(None);
        let form = form(Some("1s"));
        let value = timer.issue(&FormId::parse("other").unwrap(), at(0));
        assert_eq!(
            timer.judge(&form, Some(&value), at(60_000)),
            Some(INVALID_TIMESTAMP)
        );
    }

    #[test]
    fn a_key_derived_from_the_encryption_key_survives_restarts() {
        let key: crate::config::Config = Config::from_toml(&format!(
            "[security]\ntoken_encryption_key = \"{}\"",
            base64::engine::general_purpose::STANDARD.encode([9u8; 32])
        ))
        .unwrap();
        let key = key.security.token_encryption_key.as_ref();
        let form = form(Some("1s"));
        let value = SubmitTimer::new(key).issue(&form.id, at(0));
        assert_eq!(
            SubmitTimer::new(key).judge(&form, Some(&value), at(5_000)),
            None
        );
    }

    #[test]
    fn a_value_older_than_the_maximum_age_has_expired() {
        let timer = SubmitTimer::new(None);
        let form = form(Some("3s"));
        assert_eq!(form.max_submit_age.as_secs(), 2 * 3600, "the default");
        let value = timer.issue(&form.id, at(1_000_000));
        let limit = 1_000_000 + 2 * 3600 * 1000;
        assert!(!timer.expired(&form, Some(&value), at(limit)));
        assert_eq!(timer.judge(&form, Some(&value), at(limit)), None);
        assert!(timer.expired(&form, Some(&value), at(limit + 1)));
        assert_eq!(
            timer.judge(&form, Some(&value), at(limit + 1)),
            Some(EXPIRED_TIMESTAMP)
        );
        // Forged or missing values are not "expired": they stay suspect (spam), as before.
        assert!(!timer.expired(&form, Some("1.abc"), at(limit + 1)));
        assert!(!timer.expired(&form, None, at(limit + 1)));
        // Without a minimum, `_ts` is ignored altogether.
        assert!(!timer.expired(&self::form(None), Some(&value), at(limit + 1)));
    }

    #[test]
    fn without_a_minimum_nothing_is_checked() {
        let timer = SubmitTimer::new(None);
        let form = form(None);
        assert_eq!(timer.judge(&form, None, at(0)), None);
        assert!(form.min_submit_time.is_none());
    }
}
