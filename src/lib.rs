//! ccbridge: a self-hosted service that turns a website's signup form into contacts in the site
//! owner's own Constant Contact account, durably and unattended.
//!
//! The modules are layered: each imports only the layers below it (see `ARCHITECTURE.md`; the
//! guard in `.ci/` enforces it). Listed here bottom to top.

// 1. Plain types and tools with no knowledge of the rest.
pub mod client_ip;
pub mod clock;
pub mod domain;
pub mod i18n;
pub mod metrics;
pub mod password;

// 2. Configuration, parsed into final types once.
pub mod config;
pub mod telemetry;

// 3. The database, and mail out.
pub mod mail;
pub mod store;

// 4. Outbound: Constant Contact's API and OAuth server, and alert sinks.
pub mod alerts;
pub mod constant_contact;

// 5. The cores of tokens and the signup intake.
pub mod signup;
pub mod tokens;

// 6. Abuse resistance, delivery, and the status document.
pub mod abuse;
pub mod consent;
pub mod delivery;
pub mod status;
pub mod unsubscribes;

// 7. The HTTP surface.
pub mod http;

// 8. Wiring and the entry points.
pub mod cli;
pub mod demo;
pub mod startup;

pub use config::Config;
pub use startup::Application;
