//! What each side of a backend session says about itself: [`InitInfo`], what
//! the server announced, and the gateway's own identity as a client (its
//! capabilities, and the `_meta` a 2026-07-28 server gets on every request).

use serde_json::value::RawValue;

use crate::protocol::stateless;
use crate::protocol::{RawObject, Revision};

/// What the server said about itself in `initialize`.
#[derive(Debug, Clone)]
pub struct InitInfo {
    pub revision: Revision,
    pub capabilities: RawObject,
    pub server_info: Option<Box<RawValue>>,
    pub instructions: Option<String>,
}

impl InitInfo {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.get(capability).is_some_and(|v| v.get() != "null")
    }
}

/// What the gateway can carry to the client that caused a server→client request.
pub fn client_capabilities() -> serde_json::Value {
    serde_json::json!({ "roots": { "listChanged": true }, "sampling": {}, "elicitation": {} })
}

/// Adds the 2026-07-28 per-request `_meta` (revision, capabilities, client info).
pub fn with_stateless_meta(params: Option<Box<RawValue>>) -> Box<RawValue> {
    let mut p = params.as_deref().and_then(|p| RawObject::parse(p).ok()).unwrap_or_default();
    let mut meta: RawObject = p.get_as("_meta").unwrap_or_default();
    meta.set(stateless::META_PROTOCOL_VERSION, Revision::V2026_07_28.as_str());
    meta.set(stateless::META_CLIENT_CAPABILITIES, &client_capabilities());
    meta.set(stateless::META_CLIENT_INFO, &serde_json::json!({ "name": "vmcp", "version": env!("CARGO_PKG_VERSION") }));
    p.set("_meta", &meta);
    p.to_raw()
}
