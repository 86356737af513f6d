//! Session plumbing every MCP server side needs, whatever it serves:
//! [`InFlight`], the requests being handled (so `notifications/cancelled` and a
//! disconnect can stop them), and [`Outstanding`], the requests sent to the
//! client and waiting for its answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::protocol::{ErrorObject, Id, Message, RawObject, Request, Response, code};

/// Client id → (registration number, token). The number tells a registration
/// apart from a later one that reused its id.
type ById = Arc<Mutex<HashMap<Id, (u64, CancellationToken)>>>;

/// Requests being handled, by client id.
#[derive(Default)]
pub struct InFlight {
    root: CancellationToken,
    by_id: ById,
    seq: AtomicU64,
}

/// One registered request. Dropping it (the request finished, or its future was
/// dropped) unregisters it, so the table never keeps dead entries.
pub struct Registration {
    pub token: CancellationToken,
    id: Id,
    seq: u64,
    by_id: ById,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut m) = self.by_id.lock()
            && m.get(&self.id).is_some_and(|(seq, _)| *seq == self.seq)
        {
            m.remove(&self.id);
        }
    }
}

impl InFlight {
    /// Requests that are also cancelled when `parent` is (the client went away).
    pub fn under(parent: &CancellationToken) -> InFlight {
        InFlight { root: parent.child_token(), by_id: ById::default(), seq: AtomicU64::new(0) }
    }

    /// Registers a request; its token is cancelled by a `notifications/cancelled`
    /// for its id ([`InFlight::cancel_from`]) or by [`InFlight::cancel_all`].
    /// Call this before the request's future first runs, so a cancellation that
    /// follows the request immediately is not lost.
    pub fn begin(&self, id: &Id) -> Registration {
        let token = self.root.child_token();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.by_id.lock() {
            m.insert(id.clone(), (seq, token.clone()));
        }
        Registration { token, id: id.clone(), seq, by_id: self.by_id.clone() }
    }

    /// Handles the params of a client's `notifications/cancelled`.
    pub fn cancel_from(&self, params: Option<&RawValue>) -> Option<Id> {
        let id =
            params.and_then(|p| RawObject::parse(p).ok()).and_then(|p| p.get("requestId").and_then(Id::from_raw))?;
        let token = self.by_id.lock().ok().and_then(|m| m.get(&id).map(|(_, t)| t.clone()))?;
        token.cancel();
        Some(id)
    }

    pub fn cancel_all(&self) {
        self.root.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.root.is_cancelled()
    }

    pub async fn closed(&self) {
        self.root.cancelled().await
    }
}

/// Requests sent to the client, waiting for answers.
/// Server→client requests one client may leave unanswered at once.
pub const MAX_OUTSTANDING: usize = 64;

pub struct Outstanding {
    next: AtomicI64,
    waiting: Mutex<HashMap<i64, oneshot::Sender<Response>>>,
}

impl Default for Outstanding {
    fn default() -> Self {
        Outstanding { next: AtomicI64::new(1), waiting: Mutex::new(HashMap::new()) }
    }
}

impl Outstanding {
    pub fn next_id(&self) -> i64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `method` with `id` through `send` and waits for the answer, at most
    /// `timeout`, or until `closed` resolves.
    pub async fn ask(
        &self,
        id: i64,
        method: &str,
        params: Option<Box<RawValue>>,
        send: impl FnOnce(String) -> bool,
        timeout: Duration,
        closed: impl Future<Output = ()>,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.waiting.lock() {
            // A client that never answers must not collect requests without end.
            if m.len() >= MAX_OUTSTANDING {
                return Err(ErrorObject::new(
                    code::INTERNAL_ERROR,
                    format!(
                        "the client has {MAX_OUTSTANDING} requests from servers unanswered; {method} not sent until it answers some"
                    ),
                ));
            }
            m.insert(id, tx);
        }
        let msg = Message::Request(Request { id: Id::Number(id), method: method.to_owned(), params }).to_json();
        if !send(msg) {
            self.forget(id);
            return Err(ErrorObject::new(
                code::INTERNAL_ERROR,
                format!(
                    "cannot reach the client to send {method}: it has no open stream for server-initiated messages"
                ),
            ));
        }
        let answer = tokio::select! {
            r = rx => r.ok(),
            _ = tokio::time::sleep(timeout) => None,
            _ = closed => None,
        };
        self.forget(id);
        match answer {
            Some(r) => r.outcome,
            None => Err(ErrorObject::new(
                code::INTERNAL_ERROR,
                format!("the client did not answer {method} (disconnected or timed out)"),
            )),
        }
    }

    pub fn forget(&self, id: i64) {
        if let Ok(mut m) = self.waiting.lock() {
            m.remove(&id);
        }
    }

    /// Delivers a client's answer; false when nobody waits for it.
    pub fn answer(&self, r: Response) -> bool {
        let Id::Number(n) = r.id else { return false };
        let waiter = self.waiting.lock().ok().and_then(|mut m| m.remove(&n));
        match waiter {
            Some(tx) => tx.send(r).is_ok(),
            None => false,
        }
    }

    pub fn clear(&self) {
        if let Ok(mut m) = self.waiting.lock() {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ask_gets_the_matching_answer() {
        let o = std::sync::Arc::new(Outstanding::default());
        let id = o.next_id();
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel();
        let o2 = o.clone();
        let ask = tokio::spawn(async move {
            o2.ask(
                id,
                "roots/list",
                None,
                move |m| sent_tx.send(m).is_ok(),
                Duration::from_secs(5),
                std::future::pending(),
            )
            .await
        });
        let sent = sent_rx.recv().await.unwrap();
        assert!(sent.contains("\"roots/list\""));
        assert!(!o.answer(Response::ok(Id::Number(id + 100), crate::protocol::jsonrpc::empty_object())));
        assert!(
            o.answer(Response::ok(Id::Number(id), crate::protocol::jsonrpc::to_raw(&serde_json::json!({"roots": []}))))
        );
        assert_eq!(ask.await.unwrap().unwrap().get(), r#"{"roots":[]}"#);
    }

    #[tokio::test]
    async fn a_client_that_never_answers_gets_no_more_than_the_cap() {
        let o = std::sync::Arc::new(Outstanding::default());
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut asks = Vec::new();
        for _ in 0..MAX_OUTSTANDING {
            let (o, tx) = (o.clone(), sent_tx.clone());
            let id = o.next_id();
            asks.push(tokio::spawn(async move {
                o.ask(
                    id,
                    "roots/list",
                    None,
                    move |m| tx.send(m).is_ok(),
                    Duration::from_secs(60),
                    std::future::pending(),
                )
                .await
            }));
        }
        for _ in 0..MAX_OUTSTANDING {
            sent_rx.recv().await.unwrap();
        }
        let tx = sent_tx.clone();
        let over = o
            .ask(
                o.next_id(),
                "roots/list",
                None,
                move |m| tx.send(m).is_ok(),
                Duration::from_secs(60),
                std::future::pending(),
            )
            .await;
        assert!(over.unwrap_err().message.contains("unanswered"));
        assert!(sent_rx.try_recv().is_err(), "the one over the cap was not sent");
        for a in asks {
            a.abort();
        }
    }

    #[tokio::test]
    async fn cancel_from_params_cancels_only_that_request() {
        let f = InFlight::default();
        let one = f.begin(&Id::Number(1));
        let x = f.begin(&Id::String("x".into()));
        let p = RawValue::from_string(r#"{"requestId":"x","reason":"r"}"#.into()).unwrap();
        assert_eq!(f.cancel_from(Some(&p)), Some(Id::String("x".into())));
        assert!(x.token.is_cancelled() && !one.token.is_cancelled());
        f.cancel_all();
        assert!(one.token.is_cancelled());
    }

    #[test]
    fn registrations_unregister_on_drop_but_not_a_reused_id() {
        let f = InFlight::default();
        let first = f.begin(&Id::Number(7));
        let second = f.begin(&Id::Number(7));
        drop(first);
        assert_eq!(f.by_id.lock().unwrap().len(), 1, "the later registration of id 7 stays");
        drop(second);
        assert!(f.by_id.lock().unwrap().is_empty());
    }
}
