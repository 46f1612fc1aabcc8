//! The `/activate` page of the device flow (RFC 8628 §3.3): a person types the user code their
//! device shows (or follows `verification_uri_complete`, which fills it in), sees which
//! application asks for which scopes, and approves or denies. The device learns the decision by
//! polling the token endpoint.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::params::Params;
use super::{ACTIVATE_PATH, no_store};
use crate::devices::{ActivateError, DeviceRequest};
use crate::html::{self, escape};
use crate::{Shared, lock};

/// `GET /activate[?user_code=…]`. A code given in the URL is looked up so the page can name the
/// application and its scopes; a code that is not (or no longer) valid is still filled in, with
/// a note, so that a mistyped one can be corrected.
pub(super) async fn activate_page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(&[query.as_deref().unwrap_or("").as_bytes()]);
    let user_code = params.get("user_code").unwrap_or("");
    let now = shared.clock.now();
    let account = lock(&shared.grants).account().to_owned();
    let about = if user_code.is_empty() {
        format!(
            "<p>Enter the code your device shows to connect the application <code>{client}</code> \
             to the Constant Contact account <strong>{account}</strong>.</p>",
            client = escape(&shared.settings.client_id),
            account = escape(&account),
        )
    } else {
        let looked_up = lock(&shared.devices).pending(user_code, now);
        match looked_up {
            Ok(request) => describe(&request, &account),
            Err(error) => format!("<p id=\"problem\">{}</p>", escape(problem(&error))),
        }
    };
    let body = format!(
        r#"<h1>Activate your device</h1>
{about}
<form method="post" action="{action}">
<p><label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="{code}" autocomplete="off" autocapitalize="characters" spellcheck="false" required></p>
<button type="submit" id="approve" name="decision" value="approve">Approve</button>
<button type="submit" id="deny" name="decision" value="deny">Deny</button>
</form>"#,
        action = ACTIVATE_PATH,
        code = escape(user_code),
    );
    (no_store(), html::page("Activate your device", "", &body)).into_response()
}

/// What the device asks for, named so the person knows what they approve.
fn describe(request: &DeviceRequest, account: &str) -> String {
    let scopes: String = request
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    format!(
        "<p>The application <code>{client}</code> on your device asks for access to the \
         Constant Contact account <strong>{account}</strong> with these scopes:</p>\n\
         <ul id=\"scopes\">{scopes}</ul>",
        client = escape(&request.client_id),
        account = escape(account),
    )
}

/// `POST /activate` from the page's buttons: record the decision for the code typed.
pub(super) async fn activate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = Params::parse(&[&body]);
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return html::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid decision",
                "The decision must be approve or deny.",
            );
        }
    };
    let Some(user_code) = params.get("user_code") else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "No code entered",
            "Enter the code your device shows.",
        );
    };
    let now = shared.clock.now();
    let decided = lock(&shared.devices).decide(user_code, approve, now);
    match decided {
        Ok(_) => done(approve),
        Err(error) => html::error_page(
            StatusCode::BAD_REQUEST,
            "Code not accepted",
            problem(&error),
        ),
    }
}

fn problem(error: &ActivateError) -> &'static str {
    match error {
        ActivateError::Unknown => {
            "This code is unknown. Check the code your device shows and enter it again."
        }
        ActivateError::Expired => {
            "This code has expired. Start again on your device to get a new one."
        }
        ActivateError::AlreadyDecided => {
            "This code was already approved or denied. Start again on your device if you need a new one."
        }
    }
}

fn done(approved: bool) -> Response {
    let (title, outcome) = if approved {
        ("Device connected", "You approved the request.")
    } else {
        ("Request denied", "You denied the request.")
    };
    let body = format!(
        "<h1>{}</h1>\n<p id=\"outcome\">{} You can return to your device.</p>",
        escape(title),
        escape(outcome),
    );
    (no_store(), html::page(title, "", &body)).into_response()
}
