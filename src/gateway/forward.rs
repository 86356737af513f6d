//! [`Forwarder`]: sends a routed request to its server on a client's behalf.
//!
//! On the way: the gateway-wide limits ([`Forwarder::admit`]: concurrency and
//! the client's rate), the server's capability and its own limits, a replica
//! picked (the client's own while it is up, else by the server's strategy)
//! under that replica's circuit breaker, and the request sent with the
//! progress token swapped for the gateway's, under the method's idle timeout
//! (progress restarts it) and the absolute cap. A request that is safe to
//! repeat and failed for the replica's sake is retried on another replica,
//! within the retry budget. Across protocol eras: a stateless client's call
//! may end `input_required` ([`super::input_required`]), and a 2026-07-28
//! server's `input_required` is put to a handshake-era client as requests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;

use super::backend::BackendConn;
use super::client::{Caller, Client};
use super::error::GatewayError;
use super::input_required;
use super::limit::{Concurrency, Permit, RateLimiter, RetryBudget};
use super::relay::Relay;
use super::supervisor::{Pick, Server, Supervisor};
use crate::auth::Via;
use crate::config::{Affinity, Balance, GatewayConfig, HashKey};
use crate::observe::metrics::Metrics;
use crate::protocol::stateless;
use crate::protocol::{ErrorObject, RawObject, method};
use crate::service::Tx;

type Routed = Result<Box<RawValue>, GatewayError>;

/// An idle timeout (progress restarts it) and an absolute cap.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    idle: Duration,
    cap: Duration,
}

pub struct Forwarder {
    supervisor: Arc<Supervisor>,
    relay: Arc<Relay>,
    /// Stateless clients' calls waiting for their input.
    inputs: input_required::Table,
    /// Client requests in flight at once, gateway-wide.
    concurrency: Arc<Concurrency>,
    /// Per client identity.
    client_rate: Option<RateLimiter>,
    retry_budget: RetryBudget,
    request_timeout: Duration,
    max_request_time: Duration,
    metrics: Metrics,
}

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

impl Forwarder {
    pub fn new(g: &GatewayConfig, supervisor: Arc<Supervisor>, relay: Arc<Relay>, metrics: Metrics) -> Forwarder {
        Forwarder {
            supervisor,
            relay,
            inputs: input_required::Table::default(),
            concurrency: Concurrency::new(g.max_concurrency),
            client_rate: g.rate_limit.map(RateLimiter::new),
            retry_budget: RetryBudget::new(g.retry_budget_percent),
            request_timeout: g.request_timeout,
            max_request_time: g.max_request_time,
            metrics,
        }
    }

    /// Counts a refusal by the gateway itself, by its reason.
    fn rejected(&self, e: &GatewayError) {
        if let Some(reason) = e.rejection() {
            self.metrics.rejected(reason);
        }
    }

    /// The gateway-wide limits: concurrency, and the client's rate. A
    /// `subscriptions/listen` stream lasts as long as its client wants, so it
    /// holds no place in the concurrency limit.
    pub fn admit(&self, client: &Client, m: &str) -> Result<Option<Permit>, GatewayError> {
        self.limits(client, m).inspect_err(|e| self.rejected(e))
    }

    fn limits(&self, client: &Client, m: &str) -> Result<Option<Permit>, GatewayError> {
        if let Some(rate) = &self.client_rate {
            // An authenticated client is its principal. Without authentication a
            // client is its session; a stateless HTTP client has none, so all of
            // them share one allowance.
            let key = match client.principal.via {
                Via::ApiKey | Via::Jwt => format!("principal:{}", client.principal.name),
                _ if client.is_stateless() && client.front != "stdio" => "stateless".to_owned(),
                _ => format!("session:{}", client.id),
            };
            if let Err(wait) = rate.check(&key) {
                return Err(GatewayError::RateLimited {
                    server: None,
                    scope: "this client".into(),
                    retry_after_ms: wait.as_millis().max(1),
                });
            }
        }
        if m == method::SUBSCRIPTIONS_LISTEN {
            return Ok(None);
        }
        let c = &self.concurrency;
        c.try_acquire().map(Some).ok_or_else(|| GatewayError::Overloaded {
            server: None,
            scope: "the gateway".into(),
            limit: c.limit(),
        })
    }

    /// The idle timeout (progress restarts it) and the absolute cap of one request.
    fn deadlines(&self, server: &Server, m: &str) -> Deadlines {
        let c = &server.config;
        let idle = c.timeouts.get(m).copied().or(c.request_timeout).unwrap_or(self.request_timeout);
        let cap = c.max_request_time.unwrap_or(self.max_request_time);
        Deadlines { idle: idle.min(cap), cap }
    }

    /// Sends a request to its server on a client's behalf. `safe`: the request
    /// may be repeated without harm (lists, reads, tools annotated so).
    pub async fn forward(
        &self,
        client: &Arc<Client>,
        server_id: &str,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
        safe: bool,
    ) -> Routed {
        let server = self
            .supervisor
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
        let _permit = server.admit(tool.as_deref()).inspect_err(|e| self.rejected(e))?;
        stateless::strip_client_meta(&mut params);
        let deadlines = self.deadlines(&server, m);
        let may_ask =
            client.is_stateless() && matches!(m, method::TOOLS_CALL | method::PROMPTS_GET | method::RESOURCES_READ);

        if server.per_session() {
            let lease = server
                .processes
                .lease(self.supervisor.context(), server.at(), client.id)
                .await
                .inspect_err(|e| self.rejected(e))?;
            if may_ask {
                return self.forward_stateless(client, lease.conn.clone(), None, m, params, related, deadlines).await;
            }
            return self.forward_on(client, &lease.conn, m, params, related, deadlines, None).await;
        }

        let key = hash_key(&server, client, &params);
        if may_ask {
            let pick = self.pick_for(&server, client, &key, &[]).inspect_err(|e| self.rejected(e))?;
            let conn = pick.conn.clone();
            return self
                .forward_stateless(client, conn, Some((server.clone(), pick)), m, params, related, deadlines)
                .await;
        }
        self.retry_budget.deposit();
        // Only a request that may be tried again needs a copy of its params kept.
        let may_retry = server.replicas.len() > 1 && server.config.retries > 0;
        let mut tried: Vec<usize> = Vec::new();
        let mut last: Option<GatewayError> = None;
        loop {
            let pick = match self.pick_for(&server, client, &key, &tried) {
                Ok(p) => p,
                Err(e) => {
                    self.rejected(&e);
                    return Err(last.unwrap_or(e));
                }
            };
            let attempt = if may_retry { params.clone() } else { std::mem::take(&mut params) };
            let result = self
                .forward_on(client, &pick.conn, m, attempt, related.clone(), deadlines, Some((&server, &pick)))
                .await;
            // A request the replica never received (its connection was already
            // closed) can go elsewhere whatever it is; one it may have acted on
            // only when it is safe to repeat.
            let retry = match &result {
                Err(e) => {
                    let never_sent = matches!(e, GatewayError::Unavailable { .. });
                    (never_sent || (safe && e.is_retryable()))
                        && tried.len() < server.config.retries as usize
                        && self.retry_budget.withdraw()
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
            self.metrics.retried(&server.id);
            tried.push(pick.replica.index);
            last = e;
        }
    }

    /// Picks a replica of `server` for `client`, keeping the client on it.
    fn pick_for(&self, server: &Server, client: &Client, key: &[u8], tried: &[usize]) -> Result<Pick, GatewayError> {
        let sticky = server.replicas.len() > 1
            && server.config.affinity == Affinity::Session
            && server.config.balance != Balance::ConsistentHash;
        let pinned = if sticky { client.pinned(&server.id) } else { None };
        let pick = server.pick(pinned, key, tried)?;
        if sticky {
            client.pin(&server.id, pick.replica.index);
        }
        Ok(pick)
    }

    /// One attempt on one connection; `pick` (a balanced replica and its
    /// server) is told the outcome for its breaker and in-flight count.
    #[allow(clippy::too_many_arguments)]
    async fn forward_on(
        &self,
        client: &Arc<Client>,
        conn: &Arc<BackendConn>,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
        deadlines: Deadlines,
        pick: Option<(&Server, &Pick)>,
    ) -> Routed {
        let _in_flight = pick.map(|(_, p)| p.replica.enter());
        let progress = self.relay.rewrite_progress(&mut params, client, related.as_ref());
        let caller = Caller::new(client, related.clone(), None);
        let activity = progress.as_ref().map(|p| p.activity());
        let call = |params: &RawObject| {
            conn.call_bounded(
                m,
                Some(params.to_raw()),
                Some(caller.clone()),
                activity.clone(),
                Some(deadlines.idle),
                Some(deadlines.cap),
            )
        };
        let first = call(&params).await;
        if let Some((server, p)) = pick {
            server.record(p, matches!(&first, Err(e) if e.is_replica_failure()));
        }
        let mut result = first?;
        // A 2026-07-28 backend asks its questions in the result; a client of the
        // handshake era is asked them as requests, and the call is retried with
        // the answers (a few rounds at most).
        for _round in 0..8 {
            let Some(asked) = input_required(&result) else { return Ok(result) };
            let answers = ask_for_input(client, related.as_ref(), &asked).await?;
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

    /// A stateless client's call that may need its input: the backend call runs
    /// as a task of its own, and server→client requests it causes come back as an
    /// `input_required` result (see [`super::input_required`]). A retry carrying
    /// `requestState` resumes the waiting call instead of starting another.
    #[allow(clippy::too_many_arguments)]
    async fn forward_stateless(
        &self,
        client: &Arc<Client>,
        conn: Arc<BackendConn>,
        pick: Option<(Arc<Server>, Pick)>,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
        deadlines: Deadlines,
    ) -> Routed {
        // Over stdio there is no per-request stream: progress goes to stdout.
        let related = related.or_else(|| client.outbound_sender());
        if let Some(pending) = self.inputs.resume(&params, related.clone())? {
            // The retry's progress token replaces the first request's.
            if let (Some(ours), Some(theirs)) = (
                pending.progress_token(),
                params.get_as::<RawObject>("_meta").and_then(|m| m.get("progressToken").map(|t| t.to_owned())),
            ) {
                self.relay.retarget_progress(&ours, theirs);
            }
            return self.inputs.wait(pending).await;
        }
        let (inbox, requests) = tokio::sync::mpsc::channel(16);
        let relayed = input_required::relay(related);
        let related = Some(relayed.tx.clone());
        let caller = Caller::new(client, related.clone(), Some(inbox));
        let relay = self.relay.clone();
        let client = client.clone();
        let m = m.to_owned();
        let token = Arc::new(Mutex::new(None));
        let token_slot = token.clone();
        let task = tokio::spawn(async move {
            let _in_flight = pick.as_ref().map(|(_, p)| p.replica.enter());
            let progress = relay.rewrite_progress(&mut params, &client, related.as_ref());
            if let (Some(p), Ok(mut slot)) = (&progress, token_slot.lock()) {
                *slot = Some(p.token().to_owned());
            }
            let activity = progress.as_ref().map(|p| p.activity());
            let result = conn
                .call_bounded(
                    &m,
                    Some(params.to_raw()),
                    Some(caller),
                    activity,
                    Some(deadlines.idle),
                    Some(deadlines.cap),
                )
                .await;
            if let Some((server, p)) = &pick {
                server.record(p, matches!(&result, Err(e) if e.is_replica_failure()));
            }
            result
        });
        self.inputs.wait(input_required::start(task, requests, relayed, token)).await
    }
}

/// What `consistent_hash` hashes for this request (nothing for the other strategies).
fn hash_key(server: &Server, client: &Client, params: &RawObject) -> Vec<u8> {
    if server.config.balance != Balance::ConsistentHash || server.replicas.len() < 2 {
        return Vec::new();
    }
    let by_session = || client.id.to_le_bytes().to_vec();
    match &server.config.hash_key {
        HashKey::Session => by_session(),
        // An authenticated client is its principal; the built-in ones
        // (local, anonymous) are many clients, told apart by session.
        HashKey::Client => match client.principal.via {
            Via::ApiKey | Via::Jwt => client.principal.name.as_bytes().to_vec(),
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

/// Asks a handshake-era client each question of an `input_required` result.
async fn ask_for_input(client: &Client, related: Option<&Tx>, asked: &RawObject) -> Result<RawObject, GatewayError> {
    let requests: RawObject = asked.get_as("inputRequests").unwrap_or_default();
    let mut answers = RawObject::new();
    for (key, request) in requests.iter() {
        let request =
            RawObject::parse(request).map_err(|e| GatewayError::InvalidParams(format!("inputRequests.{key}: {e}")))?;
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
        if !client.has(capability) {
            return Err(GatewayError::Remote(ErrorObject::new(
                stateless::code::MISSING_CAPABILITY,
                format!(
                    "the server needs the client's '{capability}' capability ({m}), which the client did not announce"
                ),
            )));
        }
        let id = client.next_request_id();
        let answer = client.ask(id, &m, request.get("params").map(|p| p.to_owned()), related).await;
        answers.set_raw(key, answer.map_err(GatewayError::Remote)?);
    }
    Ok(answers)
}

/// The result, when it is an `input_required` one.
fn input_required(result: &RawValue) -> Option<RawObject> {
    // Cheap test first: most results are not.
    if !result.get().contains("input_required") {
        return None;
    }
    RawObject::parse(result).ok().filter(|o| o.get_str("resultType").as_deref() == Some("input_required"))
}
