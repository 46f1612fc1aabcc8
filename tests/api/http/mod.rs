//! The HTTP surfaces, one file per router or concern (as in `src/http`): signup intake, the admin
//! console, the connect flow, health, metrics, the OpenAPI document, redirects and the limits on
//! connections.

pub(crate) mod admin;
mod connect;
mod connections;
mod embed;
mod health;
mod metrics;
mod openapi;
mod redirects;
mod signup;
mod signup_deadline;
