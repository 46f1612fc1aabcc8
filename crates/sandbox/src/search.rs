//! `GET /v3/contacts` (operation `getContacts`, scope `contact_data`): the contacts that match a
//! query, in the published `Contacts` shape, paged by an opaque cursor in `_links.next.href`.
//!
//! Parameters, as published: `status` (csv of `all`, `active`, `deleted`, `not_set`,
//! `pending_confirmation`, `temp_hold`, `unsubscribed`; `explicit` and `implicit` are not among
//! them and get a 400), `email` (exact, case-insensitive), `lists` (csv of at most 25 list ids;
//! members of any), `created_after`/`_before`, `updated_after`/`_before`,
//! `optout_after`/`_before` (RFC 3339 date-times; bounds are exclusive; the opt-out ones match
//! only contacts with an opt-out date), `include` (csv of `custom_fields`, `list_memberships`,
//! `phone_numbers`, `street_addresses`, `taggings`, `notes`: the first two are given, the others
//! are accepted and left out, as the sandbox keeps none), `include_count` and `limit` (1..=500,
//! default 50). `segment_id`, `tags` and `sms_status` are real but not simulated: 400. Any other
//! parameter: 400.
//!
//! How `status` selects, where the published text is silent ([I]): without `status` every contact
//! that is not deleted (as published); `all`: every contact, deleted ones too (as published);
//! `deleted`: the deleted contacts, whatever their permission (shown in `permission_to_send`);
//! `active`: contacts not deleted whose permission is `explicit` or `implicit`; each permission
//! value: contacts not deleted with that permission, so `unsubscribed` leaves out deleted
//! contacts even if they are unsubscribed. Several values select the union. A client that wants
//! every opt-out asks for `status=unsubscribed,deleted` (or `all`) and reads the permission.
//!
//! Order and paging: contacts are sorted by opt-out date (none first), then contact id, and the
//! cursor carries the last key of the page (not an offset), so a contact that unsubscribes while
//! a client pages lands after the keys already seen instead of shifting the pages.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::{ContactData, Scoped, timestamp, wrong_method};
use crate::contacts::Permission;
use crate::query::{QueryParams, decode_cursor, encode_cursor};
use crate::{SandboxContact, Shared, errors, lock};

const PATH: &str = "/v3/contacts";
const MAX_LIMIT: usize = 500;
const MAX_LISTS: usize = 25;

/// Every parameter of the published operation.
const KNOWN: [&str; 16] = [
    "status",
    "email",
    "lists",
    "segment_id",
    "tags",
    "updated_after",
    "updated_before",
    "created_after",
    "created_before",
    "optout_after",
    "optout_before",
    "include",
    "sms_status",
    "include_count",
    "limit",
    // The sandbox's own: where a later page starts.
    "cursor",
];

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(PATH, get(contacts).fallback(wrong_method))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    All,
    Active,
    Deleted,
    Permission(Permission),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Include {
    CustomFields,
    ListMemberships,
    PhoneNumbers,
    StreetAddresses,
    Taggings,
    Notes,
}

/// A first page's query, carried whole in the cursor of the pages after it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ContactQuery {
    statuses: Vec<Status>,
    /// Lower-cased.
    email: Option<String>,
    lists: Vec<Uuid>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    updated_after: Option<DateTime<Utc>>,
    updated_before: Option<DateTime<Utc>>,
    optout_after: Option<DateTime<Utc>>,
    optout_before: Option<DateTime<Utc>>,
    include: Vec<Include>,
    include_count: bool,
}

/// Where a contact sorts: opt-out date (none first), then id.
type SortKey = (Option<DateTime<Utc>>, Uuid);

fn sort_key(contact: &SandboxContact) -> SortKey {
    (contact.opt_out_date, contact.contact_id)
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    after: SortKey,
    #[serde(flatten)]
    query: ContactQuery,
}

async fn contacts(
    State(shared): State<Arc<Shared>>,
    _: Scoped<ContactData>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = QueryParams::parse(raw.as_deref());
    let (limit, after, query) = match request(&params) {
        Ok(request) => request,
        Err(message) => return errors::bad_request(&message),
    };
    let all = lock(&shared.contacts).all();
    let mut matching: Vec<&SandboxContact> = all.iter().filter(|c| query.matches(c)).collect();
    matching.sort_by_key(|c| sort_key(c));
    let total = matching.len();
    let rest: Vec<&SandboxContact> = matching
        .into_iter()
        .filter(|c| after.is_none_or(|after| sort_key(c) > after))
        .collect();
    let page = &rest[..rest.len().min(limit)];
    let mut body = json!({
        "contacts": page.iter().map(|c| contact_json(c, &query.include)).collect::<Vec<_>>(),
    });
    if query.include_count {
        body["contacts_count"] = json!(total);
    }
    if let (true, Some(last)) = (rest.len() > limit, page.last()) {
        let cursor = encode_cursor(&Cursor {
            after: sort_key(last),
            query,
        });
        body["_links"] =
            json!({ "next": { "href": format!("{PATH}?cursor={cursor}&limit={limit}") } });
    }
    Json(body).into_response()
}

/// `limit`, where a later page starts, and the query.
fn request(params: &QueryParams) -> Result<(usize, Option<SortKey>, ContactQuery), String> {
    if let Some(name) = params.unknown(&KNOWN) {
        return Err(format!("{name} is not a valid query parameter"));
    }
    for name in ["segment_id", "tags", "sms_status"] {
        if params.get(name).is_some() {
            return Err(format!("{name} is not supported by the sandbox"));
        }
    }
    let limit = params.limit(MAX_LIMIT)?;
    match params.get("cursor") {
        Some(cursor) => {
            let Cursor { after, query } =
                decode_cursor(cursor).ok_or("cursor does not have a valid value")?;
            Ok((limit, Some(after), query))
        }
        None => Ok((limit, None, first_query(params)?)),
    }
}

fn first_query(params: &QueryParams) -> Result<ContactQuery, String> {
    let invalid = |name: &str| format!("{name} does not have a valid value");
    let csv = |name: &str| -> Vec<String> {
        params
            .get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let statuses = csv("status")
        .iter()
        .map(|s| status(s).ok_or_else(|| invalid("status")))
        .collect::<Result<Vec<_>, _>>()?;
    let include = csv("include")
        .iter()
        .map(|s| serde_json::from_value(json!(s)).map_err(|_| invalid("include")))
        .collect::<Result<Vec<Include>, _>>()?;
    let lists = csv("lists")
        .iter()
        .map(|s| Uuid::parse_str(s).map_err(|_| invalid("lists")))
        .collect::<Result<Vec<_>, _>>()?;
    if lists.len() > MAX_LISTS {
        return Err(format!("lists must have at most {MAX_LISTS} list ids"));
    }
    let date = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        params
            .get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|d| d.to_utc())
                    .map_err(|_| invalid(name))
            })
            .transpose()
    };
    let include_count = match params.get("include_count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid("include_count")),
    };
    Ok(ContactQuery {
        statuses,
        email: params.get("email").map(str::to_lowercase),
        lists,
        created_after: date("created_after")?,
        created_before: date("created_before")?,
        updated_after: date("updated_after")?,
        updated_before: date("updated_before")?,
        optout_after: date("optout_after")?,
        optout_before: date("optout_before")?,
        include,
        include_count,
    })
}

fn status(value: &str) -> Option<Status> {
    Some(match value {
        "all" => Status::All,
        "active" => Status::Active,
        "deleted" => Status::Deleted,
        "not_set" => Status::Permission(Permission::NotSet),
        "pending_confirmation" => Status::Permission(Permission::PendingConfirmation),
        "temp_hold" => Status::Permission(Permission::TempHold),
        "unsubscribed" => Status::Permission(Permission::Unsubscribed),
        _ => return None,
    })
}

impl Status {
    fn selects(self, contact: &SandboxContact) -> bool {
        let deleted = contact.is_deleted();
        let permission = contact.permission_to_send;
        match self {
            Status::All => true,
            Status::Deleted => deleted,
            Status::Active => {
                !deleted && matches!(permission, Permission::Explicit | Permission::Implicit)
            }
            Status::Permission(wanted) => !deleted && permission == wanted,
        }
    }
}

impl ContactQuery {
    fn matches(&self, contact: &SandboxContact) -> bool {
        let status = if self.statuses.is_empty() {
            !contact.is_deleted()
        } else {
            self.statuses.iter().any(|s| s.selects(contact))
        };
        let after = |bound: Option<DateTime<Utc>>, at: Option<DateTime<Utc>>| {
            bound.is_none_or(|b| at.is_some_and(|at| at > b))
        };
        let before = |bound: Option<DateTime<Utc>>, at: Option<DateTime<Utc>>| {
            bound.is_none_or(|b| at.is_some_and(|at| at < b))
        };
        status
            && self
                .email
                .as_ref()
                .is_none_or(|e| *e == contact.email_address.to_lowercase())
            && (self.lists.is_empty()
                || self
                    .lists
                    .iter()
                    .any(|l| contact.list_memberships.contains(l)))
            && after(self.created_after, Some(contact.created_at))
            && before(self.created_before, Some(contact.created_at))
            && after(self.updated_after, Some(contact.updated_at))
            && before(self.updated_before, Some(contact.updated_at))
            && after(self.optout_after, contact.opt_out_date)
            && before(self.optout_before, contact.opt_out_date)
    }
}

/// A `ContactResource`: what is set, and the sub-resources asked for that the sandbox keeps.
fn contact_json(contact: &SandboxContact, include: &[Include]) -> Value {
    let source = |s| json!(s);
    let mut email = json!({
        "address": contact.email_address,
        "permission_to_send": contact.permission_to_send.as_str(),
        "created_at": timestamp(contact.created_at),
        "updated_at": timestamp(contact.updated_at),
    });
    if let Some(s) = contact.opt_in_source {
        email["opt_in_source"] = source(s);
    }
    if let Some(at) = contact.opt_in_date {
        email["opt_in_date"] = json!(timestamp(at));
    }
    if let Some(s) = contact.opt_out_source {
        email["opt_out_source"] = source(s);
    }
    if let Some(at) = contact.opt_out_date {
        email["opt_out_date"] = json!(timestamp(at));
    }
    let mut item = json!({
        "contact_id": contact.contact_id,
        "email_address": email,
        "create_source": contact.create_source,
        "created_at": timestamp(contact.created_at),
        "updated_at": timestamp(contact.updated_at),
    });
    for (name, value) in [
        ("first_name", &contact.first_name),
        ("last_name", &contact.last_name),
        ("job_title", &contact.job_title),
        ("company_name", &contact.company_name),
    ] {
        if let Some(value) = value {
            item[name] = json!(value);
        }
    }
    if let Some(at) = contact.deleted_at {
        // The published schema gives `deleted_at` as a date, not a date-time.
        item["deleted_at"] = json!(at.date_naive().to_string());
    }
    if include.contains(&Include::CustomFields) {
        item["custom_fields"] = json!(contact.custom_fields);
    }
    if include.contains(&Include::ListMemberships) {
        item["list_memberships"] = json!(contact.list_memberships);
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_and_implicit_are_not_status_values() {
        for query in ["status=explicit", "status=implicit", "status=active,bogus"] {
            let params = QueryParams::parse(Some(query));
            assert!(request(&params).is_err(), "{query}");
        }
        let params = QueryParams::parse(Some("status=unsubscribed,deleted"));
        let (_, _, query) = request(&params).unwrap();
        assert_eq!(query.statuses.len(), 2);
    }

    #[test]
    fn unknown_and_unsimulated_parameters_are_refused() {
        for query in ["page=2", "segment_id=14", "include=bogus", "limit=501"] {
            assert!(
                request(&QueryParams::parse(Some(query))).is_err(),
                "{query}"
            );
        }
    }
}
