//! The account owner's side of a connect link: `GET /connect/link/{secret}` shows who is asking
//! and one button; the button's POST starts the same authorization as the console's Connect
//! (PKCE and the browser cookie, or a device code), with no admin password. A used, revoked or
//! expired link gets a page that says so and changes nothing. The link is consumed by `consume`
//! when the connection completes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use ccbridge_layout::html;

use super::{ConnectError, Connector, is_cross_site, page, start_authorization};
use crate::config::ConnectFlow;
use crate::http::pages::Visitor;
use crate::i18n::Language;
use crate::store::{ConnectLink, LinkState};
use crate::tokens::links::find_link;

/// `GET /connect/link/{secret}`.
pub async fn link_page(State(state): State<Connector>, Path(secret): Path<String>) -> Response {
    let link = match active_link(&state, &secret).await {
        Ok(link) => link,
        Err(answer) => return answer,
    };
    let site = state
        .config
        .server
        .public_url
        .host_str()
        .unwrap_or("this site")
        .to_owned();
    let how = match state.config.constant_contact.flow {
        ConnectFlow::AuthorizationCode => {
            "You will be sent to Constant Contact to log in to your account and approve, then back here."
        }
        ConnectFlow::Device => {
            "You will get a short code to enter at Constant Contact while logged in to your account."
        }
    };
    let action = state.config.server.path(&format!("/connect/link/{secret}"));
    let body = html! {
        h1 { "Connect your Constant Contact account" }
        p {
            "The admin of " strong { (site) } " asks you"
            @if let Some(note) = &link.note { " (for " (note) ")" }
            " to connect your Constant Contact account to ccbridge, which adds the people who "
            "sign up on the site's forms to your contact lists."
        }
        p {
            (how) " ccbridge gets access to your contacts and lists only; you can revoke it at "
            "Constant Contact at any time."
        }
        form method="post" action=(action) {
            button type="submit" id="connect" { "Connect your Constant Contact account" }
        }
        p {
            "This link works once and expires "
            (link.expires_at.format("%Y-%m-%d %H:%M").to_string()) " UTC."
        }
    };
    let page = Visitor::plain(Language::En).page("Connect your Constant Contact account", body);
    (StatusCode::OK, page).into_response()
}

/// `POST /connect/link/{secret}`: the page's button.
pub async fn start_from_link(
    State(state): State<Connector>,
    Path(secret): Path<String>,
    headers: HeaderMap,
) -> Response {
    // The secret in the path is what a forged cross-site form would lack anyway; browsers that
    // say where a request comes from are held to the link's own page.
    if is_cross_site(&headers) {
        tracing::warn!("a cross-site POST to a connect link was refused");
        return page(
            StatusCode::FORBIDDEN,
            "Refused",
            "Connecting must be started from the link's own page.",
        );
    }
    match active_link(&state, &secret).await {
        Ok(link) => {
            tracing::info!(link = %link.id, "authorization started from a connect link");
            start_authorization(&state, Some(link.id)).await
        }
        Err(answer) => answer,
    }
}

/// The link if it can still be used; otherwise the page that says why not.
async fn active_link(state: &Connector, secret: &str) -> Result<ConnectLink, Response> {
    let link = find_link(&state.store, secret)
        .await
        .map_err(|error| ConnectError::StateUnreadable(error).into_response())?;
    let Some(link) = link else {
        return Err(page(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This connect link is not valid. Check that it was copied completely, or ask the site's admin for a new one.",
        ));
    };
    let why = match link.state(state.clock.now()) {
        LinkState::Active => return Ok(link),
        LinkState::Used => {
            "This connect link was already used. Nothing was changed; ask the site's admin for a new one if you need to connect again."
        }
        LinkState::Revoked => {
            "This connect link was revoked by the site's admin. Nothing was changed."
        }
        LinkState::Expired => {
            "This connect link has expired. Nothing was changed; ask the site's admin for a new one."
        }
    };
    Err(page(StatusCode::GONE, "Link no longer valid", why))
}

/// Consume the link a connection is completing through. Refused when it was used, revoked or
/// expired meanwhile: then the new tokens are not kept.
pub(super) async fn consume(state: &Connector, link_id: &str) -> Result<(), ConnectError> {
    let used = state
        .store
        .use_connect_link(link_id, state.clock.now())
        .await
        .map_err(ConnectError::StateUnreadable)?;
    if used {
        Ok(())
    } else {
        Err(ConnectError::Refused {
            message: "The connect link this authorization was started from was used, revoked or expired meanwhile; nothing was changed.",
            logged: Some(
                "a connection through a used, revoked or expired connect link was refused",
            ),
        })
    }
}
