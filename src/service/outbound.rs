//! [`Outbound`]: where a session sends what belongs to no request.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// Serialized JSON-RPC messages on their way to a client. Messages are serialized
/// once, by whoever produces them, and carried as text from there on.
pub type Tx = mpsc::Sender<String>;

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

/// Sends to `related` when there is one, else to `outbound`.
pub fn send_related(related: Option<&Tx>, outbound: &Outbound, msg: String) -> bool {
    match related {
        Some(tx) if !tx.is_closed() => tx.try_send(msg).is_ok(),
        _ => outbound.send(msg),
    }
}
