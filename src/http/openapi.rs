//! The OpenAPI 3.1 description of ccbridge's HTTP API, served at `GET /openapi.json`.
//!
//! Written by hand with utoipa's model (no derive macros: they would cost more compile time than
//! this small API is worth). A test holds it to the router's route table
//! ([`super::routes`]): every route is documented and nothing else is.

use std::sync::OnceLock;

use axum::Json;
use axum::http::Method;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref,
    RefOr, Required,
};

mod assets;
mod connection;
mod consent;
mod privacy;
mod schemas;

use schemas::schemas;

const ADMIN_AUTH: &str = "admin";

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    let document = DOCUMENT
        .get_or_init(|| serde_json::to_value(document()).expect("the OpenAPI model serializes"));
    let mut response = Json(document.clone()).into_response();
    response.headers_mut().insert(
        CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (method, path, operation) in operations() {
        paths = paths.path(path, PathItem::new(http_method(&method), operation));
    }
    let mut components = ComponentsBuilder::new().security_scheme(
        ADMIN_AUTH,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some(
                    "admin.username and the password whose hash is admin.password_hash",
                ))
                .build(),
        ),
    );
    for (name, schema) in schemas() {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ccbridge")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Website signup forms into the owner's own Constant Contact account.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

/// Every documented operation: method, path (axum's and OpenAPI's syntax agree), description.
pub fn operations() -> Vec<(Method, &'static str, Operation)> {
    let mut operations = service_operations();
    operations.extend(console_operations());
    operations.extend(connection::connection_operations());
    operations.extend(privacy::privacy_operations());
    operations.extend(consent::consent_operations());
    operations.extend(assets::asset_operations());
    operations
}

/// The admin console and the operator's scrape endpoint. The console is HTML for people; it is
/// documented so that every route is accounted for, not as an API to build on.
fn console_operations() -> Vec<(Method, &'static str, Operation)> {
    let page = |path: &'static str, summary: &str| admin_page("console", path, summary);
    let action = |path: &'static str, summary: &str| {
        (
            Method::POST,
            path,
            admin("console", summary)
                .description(Some(
                    "A console button: needs a session and its CSRF token (form field `csrf`).",
                ))
                .response("303", redirect("back to the page, with a notice"))
                .response("401", html("credentials missing or wrong"))
                .response("403", html("no session or a wrong CSRF token"))
                .build(),
        )
    };
    vec![
        (
            Method::GET,
            "/",
            public("console", "What this service is, with a link to /admin")
                .response("200", html("a short page revealing nothing private"))
                .build(),
        ),
        page(
            "/admin",
            "Overview: connection, queue, API usage, account check",
        ),
        page("/admin/", "Redirects to /admin"),
        page(
            "/admin/signups",
            "Signups filtered by ?state=, ?form= and ?q= (part of the address), with their errors",
        ),
        page("/admin/forms", "Copy-paste HTML snippets for each form"),
        (
            Method::GET,
            "/admin/login",
            public("console", "The login page")
                .response("200", html("the form"))
                .build(),
        ),
        (
            Method::POST,
            "/admin/login",
            public("console", "Log in: sets the session cookie")
                .response("303", redirect("to /admin, with the session cookie"))
                .response("403", html("wrong user name or password"))
                .response(
                    "429",
                    html("too many failed logins from this address (see Retry-After)"),
                )
                .build(),
        ),
        action("/admin/logout", "Log out"),
        action(
            "/admin/disconnect",
            "Forget the token set; signups keep queueing",
        ),
        page(
            "/admin/disconnect",
            "What Disconnect does, with the button that does it",
        ),
        action(
            "/admin/signups/retry",
            "Requeue the failed and dead signups the filter (state, form, q) selects",
        ),
        action(
            "/admin/signups/release",
            "Release the spam signups the filter (state, form, q) selects",
        ),
        for_one_signup(action(
            "/admin/signups/{id}/release",
            "Release one spam signup",
        )),
        for_one_signup(action("/admin/signups/{id}/retry", "Requeue one signup")),
        (
            Method::GET,
            "/metrics",
            public("operations", "Prometheus metrics (text format)")
                .description(Some(
                    "Behind `Authorization: Bearer <metrics.bearer_token>` when one is configured.",
                ))
                .response("200", redirect("OpenMetrics text"))
                .response("401", redirect("bearer token missing or wrong"))
                .response("404", redirect("metrics.enabled = false"))
                .build(),
        ),
    ]
}

/// A console button made to act on one signup, named by its id in the path.
fn for_one_signup(
    (method, path, mut operation): (Method, &'static str, Operation),
) -> (Method, &'static str, Operation) {
    let id = ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The signup's id (a UUID, as the console lists it)"))
        .schema(Some(string_schema()))
        .build();
    operation.parameters.get_or_insert_with(Vec::new).push(id);
    operation.responses.responses.insert(
        "404".to_owned(),
        RefOr::T(html("no such signup (or not a UUID)")),
    );
    (method, path, operation)
}

/// A console page: HTML behind the admin credentials.
fn admin_page(tag: &str, path: &'static str, summary: &str) -> (Method, &'static str, Operation) {
    (
        Method::GET,
        path,
        admin(tag, summary)
            .response("200", html("the page"))
            .response(
                "303",
                redirect("a browser without a session: to /admin/login"),
            )
            .response(
                "401",
                html("credentials missing or wrong (WWW-Authenticate: Basic)"),
            )
            .build(),
    )
}

/// The service's own routes.
fn service_operations() -> Vec<(Method, &'static str, Operation)> {
    vec![
        (
            Method::POST,
            "/signup/{form_id}",
            public("signup", "Accept a signup")
                .description(Some(
                    "Stores the signup durably, then answers. Browsers (no JSON in Content-Type or \
                     Accept) get 303 redirects to the form's success_url or error_url?error=CODE \
                     (or built-in pages); scripts get JSON. Suspected spam (honeypot, too fast, \
                     CAPTCHA provider unreachable with on_unreachable = accept_and_mark) gets the \
                     normal success answer and is kept for review. An error's `message` and the \
                     built-in pages are in the visitor's language (the form's locale, else \
                     Accept-Language, else English); `code` and `field` never change with it.",
                ))
                .parameter(form_id())
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content("application/x-www-form-urlencoded", content("SignupFields"))
                        .content("multipart/form-data", content("SignupFields"))
                        .content("application/json", content("SignupFields"))
                        .build(),
                ))
                .response("202", json_response("Stored; will be delivered", "SignupAccepted"))
                .response("303", redirect("Browser: to the success page, or to the error page with ?error=CODE"))
                .response("400", signup_error("malformed_body"))
                .response("403", signup_error("origin_not_allowed: posted from a page of another site"))
                .response("404", signup_error("unknown_form"))
                .response("413", signup_error("payload_too_large"))
                .response("415", signup_error("unsupported_media_type"))
                .response(
                    "422",
                    signup_error("missing_field, invalid_email, field_too_long, invalid_characters, unknown_list, unknown_field, duplicate_field, invalid_type, unexpected_file, captcha_failed, expired_timestamp"),
                )
                .response("429", signup_error("rate_limited (see Retry-After)"))
                .response("503", signup_error("unavailable or captcha_unavailable: nothing was stored (see Retry-After)"))
                .build(),
        ),
        (
            Method::GET,
            "/signup/{form_id}",
            public("signup", "The form's address, opened in a browser")
                .description(Some(
                    "A page in the visitor's language saying that this address receives a \
                     form's signups and there is nothing to see, with a link back to the page \
                     the visitor came from when it is one of the form's allowed_origins.",
                ))
                .parameter(form_id())
                .response("200", html("the page"))
                .response("404", html("unknown form"))
                .build(),
        ),
        (
            Method::OPTIONS,
            "/signup/{form_id}",
            public("signup", "CORS preflight")
                .description(Some(
                    "Answered with CORS headers for the form's allowed_origins (and ccbridge's own \
                     origin) only.",
                ))
                .parameter(form_id())
                .response("204", ResponseBuilder::new().description("Allowed (Access-Control-Allow-* headers), or not a CORS request").build())
                .response("403", error("origin_not_allowed"))
                .response("404", html("unknown form"))
                .build(),
        ),
        (
            Method::GET,
            "/signup/{form_id}/token",
            public("signup", "A signed \"form shown at\" value")
                .description(Some(
                    "For the hidden `_ts` field of forms with min_submit_time: fetch it when the \
                     page shows the form, send it back with the signup.",
                ))
                .parameter(form_id())
                .response("200", json_response("The field name and its value", "FormToken"))
                .response("404", html("unknown form"))
                .build(),
        ),
        (
            Method::GET,
            "/signup/{form_id}/thank-you",
            public("signup", "The built-in thank-you page")
                .description(Some(
                    "In the visitor's language. `back`: the page the form was on (set by the \
                     redirect after the POST); linked only when its origin is one of the form's \
                     allowed_origins.",
                ))
                .parameter(form_id())
                .parameter(query("back", "The page to link back to"))
                .response("200", html("the page"))
                .response("404", html("unknown form"))
                .build(),
        ),
        (
            Method::GET,
            "/healthz",
            public("operations", "Liveness")
                .response("200", json_response("The process serves requests", "Health"))
                .build(),
        ),
        (
            Method::GET,
            "/readyz",
            public("operations", "Readiness and status")
                .description(Some(
                    "200 when the database accepts a write, 503 otherwise; never 401. An anonymous \
                     caller gets only `Readiness`; the admin (console session or HTTP Basic) and \
                     the holder of `metrics.bearer_token` get the status shape shared with \
                     `ccbridge status --json`.",
                ))
                .response("200", one_of_json("Ready", &["Readiness", "Status"]))
                .response("503", one_of_json("Not ready (the database refuses writes)", &["Readiness", "Status"]))
                .build(),
        ),
        (
            Method::GET,
            "/connect",
            admin("connection", "The page with the Connect button")
                .description(Some(
                    "Changes nothing: shows which account is connected and a button that makes \
                     the POST. A browser with Basic credentials gets a console session here.",
                ))
                .response("200", html("the confirmation page"))
                .response("303", redirect("a browser without a session: to /admin/login"))
                .response("401", html("credentials missing or wrong (WWW-Authenticate: Basic)"))
                .response("503", html("client id or secret not configured, or the database is unavailable"))
                .build(),
        ),
        (
            Method::POST,
            "/connect",
            admin("connection", "Connect to Constant Contact")
                .description(Some(
                    "The Connect / Reconnect button: needs a session and its CSRF token (form \
                     field `csrf`), from the same origin. Starts the OAuth2 authorization code \
                     flow with PKCE: redirects the admin's browser to Constant Contact and sets a \
                     cookie binding the flow to it.",
                ))
                .response("303", redirect("To Constant Contact's authorize endpoint"))
                .response("401", html("credentials missing or wrong"))
                .response("403", html("no session, a wrong CSRF token, or a cross-site request"))
                .response("503", html("client id or secret not configured, or the database is unavailable"))
                .build(),
        ),
        (
            Method::GET,
            "/oauth/callback",
            public("connection", "Where Constant Contact sends the admin's browser back")
                .description(Some(
                    "Checks the single-use state and the browser cookie, exchanges the code, and \
                     stores the tokens.",
                ))
                .parameter(query("code", "The authorization code"))
                .parameter(query("state", "The state sent by /connect"))
                .parameter(query("error", "Set when authorization was refused"))
                .response("200", html("connected"))
                .response("400", html("unknown, used, expired or foreign state"))
                .response("403", html("Constant Contact did not authorize"))
                .response("502", html("the code exchange failed"))
                .build(),
        ),
        (
            Method::GET,
            "/openapi.json",
            public("operations", "This document")
                .response("200", ResponseBuilder::new().description("OpenAPI 3.1").content("application/json", Content::new(None::<Schema>)).build())
                .build(),
        ),
        (
            Method::GET,
            "/demo",
            public("demo", "A demo signup page (only under `ccbridge demo`)")
                .response("200", html("the page"))
                .response("404", html("not running under `ccbridge demo`"))
                .build(),
        ),
    ]
}

fn public(tag: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag(tag).summary(Some(summary))
}

/// Behind the admin credentials: wrong ones, repeated, get the login backoff's 429 on any such
/// route, so every one documents it.
fn admin(tag: &str, summary: &str) -> OperationBuilder {
    public(tag, summary)
        .security(SecurityRequirement::new(ADMIN_AUTH, Vec::<String>::new()))
        .response(
            "429",
            html("too many failed logins from this address (see Retry-After)"),
        )
}

fn form_id() -> ParameterBuilder {
    in_path("form_id", "The form's `id` from the configuration")
}

fn in_path(name: &str, description: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(string_schema()))
}

fn query(name: &str, description: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(string_schema()))
}

fn string_schema() -> Schema {
    serde_json::from_value(json!({ "type": "string" })).expect("a valid schema")
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn content(schema: &str) -> Content {
    Content::new(Some(reference(schema)))
}

fn json_response(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content(schema))
        .build()
}

/// A JSON answer whose body is one of `schemas` (which one depends on who asked).
fn one_of_json(description: &str, schemas: &[&str]) -> utoipa::openapi::Response {
    let refs: Vec<_> = schemas
        .iter()
        .map(|name| json!({ "$ref": format!("#/components/schemas/{name}") }))
        .collect();
    let schema: Schema =
        serde_json::from_value(json!({ "oneOf": refs })).expect("a valid oneOf schema");
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
}

/// A refused signup: JSON for a script, a page for a browser posting a form without `error_url`
/// (with one, the browser gets a 303 instead).
fn signup_error(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content("Error"))
        .content("text/html", Content::new(None::<Schema>))
        .build()
}

fn error(description: &str) -> utoipa::openapi::Response {
    json_response(description, "Error")
}

fn html(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("text/html", Content::new(None::<Schema>))
        .build()
}

fn redirect(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new().description(description).build()
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::OPTIONS => HttpMethod::Options,
        Method::HEAD => HttpMethod::Head,
        Method::PATCH => HttpMethod::Patch,
        Method::TRACE => HttpMethod::Trace,
        ref other => panic!("OpenAPI has no operation for method {other}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::http::routes;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let served: BTreeSet<(String, String)> = routes(true)
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_owned()))
            .collect();
        let documented: BTreeSet<(String, String)> = operations()
            .into_iter()
            .map(|(method, path, _)| (method.to_string(), path.to_owned()))
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "routes without documentation: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation_and_resolvable_references() {
        let value = serde_json::to_value(document()).unwrap();
        assert_eq!(value["openapi"], "3.1.0");
        for (method, path, _) in operations() {
            let operation = &value["paths"][path][method.as_str().to_ascii_lowercase()];
            assert!(operation.is_object(), "{method} {path} missing");
        }
        let text = value.to_string();
        for name in text
            .split("\"#/components/schemas/")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
        {
            assert!(
                value["components"]["schemas"][name].is_object(),
                "dangling reference to {name}"
            );
        }
    }
}
