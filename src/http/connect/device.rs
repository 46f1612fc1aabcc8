//! Connecting with the device flow from a page (the console's Connect, or a connect link, under
//! `flow = "device"`): the POST asks Constant Contact for a code and sends the browser to
//! `/connect/device/{id}`, which shows the code and reloads itself until the person has decided.
//! The process that started it polls in the background on the injected clock; the outcome is
//! written to the database, so a reload served by another replica shows it too.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::response::{Html, IntoResponse, Response};
use ccbridge_layout::html;
use uuid::Uuid;

use super::{
    ConnectError, Connector, browser_cookie, browser_key, connected_page, header, links, page,
    shell,
};
use crate::config::Config;
use crate::constant_contact::{DeviceAuthorization, DeviceError, wait_for_device};
use crate::http::pages;
use crate::password::random_token;
use crate::store::PageDeviceAuthorization;
use crate::tokens::AuthorizedVia;

/// How often the waiting page reloads itself (seconds).
const RELOAD_EVERY: u32 = 3;

/// Start a device authorization and send the browser to its page.
pub(super) async fn begin(
    state: &Connector,
    link_id: Option<String>,
) -> Result<Response, ConnectError> {
    let oauth = state.keeper.oauth();
    let now = state.clock.now();
    let authorization = oauth
        .start_device_authorization(now)
        .await
        .map_err(ConnectError::DeviceNotStarted)?;
    let browser_key = random_token(32);
    let row = PageDeviceAuthorization {
        id: Uuid::now_v7().to_string(),
        device_code: state
            .keeper
            .cipher()
            .seal(&authorization.device_code, "device_code"),
        user_code: authorization.user_code.clone(),
        verification_uri: authorization.verification_uri.to_string(),
        verification_uri_complete: authorization
            .verification_uri_complete
            .as_ref()
            .map(ToString::to_string),
        expires_at: authorization.expires_at,
        link_id,
        browser_key: browser_key.clone(),
        state: "pending".to_owned(),
        message: None,
    };
    state
        .store
        .insert_device_authorization(&row, now)
        .await
        .map_err(ConnectError::NotStarted)?;
    tokio::spawn(poll(
        state.clone(),
        row.id.clone(),
        row.link_id.clone(),
        authorization,
    ));
    tracing::info!(id = %row.id, "device authorization started from a page");
    let path = device_path(state, &row.id);
    let cookie = browser_cookie(state, &browser_key, &path);
    let headers = [(LOCATION, header(&path)), (SET_COOKIE, header(&cookie))];
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

fn device_path(state: &Connector, id: &str) -> String {
    state.config.server.path(&format!("/connect/device/{id}"))
}

/// Poll until the person decides, then adopt the grant (consuming the link first, if any) and
/// record the outcome for the page.
async fn poll(
    state: Connector,
    id: String,
    link_id: Option<String>,
    authorization: DeviceAuthorization,
) {
    let outcome = async {
        let grant = wait_for_device(state.keeper.oauth(), &authorization, &state.clock, |_| {})
            .await
            .map_err(ConnectError::Device)?;
        let via = match &link_id {
            Some(link) => {
                links::consume(&state, link).await?;
                AuthorizedVia::Link
            }
            None => AuthorizedVia::Device,
        };
        state.adopt(&grant, via).await
    }
    .await;
    let (row_state, message) = match outcome {
        Ok(connected) => (
            "connected",
            connected_page(&state.config, &connected, link_id.is_none()).0,
        ),
        Err(error) => {
            let message = error.message();
            error.log();
            ("failed", message)
        }
    };
    if let Err(error) = state
        .store
        .finish_device_authorization(&id, row_state, &message)
        .await
    {
        tracing::error!(%error, "could not record how a device authorization ended");
    }
}

/// `GET /connect/device/{id}`: the code to enter while pending, then the outcome. Only the
/// browser that started it sees it (the cookie), so a shared URL shows nothing.
pub async fn device_page(
    State(state): State<Connector>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let row = match state.store.device_authorization(&id).await {
        Ok(Some(row)) if browser_key(&headers).as_deref() == Some(row.browser_key.as_str()) => row,
        Ok(_) => {
            return page(
                StatusCode::NOT_FOUND,
                "Unknown authorization",
                "This authorization is unknown or was started in another browser. Nothing was changed; start connecting again from where you began.",
            );
        }
        Err(error) => return ConnectError::StateUnreadable(error).into_response(),
    };
    match row.state.as_str() {
        // The stored page of the outcome, built by the poller.
        "connected" => axum::response::Html(row.message.unwrap_or_default()).into_response(),
        "failed" => axum::response::Html(row.message.unwrap_or_default()).into_response(),
        _ if row.expires_at <= state.clock.now() => page(
            StatusCode::OK,
            "Not connected",
            "The code expired before it was approved. Nothing was changed; start again.",
        ),
        _ => waiting_page(&state.config, &row).into_response(),
    }
}

/// The code to enter, in the console's look when the console started it, else the visitor's.
fn waiting_page(config: &Config, row: &PageDeviceAuthorization) -> (HeaderMap, Html<String>) {
    let link = row
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&row.verification_uri);
    let body = html! {
        h1 { "Enter this code at Constant Contact" }
        p class="code" id="user_code" { strong { (row.user_code) } }
        p {
            "Go to " a href=(link) target="_blank" rel="noopener" { (row.verification_uri) }
            ", log in to the Constant Contact account to connect, enter the code and approve. "
            "This page updates by itself."
        }
        p { "The code expires " (row.expires_at.format("%H:%M").to_string()) " UTC." }
    };
    let mut headers = HeaderMap::new();
    // A header, not a <meta>: it works the same and keeps the page free of anything but content.
    headers.insert("refresh", header(&RELOAD_EVERY.to_string()));
    let console = row.link_id.is_none();
    (
        headers,
        shell(config, console, "Waiting for Constant Contact", body),
    )
}

impl ConnectError {
    /// What the admin or account owner reads, as a complete page body.
    fn message(&self) -> String {
        let response = match self {
            Self::Device(DeviceError::Denied) => pages::notice(
                "Not connected",
                "Not connected",
                "The request was denied at Constant Contact. Nothing was changed.",
            ),
            Self::Device(DeviceError::Expired) => pages::notice(
                "Not connected",
                "Not connected",
                "The code expired before it was approved. Nothing was changed; start again.",
            ),
            Self::Device(other) => {
                pages::notice("Not connected", "Not connected", &format!("{other}."))
            }
            other => pages::notice("Not connected", "Not connected", &other.parts().2),
        };
        response.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_page_shows_the_code_escaped_and_reloads_itself() {
        let config = Config::from_toml("").unwrap();
        let row = PageDeviceAuthorization {
            id: "1".into(),
            device_code: "sealed".into(),
            user_code: "AB<CD".into(),
            verification_uri: "https://cc.example/device?x=1&y=\"2\"".into(),
            verification_uri_complete: None,
            expires_at: "2026-12-03T17:40:00Z".parse().unwrap(),
            link_id: Some("link".into()),
            browser_key: "key".into(),
            state: "pending".into(),
            message: None,
        };
        let (headers, Html(page)) = waiting_page(&config, &row);
        assert_eq!(headers["refresh"], RELOAD_EVERY.to_string());
        assert!(
            page.contains(r#"<p class="code" id="user_code"><strong>AB&lt;CD</strong>"#),
            "{page}"
        );
        assert!(
            page.contains(r#"href="https://cc.example/device?x=1&amp;y=&quot;2&quot;""#),
            "{page}"
        );
        assert!(page.contains("expires 17:40 UTC"), "{page}");
        assert!(page.contains("class=\"visitor\""), "a link's owner: {page}");
    }
}
