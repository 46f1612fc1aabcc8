//! The device authorization grant's memory (RFC 8628): the device codes handed to devices, the
//! user codes a person types on the `/activate` page, the person's decision, and each code's
//! polling interval. Pure state like [`crate::grants`]: every decision takes `now` from the
//! caller's clock, so that tests can walk a code through its lifetime with a `ManualClock`.
//!
//! The tokens themselves are issued by `grants` once a poll finds the code approved; this module
//! only says when that may happen.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng as _;

use crate::grants::random_token;

/// RFC 8628 §6.1: consonants only, so that no word (rude or not) can be spelt, and no vowel or
/// digit is mistaken for another.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;
/// RFC 8628 §3.5: every `slow_down` adds this much to the code's interval.
const SLOW_DOWN_STEP: u64 = 5;
/// How long a code is remembered after it expired, so that late polls and late visits to the
/// activation page hear "expired" rather than "unknown".
const EXPIRED_CODE_MEMORY: TimeDelta = TimeDelta::hours(1);

/// What a device asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRequest {
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// The answer to a device authorization request.
#[derive(Debug)]
pub struct Authorization {
    pub device_code: String,
    /// As shown to people: `ABCD-EFGH`.
    pub user_code: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// Why a poll gets no tokens (yet); each is one RFC 8628 §3.5 error code.
#[derive(Debug, PartialEq, Eq)]
pub enum PollError {
    Pending,
    SlowDown,
    Denied,
    Expired,
    InvalidGrant(&'static str),
}

/// Why the activation page cannot take a decision for a user code.
#[derive(Debug, PartialEq, Eq)]
pub enum ActivateError {
    Unknown,
    Expired,
    AlreadyDecided,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Pending,
    Approved,
    Denied,
}

struct DeviceCode {
    request: DeviceRequest,
    /// Normalized (upper case, no separator).
    user_code: String,
    expires_at: DateTime<Utc>,
    /// Seconds; grows by `SLOW_DOWN_STEP` with every `slow_down`.
    interval: u64,
    last_poll: Option<DateTime<Utc>>,
    decision: Decision,
    /// Tokens were issued for it: it answers nothing but `invalid_grant` any more.
    spent: bool,
}

impl DeviceCode {
    fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

pub struct DeviceCodes {
    interval: u64,
    expires_in: u64,
    /// By device code.
    codes: HashMap<String, DeviceCode>,
    /// Normalized user code → device code.
    user_codes: HashMap<String, String>,
    /// A test control: the next poll answers `slow_down` whatever its timing.
    force_slow_down: bool,
}

impl DeviceCodes {
    pub fn new(interval: u64, expires_in: u64) -> Self {
        Self {
            interval,
            expires_in,
            codes: HashMap::new(),
            user_codes: HashMap::new(),
            force_slow_down: false,
        }
    }

    /// A new device code and user code for `request`.
    pub fn authorize(&mut self, request: DeviceRequest, now: DateTime<Utc>) -> Authorization {
        self.forget_old(now);
        let user_code = loop {
            let candidate = new_user_code();
            if !self.user_codes.contains_key(&candidate) {
                break candidate;
            }
        };
        let device_code = random_token(32);
        let expires_at = now
            .checked_add_signed(seconds(self.expires_in))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.user_codes
            .insert(user_code.clone(), device_code.clone());
        self.codes.insert(
            device_code.clone(),
            DeviceCode {
                request,
                user_code: user_code.clone(),
                expires_at,
                interval: self.interval,
                last_poll: None,
                decision: Decision::Pending,
                spent: false,
            },
        );
        Authorization {
            device_code,
            user_code: display_user_code(&user_code),
            expires_in: self.expires_in,
            interval: self.interval,
        }
    }

    /// The request behind a user code still waiting for a decision, for the activation page.
    pub fn pending(
        &self,
        user_code: &str,
        now: DateTime<Utc>,
    ) -> Result<DeviceRequest, ActivateError> {
        self.undecided(user_code, now)
            .map(|(_, code)| code.request.clone())
    }

    /// Record the person's decision; a code is decided once.
    pub fn decide(
        &mut self,
        user_code: &str,
        approve: bool,
        now: DateTime<Utc>,
    ) -> Result<DeviceRequest, ActivateError> {
        let device_code = self.undecided(user_code, now)?.0.clone();
        let code = self
            .codes
            .get_mut(&device_code)
            .ok_or(ActivateError::Unknown)?;
        code.decision = if approve {
            Decision::Approved
        } else {
            Decision::Denied
        };
        Ok(code.request.clone())
    }

    /// Make the next poll answer `slow_down`, whatever its timing.
    pub fn force_slow_down(&mut self) {
        self.force_slow_down = true;
    }

    /// One poll of the token endpoint by `client_id`. `Ok` means approved: the code is spent
    /// and the caller issues the tokens.
    ///
    /// A denied code answers `access_denied` for as long as it is remembered; any other expires.
    /// `slow_down` is, as RFC 8628 §3.5 says, a variant of `authorization_pending`: only a code
    /// still waiting is told to slow down by its timing, so that a client polling at once after
    /// the decision hears it. The forced one answers the next poll of any live code.
    pub fn poll(
        &mut self,
        client_id: &str,
        device_code: &str,
        now: DateTime<Utc>,
    ) -> Result<DeviceRequest, PollError> {
        let Some(code) = self.codes.get_mut(device_code) else {
            return Err(PollError::InvalidGrant(
                "The device code is invalid or has expired.",
            ));
        };
        if code.request.client_id != client_id {
            return Err(PollError::InvalidGrant(
                "The device code was issued to another client.",
            ));
        }
        if code.spent {
            return Err(PollError::InvalidGrant(
                "The device code has already been used.",
            ));
        }
        if code.decision != Decision::Denied && code.is_expired(now) {
            return Err(PollError::Expired);
        }
        let previous = code.last_poll.replace(now);
        if std::mem::take(&mut self.force_slow_down) {
            code.interval = code.interval.saturating_add(SLOW_DOWN_STEP);
            return Err(PollError::SlowDown);
        }
        match code.decision {
            Decision::Denied => Err(PollError::Denied),
            Decision::Approved => {
                code.spent = true;
                Ok(code.request.clone())
            }
            Decision::Pending => {
                if previous.is_some_and(|at| now - at < seconds(code.interval)) {
                    code.interval = code.interval.saturating_add(SLOW_DOWN_STEP);
                    Err(PollError::SlowDown)
                } else {
                    Err(PollError::Pending)
                }
            }
        }
    }

    /// The live, undecided code a person typed, with its device code.
    fn undecided(
        &self,
        user_code: &str,
        now: DateTime<Utc>,
    ) -> Result<(&String, &DeviceCode), ActivateError> {
        let (device_code, code) = self
            .user_codes
            .get(&normalize_user_code(user_code))
            .and_then(|device_code| self.codes.get_key_value(device_code))
            .ok_or(ActivateError::Unknown)?;
        if code.decision != Decision::Pending || code.spent {
            return Err(ActivateError::AlreadyDecided);
        }
        if code.is_expired(now) {
            return Err(ActivateError::Expired);
        }
        Ok((device_code, code))
    }

    fn forget_old(&mut self, now: DateTime<Utc>) {
        let forgotten: Vec<String> = self
            .codes
            .iter()
            .filter(|(_, code)| now - code.expires_at > EXPIRED_CODE_MEMORY)
            .map(|(device_code, _)| device_code.clone())
            .collect();
        for device_code in forgotten {
            if let Some(code) = self.codes.remove(&device_code) {
                self.user_codes.remove(&code.user_code);
            }
        }
    }
}

/// Eight letters of the RFC 8628 alphabet, normalized (no separator).
fn new_user_code() -> String {
    let mut rng = rand::thread_rng();
    (0..USER_CODE_LENGTH)
        .map(|_| char::from(USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())]))
        .collect()
}

/// `ABCDEFGH` → `ABCD-EFGH`, easier to read and type.
fn display_user_code(normalized: &str) -> String {
    let (first, second) = normalized.split_at(normalized.len() / 2);
    format!("{first}-{second}")
}

/// RFC 8628 §6.1: what a person types is compared without case, dashes or spaces.
pub fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn seconds(secs: u64) -> TimeDelta {
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn request() -> DeviceRequest {
        DeviceRequest {
            client_id: "client".into(),
            scopes: vec!["contact_data".into()],
        }
    }

    #[test]
    fn a_user_code_is_eight_consonants_shown_in_two_halves() {
        let mut codes = DeviceCodes::new(5, 600);
        let issued = codes.authorize(request(), now());
        let (first, second) = issued.user_code.split_once('-').unwrap();
        assert_eq!((first.len(), second.len()), (4, 4));
        assert!(
            format!("{first}{second}")
                .bytes()
                .all(|b| USER_CODE_ALPHABET.contains(&b))
        );
        assert!(issued.device_code.len() >= 40);
    }

    #[test]
    fn a_typed_code_matches_without_case_dashes_or_spaces() {
        let mut codes = DeviceCodes::new(5, 600);
        let issued = codes.authorize(request(), now());
        let typed = format!(" {} ", issued.user_code.to_lowercase().replace('-', " "));
        assert_eq!(codes.pending(&typed, now()), Ok(request()));
        assert_eq!(
            codes.pending("BCDF-GHJK-X", now()),
            Err(ActivateError::Unknown)
        );
    }

    #[test]
    fn a_code_of_another_client_is_an_invalid_grant() {
        let mut codes = DeviceCodes::new(5, 600);
        let issued = codes.authorize(request(), now());
        assert!(matches!(
            codes.poll("other", &issued.device_code, now()),
            Err(PollError::InvalidGrant(_))
        ));
        assert_eq!(
            codes.poll("client", &issued.device_code, now()),
            Err(PollError::Pending)
        );
    }

    #[test]
    fn a_denied_code_stays_denied_after_it_expires_and_cannot_be_decided_again() {
        let mut codes = DeviceCodes::new(5, 600);
        let issued = codes.authorize(request(), now());
        codes.decide(&issued.user_code, false, now()).unwrap();
        assert_eq!(
            codes.decide(&issued.user_code, true, now()),
            Err(ActivateError::AlreadyDecided)
        );
        let later = now() + TimeDelta::seconds(900);
        assert_eq!(
            codes.poll("client", &issued.device_code, later),
            Err(PollError::Denied)
        );
    }

    #[test]
    fn codes_are_forgotten_an_hour_after_they_expire() {
        let mut codes = DeviceCodes::new(5, 600);
        let old = codes.authorize(request(), now());
        let much_later =
            now() + TimeDelta::seconds(600) + EXPIRED_CODE_MEMORY + TimeDelta::seconds(1);
        codes.authorize(request(), much_later);
        assert!(matches!(
            codes.poll("client", &old.device_code, much_later),
            Err(PollError::InvalidGrant(_))
        ));
        assert_eq!(
            codes.pending(&old.user_code, much_later),
            Err(ActivateError::Unknown)
        );
    }
}
