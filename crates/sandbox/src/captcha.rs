//! A CAPTCHA test verifier: `POST /captcha/verify` speaks the `siteverify` protocol shared by
//! Cloudflare Turnstile, hCaptcha and reCAPTCHA (a form-encoded `secret`, `response` and optional
//! `remoteip`; a JSON answer with `success`, `error-codes`, `challenge_ts`, `hostname` and, for
//! reCAPTCHA v3, `score` and `action`), so a form can be pointed at it with `captcha.verify_url`.
//!
//! The visitor's token decides the answer:
//! - `pass`: success; `fail`: `invalid-input-response`,
//! - `score-0.9`: success with score 0.9 and action `signup` (any score in 0..=1);
//!   `score-0.9:login` declares the action `login`,
//! - `server-error`: HTTP 500, as a provider outage would,
//! - anything else: `invalid-input-response`.
//!
//! The secret must be [`CAPTCHA_SECRET`]; another one answers `invalid-input-secret`. Unlike the
//! real services, a token may be used more than once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use chrono::SecondsFormat;
use serde_json::{Value, json};

use crate::Shared;

pub const VERIFY_PATH: &str = "/captcha/verify";
/// The secret the test verifier accepts.
pub const CAPTCHA_SECRET: &str = "sandbox-captcha-secret";

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(VERIFY_PATH, post(verify))
}

async fn verify(
    State(shared): State<Arc<Shared>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let failure = |code: &str| Json(json!({ "success": false, "error-codes": [code] }));
    match param("secret") {
        None => return failure("missing-input-secret").into_response(),
        Some(secret) if secret != CAPTCHA_SECRET => {
            return failure("invalid-input-secret").into_response();
        }
        Some(_) => {}
    }
    let Some(token) = param("response") else {
        return failure("missing-input-response").into_response();
    };
    let mut answer = json!({
        "success": true,
        "challenge_ts": shared.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "hostname": "localhost",
        "error-codes": [],
    });
    match token {
        "pass" => {}
        "server-error" => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "verifier unavailable").into_response();
        }
        _ => match scored(token) {
            Some((score, action)) => {
                answer["score"] = json!(score);
                answer["action"] = Value::from(action);
            }
            None => return failure("invalid-input-response").into_response(),
        },
    }
    Json(answer).into_response()
}

/// `score-0.9` or `score-0.9:action`.
fn scored(token: &str) -> Option<(f64, &str)> {
    let rest = token.strip_prefix("score-")?;
    let (score, action) = rest.split_once(':').unwrap_or((rest, "signup"));
    let score: f64 = score.parse().ok()?;
    (0.0..=1.0).contains(&score).then_some((score, action))
}
