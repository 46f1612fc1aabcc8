//! Confirming a signup from its link: the decision, without HTTP. A token is checked for its
//! shape before the database is asked, so any other input is simply unknown.

use chrono::{DateTime, Utc};

use crate::password::token_hash;
use crate::store::{ConfirmLink, Confirmation, ConfirmedBy, Store, StoreError};

/// Bytes of randomness in a confirmation token (base64url: 43 characters).
pub const TOKEN_BYTES: usize = 32;
const TOKEN_LEN: usize = 43;

/// Whether `token` has the shape of one ccbridge makes.
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh token for a link; only its hash is stored.
pub fn new_token() -> String {
    crate::password::random_token(TOKEN_BYTES)
}

/// What a link leads to, changing nothing (the page a GET shows: mail scanners open links).
pub async fn look_up(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<ConfirmLink, StoreError> {
    if !well_formed(token) {
        return Ok(ConfirmLink::Unknown);
    }
    store.confirm_link_state(&token_hash(token), now).await
}

/// Confirm the signup behind `token` once: it becomes deliverable now, and its consent record
/// notes when and from where (`by`, as `[privacy]` keeps them). The caller wakes the delivery
/// worker on `Confirmed`.
pub async fn confirm(
    store: &Store,
    token: &str,
    by: &ConfirmedBy<'_>,
    now: DateTime<Utc>,
) -> Result<Confirmation, StoreError> {
    if !well_formed(token) {
        return Ok(Confirmation::Unknown);
    }
    let confirmation = store.confirm_signup(&token_hash(token), now, by).await?;
    if let Confirmation::Confirmed { signup_id, .. } = &confirmation {
        tracing::info!(signup_id = %signup_id, "signup confirmed by its person");
        crate::metrics::signup_confirmed();
    }
    Ok(confirmation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_of_our_shape_are_looked_up() {
        assert!(well_formed(&new_token()));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
            &"é".repeat(21),
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
