//! `vmcp mock`: a configurable MCP server for tests, benchmarks and experiments.
//!
//! It speaks MCP over stdio, or with `--listen` over HTTP (streamable HTTP at
//! `/mcp`, legacy HTTP+SSE at `/sse`, WebSocket at `/ws`), through the same
//! transports as the gateway. It offers N generated tools, resources,
//! templates and prompts (paginated with `--page-size`), plus tools that exercise
//! everything a gateway must carry: progress, sampling, elicitation, roots,
//! list changes, resource updates, logging, slow calls, errors and crashes.
//! With `--conformance` it offers instead the fixtures the official conformance
//! suite's server scenarios expect (see `conformance.rs`).
//! It is a test backend: nothing in the gateway depends on it.

mod args;
mod catalog;
mod conformance;
mod reply;
mod run;
mod session;

pub use args::MockArgs;
pub use run::run;
