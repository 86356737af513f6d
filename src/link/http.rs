//! The client side of streamable HTTP: a backend server at a URL.
//!
//! Each message is its own POST, made on the task that sends it ([`Exchange`]):
//! the answer, a JSON body or an SSE stream, is read there and handed to the
//! inbox, as a child's stdout would be, before the send ends. Connections are
//! kept alive and reused ([`Origin`]). After `initialize` the transport keeps
//! the server's `Mcp-Session-Id` and the negotiated `MCP-Protocol-Version` on
//! every request, and opens the GET stream for server-initiated messages
//! (unless the server answers 405).
//!
//! A server that forgets the session (404) gets a fresh `initialize`, replayed
//! from the one the gateway sent, and the request is retried once when it is safe
//! to repeat; otherwise it fails with an error saying so. Transport failures
//! (refused connections, HTTP errors, HTML instead of JSON) become JSON-RPC error
//! responses for the request that met them, naming the server and what happened,
//! so no caller ever waits for an answer that cannot come.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ends::{Exchange, Inbox, Link, Outbound, Outgoing};
use super::http1::{self, Origin};
use super::lifetime::{Lifetime, StopSignal};
use super::remote::{ConnectError, RemoteSpec, tls_config};
use crate::framing::lines::Line;
use crate::framing::sse::{self, Parsed};
use crate::protocol::{ErrorObject, Id, Message, RawObject, Response, Revision, code, header, jsonrpc, method};

/// Methods the transport may replay after re-initializing an expired session.
fn safe_to_repeat(m: &str) -> bool {
    matches!(
        m,
        method::PING
            | method::TOOLS_LIST
            | method::PROMPTS_LIST
            | method::RESOURCES_LIST
            | method::RESOURCES_TEMPLATES_LIST
            | method::RESOURCES_READ
            | method::PROMPTS_GET
            | method::COMPLETION_COMPLETE
            | method::RESOURCES_SUBSCRIBE
            | method::RESOURCES_UNSUBSCRIBE
            | method::LOGGING_SET_LEVEL
    )
}

// Header names and values used on every request, made once.
const VERSION_HEADER: HeaderName = HeaderName::from_static(header::PROTOCOL_VERSION);
const SESSION_HEADER: HeaderName = HeaderName::from_static(header::SESSION_ID);
const METHOD_HEADER: HeaderName = HeaderName::from_static(header::METHOD);
const NAME_HEADER: HeaderName = HeaderName::from_static(header::NAME);
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const JSON_OR_SSE: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

struct Shared {
    spec: RemoteSpec,
    /// Where requests go (`spec.url`, parsed once).
    uri: Uri,
    origin: Arc<Origin>,
    /// The configured headers (the backend's own credentials).
    headers: Vec<(HeaderName, HeaderValue)>,
    inbox: Arc<dyn Inbox>,
    session: Mutex<Option<HeaderValue>>,
    version: Mutex<Option<HeaderValue>>,
    /// The gateway's `initialize` request, replayed when the session expires.
    init: Mutex<Option<Bytes>>,
    /// Bumped by each re-initialization; serializes them.
    generation: AtomicU64,
    reinit: tokio::sync::Mutex<()>,
    get_stream: AtomicBool,
    /// Cancelled once the GET stream's first attempt has an answer (either way).
    get_opened: CancellationToken,
    stop: CancellationToken,
    /// The GET stream, and cancellations sent while the link ends.
    tasks: TaskTracker,
}

/// Creates the link. Nothing is sent until the gateway's first message.
pub fn connect(spec: RemoteSpec, inbox: Arc<dyn Inbox>) -> Result<Link, ConnectError> {
    let bad_url = |why: String| ConnectError::Url(spec.url.clone(), why);
    let uri: Uri = spec.url.parse().map_err(|e: http::uri::InvalidUri| bad_url(e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some("https") => Some(tls_config(spec.ca_file.as_deref())?),
        Some("http") => None,
        _ => return Err(bad_url("expected http:// or https://".into())),
    };
    let origin = Arc::new(Origin::new(&uri, tls).map_err(bad_url)?);
    let mut headers = Vec::new();
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        let value = HeaderValue::from_str(v).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        headers.push((name, value));
    }
    let signal = StopSignal::new();
    let stop = signal.token().clone();
    let shared = Arc::new(Shared {
        uri,
        origin,
        spec,
        headers,
        inbox,
        session: Mutex::new(None),
        version: Mutex::new(None),
        init: Mutex::new(None),
        generation: AtomicU64::new(0),
        reinit: tokio::sync::Mutex::new(()),
        get_stream: AtomicBool::new(false),
        get_opened: CancellationToken::new(),
        stop,
        tasks: TaskTracker::new(),
    });
    let task = tokio::spawn(run(shared.clone()));
    Ok(Link { outgoing: Outgoing::Exchange(shared), lifetime: Lifetime::new(None, signal, task) })
}

/// The link's life: until it is stopped, then the session ended politely.
async fn run(shared: Arc<Shared>) -> String {
    shared.stop.cancelled().await;
    shared.tasks.close();
    // Give what is still going a moment, then end the session politely.
    let _ = tokio::time::timeout(Duration::from_secs(1), shared.tasks.wait()).await;
    if let Some(session) = shared.session_id() {
        let req = shared.request(Method::DELETE, Bytes::new(), false).map(|mut r| {
            r.headers_mut().insert(SESSION_HEADER, session);
            r
        });
        if let Some(req) = req {
            let _ = tokio::time::timeout(Duration::from_secs(1), shared.origin.send(req)).await;
        }
    }
    shared.origin.close_idle();
    shared.inbox.closed();
    "stopped".to_owned()
}

impl Exchange for Shared {
    fn exchange(self: Arc<Self>, msg: Outbound) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move { self.deliver(msg).await })
    }
}

/// A header value as 2026-07-28 wants it: plain when it is visible ASCII with no
/// surrounding space, otherwise `=?base64?…?=`.
fn header_text(v: &str) -> Option<HeaderValue> {
    use base64::Engine;
    let plain =
        !v.is_empty() && v.bytes().all(|b| (0x20..0x7f).contains(&b)) && v.trim() == v && !v.starts_with("=?base64?");
    let text = if plain {
        v.to_owned()
    } else {
        format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(v))
    };
    HeaderValue::from_str(&text).ok()
}

enum Failure {
    /// The server no longer knows our session.
    Expired,
    Other(String),
}

impl From<http1::Error> for Failure {
    fn from(e: http1::Error) -> Failure {
        Failure::Other(match e {
            http1::Error::Connect(..) => format!("unreachable: {e}"),
            other => format!("answer cut short: {other}"),
        })
    }
}

impl Shared {
    fn session_id(&self) -> Option<HeaderValue> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn version(&self) -> Option<HeaderValue> {
        self.version.lock().ok().and_then(|s| s.clone())
    }

    /// A request to the server's URL with the configured headers; `None` only
    /// when the URL cannot make a request (it was checked at connect).
    fn request(&self, m: Method, body: Bytes, with_session: bool) -> Option<Request<Full<Bytes>>> {
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut req = Request::builder().method(m).uri(path).body(Full::new(body)).ok()?;
        let h = req.headers_mut();
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        if let Some(v) = self.version() {
            h.insert(VERSION_HEADER, v);
        }
        if with_session && let Some(s) = self.session_id() {
            h.insert(SESSION_HEADER, s);
        }
        Some(req)
    }

    async fn deliver(self: Arc<Self>, msg: Outbound) {
        let m = msg.method.as_deref().unwrap_or("");
        let is_init = m == method::INITIALIZE;
        let body = Bytes::from(msg.json);
        if is_init && let Ok(mut i) = self.init.lock() {
            *i = Some(body.clone());
        }
        if m == method::INITIALIZED {
            // The server may announce things (list changes) as soon as it hears
            // `initialized`, on the GET stream: let that stream open first.
            let _ = tokio::time::timeout(Duration::from_secs(2), self.get_opened.cancelled()).await;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(name) = &msg.stateless {
            // Stateless: no session, and the headers that mirror the body.
            let outcome = self.post_stateless(&body, m, name.as_deref(), msg.id.as_ref()).await;
            if let (Err(f), Some(id)) = (outcome, msg.id) {
                let why = match f {
                    Failure::Other(why) => why,
                    Failure::Expired => "answered 404".to_owned(),
                };
                self.fail(id, m, why);
            }
            return;
        }
        let outcome = match self.post(&body, is_init, true).await {
            Err(Failure::Expired) => {
                tracing::info!(server = %self.spec.server, "the server expired our session; initializing a new one");
                match self.reinitialize(generation).await {
                    Err(why) => Err(format!("its session expired and a new one could not be started: {why}")),
                    Ok(()) if safe_to_repeat(m) => match self.post(&body, false, true).await {
                        Ok(()) => Ok(()),
                        Err(Failure::Expired) => {
                            Err("its session expired again right after a new one was started".into())
                        }
                        Err(Failure::Other(why)) => Err(why),
                    },
                    Ok(()) if msg.id.is_none() => Ok(()),
                    Ok(()) => Err(format!(
                        "its session expired; vmcp started a new one but did not repeat {m} because it may not be safe to repeat"
                    )),
                }
            }
            Err(Failure::Other(why)) => Err(why),
            Ok(()) => Ok(()),
        };
        if outcome.is_ok() && is_init {
            open_get_stream_once(&self);
        }
        if let (Err(why), Some(id)) = (outcome, msg.id) {
            self.fail(id, m, why);
        }
    }

    /// Answers a request the transport could not deliver with an error naming
    /// the server and why.
    fn fail(&self, id: Id, method: &str, why: String) {
        tracing::warn!(server = %self.spec.server, method, "{why}");
        let e = ErrorObject::new(
            code::SERVER_UNAVAILABLE,
            format!("server '{}' ({}): {why}", self.spec.server, self.spec.url),
        )
        .with_data(&serde_json::json!({ "server": self.spec.server, "reason": "transport" }));
        self.inbox.receive(Line::Data(Message::Response(Response::err(id, e)).to_json().into_bytes()));
    }

    /// Sends `req`, unless the link is stopping.
    async fn send(&self, req: Request<Full<Bytes>>) -> Result<http1::Response, Failure> {
        tokio::select! {
            r = self.origin.send(req) => Ok(r?),
            _ = self.stop.cancelled() => Err(Failure::Other("the connection is closing".into())),
        }
    }

    /// POSTs a 2026-07-28 request: no session; `MCP-Protocol-Version`,
    /// `Mcp-Method` and `Mcp-Name` from the body. A 4xx with a JSON-RPC error
    /// body is that request's answer.
    async fn post_stateless(&self, body: &Bytes, m: &str, name: Option<&str>, id: Option<&Id>) -> Result<(), Failure> {
        let Some(mut req) = self.request(Method::POST, body.clone(), false) else {
            return Err(Failure::Other("cannot make a request to its URL".into()));
        };
        let h = req.headers_mut();
        h.insert(CONTENT_TYPE, JSON);
        h.insert(ACCEPT, JSON_OR_SSE);
        h.insert(VERSION_HEADER, HeaderValue::from_static(Revision::V2026_07_28.as_str()));
        if let Some(v) = header_text(m) {
            h.insert(METHOD_HEADER, v);
        }
        if let Some(v) = name.and_then(header_text) {
            h.insert(NAME_HEADER, v);
        }
        let mut resp = self.send(req).await?;
        let status = resp.status;
        if status.as_u16() == 202 {
            return Ok(());
        }
        let (sse, json) = {
            let ctype = content_type(&resp);
            (is_type(ctype, "text/event-stream"), is_type(ctype, "application/json"))
        };
        if sse && status.is_success() {
            return self.pump_sse(resp, false, true, false).await;
        }
        if json && (status.is_success() || status.is_client_error()) {
            let body = self.read_bounded(&mut resp).await?;
            match jsonrpc::parse_message(&body) {
                // An error about this very request is its answer.
                Ok(Message::Response(r)) if status.is_client_error() && Some(&r.id) != id => {
                    let why = r.outcome.err().map(|e| e.message).unwrap_or_default();
                    return Err(Failure::Other(format!("answered HTTP {status}: {why}")));
                }
                Ok(_) => {
                    self.inbox.receive(Line::Data(body));
                    return Ok(());
                }
                Err(_) => {
                    return Err(Failure::Other(format!("answered HTTP {status} with a body that is not JSON-RPC")));
                }
            }
        }
        let body = resp.snippet().await;
        Err(Failure::Other(format!("answered HTTP {status}{body}")))
    }

    /// POSTs one message and hands what comes back to the inbox.
    async fn post(&self, body: &Bytes, is_init: bool, forward: bool) -> Result<(), Failure> {
        let had_session = self.session_id().is_some();
        let Some(mut req) = self.request(Method::POST, body.clone(), !is_init) else {
            return Err(Failure::Other("cannot make a request to its URL".into()));
        };
        req.headers_mut().insert(CONTENT_TYPE, JSON);
        req.headers_mut().insert(ACCEPT, JSON_OR_SSE);
        let mut resp = self.send(req).await?;
        let status = resp.status;
        if status.as_u16() == 404 && had_session && !is_init {
            return Err(Failure::Expired);
        }
        if status.as_u16() == 202 {
            return Ok(());
        }
        if !status.is_success() {
            let body = resp.snippet().await;
            return Err(Failure::Other(format!("answered HTTP {status}{body}")));
        }
        if is_init
            && let Some(s) = resp.headers.get(SESSION_HEADER)
            && let Ok(mut slot) = self.session.lock()
        {
            *slot = Some(s.clone());
        }
        let ctype = content_type(&resp);
        if is_type(ctype, "text/event-stream") {
            self.pump_sse(resp, is_init, forward, false).await
        } else if is_type(ctype, "application/json") {
            let body = self.read_bounded(&mut resp).await?;
            if is_init {
                self.learn_version(&body);
            }
            // An empty body acknowledges a notification or a response.
            if forward && !body.iter().all(u8::is_ascii_whitespace) {
                self.inbox.receive(Line::Data(body));
            }
            Ok(())
        } else if ctype.is_empty() && status.as_u16() == 200 {
            // Some servers acknowledge notifications with an empty 200.
            let _ = self.read_bounded(&mut resp).await;
            Ok(())
        } else {
            Err(Failure::Other(format!("answered with Content-Type {ctype:?}, not JSON or an event stream")))
        }
    }

    fn learn_version(&self, body: &[u8]) {
        let version = jsonrpc::parse_message(body).ok().and_then(|m| match m {
            Message::Response(Response { outcome: Ok(result), .. }) => {
                RawObject::parse(&result).ok().and_then(|o| o.get_str("protocolVersion"))
            }
            _ => None,
        });
        if let (Some(v), Ok(mut slot)) = (version.and_then(|v| HeaderValue::from_str(&v).ok()), self.version.lock()) {
            *slot = Some(v);
        }
    }

    async fn read_bounded(&self, resp: &mut http1::Response) -> Result<Vec<u8>, Failure> {
        let limit = self.spec.max_message_size;
        match resp.bytes(limit).await? {
            Ok(body) => Ok(body),
            Err(_) => Err(Failure::Other(format!("its answer exceeds gateway.max_message_size ({limit} bytes)"))),
        }
    }

    /// Hands every `message` event of an SSE body to the inbox.
    async fn pump_sse(
        &self,
        mut resp: http1::Response,
        is_init: bool,
        forward: bool,
        standalone: bool,
    ) -> Result<(), Failure> {
        let mut parser = sse::Parser::new(self.spec.max_message_size);
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                _ = self.stop.cancelled() => return Ok(()),
            };
            let chunk = match chunk {
                Ok(Some(c)) => c,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Failure::Other(format!("event stream cut short: {e}"))),
            };
            for parsed in parser.push(&chunk) {
                match parsed {
                    // An event without data primes reconnection (an id only): nothing to forward.
                    Parsed::Event(ev) if ev.data.trim().is_empty() => {}
                    Parsed::Event(ev) if matches!(ev.event.as_deref(), None | Some("message")) => {
                        if is_init {
                            self.learn_version(ev.data.as_bytes());
                        }
                        if forward {
                            self.inbox.receive(Line::Data(ev.data.into_bytes()));
                        }
                    }
                    Parsed::Event(_) => {}
                    // On a request's own stream the oversized event is (most likely) its
                    // answer: fail that request. On the GET stream, report it.
                    Parsed::TooLarge(n) if forward && !standalone => {
                        return Err(Failure::Other(format!(
                            "its answer ({n} bytes or more) exceeds gateway.max_message_size"
                        )));
                    }
                    Parsed::TooLarge(n) => self.inbox.receive(Line::TooLong(n)),
                }
            }
        }
    }

    /// Starts a new session by replaying the gateway's `initialize`.
    async fn reinitialize(&self, seen: u64) -> Result<(), String> {
        let _serial = self.reinit.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return Ok(()); // another request already did it
        }
        let init = self.init.lock().ok().and_then(|i| i.clone()).ok_or("no initialize to replay")?;
        if let Ok(mut s) = self.session.lock() {
            *s = None;
        }
        match self.post(&init, true, false).await {
            Ok(()) => {}
            Err(Failure::Expired) => return Err("the server refused a new session".into()),
            Err(Failure::Other(why)) => return Err(why),
        }
        let initialized = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        if let Err(Failure::Other(why)) = self.post(&initialized, false, false).await {
            return Err(why);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// The response's Content-Type as sent ("" when absent or not text); compare
/// it with [`is_type`], which ignores case as media types do.
fn content_type(resp: &http1::Response) -> &str {
    resp.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Whether `ctype` is the media type `mime` (lowercase), parameters aside.
fn is_type(ctype: &str, mime: &str) -> bool {
    ctype.get(..mime.len()).is_some_and(|head| head.eq_ignore_ascii_case(mime))
}

/// The standalone GET stream: server-initiated messages outside any request.
/// Opened once a session exists; reopened (with backoff) when it drops, until
/// the server says it has none (405) or the link stops.
fn open_get_stream_once(shared: &Arc<Shared>) {
    if shared.get_stream.swap(true, Ordering::AcqRel) {
        return;
    }
    let s = shared.clone();
    shared.tasks.spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            if s.stop.is_cancelled() {
                return;
            }
            let sent = match s.request(Method::GET, Bytes::new(), true) {
                Some(mut req) => {
                    req.headers_mut().insert(ACCEPT, EVENT_STREAM);
                    s.send(req).await
                }
                None => return,
            };
            s.get_opened.cancel();
            match sent {
                Ok(resp) if resp.status.as_u16() == 405 => {
                    tracing::debug!(server = %s.spec.server, "no GET stream (405)");
                    return;
                }
                Ok(resp) if resp.status.is_success() => {
                    backoff = Duration::from_millis(500);
                    let _ = s.pump_sse(resp, false, true, true).await;
                }
                Ok(resp) => tracing::debug!(server = %s.spec.server, status = %resp.status, "GET stream refused"),
                Err(Failure::Other(why)) => tracing::debug!(server = %s.spec.server, "GET stream: {why}"),
                Err(Failure::Expired) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = s.stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}
