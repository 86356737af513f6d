//! The supervisor: every backend server's life, from configuration to a ready
//! connection and back, and the choice of a replica for each request.
//!
//! - [`servers`]: [`Supervisor`], the set of servers and changes to it (mount,
//!   unmount, enable, disable, restart, reload).
//! - [`server`]: [`Server`], one server as clients see it: a group of
//!   replicas, its limits, its pick.
//! - [`replica`]: [`Replica`], one process or endpoint, and its state.
//! - [`run`]: a replica's life: start, serve under health checks, restart with
//!   backoff.
//! - [`start`]: starting a backend: link, handshake, first lists.
//! - [`isolation`]: per-session processes (`isolation = "per_session"`).
//! - [`balance`], [`breaker`]: the seven strategies, and each replica's
//!   circuit breaker.
//! - [`context`], [`events`]: what the parts share, and what they tell the
//!   gateway.

pub mod balance;
pub mod breaker;
pub mod context;
pub mod events;
pub mod isolation;
pub mod replica;
pub mod run;
pub mod server;
pub mod servers;
pub mod start;

pub use context::Context;
pub use events::Events;
pub use replica::{Replica, Status, Target};
pub use server::{Pick, Server, Source};
pub use servers::{Applied, OpError, Supervisor};
