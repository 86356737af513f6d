//! The client side of streamable HTTP: a backend server at a URL.
//!
//! Each message is its own POST (concurrently; one pooled client for every HTTP
//! backend, TCP_NODELAY set). Answers come as JSON or as an SSE stream and are fed
//! to the link's incoming channel, as a child's stdout would be. After
//! `initialize` the transport keeps the server's `Mcp-Session-Id` and the
//! negotiated `MCP-Protocol-Version` on every request, and opens the GET stream
//! for server-initiated messages (unless the server answers 405).
//!
//! A server that forgets the session (404) gets a fresh `initialize`, replayed
//! from the one the gateway sent, and the request is retried once when it is safe
//! to repeat; otherwise it fails with an error saying so. Transport failures
//! (refused connections, HTTP errors, HTML instead of JSON) become JSON-RPC error
//! responses for the request that met them, naming the server and what happened,
//! so no caller ever waits for an answer that cannot come.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::lifetime::{Lifetime, Link, StopSignal};
use super::remote::{ConnectError, RemoteSpec, client_for};
use crate::framing::lines::Line;
use crate::framing::sse::{self, Parsed};
use crate::observe::error_chain;
use crate::protocol::stateless::{self, StatelessMeta};
use crate::protocol::{ErrorObject, Id, Message, RawObject, Response, code, header, jsonrpc, method};

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

// Header names and values used on every request, made once rather than parsed
// from strings each time.
const VERSION_HEADER: HeaderName = HeaderName::from_static(header::PROTOCOL_VERSION);
const SESSION_HEADER: HeaderName = HeaderName::from_static(header::SESSION_ID);
const METHOD_HEADER: HeaderName = HeaderName::from_static(header::METHOD);
const NAME_HEADER: HeaderName = HeaderName::from_static(header::NAME);
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const JSON_OR_SSE: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");

struct Shared {
    spec: RemoteSpec,
    /// `spec.url`, parsed once (reqwest would parse the string on every request).
    url: reqwest::Url,
    headers: HeaderMap,
    http: reqwest::Client,
    incoming: mpsc::Sender<Line>,
    session: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
    /// The gateway's `initialize` request, replayed when the session expires.
    init: Mutex<Option<Bytes>>,
    /// Bumped by each re-initialization; serializes them.
    generation: AtomicU64,
    reinit: tokio::sync::Mutex<()>,
    get_stream: AtomicBool,
    /// Cancelled once the GET stream's first attempt has an answer (either way).
    get_opened: CancellationToken,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// Creates the link. Nothing is sent until the gateway's first message.
pub fn connect(spec: RemoteSpec) -> Result<Link, ConnectError> {
    let url = reqwest::Url::parse(&spec.url).map_err(|e| ConnectError::Url(spec.url.clone(), e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConnectError::Url(spec.url.clone(), "expected http:// or https://".into()));
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        let value = HeaderValue::from_str(v).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        headers.insert(name, value);
    }
    let http = client_for(&spec)?;
    let (out_tx, out_rx) = mpsc::channel::<String>(256);
    let (in_tx, in_rx) = mpsc::channel::<Line>(256);
    let signal = StopSignal::new();
    let stop = signal.token().clone();
    let shared = Arc::new(Shared {
        url,
        spec,
        headers,
        http,
        incoming: in_tx,
        session: Mutex::new(None),
        version: Mutex::new(None),
        init: Mutex::new(None),
        generation: AtomicU64::new(0),
        reinit: tokio::sync::Mutex::new(()),
        get_stream: AtomicBool::new(false),
        get_opened: CancellationToken::new(),
        stop: stop.clone(),
        tasks: TaskTracker::new(),
    });
    let task = tokio::spawn(run(shared, out_rx));
    Ok(Link { outgoing: out_tx, incoming: in_rx, lifetime: Lifetime::new(None, signal, task) })
}

async fn run(shared: Arc<Shared>, mut out: mpsc::Receiver<String>) -> String {
    let why = loop {
        tokio::select! {
            msg = out.recv() => match msg {
                Some(msg) => {
                    let s = shared.clone();
                    shared.tasks.spawn(async move { s.deliver(msg).await });
                }
                None => break "the gateway closed the connection".to_owned(),
            },
            _ = shared.stop.cancelled() => break "stopped".to_owned(),
        }
    };
    shared.stop.cancel();
    shared.tasks.close();
    // Give requests in flight a moment, then end the session politely.
    let _ = tokio::time::timeout(Duration::from_secs(1), shared.tasks.wait()).await;
    if let Some(session) = shared.session_id() {
        let req =
            shared.http.delete(shared.url.clone()).headers(shared.headers.clone()).header(SESSION_HEADER, session);
        let _ = tokio::time::timeout(Duration::from_secs(1), req.send()).await;
    }
    why
}

/// What the transport needs to know of an outgoing message.
struct Peek {
    id: Option<Id>,
    method: String,
    /// For a 2026-07-28 request: the `Mcp-Name` value, if its method has one.
    stateless: Option<Option<String>>,
}

fn peek(msg: &str) -> Peek {
    match jsonrpc::parse_message(msg.as_bytes()) {
        Ok(Message::Request(r)) => {
            let stateless =
                matches!(StatelessMeta::from_request(&r), Ok(Some(_))).then(|| stateless::expected_name(&r));
            Peek { id: Some(r.id), method: r.method, stateless }
        }
        Ok(Message::Notification(n)) => Peek { id: None, method: n.method, stateless: None },
        _ => Peek { id: None, method: String::new(), stateless: None },
    }
}

/// A header value as 2026-07-28 wants it: plain when it is visible ASCII with no
/// surrounding space, otherwise `=?base64?…?=`.
fn header_text(v: &str) -> String {
    use base64::Engine;
    let plain =
        !v.is_empty() && v.bytes().all(|b| (0x20..0x7f).contains(&b)) && v.trim() == v && !v.starts_with("=?base64?");
    if plain { v.to_owned() } else { format!("=?base64?{}?=", base64::engine::general_purpose::STANDARD.encode(v)) }
}

enum Failure {
    /// The server no longer knows our session.
    Expired,
    Other(String),
}

impl Shared {
    fn session_id(&self) -> Option<String> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn version(&self) -> Option<String> {
        self.version.lock().ok().and_then(|s| s.clone())
    }

    async fn deliver(self: Arc<Self>, msg: String) {
        let p = peek(&msg);
        let is_init = p.method == method::INITIALIZE;
        let msg = Bytes::from(msg);
        if is_init && let Ok(mut i) = self.init.lock() {
            *i = Some(msg.clone());
        }
        if p.method == method::INITIALIZED {
            // The server may announce things (list changes) as soon as it hears
            // `initialized`, on the GET stream: let that stream open first.
            let _ = tokio::time::timeout(Duration::from_secs(2), self.get_opened.cancelled()).await;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(name) = &p.stateless {
            // Stateless: no session, and the headers that mirror the body.
            let outcome = self.post_stateless(&msg, &p.method, name.as_deref(), p.id.as_ref()).await;
            if let (Err(f), Some(id)) = (outcome, p.id) {
                let why = match f {
                    Failure::Other(why) => why,
                    Failure::Expired => "answered 404".to_owned(),
                };
                self.fail(id, &p.method, why).await;
            }
            return;
        }
        let outcome = match self.post(&msg, is_init, true).await {
            Err(Failure::Expired) => {
                tracing::info!(server = %self.spec.server, "the server expired our session; initializing a new one");
                match self.reinitialize(generation).await {
                    Err(why) => Err(format!("its session expired and a new one could not be started: {why}")),
                    Ok(()) if safe_to_repeat(&p.method) => match self.post(&msg, false, true).await {
                        Ok(()) => Ok(()),
                        Err(Failure::Expired) => {
                            Err("its session expired again right after a new one was started".into())
                        }
                        Err(Failure::Other(why)) => Err(why),
                    },
                    Ok(()) if p.id.is_none() => Ok(()),
                    Ok(()) => Err(format!(
                        "its session expired; vmcp started a new one but did not repeat {} because it may not be safe to repeat",
                        p.method
                    )),
                }
            }
            Err(Failure::Other(why)) => Err(why),
            Ok(()) => Ok(()),
        };
        if outcome.is_ok() && is_init {
            open_get_stream_once(&self);
        }
        if let (Err(why), Some(id)) = (outcome, p.id) {
            self.fail(id, &p.method, why).await;
        }
    }

    /// Answers a request the transport could not deliver with an error naming
    /// the server and why.
    async fn fail(&self, id: Id, method: &str, why: String) {
        tracing::warn!(server = %self.spec.server, method, "{why}");
        let e = ErrorObject::new(
            code::SERVER_UNAVAILABLE,
            format!("server '{}' ({}): {why}", self.spec.server, self.spec.url),
        )
        .with_data(&serde_json::json!({ "server": self.spec.server, "reason": "transport" }));
        let _ = self.incoming.send(Line::Data(Message::Response(Response::err(id, e)).to_json().into_bytes())).await;
    }

    /// POSTs a 2026-07-28 request: no session; `MCP-Protocol-Version`,
    /// `Mcp-Method` and `Mcp-Name` from the body. A 4xx with a JSON-RPC error
    /// body is that request's answer.
    async fn post_stateless(&self, msg: &Bytes, m: &str, name: Option<&str>, id: Option<&Id>) -> Result<(), Failure> {
        let mut b = self
            .http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, JSON)
            .header(ACCEPT, JSON_OR_SSE)
            .header(VERSION_HEADER, crate::protocol::Revision::V2026_07_28.as_str())
            .header(METHOD_HEADER, header_text(m))
            .body(msg.clone());
        if let Some(n) = name {
            b = b.header(NAME_HEADER, header_text(n));
        }
        let resp = tokio::select! {
            r = b.send() => r.map_err(|e| Failure::Other(format!("unreachable: {}", error_chain(&e))))?,
            _ = self.stop.cancelled() => return Err(Failure::Other("the connection is closing".into())),
        };
        let status = resp.status();
        let ctype = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if status.as_u16() == 202 {
            return Ok(());
        }
        if ctype.starts_with("text/event-stream") && status.is_success() {
            return self.pump_sse(resp, false, true, false).await;
        }
        if ctype.starts_with("application/json") && (status.is_success() || status.is_client_error()) {
            let body = self.read_bounded(resp).await?;
            match jsonrpc::parse_message(&body) {
                // An error about this very request is its answer.
                Ok(Message::Response(r)) if status.is_client_error() && Some(&r.id) != id => {
                    let why = r.outcome.err().map(|e| e.message).unwrap_or_default();
                    return Err(Failure::Other(format!("answered HTTP {status}: {why}")));
                }
                Ok(_) => {
                    let _ = self.incoming.send(Line::Data(body)).await;
                    return Ok(());
                }
                Err(_) => {
                    return Err(Failure::Other(format!("answered HTTP {status} with a body that is not JSON-RPC")));
                }
            }
        }
        let body = snippet(resp).await;
        Err(Failure::Other(format!("answered HTTP {status}{body}")))
    }

    fn request(&self, builder: reqwest::RequestBuilder, with_session: bool) -> reqwest::RequestBuilder {
        let mut b = builder.headers(self.headers.clone());
        if let Some(v) = self.version() {
            b = b.header(VERSION_HEADER, v);
        }
        if with_session && let Some(s) = self.session_id() {
            b = b.header(SESSION_HEADER, s);
        }
        b
    }

    /// POSTs one message and feeds what comes back to `incoming`.
    async fn post(&self, msg: &Bytes, is_init: bool, forward: bool) -> Result<(), Failure> {
        let had_session = self.session_id().is_some();
        let b = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, JSON)
            .header(ACCEPT, JSON_OR_SSE)
            // A cheap clone: the message's bytes are shared, not copied.
            .body(msg.clone());
        let resp = tokio::select! {
            r = self.request(b, !is_init).send() => r.map_err(|e| Failure::Other(format!("unreachable: {}", error_chain(&e))))?,
            _ = self.stop.cancelled() => return Err(Failure::Other("the connection is closing".into())),
        };
        let status = resp.status();
        if status.as_u16() == 404 && had_session && !is_init {
            return Err(Failure::Expired);
        }
        if status.as_u16() == 202 {
            return Ok(());
        }
        if !status.is_success() {
            let body = snippet(resp).await;
            return Err(Failure::Other(format!("answered HTTP {status}{body}")));
        }
        if is_init
            && let Some(s) = resp.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok())
            && let Ok(mut slot) = self.session.lock()
        {
            *slot = Some(s.to_owned());
        }
        let ctype = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if ctype.starts_with("text/event-stream") {
            self.pump_sse(resp, is_init, forward, false).await
        } else if ctype.starts_with("application/json") {
            let body = self.read_bounded(resp).await?;
            if is_init {
                self.learn_version(&body);
            }
            // An empty body acknowledges a notification or a response.
            if forward && !body.iter().all(u8::is_ascii_whitespace) {
                let _ = self.incoming.send(Line::Data(body)).await;
            }
            Ok(())
        } else if ctype.is_empty() && status.as_u16() == 200 {
            // Some servers acknowledge notifications with an empty 200.
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
        if let (Some(v), Ok(mut slot)) = (version, self.version.lock()) {
            *slot = Some(v);
        }
    }

    async fn read_bounded(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, Failure> {
        let limit = self.spec.max_message_size;
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(Failure::Other(format!(
                            "its answer exceeds gateway.max_message_size ({limit} bytes)"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(Failure::Other(format!("answer cut short: {}", error_chain(&e)))),
            }
        }
    }

    /// Feeds every `message` event of an SSE body to `incoming`.
    async fn pump_sse(
        &self,
        mut resp: reqwest::Response,
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
                Err(e) => return Err(Failure::Other(format!("event stream cut short: {}", error_chain(&e)))),
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
                            let _ = self.incoming.send(Line::Data(ev.data.into_bytes())).await;
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
                    Parsed::TooLarge(n) => {
                        let _ = self.incoming.send(Line::TooLong(n)).await;
                    }
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
            let b = s.http.get(s.url.clone()).header(ACCEPT, "text/event-stream");
            let sent = tokio::select! {
                r = s.request(b, true).send() => r,
                _ = s.stop.cancelled() => return,
            };
            s.get_opened.cancel();
            match sent {
                Ok(resp) if resp.status().as_u16() == 405 => {
                    tracing::debug!(server = %s.spec.server, "no GET stream (405)");
                    return;
                }
                Ok(resp) if resp.status().is_success() => {
                    backoff = Duration::from_millis(500);
                    let _ = s.pump_sse(resp, false, true, true).await;
                }
                Ok(resp) => tracing::debug!(server = %s.spec.server, status = %resp.status(), "GET stream refused"),
                Err(e) => tracing::debug!(server = %s.spec.server, "GET stream: {}", error_chain(&e)),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = s.stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}

/// A short, single-line excerpt of an error body, to say what the server said.
async fn snippet(resp: reqwest::Response) -> String {
    let ctype = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text =
        tokio::time::timeout(Duration::from_secs(2), resp.text()).await.ok().and_then(Result::ok).unwrap_or_default();
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(200).collect();
    if cut.is_empty() { String::new() } else { format!(" ({ctype}): {cut}") }
}
