//! vmcp: a virtual MCP gateway. One MCP endpoint in front of many MCP servers,
//! the way a virtual file system puts one tree over many storage backends.
//!
//! A map of the crate, in the order a request travels through it:
//!
//! ```text
//! client ─▶ front ─▶ service ─▶ gateway ─────────────────────────────▶ link ─▶ MCP server
//!           (stdio,   (the      (session → call → router → forward     (child process,
//!            /mcp,     seam)     → supervisor's replica → backend)      HTTP, SSE, WS)
//!            /sse, /ws)                                     framing (lines, SSE) · protocol (JSON-RPC, MCP)
//! ```
//!
//! - [`front`]: how clients reach the gateway: stdio, streamable HTTP, legacy
//!   HTTP+SSE, WebSocket; the HTTP connection loop, TLS, authentication as a
//!   middleware. A front end drives a [`service::Service`] and knows nothing of
//!   what serves it.
//! - [`service`]: the seam between front ends and what they serve (the
//!   gateway, or `vmcp mock`): `Service`, `Session`, the outbound stream.
//! - [`gateway`]: the service clients talk to: sessions, the typed call, the
//!   router, the forwarder, the supervisor of servers and replicas, the backend
//!   connections, the catalog. `gateway/DESIGN.md` draws a request's path.
//! - [`link`]: how the gateway reaches its servers: a child process, streamable
//!   HTTP, legacy SSE, WebSocket, each a [`link::Link`].
//! - [`framing`]: cutting messages out of bytes and back: lines, SSE events.
//! - [`protocol`]: JSON-RPC 2.0 envelopes with raw bodies; MCP revisions,
//!   methods and headers; the stateless 2026-07-28 revision.
//!
//! Beside the request's path:
//! - [`auth`]: who is calling (API keys, JWTs) and what they may use (`[[policy]]`).
//! - [`config`]: the TOML configuration, with `${VAR}` substitution and errors
//!   at file:line:column.
//! - [`registry`]: runtime mounts persisted in SQLite under `gateway.state_dir`
//!   or in a PostgreSQL database shared by replicas, the members list, and the
//!   lock that keeps one gateway per state directory.
//! - [`cluster`]: this gateway among its replicas: the stored mounts applied
//!   to the running gateway (at start, after each write, on each revision
//!   another replica announces), heartbeats.
//! - [`observe`]: logs, Prometheus metrics and their summary, the audit log.
//! - [`admin`]: the admin API on a Unix socket, and the client the CLI uses.
//! - [`cli`]: the `vmcp` command line (the binary's `main` is a thin wrapper).
//! - [`mock`]: `vmcp mock`, a configurable MCP server for tests and experiments.
//! - [`mod@bench`]: `vmcp bench`, an MCP load generator.
//!
//! Dependencies point one way: `cli` uses everything; `admin` the cluster and
//! the gateway; `cluster` the gateway and the registry;
//! `gateway` and `front` the service seam; `gateway` the links; links the
//! framing; everything the protocol. `tests/architecture.rs` checks it.

pub mod admin;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod framing;
pub mod front;
pub mod gateway;
pub mod link;
pub mod mock;
pub mod observe;
pub mod protocol;
pub mod registry;
pub mod service;
