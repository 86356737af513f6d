//! The server side of the legacy HTTP+SSE transport (MCP 2024-11-05): `GET /sse`
//! and `POST /message`.
//!
//! - `GET /sse` opens a session and its one stream. The first event, `endpoint`,
//!   names where to post: `/message?sessionId=<id>`. Everything for the client
//!   follows as `message` events: responses, notifications, server→client requests.
//! - `POST /message?sessionId=<id>` carries one message or a batch and is answered
//!   `202 Accepted` at once; requests run concurrently and answer on the stream.
//! - The session lives as long as its stream: when the client closes it, the
//!   session is closed and what it has in flight is cancelled.
//!
//! Checks are those of `/mcp`: `Origin` (403), body size (413), content type (415).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Extension, Router};

use futures_util::stream::{self, Stream};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::shared::{
    HttpOptions, dispatch, drain_sessions, error, forbidden_origin, json_body, new_session_id, principal_of, refused,
};
use crate::auth::Principal;
use crate::framing::sse;
use crate::protocol::{Frame, Message, code, jsonrpc};
use crate::service::{Outbound, Service, Session, Tx};

struct Entry<S> {
    session: Arc<S>,
    outbound: Outbound,
    /// Where responses go. Taken when the session closes, so the stream can end
    /// once the requests still running have written their (error) responses.
    tx: Mutex<Option<Tx>>,
    tasks: TaskTracker,
}

impl<S: Session> Entry<S> {
    fn tx(&self) -> Option<Tx> {
        self.tx.lock().ok().and_then(|tx| tx.clone())
    }

    fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        self.outbound.detach();
        self.session.close();
    }
}

/// Shared state of the `/sse` and `/message` routes.
pub struct LegacySse<S: Service> {
    service: Arc<S>,
    options: HttpOptions,
    sessions: Mutex<HashMap<String, Arc<Entry<S::Session>>>>,
}

impl<S: Service> LegacySse<S> {
    pub fn new(service: Arc<S>, options: HttpOptions) -> Arc<Self> {
        Arc::new(LegacySse { service, options, sessions: Mutex::new(HashMap::new()) })
    }

    /// The `/sse` and `/message` routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/sse", get(get_sse::<S>))
            .route("/message", post(post_message::<S>))
            .with_state(self.clone())
    }

    pub fn session_count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Closes every session (shutdown). Each stream ends once the requests it
    /// had in flight have written their cancellation errors.
    pub fn close_all(&self) {
        for e in drain_sessions(&self.sessions) {
            e.close();
        }
    }

    fn find(&self, id: &str) -> Option<Arc<Entry<S::Session>>> {
        self.sessions.lock().ok().and_then(|s| s.get(id).cloned())
    }

    fn remove(&self, id: &str) -> Option<Arc<Entry<S::Session>>> {
        self.sessions.lock().ok().and_then(|mut s| s.remove(id))
    }
}

/// No `Accept`, or one that admits `text/event-stream`.
fn accepts_event_stream(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|part| {
        let mime = part.split(';').next().unwrap_or("").trim();
        matches!(mime, "text/event-stream" | "text/*" | "*/*")
    })
}

async fn get_sse<S: Service>(
    State(front): State<Arc<LegacySse<S>>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
) -> HttpResponse {
    if let Some(resp) = forbidden_origin(&headers, &front.options) {
        return resp;
    }
    if !accepts_event_stream(&headers) {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Not Acceptable: GET /sse needs Accept: text/event-stream",
        );
    }
    let (tx, rx) = mpsc::channel::<String>(1024);
    let outbound = Outbound::attached(tx.clone());
    let session = match front.service.open("sse", outbound.clone(), principal_of(principal)) {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let id = new_session_id();
    let entry = Entry { session, outbound, tx: Mutex::new(Some(tx)), tasks: TaskTracker::new() };
    if let Ok(mut s) = front.sessions.lock() {
        s.insert(id.clone(), Arc::new(entry));
    }
    tracing::debug!(session = %id, "legacy SSE stream opened");

    let mut keepalive = tokio::time::interval(front.options.keepalive.max(Duration::from_millis(10)));
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    keepalive.reset();
    let endpoint = format!("event: endpoint\ndata: /message?sessionId={id}\n\n");
    let state = StreamState {
        endpoint: Some(endpoint),
        rx,
        keepalive,
        _close: CloseOnDrop { front: Arc::downgrade(&front), id },
    };
    let mut resp = (StatusCode::OK, Body::from_stream(event_stream(state))).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn post_message<S: Service>(
    State(front): State<Arc<LegacySse<S>>>,
    principal: Option<Extension<Principal>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> HttpResponse {
    if let Some(resp) = forbidden_origin(&headers, &front.options) {
        return resp;
    }
    let Some(id) = query.ok().and_then(|Query(mut q)| q.remove("sessionId")) else {
        return error(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Bad Request: missing sessionId (POST to the endpoint the GET /sse stream announced)",
        );
    };
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            code::INVALID_REQUEST,
            format!("Session not found: {id} (its GET /sse stream is closed; open a new one)"),
        )
    };
    let Some(entry) = front.find(&id) else { return not_found() };
    if entry.session.owner() != &*principal_of(principal).name {
        return error(
            StatusCode::FORBIDDEN,
            code::INVALID_REQUEST,
            "Forbidden: this session belongs to another client; open a GET /sse stream of your own",
        );
    }
    let bytes = match json_body(&headers, body, &front.options).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let frame = jsonrpc::parse_frame(&bytes, front.options.max_json_depth);
    if let Frame::Single(Err(e)) = &frame {
        let body = Message::Response(e.to_response()).to_json();
        return (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let Some(tx) = entry.tx() else { return not_found() };
    dispatch(&entry.session, frame, &tx, &entry.tasks);
    StatusCode::ACCEPTED.into_response()
}

/// Closes the session when its stream goes away (the client disconnected, or
/// the stream ended after [`LegacySse::close_all`]).
struct CloseOnDrop<S: Service> {
    front: Weak<LegacySse<S>>,
    id: String,
}

impl<S: Service> Drop for CloseOnDrop<S> {
    fn drop(&mut self) {
        if let Some(entry) = self.front.upgrade().and_then(|f| f.remove(&self.id)) {
            tracing::debug!(session = %self.id, "legacy SSE stream closed");
            entry.close();
        }
    }
}

struct StreamState<S: Service> {
    endpoint: Option<String>,
    rx: mpsc::Receiver<String>,
    keepalive: tokio::time::Interval,
    _close: CloseOnDrop<S>,
}

fn event_stream<S: Service>(state: StreamState<S>) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    stream::unfold(state, |mut st| async move {
        if let Some(endpoint) = st.endpoint.take() {
            return Some((Ok(Bytes::from(endpoint)), st));
        }
        tokio::select! {
            msg = st.rx.recv() => msg.map(|m| (Ok(Bytes::from(sse::message_event(&m))), st)),
            _ = st.keepalive.tick() => Some((Ok(Bytes::from_static(sse::KEEPALIVE.as_bytes())), st)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rules() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_static(v));
            h
        };
        assert!(accepts_event_stream(&HeaderMap::new()));
        assert!(accepts_event_stream(&with("text/event-stream")));
        assert!(accepts_event_stream(&with("application/json, */*;q=0.1")));
        assert!(!accepts_event_stream(&with("application/json")));
    }
}
