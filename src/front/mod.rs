//! Front ends: how clients reach the gateway. Each carries MCP over one
//! transport and hands what arrives to a [`crate::service::Service`]; none knows
//! what serves it (the gateway, or `vmcp mock`).
//!
//! - [`stdio`]: MCP on the process's own stdin/stdout ([`pipe`]: read and
//!   written through the reactor when they are pipes or sockets).
//! - [`http`]: streamable HTTP (`/mcp`), every revision.
//! - [`legacy_sse`]: the HTTP+SSE transport of 2024-11-05 (`/sse` + `/message`).
//! - [`ws`]: MCP over WebSocket (`/ws`).
//! - [`shared`]: what the HTTP fronts share (options, errors, checks, one-stream
//!   dispatch).
//! - [`auth`]: authentication as a middleware of the HTTP fronts, and the OAuth
//!   protected resource metadata.
//! - [`serve`]: the HTTP connection loop: limits that hold before a request
//!   exists, write deadlines, graceful shutdown.
//! - [`tls`]: TLS for the HTTP listener, reloadable.
//! - [`seal`]: self-contained session ids any replica holding the key can
//!   resume (`[cluster] session_key`).

pub mod auth;
pub mod http;
pub mod legacy_sse;
pub mod pipe;
pub mod seal;
pub mod serve;
pub mod shared;
pub mod stdio;
pub mod tls;
pub mod ws;
