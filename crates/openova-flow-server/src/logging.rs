//! JSON logs on stdout (server.md §8): `timestamp` (RFC 3339 UTC), `level`,
//! `target`, `message` and the event's fields, flattened, one object a line.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `filter` was validated with the config.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}
