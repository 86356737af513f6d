//! `input_required`: how a stateless (2026-07-28) client answers a backend's
//! sampling, elicitation or roots request (multi-round-trip requests).
//!
//! A handshake-era backend asks the client mid-call, with a request of its own.
//! A 2026-07-28 client cannot receive requests; instead its `tools/call`,
//! `prompts/get` or `resources/read` ends with an `input_required` result that
//! lists what is asked, plus an opaque `requestState`. The client retries the
//! call with `inputResponses` and that state; the gateway hands the answers to
//! the waiting backend and goes on waiting for the call's real result.
//!
//! So the backend call must outlive the HTTP request that started it: it runs as
//! a task owned by a [`Pending`] entry, keyed by the unguessable state token,
//! which expires (aborting the call, which cancels it upstream) when the client
//! never comes back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::error::GatewayError;
use crate::protocol::{ErrorObject, RawObject};
use crate::service::{Outbound, Tx};

/// Marks the gateway's own `requestState` tokens (a backend's pass through).
const TOKEN_PREFIX: &str = "vmcp1.";

/// How long a client has to come back with its answers.
const EXPIRY: Duration = Duration::from_secs(600);
/// At most this many calls may wait for answers at once (a bound on memory).
const MAX_PENDING: usize = 10_000;

/// Where the client's answer to one input request goes.
type Reply = oneshot::Sender<Result<Box<RawValue>, ErrorObject>>;

/// A backend's request for the client, on its way to an `input_required` result.
pub struct InputRequest {
    pub method: String,
    pub params: Option<Box<RawValue>>,
    pub reply: Reply,
}

/// A call waiting for its client's answers.
pub struct Pending {
    task: JoinHandle<Result<Box<RawValue>, GatewayError>>,
    /// Where the call's progress goes: the stream of whichever client request is
    /// currently waiting on it (none between rounds, so no stream is held open).
    relay: Relay,
    /// The gateway's progress token for the call, once its task has set one.
    progress: Arc<Mutex<Option<String>>>,
    inbox: mpsc::Receiver<InputRequest>,
    /// Key → (what was asked, where the answer goes).
    asked: HashMap<String, (InputShape, Reply)>,
    next_key: u64,
}

#[derive(Clone)]
struct InputShape {
    method: String,
    params: Option<Box<RawValue>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        // An abandoned call is cancelled upstream (its guard sends notifications/cancelled).
        self.task.abort();
    }
}

/// The table of calls waiting for answers.
#[derive(Default)]
pub struct Table {
    waiting: Mutex<HashMap<String, (Instant, Pending)>>,
}

impl Table {
    fn put(&self, p: Pending) -> Result<String, GatewayError> {
        let token = format!("{TOKEN_PREFIX}{}", hex(&rand::random::<[u8; 24]>()));
        let Ok(mut w) = self.waiting.lock() else { return Err(GatewayError::ShuttingDown) };
        let now = Instant::now();
        w.retain(|_, (at, _)| now.duration_since(*at) < EXPIRY);
        if w.len() >= MAX_PENDING {
            return Err(GatewayError::InvalidParams("too many calls are waiting for client input".into()));
        }
        w.insert(token.clone(), (now, p));
        Ok(token)
    }

    fn take(&self, token: &str) -> Option<Pending> {
        let (at, p) = self.waiting.lock().ok()?.remove(token)?;
        (at.elapsed() < EXPIRY).then_some(p)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A relay for a call's request-scoped messages (progress): the call's task
/// sends to [`Relay::tx`]; what arrives is passed on to whatever stream the
/// [`Relay::slot`] has attached at the time.
pub struct Relay {
    pub slot: Outbound,
    pub tx: Tx,
    /// Notified whenever the relay's queue has been emptied.
    drained: Arc<Notify>,
}

pub fn relay(related: Option<Tx>) -> Relay {
    let slot = Outbound::new();
    if let Some(r) = related {
        slot.attach(r);
    }
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let out = slot.clone();
    let drained = Arc::new(Notify::new());
    let emptied = drained.clone();
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            out.send(msg);
            if rx.is_empty() {
                emptied.notify_waiters();
            }
        }
    });
    Relay { slot, tx, drained }
}

impl Relay {
    /// Waits until everything queued so far has been passed on (at most a
    /// moment): a call's last progress report must reach its client before
    /// the answer does.
    async fn flush(&self) {
        let deadline = tokio::time::Instant::now() + FLUSH_WAIT;
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.tx.capacity() == self.tx.max_capacity() {
                return;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return;
            }
        }
    }
}

/// The longest a finished call waits for its progress reports to be passed on.
const FLUSH_WAIT: Duration = Duration::from_millis(200);

/// Starts a call whose server→client requests arrive on `inbox`.
pub fn start(
    task: JoinHandle<Result<Box<RawValue>, GatewayError>>,
    inbox: mpsc::Receiver<InputRequest>,
    relay: Relay,
    progress: Arc<Mutex<Option<String>>>,
) -> Pending {
    Pending { task, relay, progress, inbox, asked: HashMap::new(), next_key: 1 }
}

impl Table {
    /// Resumes a call from a client's retry: hands over its `inputResponses`, and
    /// points the call's progress at the retry's stream.
    pub fn resume(&self, params: &RawObject, related: Option<Tx>) -> Result<Option<Pending>, GatewayError> {
        let Some(token) = params.get_str("requestState") else { return Ok(None) };
        if !token.starts_with(TOKEN_PREFIX) {
            // A 2026-07-28 backend's own state, passed through to the client: the
            // retry goes back to that backend as it is.
            return Ok(None);
        }
        let Some(mut pending) = self.take(&token) else {
            return Err(GatewayError::InvalidParams(
                "requestState is unknown or expired (vmcp keeps a call waiting for input for 10 minutes)".into(),
            ));
        };
        if let Some(r) = related {
            pending.relay.slot.attach(r);
        }
        let answers: RawObject = params.get_as("inputResponses").unwrap_or_default();
        let keys: Vec<String> = pending.asked.keys().cloned().collect();
        for key in keys {
            if let Some(answer) = answers.get(&key)
                && let Some((_, reply)) = pending.asked.remove(&key)
            {
                let _ = reply.send(Ok(answer.to_owned()));
            }
        }
        Ok(Some(pending))
    }

    /// Waits for the call to finish, or to need input: then parks it in `table`
    /// and returns the `input_required` result.
    pub async fn wait(&self, mut pending: Pending) -> Result<Box<RawValue>, GatewayError> {
        if pending.asked.is_empty() {
            tokio::select! {
                r = &mut pending.task => {
                    pending.relay.flush().await;
                    return joined(r);
                }
                req = pending.inbox.recv() => {
                    if let Some(req) = req {
                        pending.ask(req);
                    }
                }
            }
        }
        // Whatever else is already waiting goes into the same round.
        while let Ok(req) = pending.inbox.try_recv() {
            pending.ask(req);
        }
        if pending.asked.is_empty() {
            let r = (&mut pending.task).await;
            pending.relay.flush().await;
            return joined(r);
        }
        let mut requests = RawObject::new();
        for (key, (shape, _)) in &pending.asked {
            let mut r = RawObject::new();
            r.set("method", &shape.method);
            if let Some(p) = &shape.params {
                r.set_raw("params", p.clone());
            }
            requests.set(key, &r);
        }
        // Between rounds no client request waits: let its stream end.
        pending.relay.slot.detach();
        let token = self.put(pending)?;
        let mut result = RawObject::new();
        result.set("resultType", "input_required");
        result.set("inputRequests", &requests);
        result.set("requestState", &token);
        Ok(result.to_raw())
    }
}

impl Pending {
    /// The gateway's progress token for this call, if it reports progress.
    pub fn progress_token(&self) -> Option<String> {
        self.progress.lock().ok().and_then(|t| t.clone())
    }

    fn ask(&mut self, req: InputRequest) {
        let key = format!("vmcp-{}", self.next_key);
        self.next_key += 1;
        self.asked.insert(key, (InputShape { method: req.method, params: req.params }, req.reply));
    }
}

fn joined(
    r: Result<Result<Box<RawValue>, GatewayError>, tokio::task::JoinError>,
) -> Result<Box<RawValue>, GatewayError> {
    r.unwrap_or_else(|e| Err(GatewayError::InvalidParams(format!("the call failed inside vmcp: {e}"))))
}

/// Shared handle type for owners.
pub type Inbox = mpsc::Sender<InputRequest>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flushed_relay_has_passed_on_everything_sent_before() {
        let (stream, mut client) = mpsc::channel::<String>(256);
        let relay = relay(Some(stream));
        for i in 0..50 {
            relay.tx.send(format!("progress {i}")).await.unwrap();
        }
        relay.flush().await;
        // Nothing left in the relay's queue: all of it is on the client's stream,
        // in order, before anything sent after the flush (the call's answer).
        for i in 0..50 {
            assert_eq!(client.try_recv().unwrap(), format!("progress {i}"));
        }
        assert!(client.try_recv().is_err());
    }
}
