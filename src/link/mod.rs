//! Links: how the gateway reaches its servers. Each transport turns a server's
//! address (a command, a URL) into a [`Link`]: messages out, messages in, and a
//! [`Lifetime`] that ends when the link does. The gateway above speaks MCP over
//! links and never learns which transport carries one.
//!
//! - [`ends`]: [`Link`], how messages leave ([`Outgoing`]) and where received
//!   ones go ([`Inbox`]).
//! - [`lifetime`]: [`Lifetime`] and [`StopSignal`].
//! - [`child`]: stdio, an MCP server run as a child process in a process group
//!   of its own.
//! - [`remote`]: what the network links share ([`RemoteSpec`], TLS).
//! - [`http`]: streamable HTTP, on [`http1`], a lean HTTP/1.1 client; [`sse`]:
//!   the legacy HTTP+SSE transport;
//!   [`ws`]: WebSocket.

pub mod child;
pub mod ends;
pub mod http;
pub mod http1;
pub mod lifetime;
pub mod remote;
pub mod sse;
pub mod ws;

pub use ends::{Closed, Exchange, Inbox, Link, Outbound, Outgoing};
pub use lifetime::{Lifetime, StopSignal};
pub use remote::{ConnectError, RemoteSpec};
