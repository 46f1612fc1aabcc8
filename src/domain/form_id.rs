//! `FormId`: the id of a configured signup form, safe in a URL path as is.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A form id: 1-64 characters of `a-z`, `0-9`, `-` and `_`, so it is safe in a URL path as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FormId(String);

impl FormId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if s.is_empty() || s.len() > 64 || !s.chars().all(ok_char) {
            return Err(format!(
                "`{s}` is not a valid form id: use 1-64 characters of a-z, 0-9, '-' and '_'"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FormId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FormId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FormId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for FormId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_safe_ids_parse_and_everything_else_is_refused() {
        for good in ["newsletter", "a", "site-2_b", &"x".repeat(64)] {
            assert_eq!(FormId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "News", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(FormId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
