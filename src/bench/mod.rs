//! `vmcp bench`: an MCP load generator.
//!
//! It opens N sessions to one server, over streamable HTTP (`--url`) or stdio
//! (`--command`, one server process per session), runs the MCP handshake on
//! each, then drives a closed loop per session (one request outstanding) for a
//! duration or a count of requests: one tool (`--tool` with `--args`), or a mix
//! of `tools/list`, `tools/call` and `resources/read`. Requests during the
//! warm-up are made but not counted. It reports calls per second, errors by kind
//! (JSON-RPC errors, `isError` tool results, transport failures) and latency
//! percentiles, overall and per method, as text or as one JSON object.
//!
//! - `run`: the plan, the sessions and their closed loops.
//! - `conn`: the client side, its own small loop per session (not the gateway's links).
//! - `kind`: the kinds of request a workload mixes.
//! - `stats`: histograms and the report.

mod conn;
mod kind;
mod run;
mod stats;

pub use kind::Kind;
pub use run::{BenchArgs, BenchError, run};
pub use stats::{ErrorCounts, ErrorSample, Latency, MethodReport, Report};
