//! The public signup routes: `POST /signup/{form_id}` (the intake), its CORS preflight, the
//! built-in thank-you page, the page a browser gets at the form's address (`GET`), and the signed
//! "form shown at" value for `min_submit_time`. Every page is in the visitor's language and links
//! back to the page the form was on when that page is one of the form's allowed origins (`back`).
//!
//! The promise this module keeps (invariant 1): a success answer is sent only after the signup is
//! committed to the store. If the store cannot take it, the caller gets a 503 and nothing is
//! accepted. Bad input gets a specific error code and changes nothing (invariant 5).
//!
//! The intake keeps its own deadline (`server.request_timeout`) instead of the router's generic
//! timeout, which would answer 408 while a commit it cannot stop goes on to succeed: until the
//! signup is handed to the writer, the deadline answers 503 with nothing stored; after that, the
//! answer waits for the commit's outcome and tells the caller exactly that.

mod answer;
pub mod back;
mod cors;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRef, Path, Query, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_LENGTH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use super::AppState;
use super::pages::{self, Visitor};
use crate::abuse::Abuse;
use crate::clock::SharedClock;
use crate::config::{Config, FormConfig, TIMESTAMP_FIELD};
use crate::consent::ConfirmationMailer;
use crate::delivery::DeliveryWorker;
use crate::domain::{Intake, NewSignup};
use crate::i18n::Language;
use crate::signup::{RefusalCounter, SignupError, SignupWriter, body, consent, validate};
use answer::Caller;
pub use cors::preflight;

/// What the intake needs of the application.
#[derive(Clone)]
pub struct IntakeState {
    config: Arc<Config>,
    abuse: Arc<Abuse>,
    writer: SignupWriter,
    clock: SharedClock,
    delivery: DeliveryWorker,
    mailer: Option<ConfirmationMailer>,
    refusals: RefusalCounter,
}

impl FromRef<AppState> for IntakeState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            abuse: state.abuse.clone(),
            writer: state.writer.clone(),
            clock: state.clock.clone(),
            delivery: state.delivery.clone(),
            mailer: state.mailer.clone(),
            refusals: state.refusals.clone(),
        }
    }
}

/// `POST /signup/{form_id}`.
pub async fn accept(
    State(state): State<IntakeState>,
    Path(form_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let deadline = Instant::now() + state.config.server.request_timeout;
    let caller = Caller::from_headers(request.headers());
    let client = state.config.server.client_ip(peer, request.headers());
    let form = state.config.form(&form_id);
    let language = visitor_language(form, request.headers());
    let back = form.and_then(|form| back::from_referer(form, request.headers()));
    // Cheap refusals first: another site's page, then the rate limits, before the body is read.
    let origin = form.map(|form| {
        crate::abuse::origin::check(form, &state.config.server.public_url, request.headers())
    });
    let outcome = async {
        let cors = origin.clone().transpose()?.flatten();
        state.abuse.admit_client(client)?;
        let form = form.ok_or_else(|| SignupError::unknown_form(&form_id))?;
        state.abuse.admit_form(form)?;
        let id = receive(&state, form, client, request, (deadline, language)).await?;
        Ok::<_, SignupError>((form, id, cors))
    }
    .await;
    let (mut response, cors) = match outcome {
        Ok((form, id, cors)) => {
            let thank_you = thank_you_address(&state.config, form, back.as_ref());
            let visitor = Visitor::new(texts(Some(form), language), None);
            (caller.accepted(form, id, &thank_you, &visitor), cors)
        }
        Err(error) => {
            crate::metrics::signup_rejected(error.code);
            state
                .refusals
                .count(form.map(|f| f.id.as_str()), error.code);
            let shown = form.map_or("-", |f| f.id.as_str());
            tracing::info!(
                form = shown,
                code = error.code,
                field = error.field.as_deref(),
                detail = error.detail.as_deref(),
                "signup refused"
            );
            let cors = origin.and_then(Result::ok).flatten();
            let visitor = Visitor::new(texts(form, language), back);
            (caller.refused(form, &error, &visitor), cors)
        }
    };
    cors::decorate(&mut response, cors.as_ref());
    response
}

/// Read, validate and store one signup; returns the id to show the caller. Reading and screening
/// must end by `deadline`; the commit, once the writer took the signup, is waited for.
async fn receive(
    state: &IntakeState,
    form: &FormConfig,
    client: IpAddr,
    request: Request,
    (deadline, language): (Instant, Language),
) -> Result<Uuid, SignupError> {
    let prepared = tokio::time::timeout_at(deadline, prepare(state, form, client, request))
        .await
        .map_err(|_| {
            tracing::warn!(form = %form.id, "signup not read and screened before the request deadline; answered 503");
            SignupError::unavailable()
        })??;
    let Some((mut signup, intake)) = prepared else {
        // An invalid submission with the honeypot filled: answered like a success, not kept.
        return Ok(Uuid::now_v7());
    };
    signup.consent.page_language = Some(language);
    let redacted = signup.email.redacted();
    let spam = match &intake {
        Intake::Spam { reason } => Some(*reason),
        Intake::Deliver | Intake::AwaitConfirmation => None,
    };
    let awaits_confirmation = matches!(intake, Intake::AwaitConfirmation);
    let id = state
        .writer
        .insert(signup, intake, state.clock.now(), deadline)
        .await
        .map_err(|error| {
            tracing::error!(form = %form.id, error = %error, "signup not stored; answered 503");
            SignupError::unavailable()
        })?;
    if awaits_confirmation {
        // Its confirmation mail (if a cap allowed one) was queued in the same transaction.
        if let Some(mailer) = &state.mailer {
            mailer.mail_queued();
        }
        crate::metrics::signup_accepted(form.id.as_str());
    } else if spam.is_none() {
        state.delivery.signup_queued();
        crate::metrics::signup_accepted(form.id.as_str());
    } else {
        crate::metrics::signup_spam(form.id.as_str());
    }
    tracing::info!(form = %form.id, signup_id = %id, email = %redacted, spam, "signup stored");
    Ok(id)
}

/// Read, validate and screen one signup: what to store, or `None` for a submission to answer
/// like a success and drop.
async fn prepare(
    state: &IntakeState,
    form: &FormConfig,
    client: IpAddr,
    request: Request,
) -> Result<Option<(NewSignup, Intake)>, SignupError> {
    let kind = body::BodyKind::from_headers(request.headers())?;
    let (parts, body) = request.into_parts();
    let bytes = read_body(&parts.headers, body, state.config.server.max_body_bytes).await?;
    let mut fields = kind.parse(bytes).await?;
    let proofs = Abuse::take_proofs(form, &mut fields)?;

    let honeypot_filled = Abuse::honeypot_filled(form, &fields);
    let validated = validate::validate(form, fields);
    let mut signup = match (validated, honeypot_filled) {
        (Ok(signup), _) => signup,
        // A bot that filled the honeypot gets the normal success answer and no hint; there is
        // nothing worth keeping when the rest is invalid too.
        (Err(_), true) => {
            crate::metrics::signup_spam(form.id.as_str());
            tracing::info!(form = %form.id, "honeypot filled; invalid submission dropped");
            return Ok(None);
        }
        (Err(error), false) => return Err(error),
    };
    (signup.client_ip, signup.user_agent) =
        consent::client_details(&state.config.privacy, client, &parts.headers);
    signup.consent.source_page = consent::source_page(&parts.headers);
    signup.consent.language = consent::language(&parts.headers);

    let intake = if honeypot_filled {
        Intake::Spam { reason: "honeypot" }
    } else {
        let screened = state
            .abuse
            .screen(form, &proofs, client, state.clock.now())
            .await?;
        consent::intake_for(form.consent, screened)
    };
    Ok(Some((signup, intake)))
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

/// The language a visitor of `form` (or of no known form) is spoken to in.
fn visitor_language(form: Option<&FormConfig>, headers: &HeaderMap) -> Language {
    let accept = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    match form {
        Some(form) => form.language(accept),
        None => Language::choose(None, accept),
    }
}

/// The form's words in `language`, or the catalog's for an unknown form.
fn texts(form: Option<&FormConfig>, language: Language) -> crate::i18n::Texts<'_> {
    match form {
        Some(form) => form.texts(language),
        None => crate::i18n::Texts::new(language, None),
    }
}

/// The built-in thank-you page's address (under `public_url`'s path), carrying the allowed page
/// to link back to as `?back=`; the page checks it again.
fn thank_you_address(config: &Config, form: &FormConfig, back: Option<&url::Url>) -> String {
    let path = config
        .server
        .path(&format!("/signup/{}/thank-you", form.id));
    match back {
        Some(back) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("back", back.as_str())
                .finish();
            format!("{path}?{query}")
        }
        None => path,
    }
}

/// `?back=` on the thank-you page.
#[derive(Debug, serde::Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// `GET /signup/{form_id}/thank-you`: the built-in page a browser lands on after a successful
/// post when the form has no `success_url`; `?back=` links back when it is an allowed page.
pub async fn thank_you(
    State(config): State<Arc<Config>>,
    Path(form_id): Path<String>,
    query: Result<Query<BackQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let form = config.form(&form_id);
    let language = visitor_language(form, &headers);
    let Some(form) = form else {
        return pages::respond(StatusCode::NOT_FOUND, Visitor::plain(language).not_found());
    };
    // A query that does not parse is as good as none: the page is shown without a link back.
    let back = query
        .ok()
        .and_then(|Query(q)| q.back)
        .and_then(|candidate| back::allowed(form, &candidate));
    let visitor = Visitor::new(form.texts(language), back);
    pages::respond(StatusCode::OK, visitor.thank_you(form.consent))
}

/// `GET /signup/{form_id}`: the form's address opened in a browser. Says what the address is for
/// and that there is nothing to see, with the link back.
pub async fn address(
    State(config): State<Arc<Config>>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let form = config.form(&form_id);
    let language = visitor_language(form, &headers);
    let Some(form) = form else {
        return pages::respond(StatusCode::NOT_FOUND, Visitor::plain(language).not_found());
    };
    let visitor = Visitor::new(form.texts(language), back::from_referer(form, &headers));
    pages::respond(StatusCode::OK, visitor.signup_address())
}

/// `GET /signup/{form_id}/token`: a fresh signed value for the form's hidden `_ts` field.
pub async fn timestamp(
    State(state): State<IntakeState>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(form) = state.config.form(&form_id) else {
        return (StatusCode::NOT_FOUND, pages::not_found()).into_response();
    };
    let value = state.abuse.timer().issue(&form.id, state.clock.now());
    let body = json!({
        "field": TIMESTAMP_FIELD,
        "value": value,
        "min_submit_time_ms": form.min_submit_time.map(|d| d.as_millis() as u64),
        // The snippet renews a value this old before sending (`expired_timestamp` otherwise).
        "max_age_ms": form.max_submit_age.as_millis() as u64,
    });
    let mut response = Json(body).into_response();
    // A page on an allowed site fetches this cross-origin; anyone else may fetch it too (it is
    // no secret), but their browsers do not let their scripts read it.
    let allowed = crate::abuse::origin::check(form, &state.config.server.public_url, &headers)
        .ok()
        .flatten();
    cors::decorate(&mut response, allowed.as_ref());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thank_you_address_keeps_the_prefix_and_carries_the_page_back() {
        let config = Config::from_toml(
            "[server]\npublic_url = \"https://example.org/cc/\"\n\
             [[forms]]\nid = \"news\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]\n",
        )
        .unwrap();
        let form = &config.forms[0];
        assert_eq!(
            thank_you_address(&config, form, None),
            "/cc/signup/news/thank-you"
        );
        let back: url::Url = "https://shop.example/join?a=1&b=2".parse().unwrap();
        assert_eq!(
            thank_you_address(&config, form, Some(&back)),
            "/cc/signup/news/thank-you?back=https%3A%2F%2Fshop.example%2Fjoin%3Fa%3D1%26b%3D2"
        );
    }
}
