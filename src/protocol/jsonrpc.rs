//! The JSON-RPC 2.0 envelope: ids, messages, error objects, and the parse step that
//! turns bytes into one of them.
//!
//! Only the envelope is parsed. `params`, `result` and `error.data` stay as raw JSON
//! ([`RawValue`]) so that what a peer sent reaches the other side byte for byte; the
//! gateway parses a body only where it must rewrite a name, an id or a cursor.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Standard JSON-RPC error codes.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP: a resource that does not exist.
    pub const RESOURCE_NOT_FOUND: i64 = -32002;
    /// vmcp: the server that owns the request is not running or not ready.
    pub const SERVER_UNAVAILABLE: i64 = -32010;
    /// vmcp: the server did not answer within its request timeout.
    pub const SERVER_TIMEOUT: i64 = -32011;
    /// vmcp: the connection to the server was lost while the request was in flight.
    pub const SERVER_GONE: i64 = -32012;
    /// vmcp: a message was larger than `gateway.max_message_size`.
    pub const MESSAGE_TOO_LARGE: i64 = -32013;
    /// vmcp: the session this request belongs to is closing or the gateway is shutting down.
    pub const SHUTTING_DOWN: i64 = -32014;
    /// The request was cancelled (the code LSP uses; MCP names none).
    pub const REQUEST_CANCELLED: i64 = -32800;
    /// vmcp: the replicas of a server all have their circuit open.
    pub const CIRCUIT_OPEN: i64 = -32015;
    /// vmcp: a concurrency limit is reached; try again shortly.
    pub const OVERLOADED: i64 = -32016;
    /// vmcp: a rate limit is reached; `error.data.retryAfterMs` says when to retry.
    pub const RATE_LIMITED: i64 = -32017;
    /// vmcp: a routing rule (or, later, a policy) refuses the request.
    pub const DENIED: i64 = -32018;
}

/// A request id. JSON-RPC allows strings and numbers; `null` only appears in error
/// responses to requests whose id could not be read, which is [`Message::Response`]
/// with [`Id::Null`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Number(i64),
    /// A number that is not an `i64` (a float or a big unsigned), kept as written.
    OtherNumber(String),
    String(String),
    Null,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::OtherNumber(s) => f.write_str(s),
            Id::String(s) => write!(f, "{s:?}"),
            Id::Null => f.write_str("null"),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Number(n) => s.serialize_i64(*n),
            Id::OtherNumber(text) => match RawValue::from_string(text.clone()) {
                Ok(raw) => raw.serialize(s),
                Err(e) => Err(serde::ser::Error::custom(e)),
            },
            Id::String(v) => s.serialize_str(v),
            Id::Null => s.serialize_unit(),
        }
    }
}

impl Id {
    /// Reads an id from its raw JSON text. `None` when it is neither a string, a
    /// number nor null (an object or array id is an invalid request).
    pub fn from_raw(raw: &RawValue) -> Option<Id> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(text).ok().map(Id::String),
            Some(b'n') if text == "null" => Some(Id::Null),
            Some(b'-' | b'0'..=b'9') => Some(match text.parse::<i64>() {
                Ok(n) => Id::Number(n),
                Err(_) => Id::OtherNumber(text.to_owned()),
            }),
            _ => None,
        }
    }
}

/// The `error` member of a response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    /// Kept as sent, `null` included (a present `null` is not an absent member).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present_owned")]
    pub data: Option<Box<RawValue>>,
}

impl ErrorObject {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject { code, message: message.into(), data: None }
    }

    /// Attaches `data`; a value that cannot be serialized is left out rather than
    /// turning an error report into a second error.
    pub fn with_data(mut self, data: &impl Serialize) -> Self {
        self.data = serde_json::value::to_raw_value(data).ok();
        self
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// A request: something that expects an answer.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: Id,
    pub method: String,
    pub params: Option<Box<RawValue>>,
}

/// A notification: a method call without an id, never answered.
#[derive(Debug, Clone)]
pub struct Notification {
    pub method: String,
    pub params: Option<Box<RawValue>>,
}

/// A response: the answer to a request, a result or an error.
#[derive(Debug, Clone)]
pub struct Response {
    pub id: Id,
    pub outcome: Result<Box<RawValue>, ErrorObject>,
}

impl Response {
    pub fn ok(id: Id, result: Box<RawValue>) -> Self {
        Response { id, outcome: Ok(result) }
    }

    pub fn err(id: Id, error: ErrorObject) -> Self {
        Response { id, outcome: Err(error) }
    }

    /// Serializes the response, consuming it. A large result is not copied:
    /// its own buffer gets the envelope written around it (the bytes move
    /// within the buffer), so a 10 MiB result is never held twice here.
    pub fn into_json(self) -> String {
        match self.outcome {
            Ok(raw) if raw.get().len() >= LARGE_RESULT => {
                let id = serde_json::to_string(&self.id).unwrap_or_else(|_| "null".to_owned());
                let prefix = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#);
                let text: Box<str> = raw.into();
                let mut text = String::from(text);
                text.reserve_exact(prefix.len() + 1);
                text.insert_str(0, &prefix);
                text.push('}');
                text
            }
            outcome => Message::Response(Response { id: self.id, outcome }).to_json(),
        }
    }
}

/// One JSON-RPC message.
#[derive(Debug, Clone)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

impl Message {
    /// Serializes to compact JSON. Cannot fail for messages built from raw JSON
    /// (every field is either a string, a number or already-valid JSON).
    pub fn to_json(&self) -> String {
        // `serde_json::to_string` only fails for maps with non-string keys or for
        // Serialize impls that fail; neither occurs here, so fall back to an
        // internal error message rather than panicking.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32603,"message":"vmcp could not serialize a message: {}"}}}}"#,
                e.to_string().replace('"', "'")
            )
        })
    }

    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request(r) => Some(&r.method),
            Message::Notification(n) => Some(&n.method),
            Message::Response(_) => None,
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}
impl From<Notification> for Message {
    fn from(n: Notification) -> Self {
        Message::Notification(n)
    }
}
impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("jsonrpc", "2.0")?;
        match self {
            Message::Request(r) => {
                map.serialize_entry("id", &r.id)?;
                map.serialize_entry("method", &r.method)?;
                if let Some(p) = &r.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Message::Notification(n) => {
                map.serialize_entry("method", &n.method)?;
                if let Some(p) = &n.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Message::Response(r) => {
                map.serialize_entry("id", &r.id)?;
                match &r.outcome {
                    Ok(result) => map.serialize_entry("result", result)?,
                    Err(error) => map.serialize_entry("error", error)?,
                }
            }
        }
        map.end()
    }
}

/// Why a message could not be parsed, and what to answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all: answered with -32700 and a null id.
    #[error("parse error: {0}")]
    Json(String),
    /// JSON, but not a valid JSON-RPC 2.0 message: answered with -32600 and the
    /// message's id when one could be read.
    #[error("invalid request: {reason}")]
    Invalid { id: Option<Id>, reason: String },
}

impl ParseError {
    /// The error response this parse failure deserves.
    pub fn to_response(&self) -> Response {
        match self {
            ParseError::Json(msg) => {
                Response::err(Id::Null, ErrorObject::new(code::PARSE_ERROR, format!("Parse error: {msg}")))
            }
            ParseError::Invalid { id, reason } => Response::err(
                id.clone().unwrap_or(Id::Null),
                ErrorObject::new(code::INVALID_REQUEST, format!("Invalid request: {reason}")),
            ),
        }
    }
}

/// The wire shape, before classification. Unknown members are ignored, as JSON-RPC
/// has no extension members and some peers add their own.
/// Members are borrowed from the text; only what a message keeps (params, a
/// result) is copied out, once it is known to be well formed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// Keeps `"id": null` as `Some(null)` so it can be told apart from a missing id.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// [`present`] for an owned member.
fn present_owned<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// The result of reading one frame: a single message or a batch (JSON-RPC 2.0
/// batches, which MCP 2025-03-26 allowed).
#[derive(Debug)]
pub enum Frame {
    Single(Result<Message, ParseError>),
    Batch(Vec<Result<Message, ParseError>>),
}

/// Parses one frame of bytes, refusing nesting deeper than `max_depth` levels
/// of arrays and objects (`gateway.max_json_depth` for what clients send)
/// before any parser recurses into it.
pub fn parse_frame(bytes: &[u8], max_depth: u32) -> Frame {
    let max = max_depth.max(2);
    if let Err(depth) = check_depth(bytes, max) {
        return Frame::Single(Err(ParseError::Json(format!(
            "nesting deeper than {max} levels (at least {depth}; gateway.max_json_depth)"
        ))));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let items: Vec<Box<RawValue>> = match serde_json::from_slice(bytes) {
            Ok(items) => items,
            Err(e) => return Frame::Single(Err(ParseError::Json(e.to_string()))),
        };
        if items.is_empty() {
            return Frame::Single(Err(ParseError::Invalid { id: None, reason: "empty batch".into() }));
        }
        return Frame::Batch(items.iter().map(|raw| parse_message(raw.get().as_bytes())).collect());
    }
    Frame::Single(parse_message(bytes))
}

/// A response whose result is at least this large is read by [`take_result`].
pub const LARGE_RESULT: usize = 1 << 20;

/// The members of a plain result response, borrowed from the text.
#[derive(Deserialize)]
struct ResultView<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    /// Not a member of a response, but [`parse_message`] checks it wherever it
    /// appears: with it the message goes there, so the verdict never depends on size.
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// Reads a result response without copying its result: the result's bytes are
/// moved to the front of the buffer they arrived in, which then becomes the raw
/// value. A 10 MiB tool result then costs 10 MiB, not 20, on its way in.
/// Anything else (a request, an error, a malformed message) is handed back
/// untouched for [`parse_message`].
pub fn take_result(mut bytes: Vec<u8>) -> Result<Response, Vec<u8>> {
    // An object, not the array serde would also read the view from.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bytes);
    }
    let (id, start, len) = {
        let Ok(view) = serde_json::from_slice::<ResultView<'_>>(&bytes) else { return Err(bytes) };
        let plain = view.jsonrpc.map(RawValue::get) == Some("\"2.0\"")
            && view.method.is_none()
            && view.error.is_none()
            && view.params.is_none();
        let (Some(result), Some(id), true) = (view.result, view.id.and_then(Id::from_raw), plain) else {
            return Err(bytes);
        };
        let start = result.get().as_ptr() as usize - bytes.as_ptr() as usize;
        (id, start, result.get().len())
    };
    bytes.copy_within(start..start + len, 0);
    bytes.truncate(len);
    // The bytes were one JSON value inside valid JSON text: UTF-8, and a value.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Err(e.into_bytes()),
    };
    match RawValue::from_string(text) {
        Ok(raw) => Ok(Response { id, outcome: Ok(raw) }),
        Err(_) => Err(Vec::new()),
    }
}

/// Scans for nesting deeper than `max` without parsing: one pass over the
/// bytes, strings skipped. A deep message is refused before any parser
/// recurses into it (and before serde_json's own fixed limit of 128).
fn check_depth(bytes: &[u8], max: u32) -> Result<(), u32> {
    // Nesting cannot go deeper than the number of openers: most messages have
    // few, and this count runs at memory speed.
    if bytes.iter().filter(|&&b| b == b'{' || b == b'[').count() <= max as usize {
        return Ok(());
    }
    let mut depth = 0u32;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(depth);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses exactly one message (no batch).
pub fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    // serde would read the envelope from an array of its members too; JSON-RPC
    // messages are objects. Only `{` may open one (JSON-level errors in what
    // follows are still reported as parse errors below).
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(_) => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
                return Err(ParseError::Invalid {
                    id: None,
                    reason: "a JSON-RPC message must be a JSON object".into(),
                });
            }
        }
    }
    let env: Envelope = match serde_json::from_slice(bytes) {
        Ok(env) => env,
        Err(e) if e.is_data() => {
            // Valid JSON of the wrong shape (not an object, or a member of the wrong type).
            return Err(ParseError::Invalid { id: None, reason: e.to_string() });
        }
        Err(e) => return Err(ParseError::Json(e.to_string())),
    };
    let id = match &env.id {
        None => None,
        Some(raw) => match Id::from_raw(raw) {
            Some(id) => Some(id),
            None => {
                return Err(ParseError::Invalid {
                    id: None,
                    reason: "\"id\" must be a string, a number or null".into(),
                });
            }
        },
    };
    let invalid = |reason: &str| ParseError::Invalid { id: id.clone(), reason: reason.into() };
    match env.jsonrpc.map(RawValue::get) {
        Some("\"2.0\"") => {}
        Some(_) => return Err(invalid("\"jsonrpc\" must be \"2.0\"")),
        None => return Err(invalid("missing \"jsonrpc\": \"2.0\"")),
    }
    if let Some(p) = &env.params
        && !matches!(p.get().as_bytes().first(), Some(b'{' | b'['))
    {
        return Err(invalid("\"params\" must be an object or an array"));
    }
    match (env.method, id.clone()) {
        (Some(method), id) => {
            let method: String =
                serde_json::from_str(method.get()).map_err(|_| invalid("\"method\" must be a string"))?;
            if env.result.is_some() || env.error.is_some() {
                return Err(invalid("a request cannot carry \"result\" or \"error\""));
            }
            match id {
                None => Ok(Message::Notification(Notification { method, params: env.params.map(RawValue::to_owned) })),
                Some(Id::Null) => Err(ParseError::Invalid { id: None, reason: "a request id cannot be null".into() }),
                Some(id) => Ok(Message::Request(Request { id, method, params: env.params.map(RawValue::to_owned) })),
            }
        }
        (None, Some(id)) => match (env.result, env.error) {
            (Some(result), None) => Ok(Message::Response(Response::ok(id, result.to_owned()))),
            (None, Some(error)) => {
                let error: ErrorObject = serde_json::from_str(error.get())
                    .map_err(|e| ParseError::Invalid { id: Some(id.clone()), reason: format!("bad \"error\": {e}") })?;
                Ok(Message::Response(Response::err(id, error)))
            }
            (Some(_), Some(_)) => Err(invalid("a response cannot carry both \"result\" and \"error\"")),
            (None, None) => Err(invalid("missing \"method\" (request) or \"result\"/\"error\" (response)")),
        },
        (None, None) => Err(invalid("missing \"method\"")),
    }
}

/// Serializes any value to raw JSON. Used to build results the gateway answers itself.
pub fn to_raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| empty_object())
}

/// `{}` as raw JSON.
pub fn empty_object() -> Box<RawValue> {
    // "{}" is valid JSON, so this cannot fail; the fallback keeps the function total.
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// Deserialize helper: reject with a message naming what was expected.
pub fn from_params<T: de::DeserializeOwned>(params: Option<&RawValue>) -> Result<T, ErrorObject> {
    let text = params.map(RawValue::get).unwrap_or("{}");
    serde_json::from_str(text).map_err(|e| ErrorObject::new(code::INVALID_PARAMS, format!("Invalid params: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(text: &str) -> Result<Message, ParseError> {
        match parse_frame(text.as_bytes(), 64) {
            Frame::Single(m) => m,
            Frame::Batch(_) => panic!("unexpected batch"),
        }
    }

    #[test]
    fn large_results_serialize_in_their_own_buffer_and_read_back_the_same() {
        let body =
            format!(r#"{{"content":[{{"type":"text","text":"{}"}}],"_meta":{{"k":1.50}}}}"#, "x".repeat(LARGE_RESULT));
        let raw = RawValue::from_string(body.clone()).unwrap();
        let json = Response::ok(Id::String("a".into()), raw).into_json();
        assert_eq!(
            json,
            Message::Response(Response::ok(Id::String("a".into()), RawValue::from_string(body).unwrap())).to_json()
        );
        let small = Response::ok(Id::Number(1), RawValue::from_string("{}".into()).unwrap()).into_json();
        assert_eq!(small, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    }

    #[test]
    fn large_results_are_taken_in_place_and_anything_else_is_handed_back() {
        let text =
            r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"x\ny"}],"_meta":{"k":1.50}}}"#;
        let r = take_result(text.as_bytes().to_vec()).expect("a result");
        assert_eq!(r.id, Id::Number(7));
        assert_eq!(r.outcome.unwrap().get(), r#"{"content":[{"type":"text","text":"x\ny"}],"_meta":{"k":1.50}}"#);
        for other in [
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":[1],"result":{}}"#,
            // Found by the jsonrpc fuzz target: parse_message refuses it, so must this.
            r#"{"jsonrpc":"2.0","id":1,"result":{},"params":5}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{},"result":{}}"#,
            r#"["2.0",1,{}]"#,
            "not json",
        ] {
            assert_eq!(take_result(other.as_bytes().to_vec()).unwrap_err(), other.as_bytes(), "{other}");
        }
    }

    #[test]
    fn nesting_is_limited_before_parsing_and_strings_do_not_count() {
        assert_eq!(check_depth(br#"{"a":[[1]]}"#, 3), Ok(()));
        assert_eq!(check_depth(br#"{"a":[[[1]]]}"#, 3), Err(4));
        assert_eq!(check_depth(br#"{"a":"[[[[[[\"[[[["}"#, 1), Ok(()));
        let deep =
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        match single(&deep) {
            Err(ParseError::Json(m)) => assert!(m.contains("max_json_depth"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_round_trips_params_byte_for_byte() {
        let text =
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"b":1.50,"a":[true,null],"_meta":{"x":"y"}}}"#;
        let msg = single(text).unwrap();
        assert_eq!(msg.to_json(), text);
    }

    #[test]
    fn ids_keep_their_type() {
        for (raw, id) in [
            ("1", Id::Number(1)),
            ("-5", Id::Number(-5)),
            ("\"abc\"", Id::String("abc".into())),
            ("1.5", Id::OtherNumber("1.5".into())),
            ("18446744073709551615", Id::OtherNumber("18446744073709551615".into())),
        ] {
            let text = format!(r#"{{"jsonrpc":"2.0","id":{raw},"method":"ping"}}"#);
            let Message::Request(r) = single(&text).unwrap() else { panic!("not a request") };
            assert_eq!(r.id, id);
            assert_eq!(Message::Request(r).to_json(), text);
        }
    }

    #[test]
    fn notification_has_no_id() {
        let m = single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(m, Message::Notification(n) if n.method == "notifications/initialized"));
    }

    #[test]
    fn responses_result_and_error() {
        let ok = single(r#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#).unwrap();
        assert!(matches!(ok, Message::Response(Response { outcome: Ok(_), .. })));
        let err = single(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad","data":[1]}}"#).unwrap();
        let Message::Response(Response { id: Id::Null, outcome: Err(e) }) = err else { panic!() };
        assert_eq!(e.code, -32700);
        assert_eq!(e.data.unwrap().get(), "[1]");
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        let e = single("{\"jsonrpc\":").unwrap_err();
        assert_eq!(e.to_response().outcome.unwrap_err().code, code::PARSE_ERROR);
    }

    #[test]
    fn wrong_version_is_invalid_request_with_id() {
        let e = single(r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#).unwrap_err();
        let r = e.to_response();
        assert_eq!(r.id, Id::Number(3));
        assert_eq!(r.outcome.unwrap_err().code, code::INVALID_REQUEST);
    }

    #[test]
    fn shapes_that_are_invalid_requests() {
        for text in [
            "42",
            r#"{"jsonrpc":"2.0"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}"#,
        ] {
            let e = single(text).unwrap_err();
            assert_eq!(e.to_response().outcome.unwrap_err().code, code::INVALID_REQUEST, "{text}");
        }
    }

    #[test]
    fn batches() {
        let Frame::Batch(items) = parse_frame(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5]"#, 64) else {
            panic!("not a batch")
        };
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        let Frame::Single(Err(e)) = parse_frame(b" []", 64) else { panic!() };
        assert!(matches!(e, ParseError::Invalid { .. }));
    }
}
