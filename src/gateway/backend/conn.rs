//! One live connection to a backend MCP server: the client half of MCP.
//!
//! A [`BackendConn`] is shared by every client session. It assigns its own
//! request ids (so concurrent clients never collide), matches responses to
//! waiting callers, and hands everything the server sends unprompted
//! (notifications, server→client requests) to the gateway. A caller that stops
//! waiting — timeout, client cancellation, client gone — sends
//! `notifications/cancelled` upstream on its way out.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::info::{InitInfo, with_stateless_meta};
use super::latency::Latency;
use crate::framing::lines::Line;
use crate::gateway::client::Caller;
use crate::gateway::error::GatewayError;
use crate::link::{Inbox, Outbound, Outgoing};
use crate::observe::metrics::Metrics;
use crate::protocol::{ErrorObject, Id, Message, Notification, Response, jsonrpc, method, stateless};

type Reply = Result<Box<RawValue>, GatewayError>;

struct Pending {
    method: String,
    reply: oneshot::Sender<Reply>,
    caller: Option<Caller>,
}

/// Called for each notification or request the backend sends.
pub type Handler = Arc<dyn Fn(&Arc<BackendConn>, Message) + Send + Sync>;

pub struct BackendConn {
    pub server: Arc<str>,
    /// How messages reach the server, once the link is open ([`BackendConn::attach`]).
    outgoing: OnceLock<Outgoing>,
    /// What the server sends besides answers goes here.
    handler: Handler,
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
    metrics: Metrics,
}

impl BackendConn {
    /// A connection not yet attached to a link: the link is opened with
    /// [`BackendConn::inbox`] as where it hands what arrives, then attached.
    pub fn new(server: Arc<str>, timeout: Duration, metrics: Metrics, handler: Handler) -> Arc<Self> {
        Arc::new(BackendConn {
            server,
            outgoing: OnceLock::new(),
            handler,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: CancellationToken::new(),
            timeout,
            info: OnceLock::new(),
            stateless: AtomicBool::new(false),
            failures: std::sync::atomic::AtomicU32::new(0),
            failed: Notify::new(),
            latency: Latency::default(),
            metrics,
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

    /// Where the link hands what the server sends.
    pub fn inbox(self: &Arc<Self>) -> Arc<dyn Inbox> {
        Arc::new(ConnInbox(Arc::downgrade(self)))
    }

    /// The link's outgoing end: from now on requests can be sent.
    pub fn attach(&self, outgoing: Outgoing) {
        let _ = self.outgoing.set(outgoing);
    }

    /// One message from the server: an answer completes its caller's request
    /// (on this very task); anything else goes to the handler.
    fn receive(self: &Arc<Self>, line: Line) {
        match line {
            Line::Data(bytes) if bytes.len() >= jsonrpc::LARGE_RESULT => match jsonrpc::take_result(bytes) {
                Ok(r) => self.complete(r),
                Err(bytes) => self.read(&bytes),
            },
            Line::Data(bytes) => self.read(&bytes),
            Line::TooLong(n) => {
                tracing::warn!(server = %self.server, "the server sent a {n}-byte message, over gateway.max_message_size; dropped");
                self.fail_if_single(|p| GatewayError::TooLarge {
                    server: self.server.to_string(),
                    method: p.method.clone(),
                });
            }
        }
    }

    /// Handles one message the server sent.
    fn read(self: &Arc<Self>, bytes: &[u8]) {
        match jsonrpc::parse_message(bytes) {
            Ok(Message::Response(r)) => self.complete(r),
            Ok(msg) => (self.handler)(self, msg),
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

    /// The clients with requests in flight here (each once), for routing
    /// server→client requests.
    pub fn callers(&self) -> Vec<Caller> {
        let Ok(pending) = self.pending.lock() else { return Vec::new() };
        let mut callers: Vec<Caller> = Vec::new();
        for p in pending.values() {
            if let Some(c) = &p.caller
                && !callers.iter().any(|x| x.client_id == c.client_id)
            {
                callers.push(c.clone());
            }
        }
        callers
    }

    /// Sends a request and waits for its answer. `activity` is notified by
    /// progress reports for this request; each one restarts the timeout.
    pub async fn call(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        caller: Option<Caller>,
        activity: Option<Arc<Notify>>,
    ) -> Result<Box<RawValue>, GatewayError> {
        self.call_with(method, params, caller, activity, Some(self.timeout)).await
    }

    /// [`BackendConn::call`] with an explicit timeout; `None` waits as long as the
    /// connection lives (a `subscriptions/listen` stream). Counted in the metrics
    /// (a listen stream, which lasts as long as the connection, is not).
    pub async fn call_with(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        caller: Option<Caller>,
        activity: Option<Arc<Notify>>,
        timeout: Option<Duration>,
    ) -> Result<Box<RawValue>, GatewayError> {
        self.call_bounded(method, params, caller, activity, timeout, None).await
    }

    /// [`BackendConn::call_with`] with an absolute `cap` besides the idle
    /// `timeout` that progress restarts: a call that keeps reporting progress
    /// still ends by its cap.
    pub async fn call_bounded(
        &self,
        method: &str,
        params: Option<Box<RawValue>>,
        caller: Option<Caller>,
        activity: Option<Arc<Notify>>,
        timeout: Option<Duration>,
        cap: Option<Duration>,
    ) -> Result<Box<RawValue>, GatewayError> {
        if method == crate::protocol::method::SUBSCRIPTIONS_LISTEN {
            return self.exchange(method, params, caller, activity, timeout, None).await;
        }
        let mut measure = Measure::start(&self.metrics, &self.server, method);
        let result = self.exchange(method, params, caller, activity, timeout, cap).await;
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
        caller: Option<Caller>,
        activity: Option<Arc<Notify>>,
        timeout: Option<Duration>,
        cap: Option<Duration>,
    ) -> Result<Box<RawValue>, GatewayError> {
        let params = if self.stateless.load(Ordering::Relaxed) { Some(with_stateless_meta(params)) } else { params };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, mut rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, Pending { method: method.to_owned(), reply, caller });
        }
        let mut guard = CallGuard { conn: self, id, armed: true };
        if self.closed.is_cancelled() {
            guard.armed = false;
            self.forget(id);
            return Err(GatewayError::Unavailable { server: self.server.to_string(), reason: "not connected".into() });
        }
        let Some(outgoing) = self.outgoing.get() else {
            guard.armed = false;
            self.forget(id);
            return Err(GatewayError::Unavailable { server: self.server.to_string(), reason: "not connected".into() });
        };
        // What a 2026-07-28 request mirrors in HTTP headers: the gateway's own
        // `_meta` says when it is one (`server/discover` always carries it).
        let stateless = (self.is_stateless() || method == crate::protocol::method::SERVER_DISCOVER)
            .then(|| stateless::expected_name_in(method, params.as_deref()));
        let json = request_json(id, method, params.as_deref());
        let msg = Outbound { json, id: Some(Id::Number(id as i64)), method: Some(method.to_owned()), stateless };
        // Over a queue, `send` ends once the message is queued; over streamable
        // HTTP it is the whole exchange, and the answer has reached `rx` when it ends.
        let send = outgoing.send(msg);
        tokio::pin!(send);
        let mut sent = false;
        // One timer for both limits: the idle timeout, restarted by each
        // progress report, and the absolute cap, whichever comes first.
        let deadlines = Deadlines::new(timeout, cap);
        let mut due = deadlines.from(tokio::time::Instant::now());
        let sleep = tokio::time::sleep_until(due.map_or_else(tokio::time::Instant::now, |d| d.at));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                r = &mut send, if !sent => {
                    sent = true;
                    if r.is_err() {
                        guard.armed = false;
                        self.forget(id);
                        return Err(GatewayError::Gone { server: self.server.to_string(), method: method.to_owned() });
                    }
                }
                r = &mut rx => {
                    guard.armed = false;
                    return match r {
                        Ok(reply) => reply,
                        Err(_) => Err(GatewayError::Gone { server: self.server.to_string(), method: method.to_owned() }),
                    };
                }
                _ = notified(activity.as_deref()) => {
                    due = deadlines.from(tokio::time::Instant::now());
                    if let Some(d) = due {
                        sleep.as_mut().reset(d.at);
                    }
                }
                _ = &mut sleep, if due.is_some() => {
                    let limit = due.map_or(Duration::ZERO, |d| d.limit);
                    return Err(GatewayError::Timeout {
                        server: self.server.to_string(),
                        method: method.to_owned(),
                        timeout_ms: limit.as_millis(),
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
        let json = Message::Notification(Notification { method: method.to_owned(), params }).to_json();
        let msg = Outbound { json, id: None, method: Some(method.to_owned()), stateless: None };
        if !self.outgoing.get().is_some_and(|o| o.send_now(msg)) {
            tracing::debug!(server = %self.server, method, "could not queue a notification for the server");
        }
    }

    /// Answers a request the server sent.
    pub fn respond(&self, id: Id, outcome: Result<Box<RawValue>, ErrorObject>) {
        let msg = Outbound::text(Message::Response(Response { id, outcome }).to_json());
        if !self.outgoing.get().is_some_and(|o| o.send_now(msg)) {
            tracing::debug!(server = %self.server, "could not queue a response for the server");
        }
    }

    /// Resolves at the next failed request, with the count of failures in a row.
    pub async fn failing(&self) -> u32 {
        self.failed.notified().await;
        self.failures.load(Ordering::Relaxed)
    }

    /// Records what the handshake established (`handshake.rs`); `stateless`:
    /// a 2026-07-28 server, whose every request then carries the gateway's `_meta`.
    pub(crate) fn established(&self, info: InitInfo, stateless: bool) {
        self.stateless.store(stateless, Ordering::Relaxed);
        let _ = self.info.set(info);
    }

    pub fn is_stateless(&self) -> bool {
        self.stateless.load(Ordering::Relaxed)
    }
}

/// A request's two time limits: how long it may stay silent (progress restarts
/// it), and how long it may take in all.
struct Deadlines {
    idle: Option<Duration>,
    cap_at: Option<(tokio::time::Instant, Duration)>,
}

/// When a request times out, and which limit that is.
#[derive(Clone, Copy)]
struct Due {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadlines {
    fn new(idle: Option<Duration>, cap: Option<Duration>) -> Deadlines {
        Deadlines { idle, cap_at: cap.map(|c| (tokio::time::Instant::now() + c, c)) }
    }

    /// The first limit reached after activity at `now`; `None`: no limit.
    fn from(&self, now: tokio::time::Instant) -> Option<Due> {
        let idle = self.idle.map(|d| Due { at: now + d, limit: d });
        let cap = self.cap_at.map(|(at, limit)| Due { at, limit });
        match (idle, cap) {
            (Some(i), Some(c)) => Some(if c.at <= i.at { c } else { i }),
            (one, None) | (None, one) => one,
        }
    }
}

/// Resolves at the next notification, never without a `Notify`.
async fn notified(activity: Option<&Notify>) {
    match activity {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// Times one backend request for the metrics; a request whose caller stopped
/// waiting counts as cancelled.
struct Measure<'a> {
    metrics: &'a Metrics,
    server: &'a str,
    method: &'a str,
    pub(crate) started: std::time::Instant,
    done: bool,
}

impl<'a> Measure<'a> {
    fn start(metrics: &'a Metrics, server: &'a str, method: &'a str) -> Self {
        metrics.in_flight(server, 1);
        Measure { metrics, server, method, started: std::time::Instant::now(), done: false }
    }

    fn finish(&mut self, outcome: &str) {
        self.done = true;
        let m = self.metrics;
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

/// The inbox a link hands what it receives to: the connection, while it lives.
struct ConnInbox(Weak<BackendConn>);

impl Inbox for ConnInbox {
    fn receive(&self, line: Line) {
        if let Some(conn) = self.0.upgrade() {
            conn.receive(line);
        }
    }

    fn closed(&self) {
        if let Some(conn) = self.0.upgrade() {
            conn.close();
        }
    }
}

/// A request's text, written in one go: the envelope around the params as
/// they are (no second copy of them through a serializer).
fn request_json(id: u64, method: &str, params: Option<&RawValue>) -> String {
    let params = params.map(RawValue::get);
    let mut out = String::with_capacity(48 + method.len() + params.map_or(0, str::len));
    out.push_str(r#"{"jsonrpc":"2.0","id":"#);
    let _ = write!(out, "{id}");
    out.push_str(r#","method":"#);
    if method.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(method);
        out.push('"');
    } else {
        out.push_str(jsonrpc::to_raw(&method).get());
    }
    if let Some(p) = params {
        out.push_str(r#","params":"#);
        out.push_str(p);
    }
    out.push('}');
    out
}
