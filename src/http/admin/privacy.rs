//! The console's privacy requests (`/admin/privacy`): everything kept about one address shown as
//! a page or downloaded as JSON, and its erasure (a POST with the session's CSRF token and a
//! ticked confirmation). Each request leaves an audit line naming `console:<admin user>` and a
//! keyed hash of the address, never the address.

use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::ConsoleError;
use super::session::{Admin, CsrfForm};
use super::views::{self, CONFIRM_FIELD, PrivacyLookup as Shown};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::http::AppState;
use crate::store::{PrivacyExport, Store};

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
    let config = &privacy.config;
    if typed.trim().is_empty() {
        let html = views::privacy_page(&admin, config, &typed, Shown::Empty);
        return Ok(admin.finish(html));
    }
    let email = match EmailAddress::parse(&typed) {
        Ok(email) => email,
        Err(error) => {
            let why = format!("Not an email address: {error}");
            let html = views::privacy_page(&admin, config, &typed, Shown::Refused(&why));
            return Ok(admin.finish((StatusCode::BAD_REQUEST, html)));
        }
    };
    let export = privacy.export(&email).await?;
    let html = views::privacy_page(&admin, config, &typed, Shown::Found(&email, &export));
    Ok(admin.finish(html))
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
    let html = views::erased_page(admin, &privacy.config, &email, &erased);
    Ok(admin.finish(html))
}

/// The lookup form again, with why nothing happened (400: the request was incomplete).
fn refusal(config: &Config, admin: &Admin, typed: &str, why: &str) -> Response {
    let html = views::privacy_page(admin, config, typed, Shown::Refused(why));
    admin.finish((StatusCode::BAD_REQUEST, html))
}
