//! MCP 2026-07-28, the stateless revision: what every request carries in
//! `_meta`, the HTTP headers that mirror the body, and what results must say.
//!
//! A request is "stateless" when its `_meta` names a revision under
//! `io.modelcontextprotocol/protocolVersion`; it then also carries the client's
//! capabilities, and there is no `initialize`, no session. Handshake-era
//! requests carry no such key and are served as before: both eras share every
//! endpoint.

use serde_json::json;
use serde_json::value::RawValue;

use super::{ErrorObject, RawObject, Request, Revision, method};

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// 2026-07-28 error codes.
pub mod code {
    /// An HTTP header is missing, malformed, or disagrees with the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// The request needs a capability the client did not declare.
    pub const MISSING_CAPABILITY: i64 = -32021;
    /// The requested revision is not supported.
    pub const UNSUPPORTED_VERSION: i64 = -32022;
}

/// What a stateless request says about its client.
#[derive(Debug, Clone, Default)]
pub struct StatelessMeta {
    pub capabilities: RawObject,
    pub client_info: Option<Box<RawValue>>,
}

impl StatelessMeta {
    /// Reads a request's `_meta`: `Ok(None)` for a handshake-era request (no
    /// revision in `_meta`), `Ok(Some)` for a 2026-07-28 one, and the error to
    /// answer when the revision is unknown or the capabilities are missing.
    pub fn from_request(req: &Request) -> Result<Option<StatelessMeta>, ErrorObject> {
        // Most requests are of the handshake era: their params are not read at
        // all unless they could hold the key (a key spelled with escapes, as
        // JSON allows, is read the slow way).
        let Some(params) = req.params.as_deref() else { return Ok(None) };
        let text = params.get();
        if !text.contains("protocolVersion") && !text.contains("\\u") {
            return Ok(None);
        }
        let Some(meta) = RawObject::parse(params).ok().and_then(|p| p.get_as::<RawObject>("_meta")) else {
            return Ok(None);
        };
        let Some(version) = meta.get(META_PROTOCOL_VERSION) else { return Ok(None) };
        let version: String = serde_json::from_str(version.get()).map_err(|_| {
            ErrorObject::new(
                super::code::INVALID_PARAMS,
                format!("Invalid params: _meta[\"{META_PROTOCOL_VERSION}\"] must be a string"),
            )
        })?;
        match Revision::parse(&version) {
            Some(r) if r.is_stateless() => {}
            // A handshake revision in `_meta` adds nothing: serve the request as handshake-era.
            Some(_) => return Ok(None),
            None => return Err(unsupported_version(&version)),
        }
        let capabilities = match meta.get(META_CLIENT_CAPABILITIES) {
            Some(raw) => RawObject::parse(raw).map_err(|_| {
                ErrorObject::new(
                    super::code::INVALID_PARAMS,
                    format!("Invalid params: _meta[\"{META_CLIENT_CAPABILITIES}\"] must be an object"),
                )
            })?,
            None => {
                return Err(ErrorObject::new(
                    super::code::INVALID_PARAMS,
                    format!("Invalid params: a {version} request must carry _meta[\"{META_CLIENT_CAPABILITIES}\"]"),
                ));
            }
        };
        Ok(Some(StatelessMeta { capabilities, client_info: meta.get(META_CLIENT_INFO).map(|v| v.to_owned()) }))
    }
}

/// Removes the client's 2026-07-28 `_meta` keys from params the gateway passes
/// on: each hop has its own revision and capabilities, as it has its own headers.
pub fn strip_client_meta(params: &mut RawObject) {
    let Some(mut meta) = params.get_as::<RawObject>("_meta") else { return };
    let ours: Vec<String> =
        meta.iter().map(|(k, _)| k).filter(|k| k.starts_with("io.modelcontextprotocol/")).map(str::to_owned).collect();
    if ours.is_empty() {
        return;
    }
    for k in &ours {
        meta.remove(k);
    }
    if meta.iter().next().is_none() {
        params.remove("_meta");
    } else {
        params.set("_meta", &meta);
    }
}

/// The -32022 answer, naming what is supported.
pub fn unsupported_version(requested: &str) -> ErrorObject {
    let supported: Vec<&str> = Revision::ALL.iter().map(|r| r.as_str()).collect();
    ErrorObject::new(
        code::UNSUPPORTED_VERSION,
        format!("Unsupported protocol version {requested:?} (supported: {})", supported.join(", ")),
    )
    .with_data(&json!({ "supported": supported, "requested": requested }))
}

/// The value `Mcp-Name` must carry for a request, when its method has one.
pub fn expected_name(req: &Request) -> Option<String> {
    expected_name_in(&req.method, req.params.as_deref())
}

/// [`expected_name`] of a request given by its method and params.
pub fn expected_name_in(m: &str, params: Option<&RawValue>) -> Option<String> {
    let key = match m {
        method::TOOLS_CALL | method::PROMPTS_GET => "name",
        method::RESOURCES_READ => "uri",
        _ => return None,
    };
    params.and_then(|p| RawObject::parse(p).ok()).and_then(|p| p.get_str(key))
}

/// Decodes a header value that may use the `=?base64?…?=` form (for values that
/// are not plain visible ASCII).
pub fn decode_header_value(v: &str) -> Option<String> {
    use base64::Engine;
    match v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(b64) => {
            base64::engine::general_purpose::STANDARD.decode(b64).ok().and_then(|bytes| String::from_utf8(bytes).ok())
        }
        None => Some(v.to_owned()),
    }
}

/// Checks the `Mcp-Method` and `Mcp-Name` headers against the body.
pub fn check_headers(req: &Request, mcp_method: Option<&str>, mcp_name: Option<&str>) -> Result<(), ErrorObject> {
    let mismatch = |msg: String| ErrorObject::new(code::HEADER_MISMATCH, msg);
    match mcp_method {
        None => {
            return Err(mismatch(format!(
                "Header mismatch: missing Mcp-Method header (the body's method is {:?})",
                req.method
            )));
        }
        Some(m) if m != req.method => {
            return Err(mismatch(format!(
                "Header mismatch: Mcp-Method header value {m:?} does not match body value {:?}",
                req.method
            )));
        }
        Some(_) => {}
    }
    if let Some(expected) = expected_name(req) {
        match mcp_name.map(decode_header_value) {
            None => {
                return Err(mismatch(format!(
                    "Header mismatch: missing Mcp-Name header (the body names {expected:?})"
                )));
            }
            Some(None) => return Err(mismatch("Header mismatch: Mcp-Name header is not valid base64 UTF-8".into())),
            Some(Some(n)) if n != expected => {
                return Err(mismatch(format!(
                    "Header mismatch: Mcp-Name header value {n:?} does not match body value {expected:?}"
                )));
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}

/// Caching hints merged over the pages several servers returned for one list:
/// the shortest `ttlMs`, and `private` unless every server said `public`. Set
/// only when every server gave hints (a handshake-era server gives none, and
/// then the gateway's own conservative default applies).
#[derive(Debug, Default)]
pub struct CacheHints {
    ttl: Option<u64>,
    public: bool,
    pages: usize,
    hinted: usize,
}

impl CacheHints {
    pub fn add(&mut self, page: &RawObject) {
        self.pages += 1;
        let (Some(ttl), Some(scope)) = (page.get_as::<u64>("ttlMs"), page.get_str("cacheScope")) else { return };
        self.hinted += 1;
        self.ttl = Some(self.ttl.map_or(ttl, |t| t.min(ttl)));
        self.public = if self.hinted == 1 { scope == "public" } else { self.public && scope == "public" };
    }

    pub fn apply(&self, result: &mut RawObject) {
        if self.pages > 0
            && self.hinted == self.pages
            && let Some(ttl) = self.ttl
        {
            result.set("ttlMs", &ttl);
            result.set("cacheScope", if self.public { "public" } else { "private" });
        }
    }
}

/// Methods whose results carry caching hints.
fn cacheable(m: &str) -> bool {
    matches!(
        m,
        method::SERVER_DISCOVER
            | method::TOOLS_LIST
            | method::PROMPTS_LIST
            | method::RESOURCES_LIST
            | method::RESOURCES_TEMPLATES_LIST
            | method::RESOURCES_READ
    )
}

/// Makes a result a complete 2026-07-28 result: `resultType` (unless the backend
/// set one, e.g. `input_required`), and on cacheable methods `ttlMs` and
/// `cacheScope` when missing. vmcp's own default is conservative: immediately
/// stale and private, since what a client sees may depend on who it is.
pub fn complete(m: &str, result: Box<RawValue>) -> Box<RawValue> {
    let Ok(mut obj) = RawObject::parse(&result) else { return result };
    if !obj.contains("resultType") {
        obj.set("resultType", "complete");
    }
    let is_complete = obj.get_str("resultType").as_deref() == Some("complete");
    if is_complete && cacheable(m) {
        if !obj.contains("ttlMs") {
            obj.set("ttlMs", &0);
        }
        if !obj.contains("cacheScope") {
            obj.set("cacheScope", "private");
        }
    }
    obj.to_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Id;

    fn req(method: &str, params: serde_json::Value) -> Request {
        Request {
            id: Id::Number(1),
            method: method.into(),
            params: Some(serde_json::value::to_raw_value(&params).unwrap()),
        }
    }

    #[test]
    fn meta_decides_the_era() {
        assert!(StatelessMeta::from_request(&req("tools/list", json!({}))).unwrap().is_none());
        let legacy = req("tools/list", json!({"_meta": {META_PROTOCOL_VERSION: "2025-11-25"}}));
        assert!(StatelessMeta::from_request(&legacy).unwrap().is_none());
        let stateless = req(
            "tools/list",
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {"sampling": {}}}}),
        );
        let m = StatelessMeta::from_request(&stateless).unwrap().unwrap();
        assert!(m.capabilities.contains("sampling"));
        let e = StatelessMeta::from_request(&req("x", json!({"_meta": {META_PROTOCOL_VERSION: "2099-01-01"}})))
            .unwrap_err();
        assert_eq!(e.code, code::UNSUPPORTED_VERSION);
        assert!(e.data.unwrap().get().contains("2026-07-28"));
        let e = StatelessMeta::from_request(&req("x", json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28"}})))
            .unwrap_err();
        assert_eq!(e.code, -32602);
    }

    #[test]
    fn a_key_spelled_with_escapes_is_still_read() {
        // JSON lets a key be written with escapes; the quick check must not
        // take such a request for a handshake-era one.
        let text = r#"{"_meta":{"io.modelcontextprotocol/\u0070rotocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}"#;
        let escaped = Request {
            id: Id::Number(1),
            method: "tools/list".into(),
            params: Some(RawValue::from_string(text.to_owned()).unwrap()),
        };
        assert!(StatelessMeta::from_request(&escaped).unwrap().is_some());
    }

    #[test]
    fn headers_must_match_the_body() {
        let call = req("tools/call", json!({"name": "srv__tool"}));
        assert!(check_headers(&call, Some("tools/call"), Some("srv__tool")).is_ok());
        assert_eq!(
            check_headers(&call, Some("tools/list"), Some("srv__tool")).unwrap_err().code,
            code::HEADER_MISMATCH
        );
        assert_eq!(check_headers(&call, Some("tools/call"), Some("other")).unwrap_err().code, code::HEADER_MISMATCH);
        assert_eq!(check_headers(&call, Some("tools/call"), None).unwrap_err().code, code::HEADER_MISMATCH);
        assert!(check_headers(&call, Some("tools/call"), Some("=?base64?c3J2X190b29s?=")).is_ok());
        assert!(check_headers(&req("tools/list", json!({})), Some("tools/list"), None).is_ok());
        let read = req("resources/read", json!({"uri": "a+file:///x"}));
        assert!(check_headers(&read, Some("resources/read"), Some("a+file:///x")).is_ok());
    }

    #[test]
    fn cache_hints_take_the_minimum_and_the_strictest_scope() {
        let page = |json: &str| serde_json::from_str::<RawObject>(json).unwrap();
        let mut h = CacheHints::default();
        h.add(&page(r#"{"ttlMs":5000,"cacheScope":"public"}"#));
        h.add(&page(r#"{"ttlMs":300,"cacheScope":"public"}"#));
        let mut r = RawObject::new();
        h.apply(&mut r);
        assert_eq!(r.to_raw().get(), r#"{"ttlMs":300,"cacheScope":"public"}"#);
        h.add(&page(r#"{"ttlMs":9000,"cacheScope":"private"}"#));
        let mut r = RawObject::new();
        h.apply(&mut r);
        assert_eq!(r.to_raw().get(), r#"{"ttlMs":300,"cacheScope":"private"}"#);
        // One server without hints: the gateway's default applies instead.
        h.add(&page(r#"{}"#));
        let mut r = RawObject::new();
        h.apply(&mut r);
        assert_eq!(r.to_raw().get(), "{}");
    }

    #[test]
    fn client_meta_stays_with_the_client() {
        let mut p: RawObject = serde_json::from_str(
            r#"{"name":"t","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":7}}"#,
        )
        .unwrap();
        strip_client_meta(&mut p);
        assert_eq!(p.to_raw().get(), r#"{"name":"t","_meta":{"progressToken":7}}"#);
        let mut only: RawObject =
            serde_json::from_str(r#"{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}"#).unwrap();
        strip_client_meta(&mut only);
        assert_eq!(only.to_raw().get(), "{}");
    }

    #[test]
    fn results_are_completed_without_losing_fields() {
        let r = complete("tools/list", RawValue::from_string(r#"{"tools":[],"x":1}"#.into()).unwrap());
        assert_eq!(r.get(), r#"{"tools":[],"x":1,"resultType":"complete","ttlMs":0,"cacheScope":"private"}"#);
        let r = complete(
            "tools/call",
            RawValue::from_string(r#"{"resultType":"input_required","requestState":"s"}"#.into()).unwrap(),
        );
        assert_eq!(r.get(), r#"{"resultType":"input_required","requestState":"s"}"#);
        let r = complete(
            "resources/read",
            RawValue::from_string(r#"{"contents":[],"ttlMs":5,"cacheScope":"public"}"#.into()).unwrap(),
        );
        assert_eq!(r.get(), r#"{"contents":[],"ttlMs":5,"cacheScope":"public","resultType":"complete"}"#);
    }
}
