//! Integration tests: real HTTP on real sockets, real databases, the real binary where a process
//! boundary matters. One file (or folder) per capability, mirroring `src/`. The sandbox's own
//! tests are in its crate, `crates/sandbox/tests`.
//!
//! # Both backends in one binary
//!
//! Every test that runs the service on a database runs on SQLite and on PostgreSQL: the test is
//! written once as `async fn name(backend: Backend)` and stamped out by [`backends!`] as
//! `name::sqlite` and `name::postgres`. The backend reaches the helpers as a plain argument
//! (`spawn_app(backend)`, `AppOptions::fresh(backend, …)`, `raw_pool(backend, …)`; a `TestApp`
//! remembers its own as `app.backend`), never through a global or a task-local, so whatever a test
//! spawns sees the same backend. PostgreSQL needs a server (`CCBRIDGE_TEST_POSTGRES_URL`, by
//! default `postgres://postgres@127.0.0.1:5432/test`, see `database`); a missing server fails the
//! `::postgres` tests, it never skips them. `cargo test` runs both.
//!
//! A few tests are about one backend and say so where they are declared:
//! - PostgreSQL only: a database shared by replicas (`replicas`) and a server going away
//!   (`store::outage`);
//! - SQLite only: SQLite's own file (a second process on it, a full disk) and the browser tests;
//! - no database of the suite's at all: `demo` (`ccbridge demo` always makes its own SQLite file)
//!   and the `cli` tests that touch no database (`check-config`, `hash-password`).

use database::Backend;

/// Declares a test on each backend listed. Next to `async fn name(backend: Backend)`,
/// `backends!(name: sqlite, postgres);` gives the tests `name::sqlite` and `name::postgres`, each
/// calling `name` with its [`Backend`] on a fresh current-thread runtime (`#[tokio::test]`); a
/// single-backend test lists just its backend. A test function without its `backends!` line is
/// never called, which the dead-code lint reports, so no test is silently left out.
macro_rules! backends {
    (@backend sqlite) => {
        $crate::Backend::Sqlite
    };
    (@backend postgres) => {
        $crate::Backend::Postgres
    };
    ($name:ident: $($backend:ident),+ $(,)?) => {
        mod $name {
            $(
                #[tokio::test]
                async fn $backend() {
                    super::$name(backends!(@backend $backend)).await;
                }
            )+
        }
    };
}

mod abuse;
mod alerts;
mod browser;
mod cli;
mod connecting;
mod consent;
mod console_charts;
mod crash;
mod database;
mod delivery;
mod demo;
mod docs;
mod helpers;
mod http;
mod log_secrecy;
mod mail;
mod operator;
mod privacy;
mod replicas;
mod store;
mod tokens;
mod unsubscribes;
mod visitor;
