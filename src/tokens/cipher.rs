//! Tokens at rest. With `security.token_encryption_key` set, every token (and PKCE verifier) is
//! sealed with XChaCha20-Poly1305 under a random nonce, bound to what it is (`purpose`, the
//! associated data) so a ciphertext cannot be moved to another column. Without a key, values are
//! stored marked as plain text, so that adding a key later still reads old rows.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};

use crate::config::EncryptionKey;

const SEALED: &str = "v1:";
const PLAIN: &str = "plain:";
const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct TokenCipher(Option<XChaCha20Poly1305>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the stored {0} is encrypted but security.token_encryption_key is not set")]
    KeyMissing(String),
    #[error(
        "the stored {0} cannot be decrypted: wrong security.token_encryption_key, or the data was altered"
    )]
    Undecryptable(String),
    #[error("the stored {0} is in an unknown format")]
    UnknownFormat(String),
}

impl TokenCipher {
    pub fn new(key: Option<&EncryptionKey>) -> Self {
        Self(key.map(|k| XChaCha20Poly1305::new(k.bytes().into())))
    }

    pub fn encrypts(&self) -> bool {
        self.0.is_some()
    }

    /// Turn a secret into what is stored for `purpose` (e.g. "access_token").
    pub fn seal(&self, secret: &SecretString, purpose: &str) -> String {
        let Some(aead) = &self.0 else {
            return format!("{PLAIN}{}", secret.expose_secret());
        };
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: secret.expose_secret().as_bytes(),
            aad: purpose.as_bytes(),
        };
        let ciphertext = aead
            .encrypt(&nonce, payload)
            .expect("encryption with a valid key cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED}{}", B64.encode(sealed))
    }

    /// The secret back from what `seal` stored.
    pub fn open(&self, stored: &str, purpose: &str) -> Result<SecretString, CipherError> {
        if let Some(plain) = stored.strip_prefix(PLAIN) {
            return Ok(SecretString::from(plain.to_owned()));
        }
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Err(CipherError::UnknownFormat(purpose.to_owned()));
        };
        let aead = self
            .0
            .as_ref()
            .ok_or_else(|| CipherError::KeyMissing(purpose.to_owned()))?;
        let undecryptable = || CipherError::Undecryptable(purpose.to_owned());
        let bytes = B64.decode(encoded).map_err(|_| undecryptable())?;
        if bytes.len() <= NONCE_LEN {
            return Err(undecryptable());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: purpose.as_bytes(),
        };
        let plain = aead
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| undecryptable())?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| undecryptable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cipher(byte: u8) -> TokenCipher {
        let key = B64.encode([byte; 32]);
        let config =
            Config::from_toml(&format!("[security]\ntoken_encryption_key = \"{key}\"")).unwrap();
        TokenCipher::new(config.security.token_encryption_key.as_ref())
    }

    #[test]
    fn sealed_tokens_round_trip_and_hide_the_plaintext() {
        let secret = SecretString::from("the-refresh-token".to_owned());
        let sealed = cipher(1).seal(&secret, "refresh_token");
        assert!(!sealed.contains("the-refresh-token"));
        assert_eq!(
            cipher(1)
                .open(&sealed, "refresh_token")
                .unwrap()
                .expose_secret(),
            "the-refresh-token"
        );
    }

    #[test]
    fn a_wrong_key_or_purpose_or_tampering_is_detected() {
        let sealed = cipher(1).seal(&SecretString::from("t".to_owned()), "access_token");
        assert!(matches!(
            cipher(2).open(&sealed, "access_token"),
            Err(CipherError::Undecryptable(_))
        ));
        assert!(matches!(
            cipher(1).open(&sealed, "refresh_token"),
            Err(CipherError::Undecryptable(_))
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(cipher(1).open(&tampered, "access_token").is_err());
        assert!(matches!(
            TokenCipher::new(None).open(&sealed, "access_token"),
            Err(CipherError::KeyMissing(_))
        ));
    }

    #[test]
    fn plain_rows_stay_readable_after_a_key_is_added() {
        let stored =
            TokenCipher::new(None).seal(&SecretString::from("t".to_owned()), "access_token");
        assert_eq!(
            cipher(1)
                .open(&stored, "access_token")
                .unwrap()
                .expose_secret(),
            "t"
        );
    }
}
