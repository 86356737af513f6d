//! One live connection to a backend MCP server: the client half of MCP.
//!
//! A [`BackendConn`] is shared by every client session. It assigns its own
//! request ids (so concurrent clients never collide), matches responses to
//! waiting callers, and hands everything the server sends unprompted
//! (notifications, server→client requests) to the gateway. A caller that stops
//! waiting — timeout, client cancellation, client gone — sends
//! `notifications/cancelled` upstream on its way out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::error::GatewayError;
use super::session::ClientSession;
use crate::framing::lines::Line;
use crate::observe::metrics::Metrics;
use crate::protocol::stateless;
use crate::protocol::{
    ErrorObject, Id, Message, Notification, RawObject, Request, Response, Revision, jsonrpc, method,
};
use crate::service::Tx;

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

/// The client session that caused a backend request, so server→client requests
/// made on its behalf can find their way back.
#[derive(Clone)]
pub struct Owner {
    pub session: Weak<ClientSession>,
    pub session_id: u64,
    pub related: Option<Tx>,
    /// For a stateless client: where its call collects server→client requests
    /// (they become an `input_required` result).
    pub inbox: Option<super::mrtr::Inbox>,
}

type Reply = Result<Box<RawValue>, GatewayError>;

struct Pending {
    method: String,
    reply: oneshot::Sender<Reply>,
    owner: Option<Owner>,
}

/// Called for each notification or request the backend sends.
pub type Handler = Arc<dyn Fn(&Arc<BackendConn>, Message) + Send + Sync>;

pub struct BackendConn {
    pub server: Arc<str>,
    tx: mpsc::Sender<String>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    closed: CancellationToken,
    timeout: Duration,
    info: OnceLock<InitInfo>,
    /// A 2026-07-28 server: every request carries the client's `_meta`.
    stateless: AtomicBool,
    /// Requests in a row that timed out or lost the connection (passive health).
    failures: std::sync::atomic::AtomicU32,
    failed: Notify,
    pub latency: Latency,
}

/// A server's answer times: the last one and a moving average (EWMA, α = 0.2),
/// in microseconds.
#[derive(Debug, Default)]
pub struct Latency {
    last_us: AtomicU64,
    ewma_us: AtomicU64,
    /// When the last answer came, in microseconds since [`epoch`].
    at_us: AtomicU64,
}

/// The decay time of [`Latency::decayed_us`].
const LATENCY_DECAY: Duration = Duration::from_secs(5);

fn epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

impl Latency {
    fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        self.last_us.store(us, Ordering::Relaxed);
        let old = self.ewma_us.load(Ordering::Relaxed);
        let new = if old == 0 { us } else { (old * 4 + us) / 5 };
        self.ewma_us.store(new, Ordering::Relaxed);
        self.at_us.store(epoch().elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// The moving average in microseconds; 0 before the first answer.
    pub fn average_us(&self) -> u64 {
        self.ewma_us.load(Ordering::Relaxed)
    }

    /// The average, decayed by the time since the last answer (e^(-t/5 s)): a
    /// replica that balancing stopped choosing because it was slow looks faster
    /// as time passes, until it is chosen and measured again. Without this, a
    /// replica that had one slow moment would never be tried again.
    pub fn decayed_us(&self) -> u64 {
        let ewma = self.ewma_us.load(Ordering::Relaxed);
        let since = (epoch().elapsed().as_micros() as u64).saturating_sub(self.at_us.load(Ordering::Relaxed));
        let t = since as f64 / LATENCY_DECAY.as_micros() as f64;
        (ewma as f64 * (-t).exp()) as u64
    }

    /// (last, average) in milliseconds; `None` before the first answer.
    pub fn millis(&self) -> Option<(f64, f64)> {
        let ewma = self.ewma_us.load(Ordering::Relaxed);
        (ewma > 0).then(|| (self.last_us.load(Ordering::Relaxed) as f64 / 1000.0, ewma as f64 / 1000.0))
    }
}

impl BackendConn {
    pub fn new(server: Arc<str>, tx: mpsc::Sender<String>, timeout: Duration) -> Arc<Self> {
        Arc::new(BackendConn {
            server,
            tx,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: CancellationToken::new(),
            timeout,
            info: OnceLock::new(),
            stateless: AtomicBool::new(false),
            failures: std::sync::atomic::AtomicU32::new(0),
            failed: Notify::new(),
            latency: Latency::default(),
        })
    }

    pub fn info(&self) -> Option<&InitInfo> {
        self.info.get()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Resolves when the connection has closed.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Reads the backend's messages until its output ends, then fails everything
    /// still waiting.
    pub async fn run(self: Arc<Self>, mut incoming: mpsc::Receiver<Line>, handler: Handler) {
        while let Some(line) = incoming.recv().await {
            match line {
                Line::Data(bytes) if bytes.len() >= jsonrpc::LARGE_RESULT => match jsonrpc::take_result(bytes) {
                    Ok(r) => self.complete(r),
                    Err(bytes) => self.read(&bytes, &handler),
                },
                Line::Data(bytes) => self.read(&bytes, &handler),
                Line::TooLong(n) => {
                    tracing::warn!(server = %self.server, "the server sent a {n}-byte message, over gateway.max_message_size; dropped");
                    self.fail_if_single(|p| GatewayError::TooLarge {
                        server: self.server.to_string(),
                        method: p.method.clone(),
                    });
                }
            }
        }
        self.close();
    }

    /// Handles one message the server sent.
    fn read(self: &Arc<Self>, bytes: &[u8], handler: &Handler) {
        match jsonrpc::parse_message(bytes) {
            Ok(Message::Response(r)) => self.complete(r),
            Ok(msg) => handler(self, msg),
            Err(e) => {
                tracing::warn!(server = %self.server, "ignoring unreadable output from the server: {e}: {}", preview(bytes))
            }
        }
    }

    /// Marks the connection closed and fails every waiting caller.
    pub fn close(&self) {
        self.closed.cancel();
        let drained: Vec<Pending> = match self.pending.lock() {
            Ok(mut p) => p.drain().map(|(_, v)| v).collect(),
            Err(_) => Vec::new(),
        };
        for p in drained {
            let _ = p.reply.send(Err(GatewayError::Gone { server: self.server.to_string(), method: p.method }));
        }
    }

    fn complete(&self, r: Response) {
        let Id::Number(n) = r.id else {
            tracing::debug!(server = %self.server, id = %r.id, "response with an id vmcp never sent");
            return;
        };
        let pending = self.pending.lock().ok().and_then(|mut p| p.remove(&(n as u64)));
        match pending {
            Some(p) => {
                let _ = p.reply.send(r.outcome.map_err(GatewayError::Remote));
            }
            None => tracing::debug!(server = %self.server, id = n, "late response (the caller stopped waiting)"),
        }
    }

    /// An oversized message cannot be read for its id; when exactly one request is
    /// in flight it must be the answer to that one, so fail it rather than let it
    /// wait for its timeout.
    fn fail_if_single(&self, err: impl Fn(&Pending) -> GatewayError) {
        let Ok(mut pending) = self.pending.lock() else { return };
        if pending.len() == 1 {
            let key = pending.keys().next().copied();
            if let Some(p) = key.and_then(|k| pending.remove(&k)) {
                let e = err(&p);
                let _ = p.reply.send(Err(e));
            }
        }
    }

    /// Client sessions with requests in flight here, for routing server→client requests.
    pub fn owners(&self) -> Vec<Owner> {
        let Ok(pending) = self.pending.lock() else { return Vec::new() };
        let mut owners: Vec<Owner> = Vec::new();
        for p in pending.values() {
            if let Some(o) = &p.owner
                && !owners.iter().any(|x| x.session_id == o.session_id)
            {
                owners.push(o.clone());
            }
        }
        owners
    }

    /// Sends a request and waits for its answer. `activity` is notified by
    /// progress reports for this request; each one restarts the timeout.
    pub async fn call(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        owner: Option<Owner>,
        activity: Option<Arc<Notify>>,
    ) -> Result<Box<RawValue>, GatewayError> {
        self.call_with(method, params, owner, activity, Some(self.timeout)).await
    }

    /// [`BackendConn::call`] with an explicit timeout; `None` waits as long as the
    /// connection lives (a `subscriptions/listen` stream). Counted in the metrics
    /// (a listen stream, which lasts as long as the connection, is not).
    pub async fn call_with(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        owner: Option<Owner>,
        activity: Option<Arc<Notify>>,
        timeout: Option<Duration>,
    ) -> Result<Box<RawValue>, GatewayError> {
        self.call_bounded(method, params, owner, activity, timeout, None).await
    }

    /// [`BackendConn::call_with`] with an absolute `cap` besides the idle
    /// `timeout` that progress restarts: a call that keeps reporting progress
    /// still ends by its cap.
    pub async fn call_bounded(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        owner: Option<Owner>,
        activity: Option<Arc<Notify>>,
        timeout: Option<Duration>,
        cap: Option<Duration>,
    ) -> Result<Box<RawValue>, GatewayError> {
        if method == crate::protocol::method::SUBSCRIPTIONS_LISTEN {
            return self.exchange(method, params, owner, activity, timeout, None).await;
        }
        let mut measure = Measure::start(&self.server, method);
        let result = self.exchange(method, params, owner, activity, timeout, cap).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(GatewayError::Remote(_)) => "error",
            Err(GatewayError::Timeout { .. }) => "timeout",
            Err(GatewayError::Unavailable { .. }) => "unavailable",
            Err(_) => "transport",
        };
        measure.finish(outcome);
        if outcome == "ok" || outcome == "error" {
            self.latency.record(measure.started.elapsed());
        }
        // Passive health: an answer of any kind resets the count; silence and
        // lost connections add to it.
        match outcome {
            "ok" | "error" => self.failures.store(0, Ordering::Relaxed),
            "timeout" | "transport" => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.failed.notify_waiters();
            }
            _ => {}
        }
        result
    }

    async fn exchange(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        owner: Option<Owner>,
        activity: Option<Arc<Notify>>,
        timeout: Option<Duration>,
        cap: Option<Duration>,
    ) -> Result<Box<RawValue>, GatewayError> {
        let deadline = sleep_or_never(cap);
        tokio::pin!(deadline);
        let params = if self.stateless.load(Ordering::Relaxed) { Some(with_stateless_meta(params)) } else { params };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, mut rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, Pending { method: method.to_owned(), reply, owner });
        }
        let mut guard = CallGuard { conn: self, id, armed: true };
        if self.closed.is_cancelled() {
            guard.armed = false;
            self.forget(id);
            return Err(GatewayError::Unavailable { server: self.server.to_string(), reason: "not connected".into() });
        }
        let msg = Message::Request(Request { id: Id::Number(id as i64), method: method.to_owned(), params }).to_json();
        if self.tx.send(msg).await.is_err() {
            guard.armed = false;
            self.forget(id);
            return Err(GatewayError::Gone { server: self.server.to_string(), method: method.to_owned() });
        }
        let activity = activity.unwrap_or_default();
        loop {
            tokio::select! {
                r = &mut rx => {
                    guard.armed = false;
                    return match r {
                        Ok(reply) => reply,
                        Err(_) => Err(GatewayError::Gone { server: self.server.to_string(), method: method.to_owned() }),
                    };
                }
                _ = activity.notified() => continue,
                _ = &mut deadline => {
                    return Err(GatewayError::Timeout {
                        server: self.server.to_string(),
                        method: method.to_owned(),
                        timeout_ms: cap.unwrap_or_default().as_millis(),
                    });
                }
                _ = sleep_or_never(timeout) => {
                    return Err(GatewayError::Timeout {
                        server: self.server.to_string(),
                        method: method.to_owned(),
                        timeout_ms: timeout.unwrap_or_default().as_millis(),
                    });
                }
            }
        }
    }

    fn forget(&self, id: u64) -> bool {
        self.pending.lock().ok().and_then(|mut p| p.remove(&id)).is_some()
    }

    /// Sends a notification (fire and forget).
    pub fn notify(&self, method: &str, params: Option<Box<RawValue>>) {
        let msg = Message::Notification(Notification { method: method.to_owned(), params }).to_json();
        if self.tx.try_send(msg).is_err() {
            tracing::debug!(server = %self.server, method, "could not queue a notification for the server");
        }
    }

    /// Answers a request the server sent.
    pub fn respond(&self, id: Id, outcome: Result<Box<RawValue>, ErrorObject>) {
        let msg = Message::Response(Response { id, outcome }).to_json();
        if self.tx.try_send(msg).is_err() {
            tracing::debug!(server = %self.server, "could not queue a response for the server");
        }
    }

    /// Starts the MCP session, with the gateway as the client: `server/discover`
    /// first (a 2026-07-28 server answers it, and is then spoken to statelessly),
    /// `initialize` when the server does not know it (any error, or silence for
    /// a few seconds, as the specification's fallback rule says).
    pub async fn connect(&self) -> Result<InitInfo, GatewayError> {
        let discover = self.call_with(
            method::SERVER_DISCOVER,
            Some(with_stateless_meta(None)),
            None,
            None,
            Some(DISCOVER_TIMEOUT),
        );
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
            self.stateless.store(true, Ordering::Relaxed);
            let _ = self.info.set(info.clone());
            return Ok(info);
        }
        self.initialize().await
    }

    /// Resolves at the next failed request, with the count of failures in a row.
    pub async fn failing(&self) -> u32 {
        self.failed.notified().await;
        self.failures.load(Ordering::Relaxed)
    }

    pub fn is_stateless(&self) -> bool {
        self.stateless.load(Ordering::Relaxed)
    }

    /// The MCP handshake, with the gateway as the client.
    pub async fn initialize(&self) -> Result<InitInfo, GatewayError> {
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
        let result = self.call(method::INITIALIZE, Some(jsonrpc::to_raw(&params)), None, None).await?;
        let bad = |reason: String| GatewayError::BadResult {
            server: self.server.to_string(),
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
        self.notify(method::INITIALIZED, None);
        let _ = self.info.set(info.clone());
        Ok(info)
    }

    /// Every item of a paginated list, following `nextCursor` to the end.
    pub async fn list_all(&self, method: &str, key: &str) -> Result<Vec<RawObject>, GatewayError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let bad =
            |reason: String| GatewayError::BadResult { server: self.server.to_string(), method: method.into(), reason };
        for _page in 0..10_000 {
            let params = cursor.as_ref().map(|c| jsonrpc::to_raw(&serde_json::json!({ "cursor": c })));
            let result = self.call(method, params, None, None).await?;
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
}

/// How long a server may stay silent on `server/discover` before it is taken for
/// a handshake-era server.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the gateway can carry to the client that caused a server→client request.
fn client_capabilities() -> serde_json::Value {
    serde_json::json!({ "roots": { "listChanged": true }, "sampling": {}, "elicitation": {} })
}

/// Adds the 2026-07-28 per-request `_meta` (revision, capabilities, client info).
fn with_stateless_meta(params: Option<Box<RawValue>>) -> Box<RawValue> {
    let mut p = params.as_deref().and_then(|p| RawObject::parse(p).ok()).unwrap_or_default();
    let mut meta: RawObject = p.get_as("_meta").unwrap_or_default();
    meta.set(stateless::META_PROTOCOL_VERSION, Revision::V2026_07_28.as_str());
    meta.set(stateless::META_CLIENT_CAPABILITIES, &client_capabilities());
    meta.set(stateless::META_CLIENT_INFO, &serde_json::json!({ "name": "vmcp", "version": env!("CARGO_PKG_VERSION") }));
    p.set("_meta", &meta);
    p.to_raw()
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Times one backend request for the metrics; a request whose caller stopped
/// waiting counts as cancelled.
struct Measure<'a> {
    server: &'a str,
    method: &'a str,
    pub(crate) started: std::time::Instant,
    done: bool,
}

impl<'a> Measure<'a> {
    fn start(server: &'a str, method: &'a str) -> Self {
        Metrics::global().in_flight(server, 1);
        Measure { server, method, started: std::time::Instant::now(), done: false }
    }

    fn finish(&mut self, outcome: &str) {
        self.done = true;
        let m = Metrics::global();
        m.in_flight(self.server, -1);
        m.request_done(self.server, self.method, outcome, self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Measure<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish("cancelled");
        }
    }
}

/// Cancels the request upstream if the caller stops waiting before the answer.
struct CallGuard<'a> {
    conn: &'a BackendConn,
    id: u64,
    armed: bool,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if self.armed && self.conn.forget(self.id) && !self.conn.is_closed() {
            let params = jsonrpc::to_raw(
                &serde_json::json!({ "requestId": self.id, "reason": "cancelled by vmcp: the client cancelled, disconnected or timed out" }),
            );
            self.conn.notify(method::CANCELLED, Some(params));
        }
    }
}

fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
    if bytes.len() > 120 { format!("{s}…") } else { s }
}
