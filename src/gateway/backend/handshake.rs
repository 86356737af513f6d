//! The MCP handshake with a server, the gateway being the client, and the
//! lists it reads from a server once connected.
//!
//! `server/discover` goes first: a 2026-07-28 server answers it and is from
//! then on spoken to statelessly (every request carrying the gateway's own
//! `_meta`). Any other answer, or silence for a few seconds (the
//! specification's fallback rule), means a handshake-era server: it gets
//! `initialize` at the latest revision vmcp speaks and accepts any it knows.

use std::time::Duration;

use serde::Serialize;

use super::conn::BackendConn;
use super::info::{InitInfo, client_capabilities, with_stateless_meta};
use crate::gateway::error::GatewayError;
use crate::protocol::stateless;
use crate::protocol::{RawObject, Revision, jsonrpc, method};

/// Starts the MCP session, with the gateway as the client: `server/discover`
/// first (a 2026-07-28 server answers it, and is then spoken to statelessly),
/// `initialize` when the server does not know it (any error, or silence for
/// a few seconds, as the specification's fallback rule says).
pub async fn handshake(conn: &BackendConn) -> Result<InitInfo, GatewayError> {
    let discover =
        conn.call_with(method::SERVER_DISCOVER, Some(with_stateless_meta(None)), None, None, Some(DISCOVER_TIMEOUT));
    if let Ok(result) = discover.await
        && let Ok(obj) = RawObject::parse(&result)
        && obj
            .get_as::<Vec<String>>("supportedVersions")
            .is_some_and(|v| v.iter().any(|s| s == Revision::V2026_07_28.as_str()))
    {
        let meta: RawObject = obj.get_as("_meta").unwrap_or_default();
        let info = InitInfo {
            revision: Revision::V2026_07_28,
            capabilities: obj.get_as("capabilities").unwrap_or_default(),
            server_info: meta.get(stateless::META_SERVER_INFO).map(|v| v.to_owned()),
            instructions: obj.get_str("instructions"),
        };
        conn.established(info.clone(), true);
        return Ok(info);
    }
    initialize(conn).await
}

/// The MCP handshake, with the gateway as the client.
async fn initialize(conn: &BackendConn) -> Result<InitInfo, GatewayError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Params<'a> {
        protocol_version: &'a str,
        capabilities: serde_json::Value,
        client_info: serde_json::Value,
    }
    let params = Params {
        protocol_version: Revision::LATEST_HANDSHAKE.as_str(),
        // The gateway can carry each of these to the client that caused them.
        capabilities: client_capabilities(),
        client_info: serde_json::json!({ "name": "vmcp", "version": env!("CARGO_PKG_VERSION") }),
    };
    let result = conn.call(method::INITIALIZE, Some(jsonrpc::to_raw(&params)), None, None).await?;
    let bad = |reason: String| GatewayError::BadResult {
        server: conn.server.to_string(),
        method: method::INITIALIZE.into(),
        reason,
    };
    let obj = RawObject::parse(&result).map_err(|e| bad(e.to_string()))?;
    let version = obj.get_str("protocolVersion").ok_or_else(|| bad("no protocolVersion".into()))?;
    let revision = Revision::parse(&version).filter(|r| !r.is_stateless()).ok_or_else(|| {
        bad(format!(
            "protocol version {version:?} is not one vmcp speaks ({})",
            Revision::HANDSHAKE.map(|r| r.as_str()).join(", ")
        ))
    })?;
    let capabilities = obj
        .get("capabilities")
        .map(RawObject::parse)
        .transpose()
        .map_err(|e| bad(format!("capabilities: {e}")))?
        .unwrap_or_default();
    let info = InitInfo {
        revision,
        capabilities,
        server_info: obj.get("serverInfo").map(|v| v.to_owned()),
        instructions: obj.get_str("instructions"),
    };
    conn.notify(method::INITIALIZED, None);
    conn.established(info.clone(), false);
    Ok(info)
}

/// Every item of a paginated list, following `nextCursor` to the end.
pub async fn list_all(conn: &BackendConn, method: &str, key: &str) -> Result<Vec<RawObject>, GatewayError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let bad =
        |reason: String| GatewayError::BadResult { server: conn.server.to_string(), method: method.into(), reason };
    for _page in 0..10_000 {
        let params = cursor.as_ref().map(|c| jsonrpc::to_raw(&serde_json::json!({ "cursor": c })));
        let result = conn.call(method, params, None, None).await?;
        let obj = RawObject::parse(&result).map_err(|e| bad(e.to_string()))?;
        let page: Vec<RawObject> = match obj.get(key) {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|e| bad(format!("{key}: {e}")))?,
            None => Vec::new(),
        };
        items.extend(page);
        match obj.get_str("nextCursor") {
            Some(next) if Some(&next) != cursor.as_ref() && !next.is_empty() => cursor = Some(next),
            Some(next) if Some(&next) == cursor.as_ref() => {
                return Err(bad(format!("nextCursor {next:?} repeats the cursor it was given")));
            }
            _ => return Ok(items),
        }
    }
    Err(bad("more than 10000 pages".into()))
}

/// How long a server may stay silent on `server/discover` before it is taken for
/// a handshake-era server.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(5);
