//! The console's privacy requests: what is kept about one address, shown, downloaded, erased.

use axum::http::Method;
use utoipa::openapi::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;

use super::{admin, admin_page, html, query, redirect};

pub(super) fn privacy_operations() -> Vec<(Method, &'static str, Operation)> {
    let (method, path, mut show) = admin_page(
        "privacy",
        "/admin/privacy",
        "Privacy requests: what is kept about an address, with a Download JSON link and the erase form",
    );
    show.parameters
        .get_or_insert_with(Vec::new)
        .push(query("email", "The address to show (its request is audited)").build());
    show.responses.responses.insert(
        "400".to_owned(),
        utoipa::openapi::RefOr::T(html("not an email address")),
    );
    vec![
        (method, path, show),
        (
            Method::GET,
            "/admin/privacy/export",
            admin(
                "privacy",
                "Everything kept about an address, as a JSON download",
            )
            .description(Some(
                "Signups (every state, reason and error), consent records with their texts, \
                     mails (never their bodies), resubscribe requests and the unsubscribed \
                     mirror's entry, matched without regard to case. Answered as an attachment; \
                     audited with a keyed hash of the address.",
            ))
            .parameter(query("email", "The address"))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("the export (Content-Disposition: attachment)")
                    .content("application/json", Content::new(None::<Schema>))
                    .build(),
            )
            .response(
                "400",
                redirect("not an email address (JSON error invalid_email)"),
            )
            .response(
                "303",
                redirect("a browser without a session: to /admin/login"),
            )
            .response(
                "401",
                html("credentials missing or wrong (WWW-Authenticate: Basic)"),
            )
            .response("503", html("the database is unavailable"))
            .build(),
        ),
        (
            Method::POST,
            "/admin/privacy/erase",
            admin("privacy", "Erase everything kept about an address")
                .description(Some(
                    "Needs a session, its CSRF token (form field `csrf`), the address (`email`) \
                     and the ticked confirmation (`confirm=yes`); deletes signups, consent \
                     records, confirmation links, mails and resubscribe requests in one \
                     transaction and writes an audit line. Does not touch Constant Contact; \
                     the unsubscribed mirror's entry is kept.",
                ))
                .response("200", html("what was erased, counted per kind"))
                .response(
                    "400",
                    html("no ticked confirmation or not an email address: nothing erased"),
                )
                .response("401", html("credentials missing or wrong"))
                .response(
                    "403",
                    html("no session or a wrong CSRF token: nothing erased"),
                )
                .response("503", html("the database is unavailable"))
                .build(),
        ),
    ]
}
