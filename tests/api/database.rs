//! The database a test runs on: each test is given its `Backend` (see `backends!` in `main.rs`),
//! SQLite files or PostgreSQL (server: `CCBRIDGE_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`), and passes it to every helper that opens a database.
//!
//! A test's database is named by a path in its temporary directory: on SQLite that is the file,
//! on PostgreSQL a schema named after it. Reopening the same path (a restart) reopens the same
//! data on either backend, and no two tests share a database. Schemas left by runs more than an
//! hour old are dropped when a run starts.

use std::path::Path;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Connection as _, Executor as _};
use tokio::sync::OnceCell;

pub const POSTGRES_VAR: &str = "CCBRIDGE_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The backend a test runs on: the service's own type (`name()` is `sqlite` or `postgres`, as
/// in the tests' names).
pub use ccbridge::domain::Backend;

/// When this test process started (unix seconds): part of every schema name, so that stale
/// schemas can be told from the ones of a run in progress.
static RUN_STARTED: LazyLock<u64> = LazyLock::new(|| {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
});

/// The PostgreSQL server the suite uses.
pub fn postgres_server() -> String {
    std::env::var(POSTGRES_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// The `database.url` for the database named by `path` on `backend` (created if new).
pub async fn database_url(backend: Backend, path: &Path) -> String {
    match backend {
        Backend::Sqlite => sqlite_url(path),
        Backend::Postgres => postgres_schema_url(path).await,
    }
}

/// For tests about SQLite itself (its file, its disk, its one-process rule).
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A schema of its own for `path` on the test server, and the URL that makes it the search path.
pub async fn postgres_schema_url(path: &Path) -> String {
    let server = postgres_server();
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    let schema: String = std::iter::once(format!("t_{}_", *RUN_STARTED))
        .chain(digest[..8].iter().map(|b| format!("{b:02x}")))
        .collect();
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap_or_else(|e| {
        panic!("the PostgreSQL test server at {server} is not reachable ({e}); start one or set {POSTGRES_VAR}")
    });
    drop_stale_schemas(&mut admin).await;
    admin
        .execute(format!("create schema if not exists {schema}").as_str())
        .await
        .expect("create the test schema");
    admin.close().await.ok();
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options[search_path]={schema}")
}

/// Once per test process: drop the schemas of runs that started more than an hour ago.
async fn drop_stale_schemas(admin: &mut sqlx::PgConnection) {
    static DONE: OnceCell<()> = OnceCell::const_new();
    DONE.get_or_init(|| async {
        let names: Vec<(String,)> =
            sqlx::query_as("select nspname::text from pg_namespace where nspname like 't\\_%'")
                .fetch_all(&mut *admin)
                .await
                .expect("list test schemas");
        let cutoff = RUN_STARTED.saturating_sub(3600);
        for (name,) in names {
            let started = name.split('_').nth(1).and_then(|t| t.parse::<u64>().ok());
            if started.is_some_and(|t| t < cutoff) {
                // Another run may drop it at the same time; either way it is gone.
                let _ = admin
                    .execute(format!("drop schema if exists {name} cascade").as_str())
                    .await;
            }
        }
    })
    .await;
}

/// A connection pool on the database named by `path`, for tests that look at or change rows
/// directly. The SQL must read the same on both backends (`$N` placeholders, plain types).
pub async fn raw_pool(backend: Backend, path: &Path) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(&database_url(backend, path).await)
        .await
        .expect("test database opens")
}

/// Holds every table the service writes locked against writers, like a stuck or exclusive
/// writer would, until `release`.
pub struct WriteLock {
    conn: sqlx::AnyConnection,
}

impl WriteLock {
    pub async fn take(backend: Backend, path: &Path) -> Self {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&database_url(backend, path).await)
            .await
            .expect("test database opens");
        if backend == Backend::Postgres {
            conn.execute("begin").await.unwrap();
            conn.execute(
                "lock table signups, heartbeat, api_usage, api_pace, token_set, oauth_states,
                    admin_sessions in exclusive mode",
            )
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
