//! The database a test runs on. The suite runs on SQLite files by default and on PostgreSQL with
//! `CCBRIDGE_TEST_BACKEND=postgres` (server: `CCBRIDGE_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`). `.ci/run` runs it both ways.
//!
//! A test's database is named by a path in its temporary directory: on SQLite that is the file,
//! on PostgreSQL a schema named after it. Reopening the same path (a restart) reopens the same
//! data on either backend, and no two tests share a database.

use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Connection as _, Executor as _};

pub const BACKEND_VAR: &str = "CCBRIDGE_TEST_BACKEND";
pub const POSTGRES_VAR: &str = "CCBRIDGE_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Whether this run of the suite is on PostgreSQL.
pub fn on_postgres() -> bool {
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("{BACKEND_VAR} must be `sqlite` or `postgres`, not `{other}`"),
    }
}

/// The PostgreSQL server the suite uses.
pub fn postgres_server() -> String {
    std::env::var(POSTGRES_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// The `database.url` for the database named by `path` on this run's backend (created if new).
pub async fn database_url(path: &Path) -> String {
    if on_postgres() {
        postgres_schema_url(path).await
    } else {
        sqlite_url(path)
    }
}

/// For tests about SQLite itself (its file, its disk, its one-process rule).
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A schema of its own for `path` on the test server, and the URL that makes it the search path.
async fn postgres_schema_url(path: &Path) -> String {
    let server = postgres_server();
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    let schema: String = std::iter::once("t_".to_owned())
        .chain(digest[..10].iter().map(|b| format!("{b:02x}")))
        .collect();
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap_or_else(|e| {
        panic!("the PostgreSQL test server at {server} is not reachable ({e}); start one or set {POSTGRES_VAR}")
    });
    admin
        .execute(format!("create schema if not exists {schema}").as_str())
        .await
        .expect("create the test schema");
    admin.close().await.ok();
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options[search_path]={schema}")
}

/// A connection pool on the database named by `path`, for tests that look at or change rows
/// directly. The SQL must read the same on both backends (`$N` placeholders, plain types).
pub async fn raw_pool(path: &Path) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(&database_url(path).await)
        .await
        .expect("test database opens")
}

/// Holds every table the service writes locked against writers, like a stuck or exclusive
/// writer would, until `release`.
pub struct WriteLock {
    conn: sqlx::AnyConnection,
}

impl WriteLock {
    pub async fn take(path: &Path) -> Self {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&database_url(path).await)
            .await
            .expect("test database opens");
        if on_postgres() {
            conn.execute("begin").await.unwrap();
            conn.execute("lock table signups, heartbeat, api_usage, api_pace in exclusive mode")
                .await
                .unwrap();
        } else {
            conn.execute("begin exclusive").await.unwrap();
        }
        Self { conn }
    }

    pub async fn release(mut self) {
        self.conn.execute("rollback").await.unwrap();
        self.conn.close().await.ok();
    }
}
