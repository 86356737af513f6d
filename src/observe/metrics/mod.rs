//! Prometheus metrics (served at `/metrics`, every name prefixed `vmcp_`): the
//! [`Metrics`] handle and its recording API. The same series also give a typed
//! [`Summary`] (what `vmcp metrics show` prints).
//!
//! | name | type | labels |
//! |---|---|---|
//! | `vmcp_requests_total` | counter | `server`, `method`, `outcome` |
//! | `vmcp_request_duration_seconds` | histogram | `server`, `method` |
//! | `vmcp_requests_in_flight` | gauge | `server` |
//! | `vmcp_sessions` | gauge | `front` |
//! | `vmcp_backend_up` | gauge | `server`, `state` |
//! | `vmcp_backend_restarts_total` | counter | `server` |
//! | `vmcp_catalog_items` | gauge | `kind` |
//! | `vmcp_breaker_state` | gauge (0 closed, 1 half-open, 2 open) | `server`, `replica` |
//! | `vmcp_breaker_opened_total` | counter | `server`, `replica` |
//! | `vmcp_rejected_total` | counter | `reason` (overloaded, rate_limited, circuit_open, denied) |
//! | `vmcp_retries_total` | counter | `server` |
//! | `vmcp_route_cache_lookups_total` | counter | `result` (hit, miss) |
//! | `vmcp_process_resident_memory_bytes` | gauge | |
//! | `vmcp_build_info` | gauge (always 1) | `version` |
//!
//! Recording is cheap: each label value is interned once, and every series keeps
//! its metric handle, so a steady-state call takes one read lock, two hash
//! lookups by `&str` and the metric's own atomics. Nothing allocates after a
//! series' first use and no lock is held beyond the call.
//!
//! Cardinality is bounded: past [`MAX_SERIES`] distinct servers, further servers
//! are counted under `server="other"`; past [`MAX_SERIES`] distinct
//! (server, method) pairs, further methods are counted under `method="other"`.
//! Outcomes and states outside their fixed sets become `"other"` too.
//!
//! The files: `handle.rs` (the [`Metrics`] handle and its recording API),
//! `state.rs` (the registry and the handles), `labels.rs` (fixed vocabularies),
//! `series.rs` (label sets, interned handles, caps), `histogram.rs`
//! (the latency buckets), `summary.rs` (the [`Summary`] and how it is read off
//! the series), `table.rs` (its human form), `process.rs` (resident memory),
//! `tests.rs` (recording, through the text it encodes).

mod handle;
mod histogram;
mod labels;
mod process;
mod series;
mod state;
mod summary;
mod table;
#[cfg(test)]
mod tests;

pub use handle::Metrics;
pub use histogram::Quantile;
pub use labels::{CONTENT_TYPE, DURATION_BUCKETS, MAX_SERIES, OTHER, OUTCOMES, STATES};
pub use summary::{BreakerSummary, Latency, MethodSummary, Requests, RouteCache, ServerSummary, Summary};
