//! Logging setup. JSON or human-readable by config; `RUST_LOG` overrides the configured level.
//! Nothing in ccbridge logs a token, a secret, a full email address or a form body.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

/// Install the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(config: &LoggingConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file or `docker logs`.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match config.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
