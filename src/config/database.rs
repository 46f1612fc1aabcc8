//! `[database]`: which database, and how long a write may wait for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::DatabaseUrl;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (the embedded default, one process) or `postgres://…` (several replicas).
    /// Shown everywhere with its password replaced.
    pub url: DatabaseUrl,
    /// How long a write waits for a lock held by another connection before giving up (then: 503).
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// Size of the connection pool.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::parse("sqlite://ccbridge.db").expect("a valid literal URL"),
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
        }
    }
}

impl DatabaseConfig {
    /// Returns the offending key (relative to the section) and a message. The URL was checked
    /// when it was parsed.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_connections == 0 {
            return Err(("max_connections", "must be at least 1".into()));
        }
        Ok(())
    }
}
