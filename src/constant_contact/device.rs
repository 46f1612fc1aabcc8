//! The OAuth 2.0 Device Authorization Grant (RFC 8628), for connecting without a public URL:
//! ccbridge asks the device authorization endpoint for a code, a person enters it at Constant
//! Contact on any device, and ccbridge polls the token endpoint until the person has decided.
//!
//! Written by hand rather than with the oauth2 crate's device support, because that one polls on
//! Tokio's timer and hides the individual answers: here each poll is one call (`poll_device`),
//! and `wait_for_device` schedules the polls on the injected clock, so the whole exchange
//! (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`) can be tested without
//! waiting. Device-flow applications are public clients: no secret goes with these requests.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::BasicTokenResponse;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::oauth::{OAuthClient, TokenGrant};
use crate::clock::SharedClock;

/// RFC 8628 §3.4's grant type.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The polling interval when the server names none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What each `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest the poller backs off after transient failures (the server's own interval and its
/// `slow_down`s are followed whatever they are: the code's expiry bounds the wait anyway).
const MAX_BACKOFF: Duration = Duration::from_secs(120);
/// The longest a device code is believed to live.
const MAX_EXPIRES_IN: Duration = Duration::from_secs(3600);

/// What the device authorization endpoint hands out: what to show the person, and the code to
/// poll with (a secret: whoever holds it during its few minutes gets the tokens).
#[derive(Clone)]
pub struct DeviceAuthorization {
    pub device_code: SecretString,
    /// The code the person types, e.g. `WDJB-MJHT`.
    pub user_code: String,
    /// Where the person goes to type it.
    pub verification_uri: Url,
    /// The same with the code filled in (for a link or a QR code), when the server offers one.
    pub verification_uri_complete: Option<Url>,
    pub expires_at: DateTime<Utc>,
    pub interval: Duration,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri.as_str())
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish()
    }
}

impl DeviceAuthorization {
    /// The link to give a person: with the code filled in when the server offers that.
    pub fn link(&self) -> &Url {
        self.verification_uri_complete
            .as_ref()
            .unwrap_or(&self.verification_uri)
    }
}

/// One poll's answer.
#[derive(Debug)]
pub enum DevicePoll {
    /// `authorization_pending`: the person has not decided yet.
    Pending,
    /// `slow_down`: poll less often (5 seconds more, from now on).
    SlowDown,
    /// The person approved: the token set.
    Granted(TokenGrant),
}

/// Why a device authorization ended without a token set.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeviceError {
    #[error("the Constant Contact account owner denied the request (access_denied)")]
    Denied,
    #[error("the code expired before it was approved (expired_token); start again")]
    Expired,
    #[error(
        "the client id was refused ({0}); check constant_contact.client_id and that the application is configured for the device flow at Constant Contact"
    )]
    InvalidClient(String),
    #[error("Constant Contact refused the device authorization: {0}")]
    Refused(String),
    #[error("temporary failure: {0}")]
    Transient(String),
}

#[derive(Deserialize)]
struct AuthorizationAnswer {
    device_code: String,
    user_code: String,
    verification_uri: Url,
    verification_uri_complete: Option<Url>,
    expires_in: u64,
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl OAuthClient {
    /// Ask for a device code and a user code (RFC 8628 §3.1).
    pub async fn start_device_authorization(
        &self,
        now: DateTime<Utc>,
    ) -> Result<DeviceAuthorization, DeviceError> {
        let scope = self.scopes.join(" ");
        let form = [("client_id", self.client_id.as_str()), ("scope", &scope)];
        let (status, body) = self
            .post_form(&self.device_authorization_url, &form)
            .await?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        let answer: AuthorizationAnswer = serde_json::from_slice(&body).map_err(|e| {
            DeviceError::Transient(format!("unreadable device authorization answer: {e}"))
        })?;
        let interval = answer
            .interval
            .map_or(DEFAULT_INTERVAL, Duration::from_secs)
            .max(Duration::from_secs(1));
        let expires_in = Duration::from_secs(answer.expires_in).min(MAX_EXPIRES_IN);
        // Shown to people as a link: only a web address will do.
        for uri in
            std::iter::once(&answer.verification_uri).chain(&answer.verification_uri_complete)
        {
            if !matches!(uri.scheme(), "https" | "http") {
                return Err(DeviceError::Refused(format!(
                    "the verification address is not a web address ({} URL)",
                    uri.scheme()
                )));
            }
        }
        Ok(DeviceAuthorization {
            device_code: SecretString::from(answer.device_code),
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: answer.verification_uri_complete,
            expires_at: now + chrono::Duration::from_std(expires_in).unwrap_or_default(),
            interval,
        })
    }

    /// Poll the token endpoint once (RFC 8628 §3.4, §3.5).
    pub async fn poll_device(&self, device_code: &SecretString) -> Result<DevicePoll, DeviceError> {
        let form = [
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code.expose_secret()),
            ("client_id", self.client_id.as_str()),
        ];
        let (status, body) = self.post_form(&self.token_url, &form).await?;
        if status.is_success() {
            let tokens: BasicTokenResponse = serde_json::from_slice(&body)
                .map_err(|e| DeviceError::Transient(format!("unreadable token answer: {e}")))?;
            return Ok(DevicePoll::Granted(self.grant(&tokens)));
        }
        match serde_json::from_slice::<ErrorAnswer>(&body) {
            Ok(answer) if answer.error == "authorization_pending" => Ok(DevicePoll::Pending),
            Ok(answer) if answer.error == "slow_down" => Ok(DevicePoll::SlowDown),
            Ok(answer) if answer.error == "access_denied" => Err(DeviceError::Denied),
            Ok(answer) if answer.error == "expired_token" => Err(DeviceError::Expired),
            _ => Err(refusal(status, &body)),
        }
    }
}

impl OAuthClient {
    /// POST a form (no client secret: a public client) and read the whole answer.
    async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), DeviceError> {
        let response = self
            .http
            .post(url.clone())
            .form(form)
            .send()
            .await
            .map_err(|e| DeviceError::Transient(format!("request failed: {}", e.without_url())))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| DeviceError::Transient(format!("unreadable answer: {e}")))?;
        Ok((status, body))
    }
}

/// An error answer other than the polling ones.
fn refusal(status: reqwest::StatusCode, body: &[u8]) -> DeviceError {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return DeviceError::Transient(format!("the server answered {status}"));
    }
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(answer)
            if matches!(
                answer.error.as_str(),
                "invalid_client" | "unauthorized_client"
            ) =>
        {
            DeviceError::InvalidClient(describe(&answer))
        }
        Ok(answer) => DeviceError::Refused(describe(&answer)),
        Err(_) => DeviceError::Refused(format!("the server answered {status}")),
    }
}

fn describe(answer: &ErrorAnswer) -> String {
    if answer.error_description.is_empty() {
        answer.error.clone()
    } else {
        format!("{}: {}", answer.error, answer.error_description)
    }
}

/// What the poller reports while it waits, for whoever shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceProgress {
    /// About to sleep until the next poll.
    Waiting { next_poll: DateTime<Utc> },
    /// The server asked to slow down; the interval is now this.
    SlowedDown { interval: Duration },
}

/// Poll until the person decides or the code expires: at the server's interval, 5 s more after
/// each `slow_down` (for all later polls, RFC 8628 §3.5), and with the interval doubled (up to two
/// minutes) after a transient failure, as §3.5 asks of a client whose request timed out. The last
/// poll is at the moment of expiry, so an approval in the final seconds still counts. Sleeps on
/// `clock`.
pub async fn wait_for_device(
    oauth: &OAuthClient,
    authorization: &DeviceAuthorization,
    clock: &SharedClock,
    mut progress: impl FnMut(DeviceProgress),
) -> Result<TokenGrant, DeviceError> {
    let mut interval = authorization.interval;
    loop {
        if clock.now() >= authorization.expires_at {
            return Err(DeviceError::Expired);
        }
        let next_poll = (clock.now() + chrono::Duration::from_std(interval).unwrap_or_default())
            .min(authorization.expires_at);
        progress(DeviceProgress::Waiting { next_poll });
        clock.sleep_until(next_poll).await;
        match oauth.poll_device(&authorization.device_code).await {
            Ok(DevicePoll::Granted(grant)) => return Ok(grant),
            Ok(DevicePoll::Pending) => {}
            Ok(DevicePoll::SlowDown) => {
                interval += SLOW_DOWN_STEP;
                progress(DeviceProgress::SlowedDown { interval });
            }
            Err(DeviceError::Transient(problem)) => {
                tracing::warn!(%problem, "polling the token endpoint failed; polling less often");
                interval = (interval * 2).min(MAX_BACKOFF.max(interval));
            }
            Err(other) => return Err(other),
        }
    }
}
