//! Controls over contacts' consent, for tests (the `Sandbox` methods here) and for people and
//! scripts (the `/_sandbox/...` POST routes, which take JSON or a form, and the `/controls` page
//! with a form for each): what a contact does (unsubscribe, confirm a resubscribe), what the
//! account does (delete, add a contact with a permission, switch Confirmed Opt-In), and what was
//! asked of the API (`sign_up_form` calls per address, resubscribe requests). Also the mails
//! Constant Contact sends a contact to ask for its consent, which go into the mailbox.
//!
//! A JSON request gets JSON back (the contact, or 404 with a plain message); a form gets a
//! redirect to `/controls` (303), or an error page.

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use ccbridge_layout::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::contacts::{Permission, ResubscribeRequest};
use crate::mailbox::{CONSTANT_CONTACT_SENDER, MailOrigin, MailboxMessage};
use crate::pages::{self, CONTROLS_PATH, error_page};
use crate::{Sandbox, SandboxContact, Shared, lock};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(CONTROLS_PATH, get(controls_page))
        .route("/_sandbox/contacts/add", post(add_contact))
        .route("/_sandbox/unsubscribe", post(unsubscribe))
        .route("/_sandbox/delete-contact", post(delete_contact))
        .route("/_sandbox/confirm-resubscribe", post(confirm_resubscribe))
        .route("/_sandbox/resubscribes", get(resubscribes))
        .route(
            "/_sandbox/confirmed-opt-in",
            get(confirmed_opt_in).post(set_confirmed_opt_in),
        )
}

impl Sandbox {
    /// The contact with this address (any case), deleted or not.
    pub fn contact(&self, email: &str) -> Option<SandboxContact> {
        lock(&self.shared.contacts).get(email).cloned()
    }

    /// Seed a contact with `permission` (create source `Account`; an unsubscribed one gets an
    /// opt-out dated now, source `Contact`), or set an existing contact's permission and restore
    /// it if deleted. The address is taken as given. It is not a `sign_up_form` call.
    pub fn add_contact(&self, email: &str, permission: Permission) -> SandboxContact {
        self.shared.add_contact(email, permission)
    }

    /// The contact unsubscribes itself: permission `unsubscribed`, opt-out dated by the
    /// sandbox's clock, source `Contact`, off every list. None if there is no such contact.
    pub fn unsubscribe(&self, email: &str) -> Option<SandboxContact> {
        let now = self.shared.clock.now();
        lock(&self.shared.contacts).unsubscribe(email, now)
    }

    /// The account deletes the contact (its permission stays). None if there is no such contact.
    pub fn delete_contact(&self, email: &str) -> Option<SandboxContact> {
        let now = self.shared.clock.now();
        lock(&self.shared.contacts).delete(email, now)
    }

    /// Switch the account's Confirmed Opt-In setting.
    pub fn set_confirmed_opt_in(&self, enabled: bool) {
        lock(&self.shared.contacts).set_confirmed_opt_in(enabled);
    }

    pub fn confirmed_opt_in(&self) -> bool {
        lock(&self.shared.contacts).confirmed_opt_in()
    }

    /// The contact confirms its resubscribe request: permission `explicit`, the request's lists
    /// added, restored if deleted. None if it has no unconfirmed request.
    pub fn confirm_resubscribe(&self, email: &str) -> Option<SandboxContact> {
        let now = self.shared.clock.now();
        lock(&self.shared.contacts).confirm_resubscribe(email, now)
    }

    /// Every accepted resubscribe request, in the order they were made.
    pub fn resubscribe_requests(&self) -> Vec<ResubscribeRequest> {
        lock(&self.shared.contacts).resubscribe_requests()
    }

    /// How many `sign_up_form` calls named this address (any case), counting every call that
    /// passed the gate (auth, limits, faults) and had an `email_address`, valid or not.
    pub fn sign_up_calls_for(&self, email: &str) -> u64 {
        lock(&self.shared.contacts).sign_up_calls_for(email)
    }
}

impl Shared {
    fn add_contact(&self, email: &str, permission: Permission) -> SandboxContact {
        let now = self.clock.now();
        let mut contacts = lock(&self.contacts);
        contacts.add(email, permission, now);
        contacts
            .get(email)
            .cloned()
            .expect("the contact just added")
    }
}

/// The mails Constant Contact sends a contact on the account's behalf.
#[derive(Clone, Copy, Debug)]
pub enum ConstantContactMail {
    /// Confirmed Opt-In: a new contact must confirm before it is sent anything.
    ConfirmSubscription,
    /// `PUT /contacts/resubscribe/{contact_id}`: the contact must confirm to be resubscribed.
    Resubscribe,
}

impl Shared {
    /// Put Constant Contact's `kind` of mail to `to` into the mailbox.
    pub fn send_constant_contact_mail(&self, kind: ConstantContactMail, to: &str) {
        let account = lock(&self.grants).account().to_owned();
        let controls = self.settings.url(CONTROLS_PATH);
        let (subject, ask) = match kind {
            ConstantContactMail::ConfirmSubscription => (
                format!("Please confirm your subscription to {account}"),
                format!(
                    "You signed up to receive email from {account}. Please confirm that you want to receive it; until you do, {account} cannot send you anything."
                ),
            ),
            ConstantContactMail::Resubscribe => (
                format!("Confirm that you want to resubscribe to {account}"),
                format!(
                    "{account} asked to resubscribe you to its emails, which you unsubscribed from. You are not resubscribed unless you confirm."
                ),
            ),
        };
        let text = format!(
            "Hello,\n\n{ask}\n\nThis mail stands in for the one Constant Contact sends; in the sandbox, confirm at {controls}\n\nConstant Contact (sandbox)\n"
        );
        let html = html! {
            p { "Hello," }
            p { (ask) }
            p { "In the sandbox, confirm at " a href=(controls.as_str()) { (controls.as_str()) } "." }
        }
        .into_string();
        let message = MailboxMessage {
            id: 0,
            origin: MailOrigin::ConstantContact,
            from: CONSTANT_CONTACT_SENDER.to_owned(),
            to: vec![to.to_owned()],
            subject,
            text: Some(text),
            html: Some(html),
            received_at: self.clock.now(),
        };
        lock(&self.mailbox).push(message);
    }
}

// ── Routes ───────────────────────────────────────────────────────────────────────────────────

/// How the caller wants the answer: JSON for scripts, a redirect for the page's forms.
#[derive(Clone, Copy)]
enum Reply {
    Json,
    Page,
}

/// The body as JSON or as a form, by its Content-Type; a body that does not fit is refused
/// in kind (a page for a form).
async fn input<T: DeserializeOwned + Send + 'static>(
    request: Request,
) -> Result<(T, Reply), Response> {
    let form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        // A person sent it from the controls page: they get a page saying what was wrong.
        let Form(value) = Form::<T>::from_request(request, &())
            .await
            .map_err(|refused| {
                error_page(refused.status(), "Not understood", &refused.body_text())
            })?;
        Ok((value, Reply::Page))
    } else {
        let Json(value) = Json::<T>::from_request(request, &())
            .await
            .map_err(IntoResponse::into_response)?;
        Ok((value, Reply::Json))
    }
}

impl Reply {
    fn contact(self, contact: Option<SandboxContact>, missing: &str) -> Response {
        match (self, contact) {
            (Reply::Json, Some(contact)) => Json(contact).into_response(),
            (Reply::Page, Some(_)) => Redirect::to(CONTROLS_PATH).into_response(),
            (Reply::Json, None) => (StatusCode::NOT_FOUND, missing.to_owned()).into_response(),
            (Reply::Page, None) => error_page(StatusCode::NOT_FOUND, "Nothing done", missing),
        }
    }
}

#[derive(Deserialize)]
struct ByEmail {
    email_address: String,
}

#[derive(Deserialize)]
struct NewContact {
    email_address: String,
    permission_to_send: Permission,
}

#[derive(Deserialize)]
struct Switch {
    enabled: bool,
}

async fn add_contact(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (new, reply) = match input::<NewContact>(request).await {
        Ok(input) => input,
        Err(refused) => return refused,
    };
    let email = new.email_address.trim();
    if email.is_empty() || !email.contains('@') || email.chars().count() > 80 {
        let message = "email_address must be an address of at most 80 characters";
        return match reply {
            Reply::Json => (StatusCode::BAD_REQUEST, message).into_response(),
            Reply::Page => error_page(StatusCode::BAD_REQUEST, "Not added", message),
        };
    }
    let contact = shared.add_contact(email, new.permission_to_send);
    match reply {
        Reply::Json => (StatusCode::CREATED, Json(contact)).into_response(),
        Reply::Page => Redirect::to(CONTROLS_PATH).into_response(),
    }
}

async fn unsubscribe(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (by, reply) = match input::<ByEmail>(request).await {
        Ok(input) => input,
        Err(refused) => return refused,
    };
    let contact = lock(&shared.contacts).unsubscribe(&by.email_address, shared.clock.now());
    reply.contact(contact, "There is no contact with that email address.")
}

async fn delete_contact(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (by, reply) = match input::<ByEmail>(request).await {
        Ok(input) => input,
        Err(refused) => return refused,
    };
    let contact = lock(&shared.contacts).delete(&by.email_address, shared.clock.now());
    reply.contact(contact, "There is no contact with that email address.")
}

async fn confirm_resubscribe(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (by, reply) = match input::<ByEmail>(request).await {
        Ok(input) => input,
        Err(refused) => return refused,
    };
    let now = shared.clock.now();
    let contact = lock(&shared.contacts).confirm_resubscribe(&by.email_address, now);
    reply.contact(
        contact,
        "There is no unconfirmed resubscribe request for that email address.",
    )
}

async fn resubscribes(State(shared): State<Arc<Shared>>) -> Json<Vec<ResubscribeRequest>> {
    Json(lock(&shared.contacts).resubscribe_requests())
}

async fn confirmed_opt_in(State(shared): State<Arc<Shared>>) -> Response {
    let enabled = lock(&shared.contacts).confirmed_opt_in();
    Json(json!({ "enabled": enabled })).into_response()
}

async fn set_confirmed_opt_in(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (switch, reply) = match input::<Switch>(request).await {
        Ok(input) => input,
        Err(refused) => return refused,
    };
    lock(&shared.contacts).set_confirmed_opt_in(switch.enabled);
    match reply {
        Reply::Json => Json(json!({ "enabled": switch.enabled })).into_response(),
        Reply::Page => Redirect::to(CONTROLS_PATH).into_response(),
    }
}

// ── The page ─────────────────────────────────────────────────────────────────────────────────

const PERMISSIONS: [Permission; 6] = [
    Permission::Explicit,
    Permission::Implicit,
    Permission::NotSet,
    Permission::PendingConfirmation,
    Permission::TempHold,
    Permission::Unsubscribed,
];

/// `GET /controls`: a form per control. It does not reload itself, so typing is not lost.
async fn controls_page(State(shared): State<Arc<Shared>>) -> Html<String> {
    let (coi, requests) = {
        let contacts = lock(&shared.contacts);
        (contacts.confirmed_opt_in(), contacts.resubscribe_requests())
    };
    let body = html! {
        h1 { "Sandbox controls" }
        (pages::other_pages(CONTROLS_PATH))
        h2 { "Confirmed Opt-In" }
        form method="post" action="/_sandbox/confirmed-opt-in" id="confirmed-opt-in" {
            p {
                "The account's Confirmed Opt-In is " strong { (if coi { "on" } else { "off" }) } ". "
                input type="hidden" name="enabled" value=(!coi);
                button { (if coi { "Turn it off" } else { "Turn it on" }) }
            }
        }
        h2 { "A contact" }
        form method="post" action="/_sandbox/unsubscribe" id="contact-actions" {
            p { label { "Email address " input type="email" name="email_address" required; } }
            p {
                button { "Unsubscribe (as the contact)" }
                button formaction="/_sandbox/delete-contact" { "Delete (as the account)" }
                button formaction="/_sandbox/confirm-resubscribe" { "Confirm its resubscribe request" }
            }
        }
        h2 { "Add a contact" }
        form method="post" action="/_sandbox/contacts/add" id="add-contact" {
            p {
                label { "Email address " input type="email" name="email_address" required; }
                " "
                label {
                    "Permission "
                    select name="permission_to_send" {
                        @for permission in PERMISSIONS { option { (permission.as_str()) } }
                    }
                }
                " "
                button { "Add" }
            }
        }
        h2 { "Resubscribe requests" }
        @if requests.is_empty() {
            p id="no-resubscribes" { "None yet." }
        } @else {
            (resubscribes_table(&requests))
        }
    };
    pages::page("Sandbox controls", body)
}

fn resubscribes_table(requests: &[ResubscribeRequest]) -> Markup {
    html! {
        table id="resubscribes" {
            (pages::column_headers(&["Email", "Requested", "Confirmed"]))
            tbody {
                @for request in requests {
                    tr {
                        td { (request.email_address) }
                        td { (pages::timestamp(request.requested_at)) }
                        td {
                            @if let Some(at) = request.confirmed_at {
                                (pages::timestamp(at))
                            } @else {
                                form method="post" action="/_sandbox/confirm-resubscribe" {
                                    input type="hidden" name="email_address" value=(request.email_address);
                                    button aria-label={ "Confirm " (request.email_address) } { "Confirm" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::pages::testing::{ESCAPED, HOSTILE, assert_escaped, shared, text};

    #[tokio::test]
    async fn the_controls_page_escapes_the_addresses_of_resubscribe_requests() {
        let shared = shared(SandboxConfig::default());
        let contact = shared.add_contact(HOSTILE, Permission::Unsubscribed);
        let now = shared.clock.now();
        lock(&shared.contacts)
            .request_resubscribe(contact.contact_id, Vec::new(), now)
            .unwrap();

        let Html(page) = controls_page(State(shared)).await;

        // In the cell, the hidden input and the button's label.
        assert_eq!(page.matches(ESCAPED).count(), 3, "{page}");
        assert_escaped(&page);
        assert!(page.contains(r#"<table id="resubscribes">"#), "{page}");
    }

    #[tokio::test]
    async fn a_form_that_does_not_fit_gets_a_page_naming_the_problem() {
        let shared = shared(SandboxConfig::default());
        let request = Request::post("/_sandbox/contacts/add")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(
                "email_address=a%40example.org&permission_to_send=%3Cscript%3E",
            ))
            .unwrap();

        let response = add_contact(State(shared.clone()), request).await;

        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = text(response).await;
        assert!(page.contains("<h1>Not understood</h1>"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(lock(&shared.contacts).all().is_empty());
    }

    #[tokio::test]
    async fn constant_contacts_mail_escapes_the_account_in_its_html_part() {
        let shared = shared(SandboxConfig {
            account_name: HOSTILE.into(),
            ..SandboxConfig::default()
        });

        shared.send_constant_contact_mail(ConstantContactMail::Resubscribe, "a@example.org");

        let mail = lock(&shared.mailbox).all().remove(0);
        let html = mail.html.unwrap();
        assert_escaped(&html);
        assert!(
            html.contains(r#"confirm at <a href="http://127.0.0.1:9/controls">"#),
            "{html}"
        );
        assert!(
            mail.text.unwrap().contains(HOSTILE),
            "the text part is text"
        );
    }
}
