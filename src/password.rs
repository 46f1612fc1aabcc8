//! Secrets ccbridge makes or checks: admin password hashing (`ccbridge hash-password` produces the
//! Argon2id PHC string that `admin.password_hash` holds, and the admin routes verify against it),
//! and random tokens (session ids, CSRF tokens, the OAuth browser key, the demo's password).
//!
//! A verification costs Argon2id's memory (19 MiB) and tens of milliseconds of CPU, so at most
//! [`MAX_CONCURRENT_VERIFICATIONS`] run at once in a process ([`verify_bounded`]): a flood of
//! guesses waits for a slot (and is refused after [`SLOT_WAIT`]) instead of growing the process by
//! 19 MiB per request.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use subtle::ConstantTimeEq as _;
use tokio::sync::{Semaphore, SemaphorePermit};

/// `bytes` random bytes from the OS's generator, base64url without padding (cookie-, URL- and
/// header-safe). 32 bytes for anything that guards access.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

/// The hex SHA-256 of a random token, as stored in its place (sessions, connect links): the
/// database then never holds a usable token. Random tokens need no salt or slow hash.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token)
}

/// The SHA-256 of `text`, in lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex_lower(&Sha256::digest(text.as_bytes()))
}

/// Bytes as lower-case hex.
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Password verifications that may run at once in this process.
pub const MAX_CONCURRENT_VERIFICATIONS: usize = 2;
/// How long a verification waits for a slot before it is refused ([`Busy`]).
pub const SLOT_WAIT: Duration = Duration::from_secs(2);

/// Process-wide, like the memory it protects.
static SLOTS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_VERIFICATIONS);
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// No verification slot came free within [`SLOT_WAIT`]: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// [`verify`] on the blocking pool, at most [`MAX_CONCURRENT_VERIFICATIONS`] at once; `Err(Busy)`
/// when no slot came free within [`SLOT_WAIT`]. The slot is held by the blocking task itself, so a
/// caller that gives up (a request timeout) does not free it while Argon2 still runs.
pub async fn verify_bounded(password: SecretString, phc: SecretString) -> Result<bool, Busy> {
    let Ok(Ok(slot)) = tokio::time::timeout(SLOT_WAIT, SLOTS.acquire()).await else {
        crate::metrics::password_verification("busy");
        return Err(Busy);
    };
    let matches = tokio::task::spawn_blocking(move || {
        let _running = Running::start(slot);
        verify_in_pooled_memory(password.expose_secret(), &phc)
    })
    .await
    .unwrap_or(false);
    crate::metrics::password_verification(if matches { "match" } else { "mismatch" });
    Ok(matches)
}

/// Argon2's working memory for the verifications that run at once, kept for the next ones. Each
/// call allocating its own 19 MiB would leave that much behind in whichever malloc arena its
/// blocking thread used: a flood of logins spread over many threads grew the process by hundreds
/// of MB even with two checks at a time. Reused, the memory is at most
/// [`MAX_CONCURRENT_VERIFICATIONS`] × `m_cost`.
static MEMORY: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// [`verify`], with Argon2's memory taken from (and given back to) [`MEMORY`]. Only called while
/// holding a slot, so the pool never holds more buffers than there are slots.
fn verify_in_pooled_memory(password: &str, phc: &SecretString) -> bool {
    let Ok(parsed) = PasswordHash::new(phc.expose_secret()) else {
        return false;
    };
    let Some(expected) = parsed.hash else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt = [0u8; 64];
    let Some(salt) = parsed.salt.and_then(|s| s.decode_b64(&mut salt).ok()) else {
        return false;
    };
    let take = || {
        MEMORY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    };
    let mut memory = take().unwrap_or_default();
    // Argon2 uses the first `block_count` blocks (a hash with other parameters may need more).
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..],
    );
    MEMORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(memory);
    hashed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// The most verifications that ever ran at once in this process (never above
/// [`MAX_CONCURRENT_VERIFICATIONS`]); also the `password_verifications_peak` metric.
pub fn peak_concurrent_verifications() -> usize {
    PEAK.load(Ordering::SeqCst)
}

/// A verification running on its slot: counted while it lives.
struct Running(#[allow(dead_code)] SemaphorePermit<'static>);

impl Running {
    fn start(slot: SemaphorePermit<'static>) -> Self {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        let peak = PEAK.fetch_max(now, Ordering::SeqCst).max(now);
        crate::metrics::password_verifications_running(now, peak);
        Self(slot)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let now = RUNNING.fetch_sub(1, Ordering::SeqCst) - 1;
        crate::metrics::password_verifications_running(now, PEAK.load(Ordering::SeqCst));
    }
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
    fn pooled_memory_gives_the_same_answers_as_the_library() {
        let phc =
            SecretString::from(hash(&SecretString::from("correct horse".to_owned())).unwrap());
        for _ in 0..2 {
            assert!(verify_in_pooled_memory("correct horse", &phc));
            assert!(!verify_in_pooled_memory("wrong horse", &phc));
        }
        let params = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"short", &salt)
            .unwrap()
            .to_string();
        let small = SecretString::from(small);
        assert!(
            verify_in_pooled_memory("short", &small),
            "other parameters, in a reused buffer"
        );
        assert!(!verify_in_pooled_memory("long", &small));
        assert!(verify_in_pooled_memory("correct horse", &phc), "and back");
        assert!(!verify_in_pooled_memory(
            "x",
            &SecretString::from("garbage".to_owned())
        ));
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

    #[tokio::test]
    async fn a_check_waits_for_a_free_slot_and_then_gives_up() {
        let phc = SecretString::from(hash(&SecretString::from("pw".to_owned())).unwrap());
        let taken = SLOTS
            .acquire_many(MAX_CONCURRENT_VERIFICATIONS as u32)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let busy = verify_bounded(SecretString::from("pw".to_owned()), phc.clone()).await;
        assert_eq!(busy, Err(Busy));
        assert!(started.elapsed() >= SLOT_WAIT);
        drop(taken);
        let checked = verify_bounded(SecretString::from("pw".to_owned()), phc).await;
        assert_eq!(checked, Ok(true));
        assert!((1..=MAX_CONCURRENT_VERIFICATIONS).contains(&peak_concurrent_verifications()));
    }

    #[test]
    fn an_empty_password_is_refused() {
        assert!(hash(&SecretString::from(String::new())).is_err());
    }
}
