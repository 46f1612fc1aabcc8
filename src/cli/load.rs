//! Loading the configuration and opening the database for a command, saying on stderr which
//! ones the command uses.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::Config;
use crate::store::Store;

/// A configuration and where it came from: commands that use the database say which one.
pub(super) struct Loaded {
    pub(super) config: Config,
    pub(super) source: String,
}

pub(super) fn load_with_source(path: Option<PathBuf>) -> anyhow::Result<Loaded> {
    let file = Config::locate(path.as_deref());
    let config = Config::load_from(file.as_deref(), std::env::vars())?;
    let source = match &file {
        Some(file) => format!("{} and CCBRIDGE__* variables", file.display()),
        None => "built-in defaults and CCBRIDGE__* variables (no --config, no $CCBRIDGE_CONFIG, \
                 no ./ccbridge.toml here)"
            .to_owned(),
    };
    Ok(Loaded { config, source })
}

/// Open the database ccbridge already uses (applying pending migrations), never creating one,
/// and say on stderr which database and configuration the command uses.
pub(super) async fn open_store(loaded: &Loaded) -> anyhow::Result<Store> {
    open_store_as(loaded, false).await
}

/// The same, creating (and migrating) the database when `create` (a command that may come
/// before `serve`, like `connect`).
pub(super) async fn open_store_as(loaded: &Loaded, create: bool) -> anyhow::Result<Store> {
    let url = loaded.config.database.url.redacted();
    let opened = if create {
        Store::open(&loaded.config.database).await
    } else {
        Store::open_existing(&loaded.config.database).await
    };
    let store = opened.with_context(|| {
        format!(
            "opening the database at {url} (database.url; configuration from {})",
            loaded.source
        )
    })?;
    eprintln!(
        "ccbridge: database {url}; configuration from {}",
        loaded.source
    );
    Ok(store)
}
