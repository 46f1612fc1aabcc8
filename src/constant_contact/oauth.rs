//! The OAuth2 side of Constant Contact: building the authorize URL (with PKCE S256 and a `state`),
//! exchanging a code, and refreshing; the device flow is in `device`. Client authentication is
//! HTTP Basic, as Constant Contact documents, when a client secret is configured; without one
//! ccbridge is a public client (device-flow applications) and sends its client id in the form.
//! Token calls never follow redirects (see `http_client`).

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::config::ConstantContactConfig;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Used when a token response leaves out `expires_in` (Constant Contact always sends it):
/// short enough that a wrong guess costs a refresh, not an outage.
const FALLBACK_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest access-token lifetime believed (Constant Contact's is 24 hours).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone)]
pub struct OAuthClient {
    client: Client,
    pub(super) http: reqwest::Client,
    pub(super) scopes: Vec<String>,
    pub(super) client_id: String,
    pub(super) token_url: Url,
    pub(super) device_authorization_url: Url,
}

/// A successful token response, reduced to what ccbridge keeps.
pub struct TokenGrant {
    pub access_token: SecretString,
    /// `None` when the server sent none (no `offline_access`, or a refresh that kept the old one).
    pub refresh_token: Option<SecretString>,
    pub expires_in: Duration,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Why a token call failed, in the terms the token keeper decides on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The grant (code or refresh token) is invalid, expired, revoked or already used:
    /// only a person can fix this, by connecting again.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client id or secret is not accepted: the configuration needs fixing.
    #[error(
        "the client credentials were refused ({0}); check constant_contact.client_id and client_secret"
    )]
    InvalidClient(String),
    /// Anything that may go away by itself: network, timeouts, 5xx, unreadable answers.
    #[error("temporary failure: {0}")]
    Transient(String),
}

impl OAuthClient {
    pub fn new(config: &ConstantContactConfig, redirect_uri: Url, http: reqwest::Client) -> Self {
        let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(config.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(config.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(redirect_uri));
        // Without a secret the oauth2 crate sends `client_id` in the form: a public client.
        let secret = config.client_secret.expose_secret();
        if !secret.is_empty() {
            client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
        }
        Self {
            client,
            http,
            scopes: config.scopes.clone(),
            client_id: config.client_id.clone(),
            token_url: config.token_url.clone(),
            device_authorization_url: config.device_authorization_url.clone(),
        }
    }

    /// The URL to send the admin's browser to, the `state` it carries, and the PKCE verifier to
    /// keep (server-side) for the exchange.
    pub fn authorize_url(&self) -> (Url, String, SecretString) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        (
            url,
            state.secret().clone(),
            SecretString::from(verifier.secret().clone()),
        )
    }

    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &SecretString,
    ) -> Result<TokenGrant, OAuthError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        Ok(self.grant(&response))
    }

    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, OAuthError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        Ok(self.grant(&response))
    }

    pub(super) fn grant(&self, response: &BasicTokenResponse) -> TokenGrant {
        let scopes = response
            .scopes()
            .map(|granted| granted.iter().map(|s| s.to_string()).collect())
            .unwrap_or_else(|| self.scopes.clone());
        let expires_in = response
            .expires_in()
            .unwrap_or_else(|| {
                tracing::warn!("token response without expires_in; assuming one hour");
                FALLBACK_LIFETIME
            })
            // A nonsensical lifetime must not overflow date arithmetic; refreshing early is harmless.
            .min(MAX_LIFETIME);
        TokenGrant {
            access_token: SecretString::from(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| SecretString::from(t.secret().clone())),
            expires_in,
            scopes,
        }
    }
}

type TokenError =
    RequestTokenError<HttpClientError<reqwest::Error>, oauth2::basic::BasicErrorResponse>;

/// Sort a failed token call into invalid grant / invalid client / transient. Never includes a
/// token or secret: the server's error code and description only.
fn classify(error: TokenError) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned().unwrap_or_default();
            match response.error() {
                BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant(description),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => {
                    OAuthError::InvalidClient(format!("{}: {description}", response.error()))
                }
                other => OAuthError::Transient(format!("{other}: {description}")),
            }
        }
        RequestTokenError::Request(e) => OAuthError::Transient(format!("request failed: {e}")),
        RequestTokenError::Parse(e, _body) => {
            OAuthError::Transient(format!("unreadable token response: {e}"))
        }
        RequestTokenError::Other(e) => OAuthError::Transient(e),
    }
}
