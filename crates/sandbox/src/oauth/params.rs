//! Request parameters as both endpoints read them: urlencoded, from one or more sources (query
//! string, form body), with the repeats RFC 6749 forbids remembered.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The parameters of one request.
pub(super) struct Params {
    values: HashMap<String, String>,
    /// Names given more than once, which RFC 6749 §3.1 and §3.2 forbid.
    repeated: Vec<String>,
}

impl Params {
    pub(super) fn parse(sources: &[&[u8]]) -> Self {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for source in sources {
            for (name, value) in url::form_urlencoded::parse(source) {
                match values.entry(name.into_owned()) {
                    Entry::Occupied(entry) => repeated.push(entry.key().clone()),
                    Entry::Vacant(entry) => {
                        entry.insert(value.into_owned());
                    }
                }
            }
        }
        Self { values, repeated }
    }

    /// RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub(super) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|n| n == name)
    }

    /// The first name given more than once, if any.
    pub(super) fn first_repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }
}
