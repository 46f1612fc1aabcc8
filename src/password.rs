//! Secrets ccbridge makes or checks: admin password hashing (`ccbridge hash-password` produces the
//! Argon2id PHC string that `admin.password_hash` holds, and the admin routes verify against it),
//! and random tokens (session ids, CSRF tokens, the OAuth browser key, the demo's password).

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};

/// `bytes` random bytes from the OS's generator, base64url without padding (cookie-, URL- and
/// header-safe). 32 bytes for anything that guards access.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

/// Hash a password with Argon2id and a random salt (default, OWASP-recommended parameters).
pub fn hash(password: &SecretString) -> anyhow::Result<String> {
    if password.expose_secret().is_empty() {
        anyhow::bail!("the password is empty");
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Check, in constant time with respect to the password, that `password` matches `phc`.
pub fn verify(password: &str, phc: &SecretString) -> bool {
    PasswordHash::new(phc.expose_secret())
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Config-time check: the value is a PHC string for Argon2id.
pub fn check_hash_format(phc: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| format!("not a password hash from `ccbridge hash-password` ({e})"))?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(format!(
            "must be an Argon2id hash, got `{}`",
            parsed.algorithm
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc =
            SecretString::from(hash(&SecretString::from("correct horse".to_owned())).unwrap());
        assert!(check_hash_format(phc.expose_secret()).is_ok());
        assert!(verify("correct horse", &phc));
        assert!(!verify("wrong horse", &phc));
    }

    #[test]
    fn non_argon2id_values_are_refused() {
        assert!(check_hash_format("plaintext").is_err());
        assert!(
            check_hash_format("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$L6NaAvD2sSmxQJRVr2Ykuw")
                .is_err()
        );
    }

    #[test]
    fn random_tokens_are_url_safe_and_differ() {
        let token = random_token(32);
        assert_eq!(token.len(), 43);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(random_token(32), token);
    }

    #[test]
    fn an_empty_password_is_refused() {
        assert!(hash(&SecretString::from(String::new())).is_err());
    }
}
