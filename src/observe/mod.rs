//! Observability: what vmcp tells its operators.
//!
//! - [`log`]: structured logs through `tracing`, on stderr (stdout stays
//!   MCP-only in `--stdio` mode).
//! - [`metrics`]: Prometheus metrics, and the summary `vmcp metrics show` prints.
//! - [`audit`]: the audit log of tool calls, prompt gets and resource reads.
//! - [`errors`]: how an error and its causes read on one line.

pub mod audit;
pub mod errors;
pub mod log;
pub mod metrics;

pub use errors::error_chain;
pub use log::init_logging;
