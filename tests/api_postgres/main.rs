//! The integration suite on PostgreSQL: the modules of `tests/api`, built again with every test's
//! database a PostgreSQL schema (see `database`), plus the tests of several replicas sharing one
//! database. Needs a server: `CCBRIDGE_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`; a missing server fails the tests, it never skips them.
//!
//! Left out, because they involve no database of their own: the demo (always SQLite) and the
//! browser tests, which run in `tests/api`, and the sandbox's tests, in `crates/sandbox/tests`.

// The helpers are shared with `tests/api`; the few only its tests use are unused here.
#![allow(dead_code)]

/// The database every test in this crate runs on.
const BACKEND: database::Backend = database::Backend::Postgres;

#[path = "../api/abuse.rs"]
mod abuse;
#[path = "../api/admin.rs"]
mod admin;
#[path = "../api/alerts.rs"]
mod alerts;
#[path = "../api/cli.rs"]
mod cli;
#[path = "../api/connection.rs"]
mod connection;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/database.rs"]
mod database;
#[path = "../api/delivery.rs"]
mod delivery;
#[path = "../api/health.rs"]
mod health;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/metrics.rs"]
mod metrics;
mod outage;
#[path = "../api/persistence.rs"]
mod persistence;
#[path = "../api/replicas.rs"]
mod replicas;
#[path = "../api/sharing.rs"]
mod sharing;
#[path = "../api/signup.rs"]
mod signup;
#[path = "../api/storage_failure.rs"]
mod storage_failure;
