//! `[admin]` (who may use the console) and `[security]` (the key tokens are encrypted with).

use std::fmt;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub username: String,
    /// An Argon2id PHC string from `ccbridge hash-password`; empty means "admin pages disabled".
    #[serde(
        deserialize_with = "deserialize_password_hash",
        serialize_with = "super::secret::presence"
    )]
    pub password_hash: SecretString,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            username: "admin".to_owned(),
            password_hash: SecretString::from(String::new()),
        }
    }
}

fn deserialize_password_hash<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    let s = String::deserialize(d)?;
    if !s.is_empty() {
        crate::password::check_hash_format(&s).map_err(serde::de::Error::custom)?;
    }
    Ok(SecretString::from(s))
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// 32 bytes, base64; encrypts tokens at rest when set.
    #[serde(
        deserialize_with = "deserialize_encryption_key",
        serialize_with = "super::secret::optional_presence"
    )]
    pub token_encryption_key: Option<EncryptionKey>,
}

/// A 32-byte key; its `Debug` never shows the bytes.
pub struct EncryptionKey(SecretBox<[u8; 32]>);

impl EncryptionKey {
    pub fn bytes(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

fn deserialize_encryption_key<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<EncryptionKey>, D::Error> {
    let s = SecretString::deserialize(d)?;
    let s = s.expose_secret().trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| {
            serde::de::Error::custom("must be base64 (e.g. from `openssl rand -base64 32`)")
        })?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        serde::de::Error::custom(format!(
            "must decode to exactly 32 bytes, got {} bytes",
            b.len()
        ))
    })?;
    Ok(Some(EncryptionKey(SecretBox::new(Box::new(key)))))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use crate::config::Config;

    #[test]
    fn the_encryption_key_must_be_32_bytes_of_base64() {
        let err = Config::from_toml("[security]\ntoken_encryption_key = \"c2hvcnQ=\"").unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let config =
            Config::from_toml(&format!("[security]\ntoken_encryption_key = \"{key}\"")).unwrap();
        assert_eq!(
            config.security.token_encryption_key.unwrap().bytes(),
            &[7u8; 32]
        );
    }
}
