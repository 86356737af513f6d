//! Framings: how JSON-RPC messages are cut out of a byte stream and put back
//! into one. Both directions use them: the stdio front end and stdio child
//! processes frame by lines; the streamable HTTP front end writes SSE events
//! and the HTTP links read them. Nothing here knows what a message means.
//!
//! - [`lines`]: newline-delimited messages, with a size bound.
//! - [`sse`]: Server-Sent Events, written and parsed incrementally.

pub mod lines;
pub mod sse;
