//! Integration tests: real HTTP on real sockets, real SQLite files, the real binary where a
//! process boundary matters. `tests/api_postgres` builds the same modules again on PostgreSQL
//! (see `database`); tests that involve no database (the demo, the browser) run here only. The
//! sandbox's own tests are in its crate, `crates/sandbox/tests`.

/// The database every test in this crate runs on.
const BACKEND: database::Backend = database::Backend::Sqlite;

mod abuse;
mod admin;
mod alerts;
mod browser;
mod cli;
mod connection;
mod crash;
mod database;
mod delivery;
mod demo;
mod health;
mod helpers;
mod metrics;
mod persistence;
mod sharing;
mod signup;
mod storage_failure;
