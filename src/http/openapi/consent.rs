//! The link in a confirmation mail (double opt-in).

use axum::http::Method;
use utoipa::openapi::path::Operation;

use super::{html, in_path, public, redirect};

const TOKEN: &str = "The link's token (43 characters, base64url); anything else is unknown";

pub(super) fn consent_operations() -> Vec<(Method, &'static str, Operation)> {
    vec![
        (
            Method::GET,
            "/confirm/{token}",
            public("consent", "A confirmation link's page")
                .description(Some(
                    "Confirms nothing (mail scanners open links): names the site and the lists \
                     and shows the button that makes the POST.",
                ))
                .parameter(in_path("token", TOKEN))
                .response("200", html("the Confirm button, or \"already confirmed\""))
                .response("404", html("no such link"))
                .response("410", html("the link has expired; nothing was subscribed"))
                .response(
                    "429",
                    html("too many requests from this client; see Retry-After"),
                )
                .response("503", html("the database is unavailable; nothing changed"))
                .build(),
        ),
        (
            Method::POST,
            "/confirm/{token}",
            public("consent", "Confirm a subscription")
                .description(Some(
                    "The token authorises it (no session). Confirms once: the signup is queued \
                     for delivery. Again: \"already confirmed\", nothing changes.",
                ))
                .parameter(in_path("token", TOKEN))
                .response(
                    "200",
                    html("\"You're subscribed\", or \"already confirmed\""),
                )
                .response("303", redirect("to the form's confirmed_url"))
                .response("404", html("no such link"))
                .response("410", html("the link has expired; nothing was subscribed"))
                .response(
                    "429",
                    html("too many requests from this client; see Retry-After"),
                )
                .response("503", html("the database is unavailable; nothing changed"))
                .build(),
        ),
    ]
}
