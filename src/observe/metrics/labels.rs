//! The fixed vocabularies of the metrics: outcomes, states, the latency
//! buckets, and the bound on distinct series.

use prometheus_client::encoding::prometheus_text;

/// The `Content-Type` of what [`Metrics::encode`] produces (Prometheus text, 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The default bound on distinct servers, and on distinct (server, method) pairs.
pub const MAX_SERIES: usize = 10_000;

/// The label value excess servers, methods, outcomes and states are folded into.
pub const OTHER: &str = "other";

/// Request outcomes, in the order summaries list them.
pub const OUTCOMES: [&str; 7] = ["ok", "error", "timeout", "unavailable", "transport", "cancelled", OTHER];

/// Backend states, as `gateway::server::Status::as_str` spells them.
pub const STATES: [&str; 4] = ["starting", "ready", "down", "stopped"];

/// Latency buckets, in seconds: 0.5 ms to 60 s in 1-2.5-5 steps (each about 2 to
/// 2.5 times the last), from a cached `tools/list` to a slow tool call.
pub const DURATION_BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0];
