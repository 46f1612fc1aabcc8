//! The routes of connecting from anywhere: the device flow's page, connect links (the account
//! owner's page and button, and the console's management of them) and the confirmation of a
//! switch of accounts.

use axum::http::Method;
use utoipa::openapi::path::Operation;

use super::{admin, admin_page, html, in_path, public, redirect};

/// A console button that acts on the connection.
fn action(path: &'static str, summary: &str) -> (Method, &'static str, Operation) {
    (
        Method::POST,
        path,
        admin("connection", summary)
            .description(Some(
                "A console button: needs a session and its CSRF token (form field `csrf`).",
            ))
            .response("200", html("the result page (a new link, shown once)"))
            .response("303", redirect("back to the page, with a notice"))
            .response("401", html("credentials missing or wrong"))
            .response("403", html("no session or a wrong CSRF token"))
            .response("404", html("no such link, or it is no longer active"))
            .response("503", html("the database is unavailable"))
            .build(),
    )
}

pub(super) fn connection_operations() -> Vec<(Method, &'static str, Operation)> {
    let mut revoke = action("/admin/links/{id}/revoke", "Revoke an unused connect link");
    revoke
        .2
        .parameters
        .get_or_insert_with(Vec::new)
        .push(in_path("id", "The link's id, as the console lists it").build());
    vec![
        (
            Method::GET,
            "/connect/device/{id}",
            public("connection", "A device authorization started from a page")
                .description(Some(
                    "Under `flow = \"device\"`: the code to enter at Constant Contact, reloading \
                     itself (`Refresh` header) until the person decides, then the outcome. Only \
                     the browser that started it (its cookie) sees it.",
                ))
                .parameter(in_path("id", "The authorization's id"))
                .response("200", html("the code, or the outcome"))
                .response("404", html("unknown, or started in another browser"))
                .build(),
        ),
        (
            Method::GET,
            "/connect/link/{secret}",
            public("connection", "A connect link's page, for the account owner")
                .description(Some(
                    "Changes nothing: says who asks and shows the button that makes the POST.",
                ))
                .parameter(in_path("secret", "The link's secret"))
                .response("200", html("the page with the Connect button"))
                .response("404", html("no such link"))
                .response("410", html("the link was used, revoked or has expired"))
                .build(),
        ),
        (
            Method::POST,
            "/connect/link/{secret}",
            public("connection", "Connect through a connect link")
                .description(Some(
                    "Starts the same authorization as the console's Connect (a redirect to \
                     Constant Contact with PKCE and a browser cookie, or a device code page), with \
                     no admin password. The link is consumed when the connection completes.",
                ))
                .parameter(in_path("secret", "The link's secret"))
                .response(
                    "303",
                    redirect("to Constant Contact, or to the device code page"),
                )
                .response("403", html("a cross-site request"))
                .response("404", html("no such link"))
                .response("410", html("the link was used, revoked or has expired"))
                .response(
                    "502",
                    html("Constant Contact did not hand out a device code"),
                )
                .response(
                    "503",
                    html("client id not configured, or the database is unavailable"),
                )
                .build(),
        ),
        admin_page(
            "connection",
            "/admin/links",
            "Connect links: create, list, revoke",
        ),
        action(
            "/admin/links",
            "Create a connect link (its URL is shown once)",
        ),
        revoke,
        action(
            "/admin/connection/confirm-switch",
            "Accept the account a connect link connected; deliveries resume",
        ),
    ]
}
