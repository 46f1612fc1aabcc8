//! How secrets appear when the configuration is shown (`ccbridge check-config`, the startup
//! summary): as `(set)` or `(not set)`, never as their value.
//!
//! The summary is the configuration serialized, so it has no field list of its own. A secret
//! field is a `SecretString` (or a type wrapping one), which does not implement `Serialize`:
//! a new secret without `#[serde(serialize_with = "…")]` pointing here fails to compile rather
//! than leak.

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

const SET: &str = "(set)";
const NOT_SET: &str = "(not set)";

/// A secret string: whether it is set.
pub(super) fn presence<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if secret.expose_secret().is_empty() {
        NOT_SET
    } else {
        SET
    })
}

/// An optional secret value (a key, a webhook URL): whether it is set.
pub(super) fn optional_presence<T, S: Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(if value.is_some() { SET } else { NOT_SET })
}
