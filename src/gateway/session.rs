//! [`ClientSession`]: one client's session, as the front ends drive it (the
//! gateway's side of [`crate::service`]).
//!
//! The session owns the client's requests in flight (so
//! `notifications/cancelled` and a disconnect can stop them, which cancels
//! them upstream too) and the handshake: `initialize`, `ping` and
//! `server/discover` are answered here; every other request is parsed once
//! into a [`Call`] and handed to the [`Gateway`]. What the stages need to know
//! about the client lives in its [`Client`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::value::RawValue;
use tracing::Instrument;

use super::call::Call;
use super::client::Client;
use super::core::Gateway;
use super::error::GatewayError;
use crate::auth::Principal;
use crate::protocol::stateless::{self, StatelessMeta};
use crate::protocol::{Notification, RawObject, Request, Response, Revision, jsonrpc, method};
use crate::service::{self, Handshake, InFlight, Outbound, Refused, Service, Tx};

pub struct ClientSession {
    client: Arc<Client>,
    gateway: Arc<Gateway>,
    inflight: InFlight,
    closed: AtomicBool,
}

impl Service for Arc<Gateway> {
    type Session = ClientSession;

    fn open(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
    ) -> Result<Arc<ClientSession>, Refused> {
        let policy = self.policies().view(&principal);
        let client = self.sessions().open(front, outbound, principal, policy)?;
        self.metrics().session_opened(front);
        tracing::debug!(session = client.id, front, principal = %client.principal.name, "session opened");
        let inflight = InFlight::under(client.closed_token());
        Ok(Arc::new(ClientSession { client, gateway: self.clone(), inflight, closed: AtomicBool::new(false) }))
    }

    fn resume(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
        state: &Handshake,
    ) -> Result<Arc<ClientSession>, Refused> {
        let revision = Revision::parse(&state.revision)
            .filter(|r| !r.is_stateless())
            .ok_or_else(|| Refused(format!("cannot resume a session of revision {:?}", state.revision)))?;
        let capabilities = RawValue::from_string(state.capabilities.clone())
            .ok()
            .and_then(|raw| RawObject::parse(&raw).ok())
            .unwrap_or_default();
        let session = self.open(front, outbound, principal)?;
        session.client.negotiated(revision, capabilities);
        // Its client sent notifications/initialized long ago, perhaps elsewhere.
        session.client.set_initialized();
        tracing::debug!(session = session.client.id, front, revision = %revision, "session resumed");
        Ok(session)
    }
}

impl ClientSession {
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    fn initialize(&self, params: &RawObject) -> Result<Box<RawValue>, GatewayError> {
        let requested = params
            .get_str("protocolVersion")
            .ok_or_else(|| GatewayError::InvalidParams("initialize: missing protocolVersion".into()))?;
        let revision = Revision::negotiate(&requested);
        let capabilities = params.get("capabilities").and_then(|c| RawObject::parse(c).ok()).unwrap_or_default();
        let client = params.get_as::<serde_json::Value>("clientInfo");
        tracing::info!(
            session = self.client.id,
            front = self.client.front,
            requested = %requested,
            negotiated = %revision,
            client = %client.as_ref().and_then(|c| c.get("name")).and_then(|n| n.as_str()).unwrap_or("?"),
            "client initialized"
        );
        self.client.negotiated(revision, capabilities);
        Ok(self.gateway.describe().initialize(revision))
    }

    async fn dispatch(&self, req: &Request, related: Option<Tx>) -> Result<Box<RawValue>, GatewayError> {
        match Call::parse(req)? {
            Call::Initialize(params) => {
                // Let backends that are still starting finish, so the first list is complete.
                self.gateway.wait_started().await;
                self.initialize(&params)
            }
            Call::Ping => Ok(jsonrpc::empty_object()),
            Call::Discover => {
                self.gateway.wait_started().await;
                Ok(self.gateway.describe().discover())
            }
            call => self.gateway.handle(&self.client, call, related).await,
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
        let span = tracing::debug_span!("request", session = self.client.id, method = %req.method);
        async move {
            if self.gateway.is_shutting_down() {
                return Response::err(req.id, GatewayError::ShuttingDown.to_error_object());
            }
            // A listen stream lasts as long as its client wants: a drain does not wait for it.
            let _busy = (req.method != method::SUBSCRIPTIONS_LISTEN).then(|| self.gateway.busy());
            // A 2026-07-28 request says who its client is, every time.
            let stateless = match StatelessMeta::from_request(&req) {
                Ok(m) => m,
                Err(e) => return Response::err(req.id, e),
            };
            if let Some(m) = &stateless {
                self.client.adopt(m);
                // No initialize waited for servers still starting: the first
                // stateless request does (at once, once they have).
                self.gateway.wait_started().await;
            } else if !matches!(req.method.as_str(), method::INITIALIZE | method::PING)
                && !self.client.is_initialized()
                && self.client.revision().is_some()
            {
                // A client sends notifications/initialized before any other
                // request; behind a load balancer it may have reached another
                // replica. Its first real request here says it was sent.
                self.client.set_initialized();
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
            method::INITIALIZED => self.client.set_initialized(),
            method::CANCELLED => {
                self.inflight.cancel_from(n.params.as_deref());
            }
            method::ROOTS_LIST_CHANGED => {
                for (_, conn) in self.gateway.supervisor().ready() {
                    conn.notify(method::ROOTS_LIST_CHANGED, None);
                }
            }
            other => tracing::debug!(session = self.client.id, method = other, "notification ignored"),
        }
    }

    fn response(&self, r: Response) {
        let id = r.id.clone();
        if !self.client.answer(r) {
            tracing::debug!(session = self.client.id, %id, "an answer to no request vmcp is waiting for");
        }
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::Relaxed) {
            return;
        }
        // Cancels what is in flight (a child of the client's token) and lets go
        // of its stream and of the requests sent to it.
        self.client.close();
        self.gateway.metrics().session_closed(self.client.front);
        self.gateway.subscriptions().release_client(&self.client);
        self.gateway.sessions().forget(self.client.id);
        self.gateway.supervisor().release_session(self.client.id);
        tracing::debug!(session = self.client.id, "session closed");
    }

    fn owner(&self) -> &str {
        &self.client.principal.name
    }

    fn handshake(&self) -> Option<Handshake> {
        let (revision, capabilities) = self.client.handshake()?;
        Some(Handshake { revision: revision.as_str().to_owned(), capabilities: capabilities.get().to_owned() })
    }
}
