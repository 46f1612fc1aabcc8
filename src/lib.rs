//! ccbridge: a self-hosted service that turns a website's signup form into contacts in the site
//! owner's own Constant Contact account, durably and unattended.

pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod health;
pub mod pages;
pub mod password;
pub mod sandbox;
pub mod signup;
pub mod startup;
pub mod status;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
