//! The `/activate` page of the device flow (RFC 8628 §3.3): a person types the user code their
//! device shows (or follows `verification_uri_complete`, which fills it in), sees which
//! application asks for which scopes, and approves or denies. The device learns the decision by
//! polling the token endpoint.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ccbridge_layout::{Markup, html};

use super::params::Params;
use super::{ACTIVATE_PATH, no_store};
use crate::devices::{ActivateError, DeviceRequest};
use crate::pages;
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
        html! {
            p {
                "Enter the code your device shows to connect the application "
                code { (shared.settings.client_id) }
                " to the Constant Contact account " strong { (account) } "."
            }
        }
    } else {
        let looked_up = lock(&shared.devices).pending(user_code, now);
        match looked_up {
            Ok(request) => describe(&request, &account),
            Err(error) => html! { p id="problem" { (problem(&error)) } },
        }
    };
    let body = html! {
        h1 { "Activate your device" }
        (about)
        form method="post" action=(ACTIVATE_PATH) {
            p {
                label for="user_code" { "Code" } " "
                input type="text" id="user_code" name="user_code" value=(user_code)
                    autocomplete="off" autocapitalize="characters" spellcheck="false" required;
            }
            button type="submit" id="approve" name="decision" value="approve" { "Approve" }
            " "
            button type="submit" id="deny" name="decision" value="deny" { "Deny" }
        }
    };
    (no_store(), pages::page("Activate your device", body)).into_response()
}

/// What the device asks for, named so the person knows what they approve.
fn describe(request: &DeviceRequest, account: &str) -> Markup {
    html! {
        p {
            "The application " code { (request.client_id) }
            " on your device asks for access to the Constant Contact account "
            strong { (account) } " with these scopes:"
        }
        (pages::scopes(&request.scopes))
    }
}

/// `POST /activate` from the page's buttons: record the decision for the code typed.
pub(super) async fn activate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = Params::parse(&[&body]);
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid decision",
                "The decision must be approve or deny.",
            );
        }
    };
    let Some(user_code) = params.get("user_code") else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "No code entered",
            "Enter the code your device shows.",
        );
    };
    let now = shared.clock.now();
    let decided = lock(&shared.devices).decide(user_code, approve, now);
    match decided {
        Ok(_) => done(approve),
        Err(error) => pages::error_page(
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
    let body = html! {
        h1 { (title) }
        p id="outcome" { (outcome) " You can return to your device." }
    };
    (no_store(), pages::page(title, body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::pages::testing::{ESCAPED, HOSTILE, assert_escaped, shared, text};

    fn hostile() -> Arc<Shared> {
        shared(SandboxConfig {
            client_id: HOSTILE.into(),
            account_name: HOSTILE.into(),
            ..SandboxConfig::default()
        })
    }

    fn query(user_code: &str) -> RawQuery {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", user_code)
            .finish();
        RawQuery(Some(query))
    }

    #[tokio::test]
    async fn the_blank_page_escapes_the_client_id_and_the_account() {
        let page = text(activate_page(State(hostile()), RawQuery(None)).await).await;

        assert_eq!(page.matches(ESCAPED).count(), 2, "{page}");
        assert_escaped(&page);
        assert!(page.contains(r#"<label for="user_code">"#), "{page}");
    }

    #[tokio::test]
    async fn a_pending_code_shows_its_application_and_account_escaped() {
        let shared = hostile();
        let request = DeviceRequest {
            client_id: HOSTILE.into(),
            scopes: vec!["contact_data".into()],
        };
        let user_code = lock(&shared.devices)
            .authorize(request, shared.clock.now())
            .user_code;

        let page = text(activate_page(State(shared), query(&user_code)).await).await;

        assert_eq!(page.matches(ESCAPED).count(), 2, "{page}");
        assert_escaped(&page);
        assert!(
            page.contains("<li><code>contact_data</code></li>"),
            "{page}"
        );
        assert!(page.contains(&format!(r#"value="{user_code}""#)), "{page}");
    }

    #[tokio::test]
    async fn an_unknown_typed_code_is_kept_escaped_with_the_problem() {
        let page = text(activate_page(State(hostile()), query(HOSTILE)).await).await;

        assert!(
            page.contains(r#"value="&lt;script&gt;alert(&quot;x&quot;)"#),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains(r#"<p id="problem">This code is unknown."#),
            "{page}"
        );
    }
}
