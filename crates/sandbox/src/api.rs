//! The `/v3` API: the gate every call passes (arrival counting, faults, bearer auth, per-second
//! and daily limits, in that order), the [`Scoped`] extractor by which a route requires a scope,
//! and the routes ccbridge uses: `contacts/sign_up_form`, `contact_lists`,
//! `contact_custom_fields` and `account/summary` (`GET /contacts` is `search`'s, and
//! `PUT /contacts/resubscribe/{contact_id}` is `resubscribe`'s).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::consent::ConstantContactMail;
use crate::contacts::{Permission, Upsert};
use crate::errors;
use crate::faults::{self, ApiFault};
use crate::grants::Access;
use crate::limits::Admission;
use crate::query::{NoFilters, PageRequest, QueryParams};
use crate::{Shared, lock, sign_up_form};

pub const BASE_PATH: &str = "/v3";

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/v3/contacts/sign_up_form",
            post(sign_up_form).fallback(wrong_method),
        )
        .route(
            "/v3/contact_lists",
            get(contact_lists).fallback(wrong_method),
        )
        .route(
            "/v3/contact_custom_fields",
            get(custom_fields).fallback(wrong_method),
        )
        .route(
            "/v3/account/summary",
            get(account_summary).fallback(wrong_method),
        )
}

pub async fn wrong_method() -> Response {
    errors::method_not_allowed()
}

pub fn is_api(path: &str) -> bool {
    path == BASE_PATH || path.starts_with("/v3/")
}

// ── The gate ─────────────────────────────────────────────────────────────────────────────────

/// What the access token that let a request through the gate reaches.
#[derive(Clone)]
pub struct Granted(Access);

/// A scope a route needs, named by a type so that a handler states it in its signature.
pub trait Scope {
    const NAME: &'static str;
}

/// `contact_data`: the contact and list routes.
pub struct ContactData;

impl Scope for ContactData {
    const NAME: &'static str = "contact_data";
}

/// `account_read`: the account routes.
pub struct AccountRead;

impl Scope for AccountRead {
    const NAME: &'static str = "account_read";
}

/// An extractor that lets a request through only if the gate's access token has scope `S`;
/// otherwise it answers 403, as a real CC 403 most often means the token lacks the route's scope.
pub struct Scoped<S>(PhantomData<S>);

impl<S: Scope, T: Send + Sync> FromRequestParts<T> for Scoped<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &T) -> Result<Self, Response> {
        let Extension(Granted(access)) = Extension::<Granted>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if access.scopes.iter().any(|s| s == S::NAME) {
            Ok(Self(PhantomData))
        } else {
            Err(errors::forbidden(S::NAME))
        }
    }
}

/// Middleware around the whole sandbox; only `/v3` paths are gated.
pub async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    if !is_api(request.uri().path()) {
        return next.run(request).await;
    }
    let peak = lock(&shared.limits).arrive(Instant::now());
    shared.count(|s| {
        s.api_requests += 1;
        s.peak_requests_per_second = peak;
    });
    match check(&shared, request.headers()).await {
        Ok(granted) => {
            request.extensions_mut().insert(granted);
            next.run(request).await
        }
        Err(refused) => refused,
    }
}

/// Faults, then auth, then the limits.
async fn check(shared: &Shared, headers: &HeaderMap) -> Result<Granted, Response> {
    let (latency, fault) = {
        let mut rng = rand::thread_rng();
        lock(&shared.faults).next_api_call(&mut rng)
    };
    if fault == Some(ApiFault::Drop) {
        return Err(faults::dropped_connection());
    }
    if !shared.delay(latency).await {
        return Err(faults::dropped_connection());
    }
    match fault {
        Some(ApiFault::Unauthorized) => return Err(unauthorized(shared)),
        Some(ApiFault::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(errors::server_error(status));
        }
        Some(ApiFault::Forbidden) => {
            return Err(errors::array(
                StatusCode::FORBIDDEN,
                "forbidden",
                &["The application is not allowed to do this (injected fault)"],
            ));
        }
        Some(ApiFault::Conflict) => {
            return Err(errors::array(
                StatusCode::CONFLICT,
                "contacts.api.conflict",
                &[
                    "Simultaneous requests are attempting to modify the same contact (injected fault)",
                ],
            ));
        }
        Some(ApiFault::Accepted) => {
            return Err((StatusCode::ACCEPTED, Json(json!({}))).into_response());
        }
        Some(ApiFault::Drop) | None => {}
    }
    let now = shared.clock.now();
    let access = bearer_token(headers).and_then(|t| lock(&shared.grants).access(t, now));
    let Some(access) = access else {
        return Err(unauthorized(shared));
    };
    let admission = lock(&shared.limits).admit(Instant::now(), now.date_naive());
    match admission {
        Admission::Admitted => Ok(Granted(access)),
        Admission::Throttled => {
            shared.count(|s| s.throttled += 1);
            Err(errors::throttled())
        }
        Admission::QuotaExceeded => {
            shared.count(|s| s.quota_exceeded += 1);
            Err(errors::quota_exceeded())
        }
    }
}

fn unauthorized(shared: &Shared) -> Response {
    shared.count(|s| s.unauthorized += 1);
    errors::unauthorized()
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

// ── POST /v3/contacts/sign_up_form ───────────────────────────────────────────────────────────

async fn sign_up_form(
    State(shared): State<Arc<Shared>>,
    _: Scoped<ContactData>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    if !is_json(&headers) {
        return errors::unsupported_media_type();
    }
    if let Some(email) = sign_up_form::email_of(&body) {
        lock(&shared.contacts).count_sign_up_call(&email);
    }
    let form = match sign_up_form::parse(&body, &shared.settings) {
        Ok(form) => form,
        Err(messages) => {
            return errors::array(StatusCode::BAD_REQUEST, errors::VALIDATION, &messages);
        }
    };
    let now = shared.clock.now();
    let email = form.email_address.clone();
    let (outcome, pending) = {
        let mut contacts = lock(&shared.contacts);
        let outcome = contacts.upsert(form, now);
        let pending = matches!(outcome, Upsert::Created(_))
            && contacts
                .get(&email)
                .is_some_and(|c| c.permission_to_send == Permission::PendingConfirmation);
        (outcome, pending)
    };
    if pending {
        shared.send_constant_contact_mail(ConstantContactMail::ConfirmSubscription, &email);
    }
    let (status, contact_id, action) = match outcome {
        Upsert::Created(id) => {
            shared.count(|s| s.contacts_created += 1);
            (StatusCode::CREATED, id, "created")
        }
        Upsert::Updated(id) => {
            shared.count(|s| s.contacts_updated += 1);
            (StatusCode::OK, id, "updated")
        }
    };
    (
        status,
        Json(json!({ "contact_id": contact_id, "action": action })),
    )
        .into_response()
}

pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

// ── GET /v3/contact_lists ────────────────────────────────────────────────────────────────────

/// The query of a `contact_lists` page.
#[derive(Deserialize, Serialize)]
struct ListQuery {
    include_count: bool,
    include_membership_count: bool,
    name: Option<String>,
    deleted_only: bool,
}

async fn contact_lists(
    State(shared): State<Arc<Shared>>,
    _: Scoped<ContactData>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let request = match PageRequest::parse(&params, 1000, list_query) {
        Ok(request) => request,
        Err(message) => return errors::bad_request(&message),
    };
    let query = &request.query;
    let settings = &shared.settings;
    // The sandbox has only active email lists: asking for deleted (or SMS) lists finds none.
    let matching: Vec<_> = settings
        .lists
        .iter()
        .filter(|l| !query.deleted_only && query.name.as_ref().is_none_or(|n| *n == l.name))
        .collect();
    let total = matching.len();
    let (page, links) = request.page(matching, "/v3/contact_lists");
    let lists: Vec<Value> = {
        let contacts = lock(&shared.contacts);
        page.iter()
            .map(|list| {
                let mut item = json!({
                    "list_id": list.list_id,
                    "name": list.name,
                    "description": format!("{} (seeded by the sandbox)", list.name),
                    "favorite": false,
                    "created_at": timestamp(settings.started_at),
                    "updated_at": timestamp(settings.started_at),
                });
                if query.include_membership_count {
                    item["membership_count"] = json!(contacts.members(list.list_id));
                }
                item
            })
            .collect()
    };
    let mut body = json!({ "lists": lists });
    if query.include_count {
        body["lists_count"] = json!(total);
    }
    if let Some(links) = links {
        body["_links"] = links;
    }
    Json(body).into_response()
}

/// The query of a first page (later pages take theirs from the cursor).
fn list_query(params: &QueryParams) -> Result<ListQuery, String> {
    let include_count = match params.get("include_count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err("include_count does not have a valid value".into()),
    };
    let include_membership_count = match params.get("include_membership_count") {
        None => false,
        Some("all" | "active") => true,
        Some(_) => return Err("include_membership_count does not have a valid value".into()),
    };
    let mut deleted_only = false;
    if let Some(status) = params.get("status") {
        let statuses: Vec<&str> = status.split(',').map(str::trim).collect();
        if !statuses
            .iter()
            .all(|s| matches!(*s, "all" | "active" | "deleted"))
        {
            return Err("status does not have a valid value".into());
        }
        deleted_only = statuses.iter().all(|s| *s == "deleted");
    }
    match params.get("channel_type") {
        None | Some("email") => {}
        Some("sms") => deleted_only = true,
        Some(_) => return Err("channel_type does not have a valid value".into()),
    }
    Ok(ListQuery {
        include_count,
        include_membership_count,
        name: params.get("name").map(str::to_owned),
        deleted_only,
    })
}

// ── GET /v3/contact_custom_fields ────────────────────────────────────────────────────────────

async fn custom_fields(
    State(shared): State<Arc<Shared>>,
    _: Scoped<ContactData>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let request = match PageRequest::parse(&params, 100, |_| Ok(NoFilters {})) {
        Ok(request) => request,
        Err(message) => return errors::bad_request(&message),
    };
    let settings = &shared.settings;
    let (page, links) = request.page(
        settings.custom_fields.iter().collect(),
        "/v3/contact_custom_fields",
    );
    let fields: Vec<Value> = page
        .iter()
        .map(|field| {
            json!({
                "custom_field_id": field.custom_field_id,
                "label": field.name.replace('_', " "),
                "name": field.name,
                "type": "string",
                "created_at": timestamp(settings.started_at),
                "updated_at": timestamp(settings.started_at),
            })
        })
        .collect();
    let mut body = json!({ "custom_fields": fields });
    if let Some(links) = links {
        body["_links"] = links;
    }
    Json(body).into_response()
}

// ── GET /v3/account/summary ──────────────────────────────────────────────────────────────────

/// The account of the token's grant (see `Sandbox::set_account_name`).
async fn account_summary(
    _: Scoped<AccountRead>,
    Extension(Granted(access)): Extension<Granted>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let extra: Vec<&str> = params
        .get("extra_fields")
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if extra
        .iter()
        .any(|f| !matches!(*f, "physical_address" | "company_logo"))
    {
        return errors::bad_request("extra_fields does not have a valid value");
    }
    let name = &access.account;
    let mut body = json!({
        "contact_email": "owner@sandbox.example",
        "contact_phone": "5555550100",
        "country_code": "US",
        "encoded_account_id": encoded_account_id(name),
        "first_name": "Sandbox",
        "last_name": "Owner",
        "organization_name": name,
        "organization_phone": "5555550100",
        "state_code": "MA",
        "time_zone_id": "US/Eastern",
        "website": "https://sandbox.example",
    });
    if extra.contains(&"physical_address") {
        body["physical_address"] = json!({
            "address_line1": "1601 Trapelo Rd",
            "city": "Waltham",
            "state_code": "MA",
            "postal_code": "02451",
            "country_code": "US",
        });
    }
    if extra.contains(&"company_logo") {
        body["company_logo"] = json!({
            "url": "https://sandbox.example/logo.png",
            "external_url": "https://sandbox.example/logo.png",
            "internal_id": "sandbox-logo",
        });
    }
    Json(body).into_response()
}

/// Stable for an account name, in CC's shape (14 lower-case alphanumerics).
fn encoded_account_id(account_name: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Sha256::digest(account_name.as_bytes())
        .iter()
        .take(14)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn a_contact_lists_cursor_carries_every_filter_of_the_first_page() {
        let params = QueryParams::parse(Some("limit=1&include_count=true&name=Events"));
        let first = PageRequest::parse(&params, 1000, list_query).unwrap();
        let (_, links) = first.page(vec!["a", "b"], "/v3/contact_lists");
        let href = links.unwrap()["next"]["href"].as_str().unwrap().to_owned();
        let query = href.split_once('?').unwrap().1;
        let cursor = QueryParams::parse(Some(query))
            .get("cursor")
            .unwrap()
            .to_owned();
        let cursor: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
        assert_eq!(
            cursor,
            json!({
                "offset": 1,
                "include_count": true,
                "include_membership_count": false,
                "name": "Events",
                "deleted_only": false,
            })
        );
        let second =
            PageRequest::parse(&QueryParams::parse(Some(query)), 1000, list_query).unwrap();
        assert_eq!((second.offset, second.limit), (1, 1));
        assert_eq!(second.query.name.as_deref(), Some("Events"));
        assert!(second.query.include_count && !second.query.deleted_only);
    }
}
