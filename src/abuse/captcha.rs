//! CAPTCHA verification: one verifier for Cloudflare Turnstile, hCaptcha and reCAPTCHA (v2 and
//! v3). They share the protocol — a form-encoded POST of `secret`, `response` and `remoteip` to a
//! `siteverify` endpoint answering `{"success": bool, "error-codes": [...], ...}` — and differ in
//! the endpoint, the form field their widget fills in, and (v3) a score and an action.
//!
//! Three verdicts: the visitor passed, the visitor failed (refused, nothing stored), or the
//! provider could not give an answer (network, timeout, 5xx, garbage, or an answer that says *our*
//! secret is wrong) — then the form's `on_unreachable` decides. Neither the visitor's token nor the
//! secret is ever logged.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde::Deserialize;

use crate::config::CaptchaConfig;

/// The provider's answer. All providers use this shape (fields a provider does not send are
/// absent).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SiteVerify {
    pub success: bool,
    #[serde(rename = "error-codes", default)]
    pub error_codes: Vec<String>,
    /// reCAPTCHA v3 (and hCaptcha Enterprise): 0.0 (bot) … 1.0 (human).
    #[serde(default)]
    pub score: Option<f64>,
    /// reCAPTCHA v3 and Turnstile: the action the page declared.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
}

/// What the provider's answer means for the signup.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Passed,
    /// The visitor did not solve it; the reason is for the log (never shown, never the token).
    Failed(String),
    /// No usable answer; the reason is for the log.
    Unavailable(String),
    /// The provider refuses the configured secret: no visitor can pass until an admin fixes it.
    Misconfigured(String),
}

/// Error codes that mean the configured secret is wrong: our fault, not the visitor's.
const OUR_SECRET_IS_WRONG: [&str; 3] = [
    "missing-input-secret",
    "invalid-input-secret",
    "sitekey-secret-mismatch",
];

/// Error codes that mean the provider could not judge: not the visitor's fault either.
const THE_PROVIDERS_TROUBLE: [&str; 2] = ["internal-error", "bad-request"];

/// Longest token passed on; real ones are at most a few kilobytes.
const MAX_RESPONSE_CHARS: usize = 8192;

/// Asks the providers. Cheap to share.
pub struct CaptchaVerifier {
    http: reqwest::Client,
}

impl CaptchaVerifier {
    /// `http` should be the app's outbound client style: no redirects, bounded timeouts.
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Verify the visitor's `response` (the value of the provider's form field).
    pub async fn verify(
        &self,
        config: &CaptchaConfig,
        response: Option<&str>,
        remote_ip: IpAddr,
    ) -> Verdict {
        let Some(response) = response.map(str::trim).filter(|r| !r.is_empty()) else {
            return Verdict::Failed("no CAPTCHA response in the submission".into());
        };
        if response.chars().count() > MAX_RESPONSE_CHARS {
            return Verdict::Failed("the CAPTCHA response is implausibly long".into());
        }
        let remote_ip = remote_ip.to_string();
        let params = [
            ("secret", config.secret.expose_secret()),
            ("response", response),
            ("remoteip", remote_ip.as_str()),
        ];
        let sent = self
            .http
            .post(config.verify_url())
            .timeout(config.timeout)
            .form(&params)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            // reqwest's error names the URL (ours, from config), never the body.
            Err(error) => return Verdict::Unavailable(describe(&error, config.timeout)),
        };
        let status = answer.status();
        if !status.is_success() {
            return Verdict::Unavailable(format!("the provider answered {status}"));
        }
        match answer.json::<SiteVerify>().await {
            Ok(answer) => judge(config, &answer),
            Err(_) => Verdict::Unavailable("the provider's answer is not its JSON shape".into()),
        }
    }
}

fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("no answer within {}", humantime::format_duration(timeout))
    } else if error.is_connect() {
        "cannot connect to the provider".into()
    } else {
        "the request to the provider failed".into()
    }
}

/// Decide on a provider's answer.
pub fn judge(config: &CaptchaConfig, answer: &SiteVerify) -> Verdict {
    let reported = |codes: &[&str]| {
        answer
            .error_codes
            .iter()
            .find(|code| codes.contains(&code.as_str()))
            .map(|code| format!("the provider reports `{code}`"))
    };
    if let Some(why) = reported(&OUR_SECRET_IS_WRONG) {
        return Verdict::Misconfigured(why);
    }
    if let Some(why) = reported(&THE_PROVIDERS_TROUBLE) {
        return Verdict::Unavailable(why);
    }
    if !answer.success {
        let codes = if answer.error_codes.is_empty() {
            "none".to_owned()
        } else {
            answer.error_codes.join(", ")
        };
        return Verdict::Failed(format!("the provider says no (error codes: {codes})"));
    }
    if let Some(min_score) = config.min_score() {
        match answer.score {
            Some(score) if score >= min_score => {}
            Some(score) => {
                return Verdict::Failed(format!("score {score} is below {min_score}"));
            }
            None => return Verdict::Failed("the answer has no score".into()),
        }
    }
    if let Some(expected) = &config.action
        && answer.action.as_deref() != Some(expected.as_str())
    {
        return Verdict::Failed("the page declared another action".into());
    }
    Verdict::Passed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn captcha(table: &str) -> CaptchaConfig {
        let config = Config::from_toml(&format!(
            "[[forms]]\nid = \"f\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\n[forms.captcha]\nsecret = \"s\"\n{table}\n"
        ))
        .unwrap();
        config.forms.into_iter().next().unwrap().captcha.unwrap()
    }

    fn answer(json: &str) -> SiteVerify {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn success_passes_and_failure_fails() {
        let config = captcha("provider = \"turnstile\"");
        assert_eq!(
            judge(
                &config,
                &answer(r#"{"success":true,"error-codes":[],"hostname":"example.org"}"#)
            ),
            Verdict::Passed
        );
        assert!(matches!(
            judge(
                &config,
                &answer(r#"{"success":false,"error-codes":["invalid-input-response"]}"#)
            ),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(&config, &answer(r#"{"success":false}"#)),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn a_wrong_secret_is_our_fault_not_the_visitors() {
        let config = captcha("provider = \"hcaptcha\"");
        assert!(matches!(
            judge(
                &config,
                &answer(r#"{"success":false,"error-codes":["invalid-input-secret"]}"#)
            ),
            Verdict::Misconfigured(_)
        ));
        assert!(matches!(
            judge(
                &config,
                &answer(r#"{"success":false,"error-codes":["internal-error"]}"#)
            ),
            Verdict::Unavailable(_)
        ));
    }

    #[test]
    fn recaptcha_v3_needs_the_score_and_the_action() {
        let config = captcha("provider = \"recaptcha_v3\"\nmin_score = 0.7\naction = \"signup\"");
        let with = |score: f64, action: &str| {
            judge(
                &config,
                &answer(&format!(
                    r#"{{"success":true,"score":{score},"action":"{action}"}}"#
                )),
            )
        };
        assert_eq!(with(0.9, "signup"), Verdict::Passed);
        assert_eq!(with(0.7, "signup"), Verdict::Passed);
        assert!(matches!(with(0.3, "signup"), Verdict::Failed(_)));
        assert!(matches!(with(0.9, "login"), Verdict::Failed(_)));
        assert!(matches!(
            judge(&config, &answer(r#"{"success":true}"#)),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn recaptcha_v3_defaults_to_half() {
        let config = captcha("provider = \"recaptcha_v3\"");
        assert_eq!(config.min_score(), Some(0.5));
        assert!(captcha("provider = \"recaptcha_v2\"").min_score().is_none());
    }

    #[test]
    fn providers_have_their_own_field_and_endpoint() {
        let turnstile = captcha("provider = \"turnstile\"");
        assert_eq!(turnstile.provider.response_field(), "cf-turnstile-response");
        assert_eq!(
            turnstile.verify_url().as_str(),
            "https://challenges.cloudflare.com/turnstile/v0/siteverify"
        );
        let own =
            captcha("provider = \"recaptcha_v2\"\nverify_url = \"http://127.0.0.1:9/verify\"");
        assert_eq!(own.verify_url().as_str(), "http://127.0.0.1:9/verify");
        assert_eq!(own.provider.response_field(), "g-recaptcha-response");
    }

    #[tokio::test]
    async fn a_missing_response_fails_without_asking_the_provider() {
        // Port 9 (discard) is closed here; asking would make the verdict Unavailable.
        let config = captcha("provider = \"turnstile\"\nverify_url = \"http://127.0.0.1:9/\"");
        let verifier =
            CaptchaVerifier::new(crate::constant_contact::http_client(Duration::from_secs(5)));
        let verdict = verifier
            .verify(&config, Some("  "), "127.0.0.1".parse().unwrap())
            .await;
        assert!(matches!(verdict, Verdict::Failed(_)), "{verdict:?}");
        let verdict = verifier
            .verify(&config, Some("token"), "127.0.0.1".parse().unwrap())
            .await;
        assert!(matches!(verdict, Verdict::Unavailable(_)), "{verdict:?}");
    }
}
