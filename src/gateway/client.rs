//! [`Client`]: one connected client as the gateway's stages see it.
//!
//! Who it is (principal and what its policies allow), what it negotiated
//! (revision, capabilities), how to reach it (its outbound stream, requests
//! sent to it and their answers), what it subscribed to, and which replica of
//! each server group it keeps to. The session (`session.rs`) owns the client's
//! requests in flight; everything a stage needs to know about the client, or
//! to send it, is here, so the stages never depend on the session.
//!
//! [`Caller`] is the client a backend request was made for, kept with the
//! request while it is in flight: what the server sends meanwhile (progress,
//! sampling, elicitation, roots) finds its way back through it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::input_required::Inbox;
use crate::auth::{PolicyView, Principal};
use crate::protocol::stateless::StatelessMeta;
use crate::protocol::{ErrorObject, Message, Notification, RawObject, Revision, jsonrpc, method};
use crate::service::{self, Outbound, Outstanding, Tx};

/// How long a client may take to answer a server→client request (a human may be
/// answering an elicitation).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Handshake {
    revision: Option<Revision>,
    capabilities: RawObject,
}

pub struct Client {
    pub id: u64,
    /// The front end it came through ("stdio", "http", "sse", "ws").
    pub front: &'static str,
    /// Who the client is (authenticated by the front end, or the built-in
    /// `local` for stdio and `anonymous` without `[auth]`).
    pub principal: Principal,
    /// What the policies let this principal use.
    pub policy: PolicyView,
    outbound: Outbound,
    handshake: Mutex<Handshake>,
    initialized: AtomicBool,
    /// Requests sent to the client on a backend's behalf, waiting for answers.
    outstanding: Outstanding,
    /// Cancelled when the client goes away: requests to it stop waiting.
    closed: CancellationToken,
    /// Exposed resource URIs it subscribed to.
    subscriptions: Mutex<HashSet<String>>,
    /// Server group -> the replica this client keeps to (`affinity = "session"`).
    pins: Mutex<HashMap<Arc<str>, usize>>,
}

impl Client {
    pub fn new(id: u64, front: &'static str, outbound: Outbound, principal: Principal, policy: PolicyView) -> Client {
        Client {
            id,
            front,
            principal,
            policy,
            outbound,
            handshake: Mutex::new(Handshake::default()),
            initialized: AtomicBool::new(false),
            outstanding: Outstanding::default(),
            closed: CancellationToken::new(),
            subscriptions: Mutex::new(HashSet::new()),
            pins: Mutex::new(HashMap::new()),
        }
    }

    /// Initialized (`notifications/initialized` arrived): it receives what
    /// belongs to no request (list changes, messages). A stateless client never is.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Relaxed)
    }

    pub fn set_initialized(&self) {
        self.initialized.store(true, Ordering::Relaxed);
    }

    pub fn revision(&self) -> Option<Revision> {
        self.handshake.lock().ok().and_then(|h| h.revision)
    }

    /// A stateless (2026-07-28) client: no handshake, requests only.
    pub fn is_stateless(&self) -> bool {
        self.revision().is_some_and(Revision::is_stateless)
    }

    /// Whether the client announced `capability` (e.g. "sampling").
    pub fn has(&self, capability: &str) -> bool {
        self.handshake
            .lock()
            .map(|h| h.capabilities.get(capability).is_some_and(|v| v.get() != "null"))
            .unwrap_or(false)
    }

    /// What the handshake settled, once it has (never for a stateless client).
    pub fn handshake(&self) -> Option<(Revision, Box<serde_json::value::RawValue>)> {
        let h = self.handshake.lock().ok()?;
        let revision = h.revision.filter(|r| !r.is_stateless())?;
        Some((revision, h.capabilities.to_raw()))
    }

    /// What `initialize` negotiated.
    pub fn negotiated(&self, revision: Revision, capabilities: RawObject) {
        if let Ok(mut h) = self.handshake.lock() {
            h.revision = Some(revision);
            h.capabilities = capabilities;
        }
    }

    /// Takes a 2026-07-28 request's view of its client. The client never counts
    /// as initialized: a stateless client gets nothing outside its requests.
    pub fn adopt(&self, meta: &StatelessMeta) {
        self.negotiated(Revision::V2026_07_28, meta.capabilities.clone());
    }

    /// The replica of `server` this client keeps to, if any.
    pub fn pinned(&self, server: &str) -> Option<usize> {
        self.pins.lock().ok().and_then(|p| p.get(server).copied())
    }

    pub fn pin(&self, server: &Arc<str>, replica: usize) {
        if let Ok(mut p) = self.pins.lock()
            && p.get(&**server) != Some(&replica)
        {
            p.insert(server.clone(), replica);
        }
    }

    /// Counts a subscription; false when the client already had it.
    pub fn subscribe(&self, uri: &str) -> bool {
        self.subscriptions.lock().map(|mut s| s.insert(uri.to_owned())).unwrap_or(false)
    }

    /// Drops a subscription; false when the client did not have it.
    pub fn unsubscribe(&self, uri: &str) -> bool {
        self.subscriptions.lock().map(|mut s| s.remove(uri)).unwrap_or(false)
    }

    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.subscriptions.lock().map(|s| s.contains(uri)).unwrap_or(false)
    }

    /// Every subscription, given up (the client is leaving).
    pub fn take_subscriptions(&self) -> Vec<String> {
        self.subscriptions.lock().map(|mut s| s.drain().collect()).unwrap_or_default()
    }

    /// Queues a message on the outbound stream, without waiting.
    pub fn send(&self, json: String) -> bool {
        self.outbound.send(json)
    }

    /// The outbound stream's sender, if one is attached.
    pub fn outbound_sender(&self) -> Option<Tx> {
        self.outbound.sender()
    }

    /// Sends on the request's own stream when there is one, else outbound.
    pub fn send_related(&self, related: Option<&Tx>, json: String) -> bool {
        service::send_related(related, &self.outbound, json)
    }

    /// A fresh id for a request to the client.
    pub fn next_request_id(&self) -> i64 {
        self.outstanding.next_id()
    }

    /// Sends a request to the client on a backend's behalf and waits for the
    /// answer; `id` comes from [`Client::next_request_id`].
    pub async fn ask(
        &self,
        id: i64,
        method: &str,
        params: Option<Box<RawValue>>,
        related: Option<&Tx>,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let send = |msg: String| service::send_related(related, &self.outbound, msg);
        self.outstanding.ask(id, method, params, send, ANSWER_TIMEOUT, self.closed.cancelled()).await
    }

    /// Delivers the client's answer to a request it was sent; false when
    /// nothing waits for it.
    pub fn answer(&self, r: crate::protocol::Response) -> bool {
        self.outstanding.answer(r)
    }

    /// Tells the client a backend gave up on a request the gateway forwarded.
    pub fn cancel_request(&self, id: i64, reason: Option<String>) {
        let params = jsonrpc::to_raw(&serde_json::json!({ "requestId": id, "reason": reason }));
        let msg =
            Message::Notification(Notification { method: method::CANCELLED.into(), params: Some(params) }).to_json();
        self.outbound.send(msg);
        self.outstanding.forget(id);
    }

    /// Cancelled when the client goes away.
    pub fn closed_token(&self) -> &CancellationToken {
        &self.closed
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// The client is gone: requests to it stop waiting, its stream is let go.
    pub fn close(&self) {
        self.closed.cancel();
        self.outbound.detach();
        self.outstanding.clear();
    }
}

/// The client a backend request was made for (see the module comment).
#[derive(Clone)]
pub struct Caller {
    pub client: Weak<Client>,
    pub client_id: u64,
    /// The stream of the client request that caused it, when the front end
    /// has one per request.
    pub related: Option<Tx>,
    /// For a stateless client: where its call collects server→client requests
    /// (they become an `input_required` result).
    pub inbox: Option<Inbox>,
}

impl Caller {
    pub fn new(client: &Arc<Client>, related: Option<Tx>, inbox: Option<Inbox>) -> Caller {
        Caller { client: Arc::downgrade(client), client_id: client.id, related, inbox }
    }
}
