//! The privacy requests pages: the lookup form, everything kept about one address, the erase
//! form, and what an erasure removed.

use axum::response::Html;
use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use super::super::session::{Admin, CSRF_FIELD};
use super::{Nav, page};
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::store::{Erased, NOT_ERASED, PrivacyExport, SignupRecord};

/// The confirmation checkbox of the erase form: erasure happens only with it ticked.
pub const CONFIRM_FIELD: &str = "confirm";

/// What the lookup page shows below its form.
pub enum Lookup<'a> {
    /// Nothing asked yet.
    Empty,
    /// Why the request was refused (not an address, the box not ticked).
    Refused(&'a str),
    /// Everything kept about the address, and the erase form.
    Found(&'a EmailAddress, &'a PrivacyExport),
}

/// `GET /admin/privacy`: the form, then what was asked for.
pub fn privacy_page(
    admin: &Admin,
    config: &Config,
    typed: &str,
    lookup: Lookup<'_>,
) -> Html<String> {
    let body = html! {
        h1 { "Privacy requests" }
        p {
            "Show, download or erase everything ccbridge keeps about one address: its signups, \
             consent records and mails. Each request is audited (a keyed hash of the address, who \
             asked, when). Erasure does not touch the contact in Constant Contact."
        }
        @if let Lookup::Refused(why) = lookup { p.bad role="alert" { (why) } }
        form method="get" action=(config.server.path("/admin/privacy")) {
            label.field { "Email address"
                input type="email" name="email" value=(typed) required autocomplete="off";
            }
            button type="submit" id="privacy-show" { "Show what is kept" }
        }
        @if let Lookup::Found(email, export) = lookup {
            (export_html(config, export))
            @if let Some(csrf) = &admin.csrf {
                h2 { "Erase" }
                form method="post" action=(config.server.path("/admin/privacy/erase")) {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    input type="hidden" name="email" value=(email.as_str());
                    p { label {
                        input type="checkbox" name=(CONFIRM_FIELD) value="yes";
                        " Erase everything above about " (email.as_str()) ", in one go. This \
                         cannot be undone, and it does not touch the contact in Constant Contact."
                    } }
                    button type="submit" id="privacy-erase" { "Erase" }
                }
            }
        }
    };
    page(config, "Privacy requests", Some(admin), Nav::Privacy, body)
}

/// After an erasure: what was removed, per kind.
pub fn erased_page(
    admin: &Admin,
    config: &Config,
    email: &EmailAddress,
    erased: &Erased,
) -> Html<String> {
    let body = html! {
        h1 { "Erased" }
        p.notice role="status" { "Everything ccbridge kept about " (email.as_str()) " is erased." }
        table { tbody {
            @for (kind, n) in erased.by_kind() {
                tr { th { (capitalized(kind)) } td.num { (n) } }
            }
        } }
        p { strong { (NOT_ERASED) } }
        p { a href=(config.server.path("/admin/privacy")) { "Another request" } }
    };
    page(config, "Erased", Some(admin), Nav::Privacy, body)
}

fn capitalized(kind: &str) -> String {
    let mut chars = kind.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn cell(value: Option<&str>) -> &str {
    value.unwrap_or("–")
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or("–".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

/// Everything in the export, as tables.
fn export_html(config: &Config, export: &PrivacyExport) -> Markup {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", &export.email)
        .finish();
    let download = format!("{}?{query}", config.server.path("/admin/privacy/export"));
    html! {
        h2 { "Kept about " (export.email) }
        p { a href=(download) id="privacy-download" { "Download JSON" } }
        @if export.is_empty() && export.unsubscribed.is_none() {
            p { "Nothing is kept about this address." }
        } @else {
            h3 { "Signups (" (export.signups.len()) ")" }
            div.wrap { table {
                thead { tr {
                    th { "Id" } th { "Form" } th { "State" } th { "Created" } th { "Data" } th { "Delivery" }
                } }
                tbody { @for s in &export.signups {
                    tr {
                        td { code { (s.id) } }
                        td { (s.form_id) }
                        td { (s.state.as_str()) }
                        td.time { (time(Some(s.created_at))) }
                        td { (signup_data(s)) }
                        td {
                            "attempts " (s.attempts) "; delivered " (time(s.delivered_at))
                            "; contact " (cell(s.contact_id.as_deref()))
                            "; last error " (cell(s.last_error.as_deref()))
                            "; consent " (s.consent_mode.as_str()) ", confirmed " (time(s.confirmed_at))
                        }
                    }
                } }
            } }
            h3 { "Consent records (" (export.consent_records.len()) ")" }
            @for r in &export.consent_records {
                dl {
                    dt { "Signup" }
                    dd { code { (r.signup_id) } " on form " (r.form_id) ", " (r.consent_mode) }
                    dt { "Signed up" }
                    dd {
                        (time(Some(r.signed_up_at))) " from " (cell(r.source_page.as_deref()))
                        " (language " (cell(r.language.as_deref())) ", client "
                        (cell(r.client_ip.as_deref())) ", agent " (cell(r.user_agent.as_deref())) ")"
                    }
                    dt { "Confirmed" }
                    dd {
                        (time(r.confirmed_at)) " (client " (cell(r.confirm_ip.as_deref()))
                        ", agent " (cell(r.confirm_user_agent.as_deref())) ")"
                    }
                    dt { "Delivered" }
                    dd {
                        (time(r.delivered_at)) ": " (cell(r.outcome.as_deref()))
                        " contact " (cell(r.contact_id.as_deref()))
                    }
                    dt { "Consent text" }
                    dd { (cell(r.consent_text.as_deref())) " " code { (cell(r.consent_text_hash.as_deref())) } }
                }
            }
            h3 { "Mails (" (export.mails.len()) "; their bodies are never stored)" }
            @for m in &export.mails {
                p {
                    (m.kind) " to " (m.to_address) ": " (m.state) " (queued "
                    (time(Some(m.created_at))) ", sent " (time(m.sent_at)) ")"
                }
            }
            @for r in &export.resubscribe_requests {
                p {
                    "Constant Contact was asked to send its resubscribe mail to contact "
                    (r.contact_id) " on " (time(Some(r.requested_at))) "."
                }
            }
            @if let Some(u) = &export.unsubscribed {
                h3 { "Unsubscribed" }
                p {
                    "Contact " (u.contact_id) " opted out " (time(u.opted_out_at))
                    @if u.deleted { " (deleted there)" }
                    ". " (export.note)
                }
            }
        }
    }
}

/// A signup's personal data, one `key: value` a line (only what is there).
fn signup_data(s: &SignupRecord) -> Markup {
    let lines = [
        ("email", s.email.as_deref()),
        ("first name", s.first_name.as_deref()),
        ("last name", s.last_name.as_deref()),
        ("phone", s.phone.as_deref()),
        ("company", s.company.as_deref()),
        ("job title", s.job_title.as_deref()),
        ("client", s.client_ip.as_deref()),
        ("user agent", s.user_agent.as_deref()),
        ("spam reason", s.spam_reason.as_deref()),
        ("hold reason", s.hold_reason.as_deref()),
    ];
    let custom = serde_json::to_string(&s.custom_fields).unwrap_or_default();
    html! {
        @for (key, value) in lines.iter().filter_map(|(k, v)| v.map(|v| (k, v))) {
            (key) ": " (value) br;
        }
        "custom fields: " (custom)
    }
}
