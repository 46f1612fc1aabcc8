//! `PUT /v3/contacts/resubscribe/{contact_id}` (operation `resubscribeContact`, scope
//! `contact_data`): Constant Contact mails an unsubscribed contact to ask whether it wants to be
//! resubscribed, once per contact, and resubscribes it to the body's lists only when it
//! confirms. The sandbox records the request, puts the mail into the mailbox and changes the
//! contact only on `Sandbox::confirm_resubscribe`.
//!
//! The body is the published `ContactResubscribeRequest`, `{"list_ids": [uuid…]}` (required;
//! any other property is refused). Answers, from the codes the operation publishes:
//! - 200, with no body (the published answer has no schema): the mail is on its way;
//! - 400 (array body): malformed JSON, a missing or empty `list_ids`, an unknown list, an unknown
//!   property, or a contact that is not unsubscribed ([I]: the published text says only an
//!   unsubscribed contact can be asked, not which code refuses the others);
//! - 404: no contact with that id, or an id that is not a UUID (the published error example
//!   "contact_id is in an invalid format." has a not-found key);
//! - 409 (array body, `contacts.api.conflict`): a resubscribe mail was already sent to this
//!   contact. "You can only send a resubscribe email to the unsubscribed contact once"; 409 is
//!   the published code for a request that conflicts with an existing resource, here the
//!   earlier request ([I]: which code the real API uses is not published);
//! - 415: a body that is not `application/json`.
//!
//! A deleted contact that is unsubscribed can be asked too; confirming restores it ([I]).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde_json::Value;
use uuid::Uuid;

use crate::api::{ContactData, Scoped, is_json, wrong_method};
use crate::consent::ConstantContactMail;
use crate::contacts::ResubscribeRefusal;
use crate::{Shared, errors, lock};

const MAX_LISTS: usize = 50;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/v3/contacts/resubscribe/{contact_id}",
        put(resubscribe).fallback(wrong_method),
    )
}

async fn resubscribe(
    State(shared): State<Arc<Shared>>,
    _: Scoped<ContactData>,
    Path(contact_id): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let Ok(contact_id) = Uuid::parse_str(&contact_id) else {
        return contact_not_found("contact_id is in an invalid format.");
    };
    if !is_json(&headers) {
        return errors::unsupported_media_type();
    }
    let list_ids = match parse(&body, &shared) {
        Ok(list_ids) => list_ids,
        Err(messages) => {
            return errors::array(StatusCode::BAD_REQUEST, errors::VALIDATION, &messages);
        }
    };
    let now = shared.clock.now();
    let outcome = lock(&shared.contacts).request_resubscribe(contact_id, list_ids, now);
    match outcome {
        Ok(request) => {
            shared.send_constant_contact_mail(
                ConstantContactMail::Resubscribe,
                &request.email_address,
            );
            StatusCode::OK.into_response()
        }
        Err(ResubscribeRefusal::NoSuchContact) => {
            contact_not_found("The contact with that contact_id was not found.")
        }
        Err(ResubscribeRefusal::AlreadyRequested) => errors::array(
            StatusCode::CONFLICT,
            "contacts.api.conflict",
            &["A resubscribe email was already sent to this contact; it can be sent only once."],
        ),
        Err(ResubscribeRefusal::NotUnsubscribed) => errors::bad_request(
            "The contact is not unsubscribed; only an unsubscribed contact can be sent a resubscribe email.",
        ),
    }
}

fn contact_not_found(message: &str) -> Response {
    errors::array(StatusCode::NOT_FOUND, "contacts.api.not_found", &[message])
}

/// The body's `list_ids`, every problem reported at once.
fn parse(body: &[u8], shared: &Shared) -> Result<Vec<Uuid>, Vec<String>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| vec![format!("The request body is not valid JSON: {e}.")])?;
    let Value::Object(object) = value else {
        return Err(vec!["The request body must be a JSON object.".to_owned()]);
    };
    let mut errors: Vec<String> = object
        .keys()
        .filter(|name| *name != "list_ids")
        .map(|name| format!("{name} is not a recognized property."))
        .collect();
    let mut lists = Vec::new();
    match object.get("list_ids") {
        None | Some(Value::Null) => errors.push("list_ids is required.".to_owned()),
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push("list_ids must contain at least one list id.".to_owned());
        }
        Some(Value::Array(items)) if items.len() > MAX_LISTS => {
            errors.push(format!(
                "list_ids must contain at most {MAX_LISTS} list ids."
            ));
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str().map(Uuid::parse_str) {
                    Some(Ok(id)) if shared.settings.list(id).is_some() => {
                        if !lists.contains(&id) {
                            lists.push(id);
                        }
                    }
                    Some(Ok(id)) => errors.push(format!("list_ids: the list {id} does not exist.")),
                    _ => errors.push(format!("list_ids: {item} is not a valid list id.")),
                }
            }
        }
        Some(_) => errors.push("list_ids must be an array of list ids.".to_owned()),
    }
    if errors.is_empty() {
        Ok(lists)
    } else {
        Err(errors)
    }
}
