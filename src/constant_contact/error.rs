//! One error type for every v3 API call. Constant Contact answers errors in two shapes — a JSON
//! array of `{error_key, error_message}` (most endpoints) or a single such object (authorization
//! failures, 429s) — and both end up here, with the status mapped to what a caller can act on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamMessage {
    #[serde(default)]
    pub error_key: String,
    #[serde(default)]
    pub error_message: String,
}

/// What kind of failure, in the terms a caller decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request itself is wrong; retrying the same request will not help.
    BadRequest,
    /// 401: the access token is not (or no longer) accepted.
    Unauthorized,
    /// 403: missing scope or privilege, or the application is deactivated.
    Forbidden,
    NotFound,
    /// 409: simultaneous changes to the same contact; retry soon.
    Conflict,
    /// 415: the client sent the wrong content type (a bug here).
    UnsupportedMediaType,
    /// 429 `throttled`: over the per-second limit.
    Throttled,
    /// 429 `quota_exceeded`: over the daily limit; nothing succeeds until 00:00 UTC.
    QuotaExceeded,
    /// 5xx.
    Server,
    /// Anything else.
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// No HTTP answer: connection refused or dropped, timeout.
    #[error("no answer from Constant Contact: {0}")]
    Transport(String),
    #[error("Constant Contact answered {status}: {}", summary(.messages))]
    Status {
        status: u16,
        kind: ErrorKind,
        messages: Vec<UpstreamMessage>,
    },
    /// Refused locally: today's API budget is spent (or upstream said `quota_exceeded`).
    #[error("the daily API budget is spent; it resets at {resets_at}")]
    DailyBudgetSpent {
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// A success status with a body we cannot read.
    #[error("unexpected answer from Constant Contact: {0}")]
    Decode(String),
}

fn summary(messages: &[UpstreamMessage]) -> String {
    if messages.is_empty() {
        return "(no details)".to_owned();
    }
    messages
        .iter()
        .map(|m| format!("{}: {}", m.error_key, m.error_message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Status { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        self.kind() == Some(ErrorKind::Unauthorized)
    }

    /// Build the error for a non-success answer from its status and body.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let messages = parse_messages(body);
        let has_key = |key: &str| messages.iter().any(|m| m.error_key == key);
        let kind = match status {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            415 => ErrorKind::UnsupportedMediaType,
            429 if has_key("quota_exceeded") => ErrorKind::QuotaExceeded,
            429 => ErrorKind::Throttled,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Other,
        };
        Self::Status {
            status,
            kind,
            messages,
        }
    }
}

/// Read either error shape; anything else becomes one message holding (the start of) the text.
pub fn parse_messages(body: &[u8]) -> Vec<UpstreamMessage> {
    if let Ok(list) = serde_json::from_slice::<Vec<UpstreamMessage>>(body) {
        return list;
    }
    if let Ok(one) = serde_json::from_slice::<UpstreamMessage>(body)
        && (!one.error_key.is_empty() || !one.error_message.is_empty())
    {
        return vec![one];
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    vec![UpstreamMessage {
        error_key: String::new(),
        error_message: text.chars().take(300).collect(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_array_shape_is_parsed() {
        let body = br#"[{"error_key":"contacts.api.validation.error","error_message":"email_address is invalid"}]"#;
        let error = ApiError::from_response(400, body);
        assert_eq!(error.kind(), Some(ErrorKind::BadRequest));
        assert!(error.to_string().contains("email_address is invalid"));
    }

    #[test]
    fn the_object_shape_is_parsed() {
        let error = ApiError::from_response(
            401,
            br#"{"error_key":"unauthorized","error_message":"Unauthorized"}"#,
        );
        assert!(error.is_unauthorized());
        assert!(error.to_string().contains("unauthorized: Unauthorized"));
    }

    #[test]
    fn the_two_429s_are_told_apart_by_their_key() {
        let daily = ApiError::from_response(
            429,
            br#"{"error_key":"quota_exceeded","error_message":"Limit Exceeded"}"#,
        );
        let second = ApiError::from_response(
            429,
            br#"{"error_key":"throttled","error_message":"Too Many Requests"}"#,
        );
        assert_eq!(daily.kind(), Some(ErrorKind::QuotaExceeded));
        assert_eq!(second.kind(), Some(ErrorKind::Throttled));
    }

    #[test]
    fn a_non_json_body_is_kept_as_text() {
        let error = ApiError::from_response(503, b"<html>Service Unavailable</html>");
        assert_eq!(error.kind(), Some(ErrorKind::Server));
        assert!(error.to_string().contains("Service Unavailable"));
        assert!(parse_messages(b"").is_empty());
    }
}
