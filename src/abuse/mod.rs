//! Abuse resistance for a public endpoint: what keeps bots, floods and other people's websites
//! from hurting ccbridge or filling the owner's list with junk.
//!
//! - [`rate_limit`]: token buckets per client address and per form (`429` + `Retry-After`),
//! - [`origin`]: which web pages may post to a form, and CORS for them,
//! - [`captcha`]: Turnstile, hCaptcha and reCAPTCHA verification, optional per form,
//! - [`timing`]: minimum time-to-submit with a signed "form shown at" value, optional per form,
//! - [`admin_backoff`]: growing waits after failed admin logins,
//! - [`headers`]: security headers on every answer,
//! - the honeypot: a field people leave empty and bots fill in.
//!
//! This is the core: decisions and the state behind them. The HTTP layer applies them (the signup
//! handler, the CORS preflight, the middlewares for security headers and the login backoff).
//!
//! A submission that looks like spam but might not be (a filled honeypot, too fast, CAPTCHA
//! provider unreachable) is answered like a success and kept with `state = spam` and a reason, for
//! `spam.keep_for`; an admin can release it into the delivery queue. A CAPTCHA that is plainly
//! failed is refused and nothing is stored: the visitor can still try again.

pub mod admin_backoff;
pub mod captcha;
pub mod headers;
pub mod origin;
pub mod rate_limit;
pub mod timing;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::alerts::{AlertKind, Alerts};
use crate::clock::SharedClock;
use crate::config::{CaptchaConfig, Config, FormConfig, OnUnreachable, TIMESTAMP_FIELD};
use crate::domain::Intake;
use crate::signup::SignupError;
use crate::store::{Store, StoreError};
use admin_backoff::AdminBackoff;
use captcha::{CaptchaVerifier, Verdict};
use headers::SecurityHeaders;
use rate_limit::SignupLimits;
use timing::SubmitTimer;

/// Spam reason of a signup accepted while the CAPTCHA provider could not be asked.
pub const CAPTCHA_UNREACHABLE: &str = "captcha_unreachable";

/// How often idle rate-limit buckets and old admin login failures are forgotten.
const EVICT_EVERY: Duration = Duration::from_secs(30);
/// How often spam older than `spam.keep_for` is deleted.
const PURGE_SPAM_EVERY: chrono::Duration = chrono::Duration::hours(1);
/// The longest a CAPTCHA call may take (each form's `captcha.timeout` is at most this).
const CAPTCHA_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The abuse-resistance state the request handlers share.
pub struct Abuse {
    limits: SignupLimits,
    timer: SubmitTimer,
    captcha: CaptchaVerifier,
    admin: AdminBackoff,
    headers: Arc<SecurityHeaders>,
    /// Where a CAPTCHA secret the provider refuses is reported.
    alerts: Alerts,
}

/// The anti-spam fields of a submission, taken out of it before validation and never stored.
/// (`Debug` shows only whether each is present.)
#[derive(Default)]
pub struct Proofs {
    /// The CAPTCHA widget's response token.
    captcha: Option<String>,
    /// The signed "form shown at" value (`_ts`).
    shown_at: Option<String>,
}

impl std::fmt::Debug for Proofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("Proofs")
            .field("captcha", &shown(&self.captcha))
            .field("shown_at", &shown(&self.shown_at))
            .finish()
    }
}

impl Abuse {
    pub fn new(config: &Config, alerts: Alerts) -> Self {
        if config.security.token_encryption_key.is_none()
            && config.forms.iter().any(|f| f.min_submit_time.is_some())
        {
            tracing::warn!(
                "min_submit_time is used without security.token_encryption_key: form timestamps are signed with a per-process key, so pages shown before a restart will have their signups kept as spam"
            );
        }
        Self {
            limits: SignupLimits::new(&config.rate_limit),
            timer: SubmitTimer::new(config.security.token_encryption_key.as_ref()),
            captcha: CaptchaVerifier::new(crate::constant_contact::http_client(
                CAPTCHA_CLIENT_TIMEOUT,
            )),
            admin: AdminBackoff::new(&config.rate_limit),
            headers: Arc::new(SecurityHeaders::new(config)),
            alerts,
        }
    }

    pub fn limits(&self) -> &SignupLimits {
        &self.limits
    }

    pub fn timer(&self) -> &SubmitTimer {
        &self.timer
    }

    pub fn admin_backoff(&self) -> &AdminBackoff {
        &self.admin
    }

    pub fn security_headers(&self) -> Arc<SecurityHeaders> {
        self.headers.clone()
    }

    /// The per-client limit, as the signup endpoint answers it.
    pub fn admit_client(&self, ip: IpAddr) -> Result<(), SignupError> {
        self.limits
            .check_client(ip)
            .map_err(SignupError::rate_limited)
    }

    /// The per-form limit, as the signup endpoint answers it.
    pub fn admit_form(&self, form: &FormConfig) -> Result<(), SignupError> {
        self.limits
            .check_form(&form.id)
            .map_err(SignupError::rate_limited)
    }

    /// Whether the form's honeypot field came filled in (a bot).
    pub fn honeypot_filled(form: &FormConfig, fields: &[(String, String)]) -> bool {
        form.honeypot().is_some_and(|name| {
            fields
                .iter()
                .any(|(n, v)| n == name && !v.trim().is_empty())
        })
    }

    /// Take the anti-spam fields (the CAPTCHA response when the form has a CAPTCHA, and `_ts`,
    /// which every form accepts and ignores unless it sets `min_submit_time`) out of `fields`.
    pub fn take_proofs(
        form: &FormConfig,
        fields: &mut Vec<(String, String)>,
    ) -> Result<Proofs, SignupError> {
        let captcha_field = form.captcha.as_ref().map(|c| c.provider.response_field());
        let mut proofs = Proofs::default();
        let mut problem = None;
        fields.retain_mut(|(name, value)| {
            let slot = if Some(name.as_str()) == captcha_field {
                &mut proofs.captcha
            } else if name == TIMESTAMP_FIELD {
                &mut proofs.shown_at
            } else {
                return true;
            };
            if slot.is_some() {
                problem.get_or_insert_with(|| SignupError::duplicate_field(name));
            }
            *slot = Some(std::mem::take(value));
            false
        });
        match problem {
            Some(error) => Err(error),
            None => Ok(proofs),
        }
    }

    /// Where a valid submission goes: delivery, or spam with a reason; or refused (a failed
    /// CAPTCHA, or an unreachable provider on a form that rejects then).
    pub async fn screen(
        &self,
        form: &FormConfig,
        proofs: &Proofs,
        client: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Intake, SignupError> {
        // Before the CAPTCHA, whose answer is single-use: the visitor will send the form again.
        if self.timer.expired(form, proofs.shown_at.as_deref(), now) {
            return Err(SignupError::expired_timestamp(form.max_submit_age));
        }
        if let Some(captcha) = &form.captcha {
            match self
                .captcha
                .verify(captcha, proofs.captcha.as_deref(), client)
                .await
            {
                Verdict::Passed => {}
                Verdict::Failed(why) => {
                    tracing::info!(form = %form.id, why, "CAPTCHA failed; signup refused");
                    return Err(SignupError::captcha_failed(
                        captcha.provider.response_field(),
                    ));
                }
                Verdict::Misconfigured(why) => {
                    self.alerts.raise(
                        AlertKind::CaptchaMisconfigured,
                        format!(
                            "The CAPTCHA provider refuses the secret of form `{}` ({why}): no visitor can pass its CAPTCHA. \
                             Set that form's captcha.secret to the secret key that belongs to the page's site key.",
                            form.id
                        ),
                    );
                    return unusable_provider(form, captcha, &why);
                }
                Verdict::Unavailable(why) => return unusable_provider(form, captcha, &why),
            }
        }
        Ok(
            match self.timer.judge(form, proofs.shown_at.as_deref(), now) {
                Some(reason) => Intake::Spam { reason },
                None => Intake::Deliver,
            },
        )
    }

    /// Delete spam older than `keep_for`.
    pub async fn purge_spam(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        keep_for: Duration,
    ) -> Result<u64, StoreError> {
        let keep_for = chrono::Duration::from_std(keep_for).unwrap_or(chrono::Duration::MAX);
        let purged = store.purge_spam_before(now - keep_for).await?;
        if purged > 0 {
            tracing::info!(purged, "suspected spam older than spam.keep_for deleted");
        }
        Ok(purged)
    }

    /// Background housekeeping until `shutdown`: forget idle rate-limit buckets and old login
    /// failures (so memory stays bounded by recent clients), and delete old spam.
    pub async fn run_housekeeping(
        self: Arc<Self>,
        store: Store,
        clock: SharedClock,
        keep_spam_for: Duration,
        shutdown: CancellationToken,
    ) {
        let mut next_purge = clock.now();
        loop {
            let clients = self.limits.evict_idle();
            match self.admin.forget_idle(&store, clock.now()).await {
                Ok(admins) => tracing::debug!(clients, admins, "idle rate-limit state forgotten"),
                Err(error) => tracing::warn!(%error, "forgetting old admin login attempts failed"),
            }
            if clock.now() >= next_purge {
                if let Err(error) = self.purge_spam(&store, clock.now(), keep_spam_for).await {
                    tracing::warn!(%error, "spam purge failed");
                }
                next_purge = clock.now() + PURGE_SPAM_EVERY;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(EVICT_EVERY) => {}
            }
        }
    }
}

/// The provider gave no usable verdict: refuse the signup, or keep it as spam, as configured.
fn unusable_provider(
    form: &FormConfig,
    captcha: &CaptchaConfig,
    why: &str,
) -> Result<Intake, SignupError> {
    match captcha.on_unreachable {
        OnUnreachable::Reject => {
            tracing::warn!(form = %form.id, why, "CAPTCHA provider unusable; signup refused");
            Err(SignupError::captcha_unavailable())
        }
        OnUnreachable::AcceptAndMark => {
            tracing::warn!(form = %form.id, why, "CAPTCHA provider unusable; signup kept as spam for review");
            Ok(Intake::Spam {
                reason: CAPTCHA_UNREACHABLE,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> FormConfig {
        let config = Config::from_toml(
            "[[forms]]\nid = \"f\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\n[forms.captcha]\nprovider = \"hcaptcha\"\nsecret = \"s\"\n",
        )
        .unwrap();
        config.forms.into_iter().next().unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn the_proofs_are_taken_out_and_the_rest_is_left_for_validation() {
        let mut submitted = fields(&[
            ("email", "a@b.co"),
            ("h-captcha-response", "tok"),
            ("_ts", "1.x"),
            ("first_name", "A"),
        ]);
        let proofs = Abuse::take_proofs(&form(), &mut submitted).unwrap();
        assert_eq!(proofs.captcha.as_deref(), Some("tok"));
        assert_eq!(proofs.shown_at.as_deref(), Some("1.x"));
        assert_eq!(
            submitted,
            fields(&[("email", "a@b.co"), ("first_name", "A")])
        );
    }

    #[test]
    fn another_providers_field_is_left_in_and_a_repeated_proof_is_refused() {
        let mut submitted = fields(&[("g-recaptcha-response", "tok")]);
        Abuse::take_proofs(&form(), &mut submitted).unwrap();
        assert_eq!(submitted.len(), 1, "validation will call it unknown");
        let mut twice = fields(&[("_ts", "1"), ("_ts", "2")]);
        let error = Abuse::take_proofs(&form(), &mut twice).unwrap_err();
        assert_eq!(
            (error.code, error.field.as_deref()),
            ("duplicate_field", Some("_ts"))
        );
    }
}
