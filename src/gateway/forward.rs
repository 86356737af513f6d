//! Forwarding a request to its server on a client session's behalf.
//!
//! On the way: the server's capability is checked, its limits applied, a
//! replica picked (the session's own while it is up, else by the server's
//! strategy) under that replica's circuit breaker, and the request sent with
//! the progress token swapped for the gateway's, under the method's idle
//! timeout (progress restarts it) and the absolute cap. A request that is safe
//! to repeat and failed for the replica's sake is retried on another replica,
//! within the retry budget. Across protocol eras: a stateless client's call
//! may end `input_required` ([`super::mrtr`]), and a 2026-07-28 server's
//! `input_required` is put to a handshake-era client as requests.

use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;

use super::Gateway;
use super::backend::{BackendConn, Owner};
use super::error::GatewayError;
use super::mrtr;
use super::replica;
use super::server::{Pick, Server};
use super::session::ClientSession;
use crate::config::{Affinity, Balance, HashKey};
use crate::observe::metrics::Metrics;
use crate::protocol::{RawObject, method};
use crate::service::Tx;

type Routed = Result<Box<RawValue>, GatewayError>;

/// The capability a server must have announced for a client method.
fn capability_for(m: &str) -> Option<&'static str> {
    Some(match m {
        method::TOOLS_CALL => "tools",
        method::PROMPTS_GET => "prompts",
        method::RESOURCES_READ | method::RESOURCES_SUBSCRIBE | method::RESOURCES_UNSUBSCRIBE => "resources",
        method::COMPLETION_COMPLETE => "completions",
        _ => return None,
    })
}

/// Counts a refusal by the gateway itself in the metrics, by its reason.
pub(crate) fn count_rejection(e: &GatewayError) {
    let reason = match e {
        GatewayError::Overloaded { .. } => "overloaded",
        GatewayError::RateLimited { .. } => "rate_limited",
        GatewayError::CircuitOpen { .. } => "circuit_open",
        GatewayError::Denied { .. } => "denied",
        _ => return,
    };
    Metrics::global().rejected(reason);
}

impl Gateway {
    /// The idle timeout (progress restarts it) and the absolute cap of one request.
    fn timeouts(&self, server: &Server, m: &str) -> (Duration, Duration) {
        let c = &server.config;
        let idle = c.timeouts.get(m).copied().or(c.request_timeout).unwrap_or(self.settings.request_timeout);
        let cap = c.max_request_time.unwrap_or(self.settings.max_request_time);
        (idle.min(cap), cap)
    }

    /// What `consistent_hash` hashes for this request (nothing for the other strategies).
    fn hash_key(server: &Server, session: &ClientSession, params: &RawObject) -> Vec<u8> {
        if server.config.balance != Balance::ConsistentHash || server.replicas.len() < 2 {
            return Vec::new();
        }
        let by_session = || session.id.to_le_bytes().to_vec();
        match &server.config.hash_key {
            HashKey::Session => by_session(),
            // An authenticated client is its principal; the built-in ones
            // (local, anonymous) are many clients, told apart by session.
            HashKey::Client => match session.principal.via {
                crate::auth::Via::ApiKey | crate::auth::Via::Jwt => session.principal.name.as_bytes().to_vec(),
                _ => by_session(),
            },
            HashKey::Name => {
                params.get_str("name").or_else(|| params.get_str("uri")).map_or_else(by_session, String::into_bytes)
            }
            HashKey::Argument(a) => params
                .get_as::<RawObject>("arguments")
                .and_then(|args| args.get(a).map(|v| v.get().as_bytes().to_vec()))
                .unwrap_or_else(by_session),
        }
    }

    /// Picks a replica of `server` for `session`, keeping the session on it.
    fn pick_for(
        &self,
        server: &Server,
        session: &ClientSession,
        key: &[u8],
        tried: &[usize],
    ) -> Result<Pick, GatewayError> {
        let sticky = server.replicas.len() > 1
            && server.config.affinity == Affinity::Session
            && server.config.balance != Balance::ConsistentHash;
        let pinned = if sticky { session.pinned(&server.id) } else { None };
        let pick = server.pick(pinned, key, tried)?;
        if sticky {
            session.pin(&server.id, pick.replica.index);
        }
        Ok(pick)
    }

    /// Sends a request to its server on a session's behalf. `safe`: the request
    /// may be repeated without harm (lists, reads, tools annotated so).
    pub(crate) async fn forward(
        &self,
        session: &Arc<ClientSession>,
        server_id: &str,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
        safe: bool,
    ) -> Routed {
        let server = self
            .server(server_id)
            .ok_or_else(|| GatewayError::Unavailable { server: server_id.to_owned(), reason: "not mounted".into() })?;
        if let Some(capability) = capability_for(m)
            && server.conn().is_some_and(|c| c.info().is_some_and(|i| !i.has(capability)))
        {
            return Err(GatewayError::NoCapability {
                server: server_id.to_owned(),
                method: m.to_owned(),
                capability: capability.to_owned(),
            });
        }
        // The tool's name is only needed when the server limits tools' rates.
        let tool = if m == method::TOOLS_CALL && !server.tool_rates.is_empty() { params.get_str("name") } else { None };
        let _permit = server.admit(tool.as_deref()).inspect_err(count_rejection)?;
        crate::protocol::stateless::strip_client_meta(&mut params);
        let (idle, cap) = self.timeouts(&server, m);

        if server.per_session() {
            let lease =
                server.processes.lease(session.gateway(), &server, session.id).await.inspect_err(count_rejection)?;
            if session.is_stateless() && matches!(m, method::TOOLS_CALL | method::PROMPTS_GET | method::RESOURCES_READ)
            {
                let conn = lease.conn.clone();
                return self.forward_stateless(session, conn, None, m, params, related, (idle, cap)).await;
            }
            return self.forward_on(session, &lease.conn, m, params, related, (idle, cap), None).await;
        }

        let key = Self::hash_key(&server, session, &params);
        if session.is_stateless() && matches!(m, method::TOOLS_CALL | method::PROMPTS_GET | method::RESOURCES_READ) {
            let pick = self.pick_for(&server, session, &key, &[]).inspect_err(count_rejection)?;
            let conn = pick.conn.clone();
            return self
                .forward_stateless(session, conn, Some((server.clone(), pick)), m, params, related, (idle, cap))
                .await;
        }
        self.limits.retry_budget.deposit();
        // Only a request that may be tried again needs a copy of its params kept.
        let may_retry = server.replicas.len() > 1 && server.config.retries > 0;
        let mut tried: Vec<usize> = Vec::new();
        let mut last: Option<GatewayError> = None;
        loop {
            let pick = match self.pick_for(&server, session, &key, &tried) {
                Ok(p) => p,
                Err(e) => {
                    count_rejection(&e);
                    return Err(last.unwrap_or(e));
                }
            };
            let attempt = if may_retry { params.clone() } else { std::mem::take(&mut params) };
            let result =
                self.forward_on(session, &pick.conn, m, attempt, related.clone(), (idle, cap), Some(&pick)).await;
            // A request the replica never received (its connection was already
            // closed) can go elsewhere whatever it is; one it may have acted on
            // only when it is safe to repeat.
            let retry = match &result {
                Err(e) => {
                    let never_sent = matches!(e, GatewayError::Unavailable { .. });
                    (never_sent || (safe && e.is_retryable()))
                        && tried.len() < server.config.retries as usize
                        && self.limits.retry_budget.withdraw()
                }
                Ok(_) => false,
            };
            if !retry {
                return result;
            }
            let e = result.err();
            tracing::info!(
                server = %server.id,
                replica = %pick.replica.label(),
                "{m} failed ({}); retrying on another replica",
                e.as_ref().map(|e| e.to_string()).unwrap_or_default()
            );
            Metrics::global().retried(&server.id);
            tried.push(pick.replica.index);
            last = e;
        }
    }

    /// One attempt on one connection; `pick` (a balanced replica) is told the
    /// outcome for its breaker and in-flight count.
    #[allow(clippy::too_many_arguments)]
    async fn forward_on(
        &self,
        session: &Arc<ClientSession>,
        conn: &Arc<BackendConn>,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
        (idle, cap): (Duration, Duration),
        pick: Option<&Pick>,
    ) -> Routed {
        let _in_flight = pick.map(|p| p.replica.enter());
        let progress = self.upstream.rewrite_progress(&mut params, session, related.as_ref());
        let owner =
            Owner { session: Arc::downgrade(session), session_id: session.id, related: related.clone(), inbox: None };
        let activity = progress.as_ref().map(|p| p.activity());
        let call = |params: &RawObject| {
            conn.call_bounded(m, Some(params.to_raw()), Some(owner.clone()), activity.clone(), Some(idle), Some(cap))
        };
        let first = call(&params).await;
        if let Some(p) = pick {
            let failed = matches!(&first, Err(e) if e.is_replica_failure());
            let server: &str = &conn.server;
            replica::breaker_moved(server, &p.replica, p.ticket.record(failed));
        }
        let mut result = first?;
        // A 2026-07-28 backend asks its questions in the result; a client of the
        // handshake era is asked them as requests, and the call is retried with
        // the answers (a few rounds at most).
        for _round in 0..8 {
            let Some(asked) = input_required(&result) else { return Ok(result) };
            let answers = self.ask_for_input(session, related.as_ref(), &asked).await?;
            params.set("inputResponses", &answers);
            match asked.get("requestState") {
                Some(state) => params.set_raw("requestState", state.to_owned()),
                None => {
                    params.remove("requestState");
                }
            }
            result = call(&params).await?;
        }
        Err(GatewayError::BadResult {
            server: conn.server.to_string(),
            method: m.to_owned(),
            reason: "still input_required after 8 rounds of answers".into(),
        })
    }

    /// Asks a handshake-era client each question of an `input_required` result.
    async fn ask_for_input(
        &self,
        session: &Arc<ClientSession>,
        related: Option<&Tx>,
        asked: &RawObject,
    ) -> Result<RawObject, GatewayError> {
        let requests: RawObject = asked.get_as("inputRequests").unwrap_or_default();
        let mut answers = RawObject::new();
        for (key, request) in requests.iter() {
            let request = RawObject::parse(request)
                .map_err(|e| GatewayError::InvalidParams(format!("inputRequests.{key}: {e}")))?;
            let m = request.get_str("method").unwrap_or_default();
            let capability = match m.as_str() {
                method::SAMPLING_CREATE_MESSAGE => "sampling",
                method::ELICITATION_CREATE => "elicitation",
                method::ROOTS_LIST => "roots",
                other => {
                    return Err(GatewayError::InvalidParams(format!(
                        "the server asked for {other:?}, which vmcp cannot put to a client"
                    )));
                }
            };
            if !session.client_has(capability) {
                return Err(GatewayError::Remote(crate::protocol::ErrorObject::new(
                    crate::protocol::stateless::code::MISSING_CAPABILITY,
                    format!(
                        "the server needs the client's '{capability}' capability ({m}), which the client did not announce"
                    ),
                )));
            }
            let id = session.next_request_id();
            let answer = session.ask_client(id, &m, request.get("params").map(|p| p.to_owned()), related).await;
            answers.set_raw(key, answer.map_err(GatewayError::Remote)?);
        }
        Ok(answers)
    }

    /// A stateless client's call that may need its input: the backend call runs
    /// as a task of its own, and server→client requests it causes come back as an
    /// `input_required` result (see [`super::mrtr`]). A retry carrying
    /// `requestState` resumes the waiting call instead of starting another.
    #[allow(clippy::too_many_arguments)]
    async fn forward_stateless(
        &self,
        session: &Arc<ClientSession>,
        conn: Arc<BackendConn>,
        pick: Option<(Arc<Server>, Pick)>,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
        (idle, cap): (Duration, Duration),
    ) -> Routed {
        // Over stdio there is no per-request stream: progress goes to stdout.
        let related = related.or_else(|| session.outbound().sender());
        if let Some(pending) = mrtr::resume(&self.mrtr, &params, related.clone())? {
            // The retry's progress token replaces the first request's.
            if let (Some(ours), Some(theirs)) = (
                pending.progress_token(),
                params.get_as::<RawObject>("_meta").and_then(|m| m.get("progressToken").map(|t| t.to_owned())),
            ) {
                self.upstream.retarget_progress(&ours, theirs);
            }
            return mrtr::wait(&self.mrtr, pending).await;
        }
        let (inbox, requests) = tokio::sync::mpsc::channel(16);
        let (slot, relay) = mrtr::relay(related);
        let related = Some(relay);
        let owner = Owner {
            session: Arc::downgrade(session),
            session_id: session.id,
            related: related.clone(),
            inbox: Some(inbox),
        };
        let gateway = session.gateway().clone();
        let session = session.clone();
        let m = m.to_owned();
        let token = Arc::new(std::sync::Mutex::new(None));
        let token_slot = token.clone();
        let task = tokio::spawn(async move {
            let _in_flight = pick.as_ref().map(|(_, p)| p.replica.enter());
            let progress = gateway.upstream.rewrite_progress(&mut params, &session, related.as_ref());
            if let (Some(p), Ok(mut slot)) = (&progress, token_slot.lock()) {
                *slot = Some(p.token().to_owned());
            }
            let activity = progress.as_ref().map(|p| p.activity());
            let result =
                conn.call_bounded(&m, Some(params.to_raw()), Some(owner), activity, Some(idle), Some(cap)).await;
            if let Some((server, p)) = &pick {
                let failed = matches!(&result, Err(e) if e.is_replica_failure());
                replica::breaker_moved(&server.id, &p.replica, p.ticket.record(failed));
            }
            result
        });
        mrtr::wait(&self.mrtr, mrtr::start(task, requests, slot, token)).await
    }
}

/// The result, when it is an `input_required` one.
fn input_required(result: &RawValue) -> Option<RawObject> {
    // Cheap test first: most results are not.
    if !result.get().contains("input_required") {
        return None;
    }
    RawObject::parse(result).ok().filter(|o| o.get_str("resultType").as_deref() == Some("input_required"))
}
