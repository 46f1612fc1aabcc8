//! The scripts ccbridge serves: the embed script for sites' forms and the console's script.

use axum::http::Method;
use utoipa::openapi::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;

use super::public;
use crate::http::assets::{CONSOLE_V1_PATH, EMBED_V1_PATH};

fn javascript(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("text/javascript", Content::new(None::<Schema>))
        .build()
}

pub(super) fn asset_operations() -> Vec<(Method, &'static str, Operation)> {
    vec![
        (
            Method::GET,
            EMBED_V1_PATH,
            public("signup", "The embed script that upgrades a signup form")
                .description(Some(
                    "Plain JavaScript for a site's page: forms that post to this service's \
                     /signup/… send with fetch() and show errors next to their fields and the \
                     success in place. Its bytes never change (a change is /embed/v2.js), so a \
                     page may pin them with `integrity`; served with \
                     `Access-Control-Allow-Origin: *` and cached for a year.",
                ))
                .response("200", javascript("the script"))
                .build(),
        ),
        (
            Method::GET,
            CONSOLE_V1_PATH,
            public("console", "The console's script (copy buttons)")
                .description(Some(
                    "Its bytes never change; cached for a year. The console works without it.",
                ))
                .response("200", javascript("the script"))
                .build(),
        ),
    ]
}
