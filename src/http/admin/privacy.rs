//! The console's privacy requests (`/admin/privacy`): everything kept about one address shown as
//! a page or downloaded as JSON, and its erasure (a POST with the session's CSRF token and a
//! ticked confirmation). Each request leaves an audit line naming `console:<admin user>` and a
//! keyed hash of the address, never the address.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::ConsoleError;
use super::session::{Admin, CSRF_FIELD, CsrfForm};
use super::views::{Nav, page};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::http::AppState;
use crate::http::pages::escape;
use crate::store::{Erased, NOT_ERASED, PrivacyExport, SignupRecord, Store};
use ccbridge_layout::PreEscaped;

/// The confirmation checkbox of the erase form: erasure happens only with it ticked.
pub const CONFIRM_FIELD: &str = "confirm";

/// What the privacy pages need of the application.
#[derive(Clone)]
pub(super) struct Privacy {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
}

impl FromRef<AppState> for Privacy {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
        }
    }
}

impl Privacy {
    /// Who the audit line names.
    fn actor(&self) -> String {
        format!("console:{}", self.config.admin.username)
    }

    async fn export(&self, email: &EmailAddress) -> Result<PrivacyExport, ConsoleError> {
        Ok(self
            .store
            .privacy_export(email, &self.actor(), self.clock.now())
            .await
            .context("reading what is kept about an address")?)
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Lookup {
    email: Option<String>,
}

/// `GET /admin/privacy[?email=…]`: the form, and with an address what is kept about it.
pub(super) async fn page_for(
    admin: Admin,
    State(privacy): State<Privacy>,
    Query(lookup): Query<Lookup>,
) -> Result<Response, ConsoleError> {
    let typed = lookup.email.unwrap_or_default();
    let mut body = String::from(
        "<h1>Privacy requests</h1>\n<p>Show, download or erase everything ccbridge keeps about one address: its signups, consent records and mails. Each request is audited (a keyed hash of the address, who asked, when). Erasure does not touch the contact in Constant Contact.</p>\n",
    );
    body.push_str(&lookup_form(&privacy.config, &typed));
    if typed.trim().is_empty() {
        return Ok(admin.finish(shell(
            &privacy.config,
            "Privacy requests",
            Some(&admin),
            &body,
        )));
    }
    let email = match EmailAddress::parse(&typed) {
        Ok(email) => email,
        Err(error) => {
            let _ = writeln!(
                body,
                "<p class=\"bad\" role=\"alert\">Not an email address: {}</p>",
                escape(&error.to_string())
            );
            let html = shell(&privacy.config, "Privacy requests", Some(&admin), &body);
            return Ok(admin.finish((StatusCode::BAD_REQUEST, html)));
        }
    };
    let export = privacy.export(&email).await?;
    body.push_str(&render_export(&privacy.config, &export));
    body.push_str(&erase_form(&privacy.config, &admin, &email));
    Ok(admin.finish(shell(
        &privacy.config,
        "Privacy requests",
        Some(&admin),
        &body,
    )))
}

/// `GET /admin/privacy/export?email=…`: the same as one JSON document, as a download.
pub(super) async fn download(
    admin: Admin,
    State(privacy): State<Privacy>,
    Query(lookup): Query<Lookup>,
) -> Result<Response, ConsoleError> {
    let Ok(email) = EmailAddress::parse(lookup.email.as_deref().unwrap_or_default()) else {
        let body = serde_json::json!({ "error": { "code": "invalid_email" } }).to_string();
        let answer = (
            StatusCode::BAD_REQUEST,
            [(CONTENT_TYPE, "application/json")],
            body,
        );
        return Ok(admin.finish(answer));
    };
    let export = privacy.export(&email).await?;
    let json = serde_json::to_string_pretty(&export).context("writing the export")?;
    let answer = (
        [
            (CONTENT_TYPE, "application/json".to_owned()),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"ccbridge-privacy-export.json\"".to_owned(),
            ),
        ],
        json,
    );
    Ok(admin.finish(answer.into_response()))
}

/// `POST /admin/privacy/erase`: erase the address in the form, only with the box ticked.
pub(super) async fn erase(
    State(privacy): State<Privacy>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let admin = &form.admin;
    let typed = field("email").unwrap_or_default();
    let Ok(email) = EmailAddress::parse(typed) else {
        return Ok(refusal(
            &privacy.config,
            admin,
            typed,
            "That is not an email address. Nothing was erased.",
        ));
    };
    if field(CONFIRM_FIELD) != Some("yes") {
        return Ok(refusal(
            &privacy.config,
            admin,
            typed,
            "Tick the box to confirm the erasure. Nothing was erased.",
        ));
    }
    let erased = privacy
        .store
        .privacy_erase(&email, &privacy.actor(), privacy.clock.now())
        .await
        .context("erasing an address's data")?;
    tracing::warn!(
        rows = erased.total(),
        "an admin erased everything kept about one address (privacy request)"
    );
    let body = format!(
        "<h1>Erased</h1>\n<p class=\"notice\" role=\"status\">Everything ccbridge kept about {} is erased.</p>\n{}<p><strong>{}</strong></p>\n<p><a href=\"{}\">Another request</a></p>\n",
        escape(email.as_str()),
        erased_table(&erased),
        escape(NOT_ERASED),
        escape(&privacy.config.server.path("/admin/privacy")),
    );
    Ok(admin.finish(shell(&privacy.config, "Erased", Some(admin), &body)))
}

/// A console page around a body built here (every value in it escaped).
fn shell(
    config: &Config,
    title: &str,
    admin: Option<&Admin>,
    body: &str,
) -> axum::response::Html<String> {
    page(
        config,
        title,
        admin,
        Nav::Privacy,
        PreEscaped(body.to_owned()),
    )
}

/// The erase form again, with why nothing happened (400: the request was incomplete).
fn refusal(config: &Config, admin: &Admin, typed: &str, why: &str) -> Response {
    let body = format!(
        "<h1>Privacy requests</h1>\n<p class=\"bad\" role=\"alert\">{}</p>\n{}",
        escape(why),
        lookup_form(config, typed),
    );
    admin.finish((
        StatusCode::BAD_REQUEST,
        shell(config, "Privacy requests", Some(admin), &body),
    ))
}

fn lookup_form(config: &Config, typed: &str) -> String {
    format!(
        r#"<form method="get" action="{action}"><label class="field">Email address<input type="email" name="email" value="{}" required autocomplete="off"></label><button type="submit" id="privacy-show">Show what is kept</button></form>
"#,
        escape(typed),
        action = escape(&config.server.path("/admin/privacy")),
    )
}

fn erase_form(config: &Config, admin: &Admin, email: &EmailAddress) -> String {
    let Some(csrf) = &admin.csrf else {
        return String::new();
    };
    format!(
        r#"<h2>Erase</h2>
<form method="post" action="{action}"><input type="hidden" name="{CSRF_FIELD}" value="{csrf}"><input type="hidden" name="email" value="{email}">
<p><label><input type="checkbox" name="{CONFIRM_FIELD}" value="yes"> Erase everything above about {email}, in one go. This cannot be undone, and it does not touch the contact in Constant Contact.</label></p>
<button type="submit" id="privacy-erase">Erase</button></form>
"#,
        csrf = escape(csrf),
        email = escape(email.as_str()),
        action = escape(&config.server.path("/admin/privacy/erase")),
    )
}

fn erased_table(erased: &Erased) -> String {
    let mut out = String::from("<table>\n<tbody>\n");
    for (kind, n) in erased.by_kind() {
        let mut kind = kind.to_owned();
        kind[..1].make_ascii_uppercase();
        let _ = writeln!(out, "<tr><th>{kind}</th><td class=\"num\">{n}</td></tr>");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn cell(value: Option<&str>) -> String {
    escape(value.unwrap_or("–"))
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or("–".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

/// Everything in the export, as tables (every value escaped).
fn render_export(config: &Config, export: &PrivacyExport) -> String {
    let link = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", &export.email)
        .finish();
    let mut out = format!(
        "<h2>Kept about {}</h2>\n<p><a href=\"{}?{}\" id=\"privacy-download\">Download JSON</a></p>\n",
        escape(&export.email),
        escape(&config.server.path("/admin/privacy/export")),
        escape(&link),
    );
    if export.is_empty() && export.unsubscribed.is_none() {
        out.push_str("<p>Nothing is kept about this address.</p>\n");
        return out;
    }
    signups_html(&mut out, export);
    consent_records_html(&mut out, export);
    mails_html(&mut out, export);
    resubscribe_requests_html(&mut out, export);
    unsubscribed_html(&mut out, export);
    out
}

/// A signup's personal data, one `key: value` a line (only what is there).
fn signup_data(s: &SignupRecord) -> String {
    [
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
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}: {}", escape(v))))
    .chain(std::iter::once(format!(
        "custom fields: {}",
        escape(&serde_json::to_string(&s.custom_fields).unwrap_or_default())
    )))
    .collect::<Vec<_>>()
    .join("<br>")
}

fn signups_html(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(out, "<h3>Signups ({})</h3>", export.signups.len());
    out.push_str("<div class=\"wrap\"><table>\n<thead><tr><th>Id</th><th>Form</th><th>State</th><th>Created</th><th>Data</th><th>Delivery</th></tr></thead>\n<tbody>\n");
    for s in &export.signups {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>attempts {}; delivered {}; contact {}; last error {}; consent {}, confirmed {}</td></tr>",
            s.id,
            escape(&s.form_id),
            s.state.as_str(),
            time(Some(s.created_at)),
            signup_data(s),
            s.attempts,
            time(s.delivered_at),
            cell(s.contact_id.as_deref()),
            cell(s.last_error.as_deref()),
            s.consent_mode.as_str(),
            time(s.confirmed_at),
        );
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn consent_records_html(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(
        out,
        "<h3>Consent records ({})</h3>",
        export.consent_records.len()
    );
    for r in &export.consent_records {
        let _ = writeln!(
            out,
            "<dl><dt>Signup</dt><dd><code>{}</code> on form {}, {}</dd><dt>Signed up</dt><dd>{} from {} (language {}, client {}, agent {})</dd><dt>Confirmed</dt><dd>{} (client {}, agent {})</dd><dt>Delivered</dt><dd>{}: {} contact {}</dd><dt>Consent text</dt><dd>{} <code>{}</code></dd></dl>",
            escape(&r.signup_id),
            escape(&r.form_id),
            escape(&r.consent_mode),
            time(Some(r.signed_up_at)),
            cell(r.source_page.as_deref()),
            cell(r.language.as_deref()),
            cell(r.client_ip.as_deref()),
            cell(r.user_agent.as_deref()),
            time(r.confirmed_at),
            cell(r.confirm_ip.as_deref()),
            cell(r.confirm_user_agent.as_deref()),
            time(r.delivered_at),
            cell(r.outcome.as_deref()),
            cell(r.contact_id.as_deref()),
            cell(r.consent_text.as_deref()),
            cell(r.consent_text_hash.as_deref()),
        );
    }
}

fn mails_html(out: &mut String, export: &PrivacyExport) {
    let _ = writeln!(
        out,
        "<h3>Mails ({}; their bodies are never stored)</h3>",
        export.mails.len()
    );
    for m in &export.mails {
        let _ = writeln!(
            out,
            "<p>{} to {}: {} (queued {}, sent {})</p>",
            escape(&m.kind),
            escape(&m.to_address),
            escape(&m.state),
            time(Some(m.created_at)),
            time(m.sent_at),
        );
    }
}

fn resubscribe_requests_html(out: &mut String, export: &PrivacyExport) {
    for r in &export.resubscribe_requests {
        let _ = writeln!(
            out,
            "<p>Constant Contact was asked to send its resubscribe mail to contact {} on {}.</p>",
            escape(&r.contact_id),
            time(Some(r.requested_at)),
        );
    }
}

fn unsubscribed_html(out: &mut String, export: &PrivacyExport) {
    if let Some(u) = &export.unsubscribed {
        let _ = writeln!(
            out,
            "<h3>Unsubscribed</h3>\n<p>Contact {} opted out {}{}. {}</p>",
            escape(&u.contact_id),
            time(u.opted_out_at),
            if u.deleted { " (deleted there)" } else { "" },
            escape(export.note),
        );
    }
}
