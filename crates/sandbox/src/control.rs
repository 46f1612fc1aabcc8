//! Control and inspection, without auth (the sandbox is a dev tool): `/_sandbox/*` JSON routes
//! for tests and scripts, and `/`, the page where `ccbridge demo` users watch signups arrive
//! (with links to the mailbox and the consent controls, `mailbox_page` and `consent`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::faults::Faults;
use crate::pages::{self, CONTROLS_PATH, MAILBOX_PATH, OVERVIEW_PATH};
use crate::{SandboxContact, SandboxStats, Shared, api, lock, oauth};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(OVERVIEW_PATH, get(overview))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/contacts", get(contacts))
        .route("/_sandbox/faults", get(faults).post(set_faults))
        .route("/_sandbox/revoke", post(revoke))
        .route("/_sandbox/expire-access-tokens", post(expire_access_tokens))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<SandboxStats> {
    Json(shared.stats())
}

async fn contacts(State(shared): State<Arc<Shared>>) -> Json<Vec<SandboxContact>> {
    Json(lock(&shared.contacts).all())
}

async fn faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(lock(&shared.faults).current())
}

/// Replaces the active faults; fields left out are off.
async fn set_faults(State(shared): State<Arc<Shared>>, Json(faults): Json<Faults>) -> Response {
    if !(0.0..=1.0).contains(&faults.error_rate) {
        return (StatusCode::BAD_REQUEST, "error_rate must be within 0..=1").into_response();
    }
    lock(&shared.faults).set(faults);
    StatusCode::NO_CONTENT.into_response()
}

async fn revoke(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.grants).revoke_all();
    StatusCode::NO_CONTENT
}

async fn expire_access_tokens(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.grants).expire_access_tokens();
    StatusCode::NO_CONTENT
}

/// `GET /`: the URLs and ids to configure a client with, the counters, and the contacts
/// received, newest first. Reloads itself every two seconds.
async fn overview(State(shared): State<Arc<Shared>>) -> Html<String> {
    let contacts = lock(&shared.contacts).newest_first();
    let stats = shared.stats();
    let mail = lock(&shared.mailbox).all().len();
    let body = html! {
        h1 { "Constant Contact sandbox" }
        p id="links" {
            a href=(MAILBOX_PATH) { "Mailbox (" (mail) ")" } " · "
            a href=(CONTROLS_PATH) { "Controls" }
            " (unsubscribe, delete or add a contact, Confirmed Opt-In, confirm a resubscribe)"
        }
        (connection_section(&shared))
        (lists_section(&shared))
        (stats_section(&stats))
        (contacts_section(&shared.settings, &contacts))
    };
    pages::page_with_head("Constant Contact sandbox", pages::reload_every(2), body)
}

fn connection_section(shared: &Shared) -> Markup {
    let settings = &shared.settings;
    let rows = [
        (
            "Authorize URL",
            settings.url(oauth::AUTHORIZE_PATH).to_string(),
        ),
        ("Token URL", settings.url(oauth::TOKEN_PATH).to_string()),
        (
            "Device authorization URL",
            settings.url(oauth::DEVICE_AUTHORIZE_PATH).to_string(),
        ),
        (
            "Device activation page",
            settings.url(oauth::ACTIVATE_PATH).to_string(),
        ),
        ("API base URL", settings.url(api::BASE_PATH).to_string()),
        ("Client id", settings.client_id.clone()),
        ("Client secret", settings.client_secret.clone()),
        ("Account", lock(&shared.grants).account().to_owned()),
        (
            "Refresh tokens",
            if settings.rotating_refresh_tokens {
                "rotating".to_owned()
            } else {
                "long-lived".to_owned()
            },
        ),
        (
            "Limits",
            format!(
                "{} requests per second, {} per UTC day",
                settings.requests_per_second, settings.requests_per_day
            ),
        ),
        (
            "Confirmed Opt-In",
            if lock(&shared.contacts).confirmed_opt_in() {
                "on".to_owned()
            } else {
                "off".to_owned()
            },
        ),
        ("SMTP receiver (mailbox)", settings.smtp_addr.to_string()),
        (
            "Authorize",
            if settings.consent {
                "consent page".to_owned()
            } else {
                "approves at once".to_owned()
            },
        ),
    ];
    html! {
        h2 { "Connect a client" }
        table id="connection" {
            @for (name, value) in rows {
                tr { th scope="row" { (name) } td { code { (value) } } }
            }
        }
    }
}

fn lists_section(shared: &Shared) -> Markup {
    let settings = &shared.settings;
    let members: Vec<_> = {
        let contacts = lock(&shared.contacts);
        settings
            .lists
            .iter()
            .map(|list| contacts.members(list.list_id))
            .collect()
    };
    html! {
        h2 { "Lists and custom fields" }
        table id="lists" {
            (pages::column_headers(&["Kind", "Name", "Id", "Members"]))
            tbody {
                @for (list, members) in settings.lists.iter().zip(members) {
                    tr { td { "list" } td { (list.name) } td { code { (list.list_id) } } td { (members) } }
                }
                @for field in &settings.custom_fields {
                    tr {
                        td { "custom field" } td { (field.name) }
                        td { code { (field.custom_field_id) } } td {}
                    }
                }
            }
        }
    }
}

fn stats_section(stats: &SandboxStats) -> Markup {
    // Through JSON so that a new counter shows up here without touching this page.
    let fields = match serde_json::to_value(stats) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    html! {
        h2 { "Counters" }
        table id="stats" {
            @for (name, value) in &fields {
                tr { th scope="row" { (name) } td { (value) } }
            }
        }
    }
}

fn contacts_section(settings: &Settings, contacts: &[SandboxContact]) -> Markup {
    html! {
        h2 { "Contacts received (" (contacts.len()) "), newest first" }
        @if contacts.is_empty() {
            p id="no-contacts" { "No contacts yet. Submit a signup form." }
        } @else {
            table id="contacts" {
                (pages::column_headers(&[
                    "Email", "Name", "Company", "Job title", "Phone", "Lists", "Custom fields",
                    "Created", "Updated", "Permission", "Opted out", "Deleted",
                ]))
                tbody {
                    @for contact in contacts { (contact_row(settings, contact)) }
                }
            }
        }
    }
}

fn contact_row(settings: &Settings, contact: &SandboxContact) -> Markup {
    let name = [&contact.first_name, &contact.last_name]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let lists = contact
        .list_memberships
        .iter()
        .map(|id| {
            settings
                .list(*id)
                .map_or_else(|| id.to_string(), |l| l.name.clone())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let fields = contact
        .custom_fields
        .iter()
        .map(|f| {
            let name = settings
                .custom_field(f.custom_field_id)
                .map_or_else(|| f.custom_field_id.to_string(), |c| c.name.clone());
            format!("{name} = {}", f.value)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    let date = |at: Option<DateTime<Utc>>| at.map(pages::timestamp).unwrap_or_default();
    html! {
        tr {
            td { (contact.email_address) }
            td { (name) }
            td { (optional(&contact.company_name)) }
            td { (optional(&contact.job_title)) }
            td { (optional(&contact.phone_number)) }
            td { (lists) }
            td { (fields) }
            td { (pages::timestamp(contact.created_at)) }
            td { (pages::timestamp(contact.updated_at)) }
            td { (contact.permission_to_send.as_str()) }
            td { (date(contact.opt_out_date)) }
            td { (date(contact.deleted_at)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::testing::{ESCAPED, HOSTILE, assert_escaped, shared};
    use crate::{Permission, SandboxConfig, SandboxCustomField, SandboxList};

    #[tokio::test]
    async fn the_overview_escapes_every_name_it_shows() {
        let shared = shared(SandboxConfig {
            client_id: HOSTILE.into(),
            client_secret: HOSTILE.into(),
            account_name: HOSTILE.into(),
            lists: vec![SandboxList {
                list_id: uuid::Uuid::from_u128(1),
                name: HOSTILE.into(),
            }],
            custom_fields: vec![SandboxCustomField {
                custom_field_id: uuid::Uuid::from_u128(2),
                name: HOSTILE.into(),
            }],
            ..SandboxConfig::default()
        });
        let now = shared.clock.now();
        lock(&shared.contacts).add(HOSTILE, Permission::Explicit, now);

        let Html(page) = overview(State(shared)).await;

        // Client id, secret and account; list and field; the contact's address.
        assert_eq!(page.matches(ESCAPED).count(), 6, "{page}");
        assert_escaped(&page);
        assert!(page.contains(r#"<meta http-equiv="refresh" content="2">"#));
        assert!(page.contains(r#"<th scope="col">Email</th>"#), "{page}");
    }

    #[tokio::test]
    async fn the_overview_without_contacts_says_so() {
        let Html(page) = overview(State(shared(SandboxConfig::default()))).await;

        assert!(page.contains(r#"<p id="no-contacts">"#), "{page}");
        assert!(page.contains("Mailbox (0)"), "{page}");
    }
}
