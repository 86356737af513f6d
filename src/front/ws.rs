//! The server side of MCP over WebSocket: `/ws`, one JSON-RPC message or batch
//! per text frame, one session per connection.
//!
//! Requests run concurrently; one writer task owns the sending half of the socket,
//! so frames never interleave, and pings the client every keepalive interval so
//! idle proxies keep the connection (axum answers the client's own pings).
//! A client from which nothing at all (not even a pong) arrives for
//! `SILENT_PINGS` ping intervals is gone: its connection is closed with 1001,
//! so a peer that vanished without a FIN does not hold its session.
//! - `Origin` is checked before the upgrade (403), as on `/mcp`.
//! - A binary frame is answered with a JSON-RPC error; the connection goes on.
//! - A message over `max_message_size` closes the connection with 1009 (Message
//!   Too Big): the WebSocket layer refuses it from its header, without buffering
//!   it, and cannot skip the rest of it to read what follows.
//! - A close frame or EOF closes the session (in-flight requests are cancelled
//!   upstream). [`McpWs::close_all`] (shutdown) closes every connection with 1001.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::response::Response as HttpResponse;
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::sink::SinkExt;
use futures_util::stream::{SplitSink, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::shared::{HttpOptions, dispatch, error, forbidden_origin, principal_of};
use crate::auth::Principal;
use crate::protocol::{ErrorObject, Id, Message, Response, code, jsonrpc};
use crate::service::{Outbound, Service, Session};

/// How long a closing connection waits for its cancelled requests to answer and
/// for its close frame to go out.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Shared state of the `/ws` route.
pub struct McpWs<S: Service> {
    service: Arc<S>,
    options: HttpOptions,
    shutdown: CancellationToken,
    connections: TaskTracker,
}

impl<S: Service> McpWs<S> {
    pub fn new(service: Arc<S>, options: HttpOptions) -> Arc<Self> {
        Arc::new(McpWs { service, options, shutdown: CancellationToken::new(), connections: TaskTracker::new() })
    }

    /// The `/ws` route.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/ws", get(get_ws::<S>)).with_state(self.clone())
    }

    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Closes every connection (shutdown) with 1001 Going Away; see [`McpWs::closed`].
    pub fn close_all(&self) {
        self.shutdown.cancel();
        self.connections.close();
    }

    /// Resolves once every connection is gone, after [`McpWs::close_all`]. Upgraded
    /// connections are not the HTTP server's to wait for: this is how shutdown
    /// lets them send their close frames. Each takes at most about 2 × 2 s.
    pub async fn closed(&self) {
        self.connections.wait().await;
    }
}

async fn get_ws<S: Service>(
    State(front): State<Arc<McpWs<S>>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> HttpResponse {
    if let Some(resp) = forbidden_origin(&headers, &front.options) {
        return resp;
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            let why = rejection.body_text();
            return error(
                rejection.status(),
                code::INVALID_REQUEST,
                format!("GET /ws needs a WebSocket upgrade: {why}"),
            );
        }
    };
    let principal = principal_of(principal);
    let limit = front.options.max_message_size;
    let token = front.connections.token();
    ws.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| async move {
        serve(&front, socket, principal).await;
        drop(token);
    })
}

/// Ping intervals without a single frame from the client after which it is
/// taken for gone.
const SILENT_PINGS: u32 = 3;

/// The error a frame that carries no JSON-RPC text gets.
fn binary_frame_error() -> String {
    let e = ErrorObject::new(code::INVALID_REQUEST, "binary frames are not supported: send JSON-RPC as text frames");
    Message::Response(Response::err(Id::Null, e)).to_json()
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}

/// How to close after a read error: 1009 for a message over the limit, 1007 for
/// text that is not UTF-8, nothing (just close) when the connection itself failed.
fn close_after(e: axum::Error) -> Option<CloseFrame> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => {
            Some(close_frame(close_code::SIZE, "message exceeds gateway.max_message_size"))
        }
        Some(tungstenite::Error::Utf8(_)) => Some(close_frame(close_code::INVALID, "text frame is not UTF-8")),
        _ => {
            tracing::debug!("websocket read: {inner}");
            None
        }
    }
}

async fn serve<S: Service>(front: &McpWs<S>, socket: WebSocket, principal: Principal) {
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel::<String>(1024);
    let (done, done_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write_loop(sink, rx, done_rx, front.options.keepalive, front.options.write_timeout));
    let session = match front.service.open("websocket", Outbound::attached(tx.clone()), principal) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("websocket session refused: {e}");
            drop(tx);
            let _ = done.send(Some(close_frame(close_code::AGAIN, "the gateway takes no more sessions")));
            let _ = writer.await;
            return;
        }
    };
    let tasks = TaskTracker::new();
    let mut writer_ended = false;
    // Whether any frame arrived since the last liveness check.
    let mut heard = true;
    let mut liveness = tokio::time::interval(front.options.keepalive.max(Duration::from_millis(10)) * SILENT_PINGS);
    liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    liveness.reset();
    let close = loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = liveness.tick() => {
                if !std::mem::replace(&mut heard, false) {
                    tracing::info!("websocket client answered no ping for {SILENT_PINGS} intervals; closing");
                    break Some(close_frame(close_code::AWAY, "no answer to pings"));
                }
                continue;
            }
            _ = front.shutdown.cancelled() => break Some(close_frame(close_code::AWAY, "vmcp is shutting down")),
            // The writer gave up (the client stopped reading, or the socket failed).
            _ = &mut writer, if !writer_ended => {
                writer_ended = true;
                break None;
            }
        };
        heard = true;
        match next {
            Some(Ok(WsMessage::Text(text))) => {
                dispatch(&session, jsonrpc::parse_frame(text.as_bytes(), front.options.max_json_depth), &tx, &tasks)
            }
            Some(Ok(WsMessage::Binary(_))) => {
                let tx = tx.clone();
                tasks.spawn(async move { tx.send(binary_frame_error()).await });
            }
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            Some(Ok(WsMessage::Close(_))) | None => break None,
            Some(Err(e)) => break close_after(e),
        }
    };
    // Cancel what is in flight and let it answer (briefly), then let the writer
    // drain and close.
    session.close();
    tasks.close();
    let _ = tokio::time::timeout(CLOSE_WAIT, tasks.wait()).await;
    drop(session);
    drop(tx);
    let _ = done.send(close);
    if !writer_ended && tokio::time::timeout(CLOSE_WAIT, &mut writer).await.is_err() {
        writer.abort();
    }
}

/// Owns the sending half: messages from `rx`, a ping every `every`, and, once
/// `done` fires, what is left in `rx` and the close frame. A write blocked for
/// `write_timeout` ends the connection.
async fn write_loop(
    mut sink: SplitSink<WebSocket, WsMessage>,
    mut rx: mpsc::Receiver<String>,
    mut done: oneshot::Receiver<Option<CloseFrame>>,
    every: Duration,
    write_timeout: Duration,
) {
    let mut ping = tokio::time::interval(every.max(Duration::from_millis(10)));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.reset();
    let close = loop {
        let msg = tokio::select! {
            msg = rx.recv() => match msg {
                Some(text) => WsMessage::Text(text.into()),
                // Every sender is gone: the connection is ending; `done` says how.
                None => break (&mut done).await,
            },
            _ = ping.tick() => WsMessage::Ping(Bytes::new()),
            close = &mut done => break close,
        };
        // A client that stops reading would hold this task (and its queue) for
        // ever: a write that cannot complete in time ends the connection.
        // (The front end's socket has the same deadline; this one also covers
        // a WebSocket served without it, as `vmcp mock` does.)
        match tokio::time::timeout(write_timeout, sink.send(msg)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::info!(
                    "websocket client read nothing for {} ms (gateway.write_timeout); closing",
                    write_timeout.as_millis()
                );
                return;
            }
        }
    };
    while let Ok(text) = rx.try_recv() {
        if sink.send(WsMessage::Text(text.into())).await.is_err() {
            return;
        }
    }
    let _ = match close.ok().flatten() {
        Some(frame) => sink.send(WsMessage::Close(Some(frame))).await,
        None => sink.close().await,
    };
}
