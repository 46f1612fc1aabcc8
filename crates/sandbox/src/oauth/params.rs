//! Request parameters as the endpoints read them: urlencoded, from one or more sources (query
//! string, form body), with the repeats RFC 6749 forbids remembered; and the scopes they ask for,
//! checked alike by the authorize and device authorization endpoints.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;

use crate::grants;

/// The scopes CC documents for the v3 API.
const KNOWN_SCOPES: [&str; 5] = [
    "account_read",
    "account_update",
    "contact_data",
    "campaign_data",
    grants::OFFLINE_ACCESS,
];

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

/// The parameters of a POST to the token or device authorization endpoint. CC's docs put them in
/// the query string, clients often in a form body: take both, but only a form body. The error is
/// the `error_description` of an `invalid_request`.
pub(super) fn form_request(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Params, &'static str> {
    if !body.is_empty() {
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err("The request body must be application/x-www-form-urlencoded.");
        }
    }
    Ok(Params::parse(&[query.unwrap_or("").as_bytes(), body]))
}

/// Space-delimited scopes, each known, in the order given, without repeats; the error is the
/// `error_description` of an `invalid_scope`.
pub(super) fn requested_scopes(scope: Option<&str>) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if !KNOWN_SCOPES.contains(&scope) {
            return Err(format!(
                "One or more scopes are not configured for the authorization server resource: '{scope}'."
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err("The 'scope' parameter is missing; request at least one scope.".to_owned());
    }
    Ok(scopes)
}
