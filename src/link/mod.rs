//! Links: how the gateway reaches its servers. Each transport turns a server's
//! address (a command, a URL) into a [`Link`]: messages out, messages in, and a
//! [`Lifetime`] that ends when the link does. The gateway above speaks MCP over
//! links and never learns which transport carries one.
//!
//! - [`lifetime`]: [`Link`], [`Lifetime`] and [`StopSignal`].
//! - [`child`]: stdio, an MCP server run as a child process in a process group
//!   of its own.
//! - [`remote`]: what the network links share ([`RemoteSpec`], the HTTP client).
//! - [`http`]: streamable HTTP; [`sse`]: the legacy HTTP+SSE transport;
//!   [`ws`]: WebSocket.

pub mod child;
pub mod http;
pub mod lifetime;
pub mod remote;
pub mod sse;
pub mod ws;

pub use lifetime::{Lifetime, Link, StopSignal};
pub use remote::{ConnectError, RemoteSpec};
