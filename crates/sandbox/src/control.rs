//! Control and inspection, without auth (the sandbox is a dev tool): `/_sandbox/*` JSON routes
//! for tests and scripts, and `/`, the page where `ccbridge demo` users watch signups arrive
//! (with links to the mailbox and the consent controls, `mailbox_page` and `consent`).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::faults::Faults;
use crate::html::{escape, page};
use crate::{SandboxContact, SandboxStats, Shared, api, lock, oauth};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(overview))
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
    let mut body = String::from("<h1>Constant Contact sandbox</h1>\n");
    let _ = writeln!(
        body,
        "<p id=\"links\"><a href=\"/mailbox\">Mailbox ({mail})</a> · <a href=\"/controls\">Controls</a> (unsubscribe, delete or add a contact, Confirmed Opt-In, confirm a resubscribe)</p>"
    );
    connection_section(&shared, &mut body);
    lists_section(&shared, &mut body);
    stats_section(&stats, &mut body);
    contacts_section(&shared, &contacts, &mut body);
    page(
        "Constant Contact sandbox",
        r#"<meta http-equiv="refresh" content="2">"#,
        &body,
    )
}

fn connection_section(shared: &Shared, out: &mut String) {
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
    out.push_str("<h2>Connect a client</h2>\n<table id=\"connection\">\n");
    for (name, value) in rows {
        row(
            out,
            &[escape(name), format!("<code>{}</code>", escape(&value))],
        );
    }
    out.push_str("</table>\n");
}

fn lists_section(shared: &Shared, out: &mut String) {
    let settings = &shared.settings;
    out.push_str("<h2>Lists and custom fields</h2>\n<table id=\"lists\">\n");
    header(out, &["Kind", "Name", "Id", "Members"]);
    {
        let contacts = lock(&shared.contacts);
        for list in &settings.lists {
            let members = contacts.members(list.list_id).to_string();
            row(
                out,
                &[
                    "list".to_owned(),
                    escape(&list.name),
                    format!("<code>{}</code>", list.list_id),
                    members,
                ],
            );
        }
    }
    for field in &settings.custom_fields {
        row(
            out,
            &[
                "custom field".to_owned(),
                escape(&field.name),
                format!("<code>{}</code>", field.custom_field_id),
                String::new(),
            ],
        );
    }
    out.push_str("</table>\n");
}

fn stats_section(stats: &SandboxStats, out: &mut String) {
    out.push_str("<h2>Counters</h2>\n<table id=\"stats\">\n");
    // Through JSON so that a new counter shows up here without touching this page.
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(stats) {
        for (name, value) in fields {
            row(out, &[escape(&name), escape(&value.to_string())]);
        }
    }
    out.push_str("</table>\n");
}

fn contacts_section(shared: &Shared, contacts: &[SandboxContact], out: &mut String) {
    let settings = &shared.settings;
    let _ = writeln!(
        out,
        "<h2>Contacts received ({}), newest first</h2>",
        contacts.len()
    );
    if contacts.is_empty() {
        out.push_str("<p id=\"no-contacts\">No contacts yet. Submit a signup form.</p>\n");
        return;
    }
    out.push_str("<table id=\"contacts\">\n");
    header(
        out,
        &[
            "Email",
            "Name",
            "Company",
            "Job title",
            "Phone",
            "Lists",
            "Custom fields",
            "Created",
            "Updated",
            "Permission",
            "Opted out",
            "Deleted",
        ],
    );
    for contact in contacts {
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
        let optional = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
        row(
            out,
            &[
                escape(&contact.email_address),
                escape(&name),
                optional(&contact.company_name),
                optional(&contact.job_title),
                optional(&contact.phone_number),
                escape(&lists),
                escape(&fields),
                contact
                    .created_at
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string(),
                contact
                    .updated_at
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string(),
                contact.permission_to_send.as_str().to_owned(),
                date(contact.opt_out_date),
                date(contact.deleted_at),
            ],
        );
    }
    out.push_str("</table>\n");
}

fn date(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A table header row from plain (safe) labels.
fn header(out: &mut String, labels: &[&str]) {
    out.push_str("<tr>");
    for label in labels {
        let _ = write!(out, "<th>{label}</th>");
    }
    out.push_str("</tr>\n");
}

/// A table row from already-escaped cells.
fn row(out: &mut String, cells: &[String]) {
    out.push_str("<tr>");
    for cell in cells {
        let _ = write!(out, "<td>{cell}</td>");
    }
    out.push_str("</tr>\n");
}
