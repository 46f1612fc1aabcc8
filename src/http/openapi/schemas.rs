//! The component schemas of the OpenAPI document: the bodies its operations name by reference.

use serde_json::json;
use utoipa::openapi::schema::Schema;

/// The component schemas, written as JSON Schema and checked by utoipa's model at build.
pub(super) fn schemas() -> Vec<(&'static str, Schema)> {
    let string = json!({ "type": "string" });
    let nullable_string = json!({ "type": ["string", "null"] });
    let timestamp = json!({ "type": ["string", "null"], "format": "date-time" });
    let count = json!({ "type": "integer", "minimum": 0 });
    [
        (
            "SignupFields",
            json!({
                "type": "object",
                "description": "Custom fields (as configured per form) and the CAPTCHA response field are also accepted.",
                "required": ["email"],
                "properties": {
                    "email": { "type": "string", "maxLength": 50, "format": "email" },
                    "first_name": { "type": "string", "maxLength": 50 },
                    "last_name": { "type": "string", "maxLength": 50 },
                    "phone": { "type": "string", "maxLength": 25 },
                    "company": { "type": "string", "maxLength": 50 },
                    "job_title": { "type": "string", "maxLength": 50 },
                    "list": {
                        "description": "Optional list ids the visitor chose (repeatable)",
                        "oneOf": [
                            { "type": "string", "format": "uuid" },
                            { "type": "array", "items": { "type": "string", "format": "uuid" }, "maxItems": 50 }
                        ]
                    },
                    "_ts": { "type": "string", "description": "The value from GET /signup/{form_id}/token" }
                },
                "additionalProperties": { "type": "string", "maxLength": 255 }
            }),
        ),
        (
            "SignupAccepted",
            json!({
                "type": "object",
                "required": ["status", "id", "message"],
                "properties": {
                    "status": { "type": "string", "enum": ["accepted"] },
                    "id": { "type": "string", "format": "uuid" },
                    "message": {
                        "type": "string",
                        "description": "What to tell the visitor (the thank-you page's words), in the visitor's language with the form's own texts"
                    },
                    "confirmation": {
                        "type": "string",
                        "enum": ["mail"],
                        "description": "On a double opt-in form: the person confirms through a mailed link before anything is delivered"
                    }
                }
            }),
        ),
        (
            "Error",
            json!({
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message", "field"],
                        "properties": {
                            "code": string, "message": string, "field": nullable_string
                        }
                    }
                }
            }),
        ),
        (
            "FormToken",
            json!({
                "type": "object",
                "required": ["field", "value", "min_submit_time_ms", "max_age_ms"],
                "properties": {
                    "field": { "type": "string", "enum": ["_ts"] },
                    "value": string,
                    "min_submit_time_ms": { "type": ["integer", "null"], "minimum": 0 },
                    "max_age_ms": { "type": "integer", "minimum": 0 }
                }
            }),
        ),
        (
            "Health",
            json!({
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "type": "string", "enum": ["ok"] } }
            }),
        ),
        (
            "Readiness",
            json!({
                "type": "object",
                "description": "What an anonymous caller learns: ready, or not and why.",
                "required": ["status"],
                "properties": {
                    "status": { "type": "string", "enum": ["ready", "not_ready"] },
                    "reason": { "type": "string", "enum": ["database"] }
                },
                "additionalProperties": false
            }),
        ),
        (
            "Status",
            json!({
                "type": "object",
                "required": ["connection", "queue", "api_usage", "database"],
                "properties": {
                    "connection": {
                        "type": "object",
                        "properties": {
                            "state": { "type": "string", "enum": ["not_connected", "connected", "refreshing", "needs_reconnect", "awaiting_confirmation"] },
                            "reason": nullable_string,
                            "account": nullable_string,
                            "scopes": { "type": "array", "items": string },
                            "access_token_expires_at": timestamp,
                            "last_refresh_at": timestamp,
                            "refresh_failures": count
                        }
                    },
                    "queue": {
                        "type": "object",
                        "properties": {
                            "pending": count, "failed": count, "delivered": count,
                            "dead": count, "spam": count
                        }
                    },
                    "api_usage": {
                        "type": "object",
                        "properties": {
                            "day": { "type": "string", "format": "date" },
                            "used": count, "limit": count
                        }
                    },
                    "database": { "type": "string", "enum": ["ok", "unavailable"] }
                }
            }),
        ),
    ]
    .into_iter()
    .map(|(name, schema)| {
        let schema = serde_json::from_value(schema)
            .unwrap_or_else(|e| panic!("schema {name} is not valid for utoipa's model: {e}"));
        (name, schema)
    })
    .collect()
}
