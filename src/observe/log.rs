//! Structured logs through `tracing`, always on stderr so that stdout stays
//! MCP-only in `--stdio` mode.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a filter directive (e.g. "info",
/// "vmcp=debug"); `VMCP_LOG` overrides it when set.
pub fn init_logging(level: &str, json: bool) {
    let filter = std::env::var("VMCP_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if json { builder.json().try_init() } else { builder.with_ansi(false).try_init() };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
