//! The server side of streamable HTTP: `POST`, `GET` and `DELETE` on `/mcp`.
//!
//! - `POST` carries one message or a batch. A request is answered with JSON, or
//!   with an SSE stream when it may cause messages before its response (a tool
//!   call can report progress or ask the client for sampling) and the client
//!   accepts `text/event-stream`. Notifications and responses get `202`.
//! - `GET` opens the session's standalone SSE stream for messages that belong to
//!   no request (list changes, resource updates). One per session.
//! - `DELETE` ends the session.
//!
//! Sessions are named by `Mcp-Session-Id`, minted on `initialize`. `Origin` is
//! checked on every request (DNS-rebinding protection): absent, a loopback
//! origin, or one listed in `gateway.allowed_origins`.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use axum::{Extension, Router};
use futures_util::future::join_all;
use futures_util::stream::{self, Stream};
use tokio::sync::mpsc;

use super::shared::{
    HttpOptions, drain_sessions, error, forbidden_origin, json_body, new_session_id, principal_of, refused,
};
use crate::auth::Principal;
use crate::framing::sse;
use crate::protocol::stateless::{self, StatelessMeta};
use crate::protocol::{ErrorObject, Frame, Id, Message, Response, Revision, code, jsonrpc, method};
use crate::service::{Outbound, Service, Session};

const SESSION_HEADER: &str = crate::protocol::header::SESSION_ID;
const VERSION_HEADER: &str = crate::protocol::header::PROTOCOL_VERSION;
const METHOD_HEADER: &str = crate::protocol::header::METHOD;
const NAME_HEADER: &str = crate::protocol::header::NAME;

struct Entry<S> {
    session: Arc<S>,
    outbound: Outbound,
    /// Last request, as milliseconds since `McpHttp::epoch`.
    last_seen: AtomicU64,
}

/// Shared state of the `/mcp` routes.
pub struct McpHttp<S: Service> {
    service: Arc<S>,
    options: HttpOptions,
    sessions: Mutex<HashMap<String, Arc<Entry<S::Session>>>>,
    /// Sealed ids their clients deleted here: not resumed again. Bounded (it is
    /// emptied past [`MAX_ENDED`]); other replicas do not know of them.
    ended: Mutex<HashSet<String>>,
    epoch: Instant,
}

/// How many deleted sealed ids are remembered.
const MAX_ENDED: usize = 10_000;

impl<S: Service> McpHttp<S> {
    /// Builds the front end and starts its idle-session reaper (on the current runtime).
    pub fn new(service: Arc<S>, options: HttpOptions) -> Arc<Self> {
        let front = Arc::new(McpHttp {
            service,
            options,
            sessions: Mutex::new(HashMap::new()),
            ended: Mutex::new(HashSet::new()),
            epoch: Instant::now(),
        });
        tokio::spawn(reap_idle(Arc::downgrade(&front)));
        front
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Closes sessions idle for longer than `session_idle_timeout`: clients that
    /// vanish without DELETE must not hold memory forever.
    fn reap(&self) -> usize {
        let limit = self.options.session_idle_timeout.as_millis() as u64;
        let now = self.now_ms();
        let idle: Vec<_> = match self.sessions.lock() {
            Ok(mut s) => {
                let ids: Vec<String> = s
                    .iter()
                    .filter(|(_, e)| {
                        !e.outbound.is_attached() && now.saturating_sub(e.last_seen.load(Ordering::Relaxed)) > limit
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                ids.iter().filter_map(|id| s.remove(id)).collect()
            }
            Err(_) => Vec::new(),
        };
        for e in &idle {
            e.session.close();
        }
        idle.len()
    }

    /// The `/mcp` routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/mcp", post(post_mcp::<S>).get(get_mcp::<S>).delete(delete_mcp::<S>))
            .with_state(self.clone())
    }

    pub fn session_count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Closes every session (shutdown).
    pub fn close_all(&self) {
        for e in drain_sessions(&self.sessions) {
            e.outbound.detach();
            e.session.close();
        }
    }

    /// A session another replica (or this one before a restart) made, from its
    /// sealed id: resumed here and kept under the same id. `None` when there is
    /// no key, the id does not open, or it belongs to another principal (all
    /// the same to the client: an unknown session).
    fn resume(&self, id: &str, principal: &Principal) -> Option<Arc<Entry<S::Session>>> {
        let sealer = self.options.sealer.as_ref()?;
        if self.ended.lock().ok()?.contains(id) {
            return None;
        }
        let sealed = sealer.open(id)?;
        if sealed.principal != *principal.name {
            tracing::debug!(owner = %sealed.owner, "a sealed session id presented by another principal");
            return None;
        }
        let outbound = Outbound::new();
        let session = match self.service.resume("http", outbound.clone(), principal.clone(), &sealed.handshake()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(made_by = %sealed.owner, "cannot resume a session: {e}");
                return None;
            }
        };
        let entry = Arc::new(Entry { session, outbound, last_seen: AtomicU64::new(self.now_ms()) });
        let mut sessions = self.sessions.lock().ok()?;
        // Two requests of one session may race here: the first one in wins.
        let kept = sessions.entry(id.to_owned()).or_insert_with(|| entry.clone()).clone();
        drop(sessions);
        if Arc::ptr_eq(&kept, &entry) {
            tracing::info!(made_by = %sealed.owner, revision = %sealed.revision, "resumed a session made elsewhere");
        } else {
            entry.session.close();
        }
        Some(kept)
    }

    #[allow(clippy::result_large_err, reason = "the error is the HTTP response itself, built once per failed request")]
    fn lookup(&self, headers: &HeaderMap, principal: &Principal) -> Result<Arc<Entry<S::Session>>, HttpResponse> {
        let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                "Bad Request: missing Mcp-Session-Id header (send initialize first)",
            ));
        };
        let mut found = self.sessions.lock().ok().and_then(|s| s.get(id).cloned());
        if found.is_none() {
            found = self.resume(id, principal);
        }
        if let Some(e) = &found {
            if e.session.owner() != &*principal.name {
                return Err(error(
                    StatusCode::FORBIDDEN,
                    code::INVALID_REQUEST,
                    "Forbidden: this session belongs to another client; initialize one of your own",
                ));
            }
            e.last_seen.store(self.now_ms(), Ordering::Relaxed);
        }
        found.ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                code::INVALID_REQUEST,
                format!("Session not found: {id} (expired or deleted; initialize a new one)"),
            )
        })
    }
}

/// Checks the headers every `/mcp` request must get right.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response itself, built once per failed request")]
fn preflight(headers: &HeaderMap, options: &HttpOptions) -> Result<(), HttpResponse> {
    if let Some(resp) = forbidden_origin(headers, options) {
        return Err(resp);
    }
    if let Some(v) = headers.get(VERSION_HEADER) {
        let v = v.to_str().unwrap_or("");
        if Revision::parse(v).is_none() {
            let known: Vec<_> = Revision::ALL.iter().map(|r| r.as_str()).collect();
            return Err(error(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!("Bad Request: unsupported MCP-Protocol-Version {v:?} (supported: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|part| {
            let part = part.split(';').next().unwrap_or("").trim();
            part == mime || part == "*/*"
        })
    })
}

/// How long a request that may stream is given to answer as plain JSON before
/// its response becomes an SSE stream.
const JSON_LINGER: Duration = Duration::from_millis(50);

/// Methods whose handling may send messages to the client before the response.
fn may_stream(method: &str) -> bool {
    matches!(
        method,
        method::TOOLS_CALL
            | method::PROMPTS_GET
            | method::RESOURCES_READ
            | method::COMPLETION_COMPLETE
            | method::SUBSCRIPTIONS_LISTEN
    )
}

async fn post_mcp<S: Service>(
    State(front): State<Arc<McpHttp<S>>>,
    principal: Option<Extension<Principal>>,
    // The request whole, not the `HeaderMap` extractor, which copies the headers.
    request: axum::extract::Request,
) -> HttpResponse {
    let principal = principal_of(principal);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    if let Err(resp) = preflight(&headers, &front.options) {
        return resp;
    }
    let bytes = match json_body(&headers, body, &front.options).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (messages, batch) = match jsonrpc::parse_frame(&bytes, front.options.max_json_depth) {
        Frame::Single(Ok(m)) => (vec![Ok(m)], false),
        Frame::Single(Err(e)) => {
            let body = Message::Response(e.to_response()).to_json();
            return (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        Frame::Batch(items) => (items, true),
    };

    // 2026-07-28 requests are stateless: each gets a session of its own, closed
    // once it is answered, and no Mcp-Session-Id is minted or read.
    let stateless = match stateless_check(&headers, &messages) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let is_init = messages.iter().any(|m| matches!(m, Ok(Message::Request(r)) if r.method == method::INITIALIZE));
    let (entry, new_session) = if stateless {
        let outbound = Outbound::new();
        let session = match front.service.open("http", outbound.clone(), principal) {
            Ok(s) => s,
            Err(e) => return refused(e),
        };
        (Arc::new(Entry { session, outbound, last_seen: AtomicU64::new(front.now_ms()) }), None)
    } else if is_init {
        if batch {
            return error(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                "Invalid request: initialize must not be part of a batch",
            );
        }
        let outbound = Outbound::new();
        let session = match front.service.open("http", outbound.clone(), principal) {
            Ok(s) => s,
            Err(e) => return refused(e),
        };
        let entry = Entry { session, outbound, last_seen: AtomicU64::new(front.now_ms()) };
        // The id is minted once the handshake is answered (a sealed id carries it).
        (Arc::new(entry), Some(()))
    } else {
        match front.lookup(&headers, &principal) {
            Ok(e) => (e, None),
            Err(resp) => return resp,
        }
    };

    let mut requests = Vec::new();
    let mut immediate = Vec::new();
    for m in messages {
        match m {
            Ok(Message::Request(r)) => requests.push(r),
            Ok(Message::Notification(n)) => entry.session.notification(n),
            Ok(Message::Response(r)) => entry.session.response(r),
            Err(e) => immediate.push(e.to_response()),
        }
    }
    if requests.is_empty() && immediate.is_empty() {
        if stateless {
            entry.session.close();
        }
        return StatusCode::ACCEPTED.into_response();
    }

    let streaming = accepts(&headers, "text/event-stream") && requests.iter().any(|r| may_stream(&r.method));
    // An initialize answered with a JSON-RPC error (still HTTP 200) must not leave a session behind.
    let mut init_failed = false;
    let mut answered: Option<Vec<Response>> = None;
    let mut streamed: Option<HttpResponse> = None;
    if streaming && !batch && immediate.is_empty() && requests.len() == 1 {
        // One request that may stream. It is answered as plain JSON when its
        // answer comes before anything else for it and soon (the usual case:
        // no SSE framing, no task of its own), and as an SSE stream as soon as
        // something comes first (progress, a request to the client) or the
        // answer is slow in coming (the client then has its response headers
        // and an open stream at once), the answer following on the stream.
        let (tx, mut rx) = mpsc::channel::<String>(256);
        let r = requests.remove(0);
        let mut fut = Box::pin(entry.session.clone().request(r, Some(tx.clone())));
        let first = tokio::select! {
            biased;
            resp = &mut fut => Ok(resp),
            msg = rx.recv() => Err(msg),
            _ = tokio::time::sleep(JSON_LINGER) => Err(None),
        };
        match first {
            Ok(resp) => {
                // Whatever was queued just before the answer still goes first.
                let mut queued = Vec::new();
                while let Ok(m) = rx.try_recv() {
                    queued.push(m);
                }
                if queued.is_empty() {
                    answered = Some(vec![resp]);
                } else {
                    for m in queued {
                        let _ = tx.try_send(m);
                    }
                    let _ = tx.try_send(resp.into_json());
                    drop(tx);
                    if stateless {
                        entry.session.close();
                    }
                    streamed = Some(sse_response(None, rx, None, None, front.options.keepalive));
                }
            }
            Err(first) => {
                let session = entry.session.clone();
                let task = tokio::spawn(async move {
                    let resp = fut.await;
                    let _ = tx.send(resp.into_json()).await;
                    if stateless {
                        session.close();
                    }
                });
                streamed = Some(sse_response(first, rx, Some(AbortOnDrop(task)), None, front.options.keepalive));
            }
        }
    } else if streaming {
        let (tx, rx) = mpsc::channel::<String>(256);
        let session = entry.session.clone();
        let (requests, immediate) = (std::mem::take(&mut requests), std::mem::take(&mut immediate));
        let task = tokio::spawn(async move {
            for r in immediate {
                let _ = tx.send(Message::Response(r).to_json()).await;
            }
            let futs = requests.into_iter().map(|r| {
                let tx = tx.clone();
                let fut = session.clone().request(r, Some(tx.clone()));
                async move {
                    let resp = fut.await;
                    let _ = tx.send(resp.into_json()).await;
                }
            });
            join_all(futs).await;
            if stateless {
                session.close();
            }
        });
        streamed = Some(sse_response(None, rx, Some(AbortOnDrop(task)), None, front.options.keepalive));
    }
    let mut resp = match streamed {
        Some(resp) => resp,
        None => {
            let mut responses: Vec<Response> = match answered {
                Some(r) => r,
                None => {
                    let futs = requests.into_iter().map(|r| entry.session.clone().request(r, None));
                    join_all(futs).await
                }
            };
            init_failed = responses.iter().any(|r| r.outcome.is_err());
            let mut status = StatusCode::OK;
            if stateless {
                entry.session.close();
                if let [Response { outcome: Err(e), .. }] = &responses[..] {
                    status = stateless_status(e.code);
                }
            }
            responses.extend(immediate);
            let body = if batch {
                let msgs: Vec<Message> = responses.into_iter().map(Message::Response).collect();
                jsonrpc::to_raw(&msgs).get().to_owned()
            } else {
                match responses.pop() {
                    Some(r) => r.into_json(),
                    None => return StatusCode::ACCEPTED.into_response(),
                }
            };
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    };

    if new_session.is_some() {
        // Register only once the initialize succeeded: a failed one leaves nothing behind.
        let ok = resp.status() == StatusCode::OK && !init_failed;
        if ok {
            let sealed = front.options.sealer.as_ref().and_then(|sealer| {
                let handshake = entry.session.handshake()?;
                sealer.seal(entry.session.owner(), &handshake)
            });
            let id = sealed.unwrap_or_else(new_session_id);
            if let Ok(mut s) = front.sessions.lock() {
                s.insert(id.clone(), entry.clone());
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert(SESSION_HEADER, v);
            }
        } else {
            entry.session.close();
        }
    }
    resp
}

/// Whether a POST is a 2026-07-28 (stateless) one, after checking what that
/// revision requires of it: `_meta` on every request, `MCP-Protocol-Version`,
/// `Mcp-Method` and `Mcp-Name` agreeing with the body. Failures are 400s.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response itself, built once per failed request")]
fn stateless_check(
    headers: &HeaderMap,
    messages: &[Result<Message, jsonrpc::ParseError>],
) -> Result<bool, HttpResponse> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let version = header(VERSION_HEADER);
    let header_stateless = version.and_then(Revision::parse).is_some_and(Revision::is_stateless);
    let mut any_stateless = header_stateless;
    let reject = |id: &Id, e: ErrorObject| {
        let body = Message::Response(Response::err(id.clone(), e)).to_json();
        (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    for m in messages {
        let Ok(Message::Request(r)) = m else { continue };
        match StatelessMeta::from_request(r) {
            Err(e) => return Err(reject(&r.id, e)),
            Ok(Some(_)) => {
                any_stateless = true;
                if !header_stateless {
                    let got = version.unwrap_or("(none)");
                    let e = ErrorObject::new(
                        stateless::code::HEADER_MISMATCH,
                        format!(
                            "Header mismatch: MCP-Protocol-Version header {got:?} does not match the body's 2026-07-28"
                        ),
                    );
                    return Err(reject(&r.id, e));
                }
                if let Err(e) = stateless::check_headers(r, header(METHOD_HEADER), header(NAME_HEADER)) {
                    return Err(reject(&r.id, e));
                }
            }
            Ok(None) if header_stateless && r.method != method::INITIALIZE => {
                let e = ErrorObject::new(
                    code::INVALID_PARAMS,
                    format!(
                        "Invalid params: a 2026-07-28 request must carry _meta[\"{}\"]",
                        stateless::META_PROTOCOL_VERSION
                    ),
                );
                return Err(reject(&r.id, e));
            }
            Ok(None) => {}
        }
    }
    Ok(any_stateless)
}

/// The HTTP status a 2026-07-28 error answer gets.
fn stateless_status(code: i64) -> StatusCode {
    match code {
        stateless::code::HEADER_MISMATCH
        | stateless::code::MISSING_CAPABILITY
        | stateless::code::UNSUPPORTED_VERSION => StatusCode::BAD_REQUEST,
        code::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// 2026-07-28 has no GET stream and no sessions to delete.
fn stateless_refusal(headers: &HeaderMap) -> Option<HttpResponse> {
    let v = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok()).and_then(Revision::parse)?;
    v.is_stateless().then(|| {
        let mut resp = error(
            StatusCode::METHOD_NOT_ALLOWED,
            code::INVALID_REQUEST,
            "Method Not Allowed: 2026-07-28 has no sessions or GET stream; POST each request",
        );
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        resp
    })
}

async fn get_mcp<S: Service>(
    State(front): State<Arc<McpHttp<S>>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
) -> HttpResponse {
    let principal = principal_of(principal);
    if let Err(resp) = preflight(&headers, &front.options) {
        return resp;
    }
    if let Some(resp) = stateless_refusal(&headers) {
        return resp;
    }
    if !accepts(&headers, "text/event-stream") {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Not Acceptable: GET /mcp needs Accept: text/event-stream",
        );
    }
    let entry = match front.lookup(&headers, &principal) {
        Ok(e) => e,
        Err(resp) => return resp,
    };
    if entry.outbound.is_attached() {
        return error(
            StatusCode::CONFLICT,
            code::INVALID_REQUEST,
            "Conflict: this session already has an open GET stream",
        );
    }
    let (tx, rx) = mpsc::channel::<String>(1024);
    entry.outbound.attach(tx);
    sse_response(None, rx, None, Some(DetachOnDrop(entry.outbound.clone())), front.options.keepalive)
}

async fn delete_mcp<S: Service>(
    State(front): State<Arc<McpHttp<S>>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
) -> HttpResponse {
    let principal = principal_of(principal);
    if let Err(resp) = preflight(&headers, &front.options) {
        return resp;
    }
    if let Some(resp) = stateless_refusal(&headers) {
        return resp;
    }
    let entry = match front.lookup(&headers, &principal) {
        Ok(e) => e,
        Err(resp) => return resp,
    };
    if let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
        && let Ok(mut s) = front.sessions.lock()
    {
        s.remove(id);
        if front.options.sealer.is_some()
            && let Ok(mut ended) = front.ended.lock()
        {
            if ended.len() >= MAX_ENDED {
                ended.clear();
            }
            ended.insert(id.to_owned());
        }
    }
    entry.outbound.detach();
    entry.session.close();
    StatusCode::NO_CONTENT.into_response()
}

async fn reap_idle<S: Service>(front: Weak<McpHttp<S>>) {
    let every = match front.upgrade() {
        Some(f) => (f.options.session_idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(60)),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(f) = front.upgrade() else { return };
        let n = f.reap();
        if n > 0 {
            tracing::info!(sessions = n, "closed idle HTTP sessions (gateway.session_idle_timeout)");
        }
    }
}

/// Aborts the task producing a per-request stream when the client goes away, which
/// drops its backend calls and so cancels them upstream.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Detaches the standalone stream when its client disconnects. The stream's
/// receiver is dropped first (see `StreamState`), so its sender is closed by then;
/// a newer GET stream that already took the slot is left alone.
struct DetachOnDrop(Outbound);
impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        if !self.0.is_attached() {
            self.0.detach();
        }
    }
}

struct StreamState {
    /// Sent before anything from `rx`.
    first: Option<String>,
    // Dropped first: `DetachOnDrop` relies on it.
    rx: mpsc::Receiver<String>,
    keepalive: tokio::time::Interval,
    _abort: Option<AbortOnDrop>,
    _detach: Option<DetachOnDrop>,
}

fn sse_response(
    first: Option<String>,
    rx: mpsc::Receiver<String>,
    abort: Option<AbortOnDrop>,
    detach: Option<DetachOnDrop>,
    every: Duration,
) -> HttpResponse {
    let mut keepalive = tokio::time::interval(every);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    keepalive.reset();
    let state = StreamState { first, rx, keepalive, _abort: abort, _detach: detach };
    let body = Body::from_stream(event_stream(state));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn event_stream(state: StreamState) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    use futures_util::StreamExt as _;
    stream::unfold(state, |mut st| async move {
        if let Some(m) = st.first.take() {
            return Some((sse_frames(m), st));
        }
        tokio::select! {
            msg = st.rx.recv() => msg.map(|m| (sse_frames(m), st)),
            _ = st.keepalive.tick() => Some((vec![Bytes::from_static(sse::KEEPALIVE.as_bytes())], st)),
        }
    })
    .flat_map(|frames| stream::iter(frames.into_iter().map(Ok)))
}

/// Messages at least this large are framed without being copied.
const ZERO_COPY_FRAME: usize = 64 * 1024;

/// One message as an SSE event. A large one that is a single line (as vmcp's
/// own serialization always is) goes out as its own buffer between a header and
/// a trailer, not copied into a new one: a 10 MiB result costs 10 MiB here, not 20.
fn sse_frames(json: String) -> Vec<Bytes> {
    if json.len() >= ZERO_COPY_FRAME && !json.bytes().any(|b| b == b'\n' || b == b'\r') {
        return vec![Bytes::from_static(b"event: message\ndata: "), Bytes::from(json), Bytes::from_static(b"\n\n")];
    }
    vec![Bytes::from(sse::message_event(&json))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_messages_are_framed_without_a_copy_and_read_the_same() {
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(ZERO_COPY_FRAME));
        let sent = big.clone();
        let at = sent.as_ptr();
        let frames = sse_frames(sent);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].as_ptr(), at, "the message's own buffer, not a copy");
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        assert_eq!(joined, sse::message_event(&big).into_bytes());
        // Small, or spread over lines: one frame, as before.
        assert_eq!(sse_frames("{}".into()), vec![Bytes::from(sse::message_event("{}"))]);
        let lines = format!("{{\n{}}}", " ".repeat(ZERO_COPY_FRAME));
        assert_eq!(sse_frames(lines.clone()), vec![Bytes::from(sse::message_event(&lines))]);
    }

    #[test]
    fn accept_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/event-stream;q=0.9"));
        assert!(accepts(&h, "text/event-stream"));
        assert!(accepts(&h, "application/json"));
        assert!(!accepts(&HeaderMap::new(), "text/event-stream"));
    }
}
