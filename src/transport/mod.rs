//! Transports: framing and I/O only, client and server side.
//!
//! Client side (the gateway reaching its backends), each producing a [`link::Link`]:
//! - [`child`]: stdio, an MCP server run as a child process.
//! - [`http_client`]: streamable HTTP; [`sse_client`]: the legacy HTTP+SSE transport;
//!   [`ws_client`]: WebSocket.
//!
//! Server side (clients reaching the gateway):
//! - [`stdio`]: the gateway speaking MCP on its own stdin/stdout.
//! - [`http`]: the server side of streamable HTTP (`/mcp`).
//! - [`legacy_sse`]: the server side of the legacy HTTP+SSE transport (`/sse` + `/message`).
//! - [`ws`]: the server side of MCP over WebSocket (`/ws`).
//! - [`serve`]: their connections: limits that hold before a request exists, graceful shutdown.
//! - [`tls`]: TLS for those HTTP front ends, reloadable.
//! - [`lines`], [`sse`]: the two framings these use.
//! - [`peer`]: request bookkeeping every server-side session needs.
//!
//! A server-side transport knows nothing about what it serves: it drives a
//! [`Service`], which opens one [`Session`] per client connection. The gateway is
//! one such service and `vmcp mock` is another, so both get every front end.

pub mod child;
pub mod http;
pub mod http_client;
pub mod legacy_sse;
pub mod lines;
pub mod link;
pub mod peer;
pub mod serve;
pub mod sse;
pub mod sse_client;
pub mod stdio;
pub mod tls;
pub mod ws;
pub mod ws_client;

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::protocol::{Notification, Request, Response};

/// Serialized JSON-RPC messages on their way to a client. Messages are serialized
/// once, by whoever produces them, and carried as text from there on.
pub type Tx = mpsc::Sender<String>;

/// Something that serves MCP sessions: the gateway, or the mock server.
pub trait Service: Send + Sync + 'static {
    type Session: Session;
    /// Opens a session for a new client, who is `principal` (the front end
    /// authenticated it, or it is the built-in local or anonymous one). `outbound`
    /// is where the session sends messages that belong to no particular request.
    /// Refused (with the reason) when the service takes no more sessions.
    fn open(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
    ) -> Result<Arc<Self::Session>, Refused>;
}

/// Why a service would not open a session.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The principal an HTTP request was authenticated as (put in the request's
/// extensions by the authentication layer); anonymous when there is none.
pub fn principal_of(ext: Option<axum::Extension<Principal>>) -> Principal {
    ext.map(|axum::Extension(p)| p).unwrap_or_else(Principal::anonymous)
}

/// One client's session, as a transport sees it.
pub trait Session: Send + Sync + 'static {
    /// Handles a request and produces its response. Messages related to the
    /// request (progress, server→client requests it caused) go to `related` when
    /// the transport has a per-request stream, or to the outbound stream otherwise.
    fn request(self: Arc<Self>, req: Request, related: Option<Tx>) -> impl Future<Output = Response> + Send + 'static;
    fn notification(&self, n: Notification);
    /// A client's answer to a request the session sent it.
    fn response(&self, r: Response);
    /// The client is gone: cancel what is in flight, release what is held.
    fn close(&self);
    /// The name of the principal the session belongs to: a request for it from
    /// anyone else is refused, so a session id alone is not a credential.
    fn owner(&self) -> &str;
}

/// The stream a session uses for messages that belong to no request: the
/// gateway's stdout in stdio mode, the GET stream in streamable HTTP. In HTTP it
/// comes and goes as the client opens and closes that stream.
#[derive(Clone, Default)]
pub struct Outbound {
    slot: Arc<Mutex<Option<Tx>>>,
}

impl Outbound {
    pub fn new() -> Self {
        Outbound::default()
    }

    pub fn attached(tx: Tx) -> Self {
        let o = Outbound::default();
        o.attach(tx);
        o
    }

    pub fn attach(&self, tx: Tx) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(tx);
        }
    }

    pub fn detach(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }

    /// The attached stream's sender, if any.
    pub fn sender(&self) -> Option<Tx> {
        self.slot.lock().ok().and_then(|s| s.clone())
    }

    pub fn is_attached(&self) -> bool {
        self.slot.lock().map(|s| s.as_ref().is_some_and(|tx| !tx.is_closed())).unwrap_or(false)
    }

    /// Queues a message without waiting. `false` when there is no stream or it is
    /// full: a client that reads nothing must not make the gateway buffer forever.
    pub fn send(&self, msg: String) -> bool {
        let tx = match self.slot.lock() {
            Ok(slot) => slot.clone(),
            Err(_) => None,
        };
        tx.is_some_and(|tx| tx.try_send(msg).is_ok())
    }
}

/// Empties a front end's session map (shutdown), returning what it held.
pub fn drain_sessions<E>(sessions: &Mutex<std::collections::HashMap<String, Arc<E>>>) -> Vec<Arc<E>> {
    match sessions.lock() {
        Ok(mut s) => s.drain().map(|(_, e)| e).collect(),
        Err(_) => Vec::new(),
    }
}

/// Sends to `related` when there is one, else to `outbound`.
pub fn send_related(related: Option<&Tx>, outbound: &Outbound, msg: String) -> bool {
    match related {
        Some(tx) if !tx.is_closed() => tx.try_send(msg).is_ok(),
        _ => outbound.send(msg),
    }
}
