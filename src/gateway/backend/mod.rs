//! The gateway as an MCP client: one live session with one server (replica),
//! over a [`crate::link::Link`].
//!
//! - [`conn`]: [`BackendConn`], shared by every client: its own request ids,
//!   answers matched to callers, cancellation upstream, timeouts.
//! - [`mod@handshake`]: `server/discover` or `initialize`, and reading whole lists.
//! - [`info`]: what the server announced ([`InitInfo`]), and the gateway's own
//!   identity as a client.
//! - [`latency`]: [`Latency`], answer times for balancing and status.

pub mod conn;
pub mod handshake;
pub mod info;
pub mod latency;

pub use conn::{BackendConn, Handler};
pub use handshake::{handshake, list_all};
pub use info::{InitInfo, with_stateless_meta};
pub use latency::Latency;
