//! The authorization server's memory: authorization codes, the grants a person approved, and the
//! access and refresh tokens issued from each grant, with Constant Contact's expiry, rotation and
//! revocation rules. Pure state: every decision takes `now` from the caller's clock.
//!
//! A grant belongs to the account current when it was made (`set_account`), so that a test can
//! connect two accounts and see which one a token reaches. Grants made by the device flow are a
//! public client's: their refresh tokens may be used without client authentication.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// CC: "the code is valid for 5 minutes and can be used once".
const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(5);
/// CC: refresh tokens of both kinds expire when not used for 180 days.
const REFRESH_IDLE_LIFETIME: TimeDelta = TimeDelta::days(180);
/// How long a redeemed code is remembered, so that its reuse can revoke the grant.
const REDEEMED_CODE_MEMORY: TimeDelta = TimeDelta::hours(1);

pub const OFFLINE_ACCESS: &str = "offline_access";

/// A random URL-safe string carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// What an approved authorization request binds its code to.
#[derive(Clone, Debug)]
pub struct CodeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub code_challenge: String,
}

/// Tokens issued by a successful grant.
#[derive(Debug)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
    pub expires_in: u64,
    pub issued_at: DateTime<Utc>,
    /// The account the grant belongs to.
    pub account: String,
}

/// What a live access token reaches.
#[derive(Clone, Debug)]
pub struct Access {
    pub scopes: Vec<String>,
    pub account: String,
}

/// How the client presenting a refresh token identified itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client secret.
    Confidential,
    /// Only a `client_id`, as a device (public client) does.
    Public,
}

/// Why a grant was refused; the text is the `error_description`.
#[derive(Debug, PartialEq, Eq)]
pub enum GrantError {
    InvalidGrant(&'static str),
    InvalidScope(&'static str),
    /// A confidential client's refresh token presented without client authentication.
    ClientAuthRequired,
}

type GrantId = usize;

struct Code {
    request: CodeRequest,
    issued_at: DateTime<Utc>,
    redeemed: bool,
    /// The grant made from this code, revoked if the code is presented again.
    grant: Option<GrantId>,
}

struct Grant {
    client_id: String,
    scopes: Vec<String>,
    account: String,
    /// Made by the device flow: its refresh tokens need no client secret.
    public: bool,
}

struct AccessToken {
    grant: GrantId,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
}

struct RefreshToken {
    grant: GrantId,
    last_used: DateTime<Utc>,
}

pub struct Grants {
    expires_in: u64,
    rotating: bool,
    /// The account new grants belong to.
    account: String,
    codes: HashMap<String, Code>,
    grants: Vec<Grant>,
    /// Only live tokens are kept: a token that is not here is unknown, expired or revoked,
    /// which the API answers alike.
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
}

impl Grants {
    pub fn new(expires_in: u64, rotating: bool, account: String) -> Self {
        Self {
            expires_in,
            rotating,
            account,
            codes: HashMap::new(),
            grants: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
        }
    }

    pub fn set_expires_in(&mut self, secs: u64) {
        self.expires_in = secs;
    }

    /// The account grants made from now on belong to; earlier grants keep theirs.
    pub fn set_account(&mut self, name: &str) {
        name.clone_into(&mut self.account);
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// A new single-use code for an approved request.
    pub fn issue_code(&mut self, request: CodeRequest, now: DateTime<Utc>) -> String {
        self.codes
            .retain(|_, code| now - code.issued_at < REDEEMED_CODE_MEMORY);
        let code = random_token(32);
        self.codes.insert(
            code.clone(),
            Code {
                request,
                issued_at: now,
                redeemed: false,
                grant: None,
            },
        );
        code
    }

    /// The `authorization_code` grant. A code is spent by the first attempt to redeem it, even a
    /// failed one, so that a wrong verifier cannot be retried; presenting it again revokes
    /// every token issued from it (RFC 6749 §4.1.2).
    pub fn redeem_code(
        &mut self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Issued, GrantError> {
        let Some(entry) = self.codes.get_mut(code) else {
            return Err(GrantError::InvalidGrant(
                "The authorization code is invalid or has expired.",
            ));
        };
        if entry.redeemed {
            if let Some(grant) = entry.grant {
                self.revoke_grant(grant);
            }
            return Err(GrantError::InvalidGrant(
                "The authorization code has already been used; the tokens issued from it are revoked.",
            ));
        }
        entry.redeemed = true;
        let request = entry.request.clone();
        if now - entry.issued_at >= CODE_LIFETIME {
            return Err(GrantError::InvalidGrant(
                "The authorization code is invalid or has expired.",
            ));
        }
        if request.client_id != client_id {
            return Err(GrantError::InvalidGrant(
                "The authorization code was issued to another client.",
            ));
        }
        if request.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant(
                "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
            ));
        }
        let Some(verifier) = code_verifier else {
            return Err(GrantError::InvalidGrant(
                "PKCE verification failed: the 'code_verifier' is missing.",
            ));
        };
        if !pkce_matches(verifier, &request.code_challenge) {
            return Err(GrantError::InvalidGrant(
                "PKCE verification failed: the 'code_verifier' does not match the 'code_challenge'.",
            ));
        }
        let grant = self.new_grant(request.client_id, request.scopes.clone(), false);
        if let Some(entry) = self.codes.get_mut(code) {
            entry.grant = Some(grant);
        }
        let refresh_token = request
            .scopes
            .iter()
            .any(|s| s == OFFLINE_ACCESS)
            .then(|| self.new_refresh_token(grant, now));
        Ok(self.new_access_token(grant, request.scopes, refresh_token, now))
    }

    /// The tokens of an approved device code: a public client's grant, with a refresh token
    /// when `offline_access` was asked and `refresh_tokens` allows it.
    pub fn grant_device(
        &mut self,
        client_id: String,
        scopes: Vec<String>,
        refresh_tokens: bool,
        now: DateTime<Utc>,
    ) -> Issued {
        let grant = self.new_grant(client_id, scopes.clone(), true);
        let refresh_token = (refresh_tokens && scopes.iter().any(|s| s == OFFLINE_ACCESS))
            .then(|| self.new_refresh_token(grant, now));
        self.new_access_token(grant, scopes, refresh_token, now)
    }

    /// The `refresh_token` grant. Rotating mode: a new refresh token, and every earlier one of
    /// the grant dies. Long-lived mode: the same token comes back. Only a public (device)
    /// grant's token may be refreshed by a client that did not authenticate.
    pub fn refresh(
        &mut self,
        client_id: &str,
        refresh_token: &str,
        requested_scopes: Option<Vec<String>>,
        client_auth: ClientAuth,
        now: DateTime<Utc>,
    ) -> Result<Issued, GrantError> {
        const INVALID: GrantError =
            GrantError::InvalidGrant("The refresh token is invalid or expired.");
        let Some(token) = self.refresh.get(refresh_token) else {
            return Err(INVALID);
        };
        let grant_id = token.grant;
        let grant = &self.grants[grant_id];
        if grant.client_id != client_id {
            return Err(INVALID);
        }
        if client_auth == ClientAuth::Public && !grant.public {
            return Err(GrantError::ClientAuthRequired);
        }
        if now - token.last_used > REFRESH_IDLE_LIFETIME {
            self.refresh.remove(refresh_token);
            return Err(INVALID);
        }
        let scopes = match requested_scopes {
            None => grant.scopes.clone(),
            Some(requested) if requested.iter().all(|s| grant.scopes.contains(s)) => requested,
            Some(_) => {
                return Err(GrantError::InvalidScope(
                    "The requested scopes exceed the scopes of the original grant.",
                ));
            }
        };
        let refresh_token = if self.rotating {
            self.refresh.retain(|_, t| t.grant != grant_id);
            self.new_refresh_token(grant_id, now)
        } else {
            if let Some(token) = self.refresh.get_mut(refresh_token) {
                token.last_used = now;
            }
            refresh_token.to_owned()
        };
        Ok(self.new_access_token(grant_id, scopes, Some(refresh_token), now))
    }

    /// The scopes and account of a live access token.
    pub fn access(&self, access_token: &str, now: DateTime<Utc>) -> Option<Access> {
        let token = self
            .access
            .get(access_token)
            .filter(|t| now < t.expires_at)?;
        Some(Access {
            scopes: token.scopes.clone(),
            account: self.grants.get(token.grant)?.account.clone(),
        })
    }

    /// The app was revoked: no code, refresh token or access token works any more.
    pub fn revoke_all(&mut self) {
        self.codes.clear();
        self.access.clear();
        self.refresh.clear();
    }

    /// Every access token issued so far stops working; refresh tokens do not.
    pub fn expire_access_tokens(&mut self) {
        self.access.clear();
    }

    fn new_grant(&mut self, client_id: String, scopes: Vec<String>, public: bool) -> GrantId {
        self.grants.push(Grant {
            client_id,
            scopes,
            account: self.account.clone(),
            public,
        });
        self.grants.len() - 1
    }

    fn revoke_grant(&mut self, grant: GrantId) {
        self.access.retain(|_, t| t.grant != grant);
        self.refresh.retain(|_, t| t.grant != grant);
    }

    fn new_refresh_token(&mut self, grant: GrantId, now: DateTime<Utc>) -> String {
        let token = random_token(32);
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                grant,
                last_used: now,
            },
        );
        token
    }

    fn new_access_token(
        &mut self,
        grant: GrantId,
        scopes: Vec<String>,
        refresh_token: Option<String>,
        now: DateTime<Utc>,
    ) -> Issued {
        self.access.retain(|_, t| now < t.expires_at);
        let lifetime = i64::try_from(self.expires_in)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .unwrap_or(TimeDelta::MAX);
        let expires_at = now
            .checked_add_signed(lifetime)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let access_token = random_token(48);
        self.access.insert(
            access_token.clone(),
            AccessToken {
                grant,
                scopes: scopes.clone(),
                expires_at,
            },
        );
        let account = self
            .grants
            .get(grant)
            .map_or_else(|| self.account.clone(), |g| g.account.clone());
        Issued {
            access_token,
            refresh_token,
            scopes,
            expires_in: self.expires_in,
            issued_at: now,
            account,
        }
    }
}

/// RFC 7636 S256: `BASE64URL-NOPAD(SHA256(ASCII(code_verifier))) == code_challenge`, for a
/// verifier of 43 to 128 unreserved characters.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    is_pkce_value(verifier)
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`. An S256 challenge has the same
/// form (43 characters), so this checks both.
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636 appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn request(scopes: &[&str]) -> CodeRequest {
        CodeRequest {
            client_id: "client".into(),
            redirect_uri: "http://localhost/cb".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            code_challenge: CHALLENGE.into(),
        }
    }

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        assert!(pkce_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_matches(CHALLENGE, CHALLENGE));
        assert!(!pkce_matches("short", CHALLENGE));
    }

    #[test]
    fn a_code_redeems_once_and_its_reuse_revokes_the_tokens() {
        let mut grants = Grants::new(60, true, "Account".into());
        let code = grants.issue_code(request(&["contact_data", "offline_access"]), now());
        let issued = grants
            .redeem_code(
                "client",
                &code,
                "http://localhost/cb",
                Some(VERIFIER),
                now(),
            )
            .unwrap();
        assert!(grants.access(&issued.access_token, now()).is_some());

        let again = grants.redeem_code(
            "client",
            &code,
            "http://localhost/cb",
            Some(VERIFIER),
            now(),
        );
        assert!(matches!(again, Err(GrantError::InvalidGrant(_))));
        assert!(grants.access(&issued.access_token, now()).is_none());
        let refresh = issued.refresh_token.unwrap();
        assert!(
            grants
                .refresh("client", &refresh, None, ClientAuth::Confidential, now())
                .is_err()
        );
    }

    #[test]
    fn access_tokens_die_at_expires_in() {
        let mut grants = Grants::new(60, true, "Account".into());
        let code = grants.issue_code(request(&["contact_data"]), now());
        let issued = grants
            .redeem_code(
                "client",
                &code,
                "http://localhost/cb",
                Some(VERIFIER),
                now(),
            )
            .unwrap();
        assert_eq!(
            issued.refresh_token, None,
            "no offline_access, no refresh token"
        );
        let token = &issued.access_token;
        assert!(
            grants
                .access(token, now() + TimeDelta::seconds(59))
                .is_some()
        );
        assert!(
            grants
                .access(token, now() + TimeDelta::seconds(60))
                .is_none()
        );
    }

    #[test]
    fn a_refresh_token_idle_for_more_than_180_days_is_dead() {
        let mut grants = Grants::new(60, false, "Account".into());
        let code = grants.issue_code(request(&["contact_data", "offline_access"]), now());
        let refresh = grants
            .redeem_code(
                "client",
                &code,
                "http://localhost/cb",
                Some(VERIFIER),
                now(),
            )
            .unwrap()
            .refresh_token
            .unwrap();
        let later = now() + TimeDelta::days(179);
        assert!(
            grants
                .refresh("client", &refresh, None, ClientAuth::Confidential, later)
                .is_ok()
        );
        // Using it restarted the idle clock.
        assert!(
            grants
                .refresh(
                    "client",
                    &refresh,
                    None,
                    ClientAuth::Confidential,
                    later + TimeDelta::days(179)
                )
                .is_ok()
        );
        let too_late = later + TimeDelta::days(179 + 181);
        assert!(
            grants
                .refresh("client", &refresh, None, ClientAuth::Confidential, too_late)
                .is_err()
        );
    }

    #[test]
    fn a_refresh_may_narrow_the_scopes_but_not_widen_them() {
        let mut grants = Grants::new(60, false, "Account".into());
        let code = grants.issue_code(request(&["contact_data", "offline_access"]), now());
        let refresh = grants
            .redeem_code(
                "client",
                &code,
                "http://localhost/cb",
                Some(VERIFIER),
                now(),
            )
            .unwrap()
            .refresh_token
            .unwrap();
        let narrowed = grants
            .refresh(
                "client",
                &refresh,
                Some(vec!["contact_data".into()]),
                ClientAuth::Confidential,
                now(),
            )
            .unwrap();
        assert_eq!(narrowed.scopes, vec!["contact_data"]);
        let widened = grants.refresh(
            "client",
            &refresh,
            Some(vec!["account_read".into()]),
            ClientAuth::Confidential,
            now(),
        );
        assert!(matches!(widened, Err(GrantError::InvalidScope(_))));
    }
}
