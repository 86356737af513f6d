//! The gateway: one MCP server in front of many. See `DESIGN.md` beside this
//! file for the request's path, version negotiation and naming.
//!
//! Along a request, in order:
//! - [`session`]: [`ClientSession`], one client's session as the front ends
//!   drive it; the handshake, requests in flight.
//! - [`call`]: [`Call`], a request parsed once into what it asks for.
//! - [`core`]: [`Gateway`], the stages composed; each call handed to them.
//! - [`router`]: which server, under which name (policies, [`rules`], catalog).
//! - [`forward`]: [`Forwarder`], limits, replica pick, retries, timeouts.
//! - [`supervisor`]: every server's life and its replicas; the pick.
//! - [`backend`]: the gateway as an MCP client of one server, over a link.
//!
//! And around it:
//! - [`client`]: [`Client`], one client as the stages see it.
//! - [`catalog`]: the merged, namespaced tools and prompts.
//! - [`fan_out`] (with [`cursor`]): resource lists from every server.
//! - [`relay`]: the way back from a server to its client (progress,
//!   server→client requests).
//! - [`subscriptions`]: resource subscriptions and `subscriptions/listen` streams.
//! - [`input_required`]: server→client requests for stateless (2026-07-28)
//!   clients, as `input_required` results and retries.
//! - [`sessions`], [`drain`]: the open sessions; requests in flight for a
//!   graceful shutdown.
//! - [`limit`]: concurrency, rates, retry budget. [`settings`]: what is fixed at start.
//! - [`describe`], [`views`]: the gateway describing itself (`initialize`,
//!   `vmcp/*`, JSON views of servers).
//! - [`reload`]: a changed configuration applied as a difference.
//! - [`error`]: [`GatewayError`] and its JSON-RPC form.

pub mod backend;
pub mod call;
pub mod catalog;
pub mod client;
pub mod core;
pub mod cursor;
pub mod describe;
pub mod drain;
pub mod error;
pub mod fan_out;
pub mod forward;
pub mod input_required;
pub mod limit;
pub mod relay;
pub mod reload;
pub mod router;
pub mod rules;
pub mod session;
pub mod sessions;
pub mod settings;
pub mod subscriptions;
pub mod supervisor;
pub mod views;

pub use call::Call;
pub use client::Client;
pub use core::Gateway;
pub use error::GatewayError;
pub use forward::Forwarder;
pub use session::ClientSession;
