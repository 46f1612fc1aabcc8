//! Pointing the `[constant_contact]` settings at a running Constant Contact sandbox, for
//! `ccbridge demo`, the tests and the benchmarks. The six keys that do it (the client id and
//! secret, the authorize, token, device authorization and API URLs) are named once, in `SandboxConnection`: a caller
//! that builds its configuration in memory applies them, one that writes a config file gets the
//! same keys as TOML.

use ccbridge_sandbox::Sandbox;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Serialize, Serializer};
use url::Url;

use super::ConstantContactConfig;

/// The `[constant_contact]` keys that connect ccbridge to a sandbox.
#[derive(Debug, Serialize)]
struct SandboxConnection {
    client_id: String,
    #[serde(serialize_with = "expose")]
    client_secret: SecretString,
    authorize_url: Url,
    token_url: Url,
    device_authorization_url: Url,
    api_base_url: Url,
}

impl SandboxConnection {
    fn of(sandbox: &Sandbox) -> Self {
        Self {
            client_id: sandbox.client_id().to_owned(),
            client_secret: SecretString::from(sandbox.client_secret().to_owned()),
            authorize_url: sandbox.authorize_url(),
            token_url: sandbox.token_url(),
            device_authorization_url: sandbox.device_authorization_url(),
            api_base_url: sandbox.api_base_url(),
        }
    }
}

/// Only for writing a config file, which must hold the secret in clear.
fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

impl ConstantContactConfig {
    /// Point these settings at `sandbox`: its client id and secret, and its authorize, token and
    /// API URLs. Everything else (scopes, limits, timeouts) stays as configured. The secret goes
    /// from the sandbox into a `SecretString` without passing through any text.
    pub fn point_at_sandbox(&mut self, sandbox: &Sandbox) {
        let SandboxConnection {
            client_id,
            client_secret,
            authorize_url,
            token_url,
            device_authorization_url,
            api_base_url,
        } = SandboxConnection::of(sandbox);
        self.client_id = client_id;
        self.client_secret = client_secret;
        self.authorize_url = authorize_url;
        self.token_url = token_url;
        self.device_authorization_url = device_authorization_url;
        self.api_base_url = api_base_url;
    }

    /// The same keys as TOML lines, to write under a config file's `[constant_contact]` table.
    /// The text holds the sandbox's client secret (worthless anywhere but that sandbox).
    pub fn sandbox_toml(sandbox: &Sandbox) -> String {
        toml::to_string(&SandboxConnection::of(sandbox)).expect("strings and URLs render as TOML")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ccbridge_sandbox::SandboxConfig;
    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::clock::SystemClock;
    use crate::config::Config;

    #[tokio::test]
    async fn a_config_file_and_a_config_in_memory_point_at_the_same_sandbox() {
        let sandbox = Sandbox::start(
            SandboxConfig::default(),
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();

        let text = ConstantContactConfig::sandbox_toml(&sandbox);
        let from_file = Config::from_toml(&format!("[constant_contact]\n{text}"))
            .unwrap()
            .constant_contact;
        let mut in_memory = ConstantContactConfig::default();
        in_memory.point_at_sandbox(&sandbox);

        for cc in [&from_file, &in_memory] {
            assert_eq!(cc.client_id, sandbox.client_id());
            assert_eq!(cc.client_secret.expose_secret(), sandbox.client_secret());
            assert_eq!(cc.authorize_url, sandbox.authorize_url());
            assert_eq!(cc.token_url, sandbox.token_url());
            assert_eq!(cc.api_base_url, sandbox.api_base_url());
            assert_eq!(
                cc.device_authorization_url,
                sandbox.device_authorization_url()
            );
        }
        assert_eq!(from_file.scopes, in_memory.scopes, "nothing else changes");
        sandbox.shutdown().await;
    }

    #[test]
    fn the_connection_keeps_its_secret_out_of_debug_output() {
        let connection = SandboxConnection {
            client_id: "id".to_owned(),
            client_secret: SecretString::from("s3cret".to_owned()),
            authorize_url: "http://127.0.0.1:1/a".parse().unwrap(),
            token_url: "http://127.0.0.1:1/t".parse().unwrap(),
            device_authorization_url: "http://127.0.0.1:1/d".parse().unwrap(),
            api_base_url: "http://127.0.0.1:1/v3".parse().unwrap(),
        };
        assert!(!format!("{connection:?}").contains("s3cret"));
    }
}
