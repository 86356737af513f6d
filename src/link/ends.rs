//! [`Link`]: a live connection to one backend server, whatever carries it.
//!
//! Every link (a child process, streamable HTTP, legacy SSE, WebSocket) comes
//! down to three things: how messages leave ([`Outgoing`]), where the ones that
//! arrive go ([`Inbox`]), and a [`Lifetime`] that ends with it. The gateway's
//! backend connection implements the inbox and is handed the outgoing end; it
//! never sees which transport is underneath.
//!
//! What arrives is handed over on the task that read it, without a channel in
//! between: a server's answer wakes its caller directly. Over streamable HTTP
//! a message is POSTed by the task that sends it, which reads the answer
//! itself: the whole exchange happens on the caller's task.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::lifetime::Lifetime;
use crate::framing::lines::Line;
use crate::protocol::Id;

pub struct Link {
    pub outgoing: Outgoing,
    pub lifetime: Lifetime,
}

/// Where a link hands what the server sends. Called on the link's own task (or
/// a sender's, over streamable HTTP): it must not block.
pub trait Inbox: Send + Sync + 'static {
    /// One message (or a report of one over the size limit).
    fn receive(&self, line: Line);
    /// Nothing more will arrive: the server closed its output, or the stream
    /// ended. Requests still waiting can fail at once.
    fn closed(&self);
}

/// A message on its way to a server: its text, and what a transport may need
/// to know of it without reading it again.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub json: String,
    /// A request's id: a transport that cannot deliver the request answers it
    /// under this id, with an error saying why.
    pub id: Option<Id>,
    /// A request's or a notification's method (`None` for an answer).
    pub method: Option<String>,
    /// A 2026-07-28 request: its `Mcp-Name` header value, if its method has one.
    pub stateless: Option<Option<String>>,
}

impl Outbound {
    /// A message that needs no more than its text (an answer to the server).
    pub fn text(json: String) -> Outbound {
        Outbound { json, id: None, method: None, stateless: None }
    }
}

/// A transport whose every message is an exchange of its own (streamable
/// HTTP): the message is sent, and what comes back is handed to the inbox,
/// before the future ends.
pub trait Exchange: Send + Sync + 'static {
    fn exchange(self: Arc<Self>, msg: Outbound) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// How messages reach the server.
#[derive(Clone)]
pub enum Outgoing {
    /// A stream (a child's stdin, a WebSocket, the legacy transport's POST
    /// endpoint): serialized messages queued for the link's writer.
    Queue(mpsc::Sender<String>),
    /// Streamable HTTP: each message is its own POST, made by the sender.
    Exchange(Arc<dyn Exchange>),
}

/// The link is gone: nothing can be sent any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the link to the server is closed")]
pub struct Closed;

impl Outgoing {
    /// Sends one message: queued (waiting only while the queue is full), or
    /// exchanged (what the server answers has reached the inbox when this ends).
    pub async fn send(&self, msg: Outbound) -> Result<(), Closed> {
        match self {
            Outgoing::Queue(tx) => tx.send(msg.json).await.map_err(|_| Closed),
            Outgoing::Exchange(x) => {
                Detached(Some(x.clone().exchange(msg))).await;
                Ok(())
            }
        }
    }

    /// Sends without waiting, best effort (a notification, an answer to the
    /// server's own request): false when it could not even be queued.
    pub fn send_now(&self, msg: Outbound) -> bool {
        match self {
            Outgoing::Queue(tx) => tx.try_send(msg.json).is_ok(),
            Outgoing::Exchange(x) => match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(x.clone().exchange(msg));
                    true
                }
                Err(_) => false,
            },
        }
    }
}

/// An exchange that goes on by itself when its sender stops waiting (a
/// timeout, a cancellation): streamable HTTP does not take a dropped
/// connection for a cancellation, so the request is seen through (the server
/// has been sent `notifications/cancelled` meanwhile, and ends it), and the
/// connection is kept.
struct Detached(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Future for Detached {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let Some(fut) = self.0.as_mut() else { return std::task::Poll::Ready(()) };
        let done = fut.as_mut().poll(cx);
        if done.is_ready() {
            self.0 = None;
        }
        done
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(fut) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(fut);
        }
    }
}
