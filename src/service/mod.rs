//! The seam between the front ends and what they serve.
//!
//! A front end (`crate::front`) knows how to carry MCP over one transport and
//! nothing about what answers it: it drives a [`Service`], which opens one
//! [`Session`] per client. The gateway is one such service and `vmcp mock` is
//! another, so both get every front end, and neither front nor gateway names
//! the other.
//!
//! - [`contract`]: [`Service`], [`Session`], [`Refused`].
//! - [`outbound`]: [`Tx`], and [`Outbound`], the stream for messages that belong
//!   to no request.
//! - [`peer`]: request bookkeeping every session needs ([`InFlight`],
//!   [`Outstanding`]).

pub mod contract;
pub mod outbound;
pub mod peer;

pub use contract::{Handshake, Refused, Service, Session};
pub use outbound::{Outbound, Tx, send_related};
pub use peer::{InFlight, Outstanding, Registration};
