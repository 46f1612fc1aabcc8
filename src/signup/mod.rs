//! The public signup intake: `POST /signup/{form_id}`.
//!
//! The promise this module keeps (invariant 1): a success answer is sent only after the signup is
//! committed to the store. If the store cannot take it, the caller gets a 503 and nothing is
//! accepted. Bad input gets a specific error code and changes nothing (invariant 5).

pub mod answer;
pub mod body;
pub mod validate;
pub mod writer;

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{CONTENT_LENGTH, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use uuid::Uuid;

use crate::abuse::{self, Abuse};
use crate::client_ip::client_ip;
use crate::config::FormConfig;
use crate::domain::Intake;
use crate::pages;
use crate::startup::AppState;
use answer::{Caller, SignupError};

/// Longest user agent kept for the consent record.
const MAX_USER_AGENT_CHARS: usize = 512;

/// `POST /signup/{form_id}`.
pub async fn accept(
    State(state): State<AppState>,
    Path(form_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let caller = Caller::from_headers(request.headers());
    let client = client_ip(peer, request.headers(), &state.config.server);
    let form = state.config.form(&form_id);
    // Cheap refusals first: another site's page, then the rate limits, before the body is read.
    let origin = form
        .map(|form| abuse::origin::check(form, &state.config.server.public_url, request.headers()));
    let outcome = async {
        let cors = origin.clone().transpose()?.flatten();
        state.abuse.admit_client(client)?;
        let form = form.ok_or_else(|| SignupError::unknown_form(&form_id))?;
        state.abuse.admit_form(form)?;
        let id = receive(&state, form, client, request).await?;
        Ok::<_, SignupError>((form, id, cors))
    }
    .await;
    let (mut response, cors) = match outcome {
        Ok((form, id, cors)) => (caller.accepted(form, id), cors),
        Err(error) => {
            crate::metrics::signup_rejected(error.code);
            let shown = form.map_or("-", |f| f.id.as_str());
            tracing::info!(form = shown, code = error.code, field = ?error.field, "signup refused");
            let cors = origin.and_then(Result::ok).flatten();
            (caller.refused(form, &error), cors)
        }
    };
    abuse::origin::decorate(&mut response, cors.as_ref());
    response
}

/// Read, validate and store one signup; returns the id to show the caller.
async fn receive(
    state: &AppState,
    form: &FormConfig,
    client: IpAddr,
    request: Request,
) -> Result<Uuid, SignupError> {
    let kind = body::BodyKind::from_headers(request.headers())?;
    let (parts, body) = request.into_parts();
    let bytes = read_body(&parts.headers, body, state.config.server.max_body_bytes).await?;
    let mut fields = kind.parse(bytes).await?;
    let proofs = Abuse::take_proofs(form, &mut fields)?;

    let honeypot_filled = form.honeypot().is_some_and(|name| {
        fields
            .iter()
            .any(|(n, v)| n == name && !v.trim().is_empty())
    });
    let validated = validate::validate(form, fields);
    let mut signup = match (validated, honeypot_filled) {
        (Ok(signup), _) => signup,
        // A bot that filled the honeypot gets the normal success answer and no hint; there is
        // nothing worth keeping when the rest is invalid too.
        (Err(_), true) => {
            crate::metrics::signup_spam(form.id.as_str());
            tracing::info!(form = %form.id, "honeypot filled; invalid submission dropped");
            return Ok(Uuid::now_v7());
        }
        (Err(error), false) => return Err(error),
    };
    signup.client_ip = Some(client);
    signup.user_agent = parts
        .headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());

    let intake = if honeypot_filled {
        Intake::Spam { reason: "honeypot" }
    } else {
        state
            .abuse
            .screen(form, &proofs, client, state.clock.now())
            .await?
    };
    let redacted = signup.email.redacted();
    let spam = match &intake {
        Intake::Spam { reason } => Some(*reason),
        Intake::Deliver => None,
    };
    let id = state
        .writer
        .insert(signup, intake, state.clock.now())
        .await
        .map_err(|error| {
            tracing::error!(form = %form.id, error = %error, "signup could not be stored; answered 503");
            SignupError::unavailable()
        })?;
    if spam.is_none() {
        state.new_signup.notify_one();
        crate::metrics::signup_accepted(form.id.as_str());
    } else {
        crate::metrics::signup_spam(form.id.as_str());
    }
    tracing::info!(form = %form.id, signup_id = %id, email = %redacted, spam, "signup stored");
    Ok(id)
}

/// Read the whole body, refusing more than `limit` bytes (by the declared length when there is one,
/// so an oversized upload is refused before it is read).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, SignupError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(SignupError::too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(SignupError::too_large(limit))
        }
        Err(_) => Err(SignupError::malformed("the request body could not be read")),
    }
}

/// `GET /signup/{form_id}/thank-you`: the built-in page a browser lands on after a successful
/// post when the form has no `success_url`.
pub async fn thank_you(State(state): State<AppState>, Path(form_id): Path<String>) -> Response {
    if state.config.form(&form_id).is_some() {
        pages::thank_you().into_response()
    } else {
        (StatusCode::NOT_FOUND, pages::not_found()).into_response()
    }
}
