//! vmcp: a virtual MCP gateway. One MCP endpoint in front of many MCP servers,
//! the way a virtual file system puts one tree over many storage backends.
//!
//! A map of the crate, from the wire inwards:
//!
//! - [`protocol`]: JSON-RPC 2.0 envelopes with raw bodies; MCP revisions and method names.
//! - [`transport`]: framing and I/O, both directions: stdio (child processes, and
//!   the gateway's own stdin/stdout), streamable HTTP, legacy HTTP+SSE, WebSocket.
//!   Server sides are generic over a [`transport::Service`]; client sides produce a
//!   [`transport::link::Link`].
//! - [`gateway`]: the service clients talk to: sessions, the merged catalog,
//!   routing, backend lifecycles, server→client traffic.
//! - [`auth`]: who is calling (API keys, JWTs) and what they may use (`[[policy]]`).
//! - [`config`]: the TOML configuration, with `${VAR}` substitution and precise errors.
//! - [`registry`]: runtime mounts persisted in SQLite under `gateway.state_dir`, and
//!   the lock that keeps one gateway per state directory.
//! - [`mock`]: `vmcp mock`, a configurable MCP server for tests and experiments.
//! - [`bench`]: `vmcp bench`, an MCP load generator (calls/s, errors, latency percentiles).
//! - [`observe`]: logging setup.
//! - [`admin`]: the admin API on a Unix socket, and the client the CLI uses.
//! - [`cli`]: the `vmcp` command line (the binary's `main` is a thin wrapper).
//!
//! Data flow: client → front (`transport::stdio` / `transport::http`) →
//! [`gateway::session::ClientSession`] → [`gateway`] router → [`gateway::backend::BackendConn`]
//! → `transport::child` → MCP server, and back.

pub mod admin;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod gateway;
pub mod mock;
pub mod observe;
pub mod protocol;
pub mod registry;
pub mod transport;
