//! One client's session with the gateway.
//!
//! The session owns what is per client: the negotiated revision and the client's
//! capabilities, the requests it has in flight (so `notifications/cancelled` and a
//! disconnect can stop them, which cancels them upstream too), the requests the
//! gateway sent it on a backend's behalf (sampling, elicitation, roots), and its
//! resource subscriptions.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use tracing::Instrument;

use super::Gateway;
use super::error::GatewayError;
use crate::auth::{PolicyView, Principal};
use crate::protocol::stateless::{self, StatelessMeta};
use crate::protocol::{ErrorObject, Message, Notification, RawObject, Request, Response, Revision, method};
use crate::service::{self, Outbound, Tx};
use crate::service::{InFlight, Outstanding};

/// How long a client may take to answer a server→client request (a human may be
/// answering an elicitation).
const CLIENT_ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Handshake {
    revision: Option<Revision>,
    capabilities: RawObject,
}

pub struct ClientSession {
    pub id: u64,
    pub front: &'static str,
    gateway: Arc<Gateway>,
    outbound: Outbound,
    handshake: Mutex<Handshake>,
    initialized: AtomicBool,
    inflight: InFlight,
    outstanding: Outstanding,
    pub(crate) subscriptions: Mutex<HashSet<String>>,
    /// Server group -> the replica this session keeps to (`affinity = "session"`).
    pins: Mutex<HashMap<Arc<str>, usize>>,
    /// Who the client is (authenticated by the front end, or the built-in
    /// `local` for stdio and `anonymous` without `[auth]`).
    pub principal: Principal,
    /// What the policies let this principal use.
    pub(crate) policy: PolicyView,
}

impl ClientSession {
    pub(crate) fn new(
        id: u64,
        gateway: Arc<Gateway>,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
        policy: PolicyView,
    ) -> Arc<Self> {
        Arc::new(ClientSession {
            id,
            front,
            gateway,
            outbound,
            handshake: Mutex::new(Handshake::default()),
            initialized: AtomicBool::new(false),
            inflight: InFlight::default(),
            outstanding: Outstanding::default(),
            subscriptions: Mutex::new(HashSet::new()),
            pins: Mutex::new(HashMap::new()),
            principal,
            policy,
        })
    }

    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Relaxed)
    }

    pub fn revision(&self) -> Option<Revision> {
        self.handshake.lock().ok().and_then(|h| h.revision)
    }

    /// Whether the client announced `capability` (e.g. "sampling").
    pub fn client_has(&self, capability: &str) -> bool {
        self.handshake
            .lock()
            .map(|h| h.capabilities.get(capability).is_some_and(|v| v.get() != "null"))
            .unwrap_or(false)
    }

    /// The replica of `server` this session keeps to, if any.
    pub(crate) fn pinned(&self, server: &str) -> Option<usize> {
        self.pins.lock().ok().and_then(|p| p.get(server).copied())
    }

    pub(crate) fn pin(&self, server: &Arc<str>, replica: usize) {
        if let Ok(mut p) = self.pins.lock()
            && p.get(&**server) != Some(&replica)
        {
            p.insert(server.clone(), replica);
        }
    }

    pub(crate) fn send_outbound(&self, json: String) -> bool {
        self.outbound.send(json)
    }

    pub(crate) fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// A stateless (2026-07-28) client: no handshake, requests only.
    pub fn is_stateless(&self) -> bool {
        self.revision().is_some_and(Revision::is_stateless)
    }

    pub(crate) fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// A fresh id for a request to the client.
    pub(crate) fn next_request_id(&self) -> i64 {
        self.outstanding.next_id()
    }

    /// Sends a request to the client on a backend's behalf and waits for the
    /// answer; `id` comes from [`ClientSession::next_request_id`].
    pub(crate) async fn ask_client(
        &self,
        id: i64,
        method: &str,
        params: Option<Box<RawValue>>,
        related: Option<&Tx>,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let send = |msg: String| service::send_related(related, &self.outbound, msg);
        self.outstanding.ask(id, method, params, send, CLIENT_ANSWER_TIMEOUT, self.inflight.closed()).await
    }

    /// Tells the client a backend gave up on a request the gateway forwarded.
    pub(crate) fn cancel_to_client(&self, id: i64, reason: Option<String>) {
        let params = crate::protocol::jsonrpc::to_raw(&serde_json::json!({ "requestId": id, "reason": reason }));
        let msg =
            Message::Notification(Notification { method: method::CANCELLED.into(), params: Some(params) }).to_json();
        self.outbound.send(msg);
        self.outstanding.forget(id);
    }

    /// Takes a 2026-07-28 request's view of its client. The session never counts
    /// as initialized: a stateless client gets nothing outside its requests.
    fn adopt(&self, m: &StatelessMeta) {
        if let Ok(mut h) = self.handshake.lock() {
            h.revision = Some(Revision::V2026_07_28);
            h.capabilities = m.capabilities.clone();
        }
    }

    fn initialize(&self, req: &Request) -> Result<Box<RawValue>, GatewayError> {
        let params = match &req.params {
            Some(p) => RawObject::parse(p).map_err(|e| GatewayError::InvalidParams(format!("initialize: {e}")))?,
            None => return Err(GatewayError::InvalidParams("initialize needs params".into())),
        };
        let requested = params
            .get_str("protocolVersion")
            .ok_or_else(|| GatewayError::InvalidParams("initialize: missing protocolVersion".into()))?;
        let revision = Revision::negotiate(&requested);
        let capabilities = params.get("capabilities").and_then(|c| RawObject::parse(c).ok()).unwrap_or_default();
        let client = params.get_as::<serde_json::Value>("clientInfo");
        tracing::info!(
            session = self.id,
            front = self.front,
            requested = %requested,
            negotiated = %revision,
            client = %client.as_ref().and_then(|c| c.get("name")).and_then(|n| n.as_str()).unwrap_or("?"),
            "client initialized"
        );
        if let Ok(mut h) = self.handshake.lock() {
            h.revision = Some(revision);
            h.capabilities = capabilities;
        }
        Ok(self.gateway.initialize_result(revision))
    }

    async fn dispatch(self: &Arc<Self>, req: &Request, related: Option<Tx>) -> Result<Box<RawValue>, GatewayError> {
        match req.method.as_str() {
            method::INITIALIZE => {
                // Let backends that are still starting finish, so the first list is complete.
                self.gateway.wait_started().await;
                self.initialize(req)
            }
            method::PING => Ok(crate::protocol::jsonrpc::empty_object()),
            method::SERVER_DISCOVER => {
                self.gateway.wait_started().await;
                Ok(self.gateway.discover_result())
            }
            _ => self.gateway.route(self, req, related).await,
        }
    }
}

impl service::Session for ClientSession {
    fn request(self: Arc<Self>, req: Request, related: Option<Tx>) -> impl Future<Output = Response> + Send + 'static {
        // Registered now, not when the future first runs: a cancellation sent
        // right behind the request must find it.
        let registration = self.inflight.begin(&req.id);
        // With debug logging on, every log line about this request (routing, the
        // backend call, its failure) carries the session and the method. A debug
        // span, not info: an enabled span costs an allocation and a registry
        // entry on every request, which shows in the profile at info level.
        let span = tracing::debug_span!("request", session = self.id, method = %req.method);
        async move {
            if self.gateway.is_shutting_down() {
                return Response::err(req.id, GatewayError::ShuttingDown.to_error_object());
            }
            // A listen stream lasts as long as its client wants: a drain does not wait for it.
            let _busy = (req.method != method::SUBSCRIPTIONS_LISTEN).then(|| self.gateway.busy.enter());
            // A 2026-07-28 request says who its client is, every time.
            let stateless = match StatelessMeta::from_request(&req) {
                Ok(m) => m,
                Err(e) => return Response::err(req.id, e),
            };
            if let Some(m) = &stateless {
                self.adopt(m);
                // No initialize waited for servers still starting: the first
                // stateless request does (at once, once they have).
                self.gateway.wait_started().await;
            }
            let outcome = tokio::select! {
                r = self.dispatch(&req, related) => r,
                _ = registration.token.cancelled() => Err(GatewayError::Cancelled),
            };
            drop(registration);
            let outcome = match stateless {
                Some(_) => outcome.map(|r| stateless::complete(&req.method, r)),
                None => outcome,
            };
            if let Err(e) = &outcome {
                tracing::debug!("request failed: {e}");
            }
            Response { id: req.id, outcome: outcome.map_err(|e| e.to_error_object()) }
        }
        .instrument(span)
    }

    fn notification(&self, n: Notification) {
        match n.method.as_str() {
            method::INITIALIZED => self.initialized.store(true, Ordering::Relaxed),
            method::CANCELLED => {
                self.inflight.cancel_from(n.params.as_deref());
            }
            method::ROOTS_LIST_CHANGED => {
                for (_, conn) in self.gateway.ready() {
                    conn.notify(method::ROOTS_LIST_CHANGED, None);
                }
            }
            other => tracing::debug!(session = self.id, method = other, "notification ignored"),
        }
    }

    fn response(&self, r: Response) {
        let id = r.id.clone();
        if !self.outstanding.answer(r) {
            tracing::debug!(session = self.id, %id, "an answer to no request vmcp is waiting for");
        }
    }

    fn close(&self) {
        if self.inflight.is_closed() {
            return;
        }
        self.inflight.cancel_all();
        self.outbound.detach();
        self.outstanding.clear();
        crate::observe::metrics::Metrics::global().session_closed(self.front);
        let subs: Vec<String> = self.subscriptions.lock().map(|mut s| s.drain().collect()).unwrap_or_default();
        let gw = self.gateway.clone();
        if !subs.is_empty() {
            tokio::spawn(async move {
                for uri in subs {
                    gw.release_subscription(&uri).await;
                }
            });
        }
        self.gateway.forget_session(self.id);
        tracing::debug!(session = self.id, "session closed");
    }

    fn owner(&self) -> &str {
        &self.principal.name
    }
}
