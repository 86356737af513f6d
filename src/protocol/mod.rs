//! The wire protocol: JSON-RPC 2.0 framing and the MCP vocabulary on top of it.
//!
//! Nothing here does I/O. `jsonrpc` parses and writes envelopes while keeping
//! bodies raw; `raw` edits one member of a raw object without touching the rest;
//! `mcp` names the revisions and methods; `stateless` holds what the stateless
//! 2026-07-28 revision adds (per-request `_meta`, mirrored headers, result hints).

pub mod jsonrpc;
pub mod mcp;
pub mod raw;
pub mod stateless;

pub use jsonrpc::{ErrorObject, Frame, Id, Message, Notification, ParseError, Request, Response, code};
pub use mcp::{Revision, header, method};
pub use raw::RawObject;
