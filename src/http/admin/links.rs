//! The console's side of connect links (`/admin/links`): create one for the Constant Contact
//! account owner (its URL is shown once), see each link's state, revoke an unused one; and the
//! confirmation an admin gives when a link connected another account than before. Every action
//! is a POST with the session's CSRF token and leaves an audit line in the log.

use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::response::Response;

use ccbridge_layout::{Markup, html};

use super::ConsoleError;
use super::session::{Admin, CSRF_FIELD, CsrfForm, see_other};
use super::views::{Nav, page, post_button, time};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::delivery::DeliveryWorker;
use crate::delivery::account_check::AccountChecker;
use crate::http::AppState;
use crate::store::{LinkState, Store};
use crate::tokens::TokenKeeper;
use crate::tokens::links::{DEFAULT_LINK_LIFETIME, create_link};

/// The lifetimes the console offers.
const LIFETIMES: [(&str, &str); 4] = [
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("3days", "3 days"),
    ("7days", "7 days"),
];

/// What the link pages need of the application.
#[derive(Clone)]
pub(super) struct Links {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    keeper: TokenKeeper,
}

impl FromRef<AppState> for Links {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            keeper: state.keeper.clone(),
        }
    }
}

/// `GET /admin/links`.
pub(super) async fn list(
    admin: Admin,
    State(links): State<Links>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let all = links
        .store
        .connect_links()
        .await
        .context("listing connect links")?;
    let now = links.clock.now();
    let config = &links.config;
    let body = html! {
        h1 { "Connect links" }
        p {
            "A connect link lets the owner of the Constant Contact account connect ccbridge \
             without the admin password: send it to them; they open it, press the button and log \
             in at Constant Contact. A link works once and expires. Every connection made through \
             a link raises an alert naming the account, and if it is another account than before, \
             deliveries wait until you confirm the switch on the overview."
        }
        @if query.as_deref() == Some("revoked") {
            p.notice role="status" { "The link is revoked." }
        }
        (create_form(config, &admin))
        @if all.is_empty() {
            p { "No connect links yet." }
        } @else {
            table {
                thead { tr { th { "For" } th { "State" } th { "Created" } th { "Expires" } th {} } }
                tbody {
                    @for link in &all {
                        @let state = link.state(now);
                        tr id={ "link-" (link.id) } {
                            td { (link.note.as_deref().unwrap_or("(no note)")) }
                            td.link-state { (state.as_str()) }
                            td.time { (time(link.created_at, now)) }
                            td.time { (time(link.expires_at, now)) }
                            td {
                                @if state == LinkState::Active {
                                    (post_button(config, &admin,
                                        &format!("/admin/links/{}/revoke", link.id),
                                        "Revoke", &format!("revoke-{}", link.id)))
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin.finish(page(
        config,
        "Connect links",
        Some(&admin),
        Nav::Links,
        body,
    )))
}

fn create_form(config: &Config, admin: &Admin) -> Markup {
    html! {
        @if let Some(csrf) = &admin.csrf {
            form method="post" action=(config.server.path("/admin/links")) {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                p {
                    label for="note" { "For (shown on the link's page)" } " "
                    input id="note" name="note" maxlength="100";
                }
                p {
                    label for="expires" { "Valid for" } " "
                    select id="expires" name="expires" {
                        @for (value, label) in LIFETIMES {
                            option value=(value) selected[value == "24h"] { (label) }
                        }
                    }
                }
                p { button type="submit" id="create-link" { "Create a connect link" } }
            }
        }
    }
}

/// `POST /admin/links`: a new link, shown once.
pub(super) async fn create(
    State(links): State<Links>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let lifetime = field("expires")
        .and_then(|v| LIFETIMES.iter().any(|(l, _)| *l == v).then_some(v))
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(DEFAULT_LINK_LIFETIME);
    let note = field("note").map(|n| n.chars().take(100).collect::<String>());
    let new = create_link(
        &links.store,
        &links.config.server.public_url,
        links.clock.now(),
        lifetime,
        "console",
        note,
    )
    .await
    .context("storing a connect link")?;
    tracing::info!(link = %new.link.id, expires_at = %new.link.expires_at, "an admin created a connect link");
    let config = &links.config;
    let body = html! {
        h1 { "Your connect link" }
        p {
            "Send this link to the owner of the Constant Contact account. It is shown only now; \
             it works once and expires " (time(new.link.expires_at, links.clock.now())) "."
        }
        p {
            label for="link-url" { "Connect link" } br;
            input id="link-url" readonly size="80" value=(new.url.as_str());
        }
        p { a href=(config.server.path("/admin/links")) { "Back to connect links" } }
    };
    Ok(form.admin.finish(page(
        config,
        "Connect link",
        Some(&form.admin),
        Nav::Links,
        body,
    )))
}

/// `POST /admin/links/{id}/revoke`.
pub(super) async fn revoke(
    State(links): State<Links>,
    Path(id): Path<String>,
    _: CsrfForm,
) -> Result<Response, ConsoleError> {
    let revoked = links
        .store
        .revoke_connect_link(&id, links.clock.now())
        .await
        .context("revoking a connect link")?;
    if !revoked {
        return Err(ConsoleError::NotFound);
    }
    tracing::info!(link = %id, "an admin revoked a connect link");
    Ok(see_other(&links.config.server.path("/admin/links?revoked")))
}

/// `POST /admin/connection/confirm-switch`: the admin accepts the account a link connected.
pub(super) async fn confirm_switch(
    State(links): State<Links>,
    State(delivery): State<DeliveryWorker>,
    State(account): State<AccountChecker>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    let set = links
        .store
        .token_set()
        .await
        .context("reading the connection")?;
    let Some(set) = set.filter(|s| s.switch_unconfirmed) else {
        return Ok(see_other(&links.config.server.path("/admin")));
    };
    let shown = form
        .fields
        .iter()
        .find(|(name, _)| name == "account")
        .map(|(_, value)| value.as_str());
    if shown != Some(set.account_name.as_deref().unwrap_or_default()) {
        // Another link connection came between the page and the click: confirm nothing.
        return Ok(see_other(
            &links.config.server.path("/admin?switch-changed"),
        ));
    }
    links
        .store
        .confirm_account_switch(set.generation)
        .await
        .context("confirming the switch of accounts")?;
    tracing::warn!(
        account = set.account_name.as_deref().unwrap_or("unnamed"),
        previous = set.previous_account_name.as_deref().unwrap_or("unnamed"),
        "an admin confirmed the switch to the account a connect link connected"
    );
    links
        .keeper
        .confirm_account(set.account_id.as_deref(), set.account_name.as_deref())
        .await;
    links.keeper.announce_recovery(set.generation).await;
    delivery.connection_made();
    account.check_soon();
    Ok(see_other(
        &links.config.server.path("/admin?switch-confirmed"),
    ))
}
