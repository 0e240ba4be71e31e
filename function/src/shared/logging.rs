//! Log lines Lambda can filter by level.
//!
//! With the JSON log format, Lambda files a line under its `level` only when the line also
//! has a valid RFC 3339 `timestamp`; any other line is INFO ("Log-level filtering" in the
//! Lambda guide), so with `log_level = "WARN"` it would drop even "lifecycle event not
//! stored". `lambda_runtime`'s default subscriber writes no time, hence this one: JSON,
//! `timestamp` (RFC 3339, UTC), `level`, the event's fields at the top level (so Logs
//! Insights reads `clientId` directly) and the invocation's span with its `requestId`.

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::{time::SystemTime, MakeWriter};

/// The level filter for a Lambda log level name. FATAL, which tracing has no level for,
/// keeps errors; a name nobody knows keeps INFO, Lambda's default.
pub fn level_filter(name: Option<&str>) -> LevelFilter {
    match name.map(str::trim) {
        Some(name) if name.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR,
        Some(name) => name.parse().unwrap_or(LevelFilter::INFO),
        None => LevelFilter::INFO,
    }
}

/// Installs the subscriber: `AWS_LAMBDA_LOG_LEVEL` (set by Lambda from the function's
/// `application_log_level`) or else `RUST_LOG` chooses the level.
pub fn init<W>(writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    lambda_runtime::tracing::subscriber::fmt()
        .json()
        .with_timer(SystemTime)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(level_filter(level.as_deref()).into())
                .parse_lossy(""),
        )
        .with_writer(writer)
        .init();
}

/// The subscriber of the command-line tools: JSON on stderr (stdout carries their
/// results), warnings and errors unless `RUST_LOG` says otherwise.
pub fn init_for_cli() {
    lambda_runtime::tracing::subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_level_names_map_to_filters() {
        assert_eq!(level_filter(Some("FATAL")), LevelFilter::ERROR);
        assert_eq!(level_filter(Some("WARN")), LevelFilter::WARN);
        assert_eq!(level_filter(Some("trace")), LevelFilter::TRACE);
        assert_eq!(level_filter(Some("loud")), LevelFilter::INFO);
        assert_eq!(level_filter(None), LevelFilter::INFO);
    }
}
