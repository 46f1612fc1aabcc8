//! ccbridge: a self-hosted service that turns a website's signup form into contacts in the site
//! owner's own Constant Contact account, durably and unattended.

pub mod abuse;
pub mod admin;
pub mod admin_auth;
pub mod alerts;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod connect;
pub mod constant_contact;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod password;
pub mod serve;
pub mod signup;
pub mod startup;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod tokens;

pub use config::Config;
pub use startup::Application;
