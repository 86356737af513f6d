//! [`Gateway`]: the stages, composed. It owns one of each and hands every
//! parsed request ([`Call`]) to the stages that serve it; the stages own their
//! state, and this file only wires them together:
//!
//! ```text
//! Call ─▶ Forwarder::admit ─▶ Router (policy, rules, catalog) ─▶ Forwarder ─▶ Supervisor's replica ─▶ BackendConn
//!         (gateway limits)                                       (limits, pick, retries, timeouts)
//! ```
//!
//! Back the other way, the supervisor tells the gateway what changed
//! ([`Events`]): the catalog is rebuilt and clients told; what servers send
//! unprompted goes through the [`Relay`] to its client, or to everyone.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::value::RawValue;

use super::backend::BackendConn;
use super::call::{Call, Reference};
use super::catalog::{CatalogStore, Kind, Source};
use super::client::Client;
use super::describe::Describe;
use super::drain::{Busy, Drain};
use super::error::GatewayError;
use super::fan_out;
use super::forward::Forwarder;
use super::relay::Relay;
use super::router::{Router, Target};
use super::rules::{RuleTable, Subject};
use super::sessions::Sessions;
use super::settings::Settings;
use super::subscriptions::Subscriptions;
use super::supervisor::{Context, Events, Server, Supervisor};
use crate::auth::Policies;
use crate::config::Config;
use crate::observe::audit::{Audit, Entry};
use crate::observe::metrics::Metrics;
use crate::protocol::stateless;
use crate::protocol::{Message, Notification, RawObject, jsonrpc, method};
use crate::service::Tx;

type Answer = Result<Box<RawValue>, GatewayError>;

pub struct Gateway {
    settings: Settings,
    supervisor: Arc<Supervisor>,
    catalog: Arc<CatalogStore>,
    router: Arc<Router>,
    forwarder: Forwarder,
    sessions: Arc<Sessions>,
    relay: Arc<Relay>,
    subscriptions: Arc<Subscriptions>,
    /// `[[policy]]`, swapped whole on reload (sessions opened before keep theirs).
    policies: RwLock<Arc<Policies>>,
    /// The audit log (disabled unless `gateway.audit_log` is set).
    audit: Audit,
    /// Client requests being handled, for a draining shutdown.
    drain: Drain,
    metrics: Metrics,
}

/// What the audit log says of a named call, gathered on its way.
#[derive(Default)]
struct Facts {
    server: Option<Arc<str>>,
    arguments: Option<Box<RawValue>>,
    /// A policy or a rule refused it.
    denied: bool,
}

impl Gateway {
    /// Builds the gateway and starts every enabled server in parallel. Returns
    /// at once; [`Gateway::wait_started`] waits for the first start attempts.
    pub fn start(config: &Config, audit: Audit, metrics: Metrics) -> Arc<Gateway> {
        let settings = Settings::new(config);
        let g = &config.gateway;
        let gateway = Arc::new_cyclic(|me: &Weak<Gateway>| {
            let events: Weak<dyn Events> = me.clone();
            let cx = Context { settings: settings.clone(), events, metrics: metrics.clone() };
            let supervisor = Arc::new(Supervisor::new(config, cx));
            let catalog = Arc::new(CatalogStore::new(settings.naming.clone(), metrics.clone()));
            let rules = RuleTable::new(&config.routes, g.route_cache_ttl, metrics.clone());
            let router = Arc::new(Router::new(
                settings.naming.clone(),
                rules,
                catalog.clone(),
                supervisor.clone(),
                metrics.clone(),
            ));
            let sessions = Arc::new(Sessions::new(settings.max_sessions));
            let relay = Arc::new(Relay::new(sessions.clone()));
            let subscriptions = Arc::new(Subscriptions::new(router.clone(), supervisor.clone()));
            let forwarder = Forwarder::new(g, supervisor.clone(), relay.clone(), metrics.clone());
            Gateway {
                settings: settings.clone(),
                supervisor,
                catalog,
                router,
                forwarder,
                sessions,
                relay,
                subscriptions,
                policies: RwLock::new(Arc::new(Policies::new(&config.policies))),
                audit,
                drain: Drain::default(),
                metrics: metrics.clone(),
            }
        });
        gateway.supervisor.start_all();
        gateway
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn supervisor(&self) -> &Arc<Supervisor> {
        &self.supervisor
    }

    pub fn catalog(&self) -> &CatalogStore {
        &self.catalog
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn subscriptions(&self) -> &Arc<Subscriptions> {
        &self.subscriptions
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The gateway describing itself: `initialize` and `server/discover`
    /// results, the `vmcp/*` methods.
    pub fn describe(&self) -> Describe<'_> {
        Describe {
            settings: &self.settings,
            supervisor: &self.supervisor,
            catalog: &self.catalog,
            router: &self.router,
            metrics: &self.metrics,
        }
    }

    /// The policies now in force.
    pub fn policies(&self) -> Arc<Policies> {
        match self.policies.read() {
            Ok(p) => p.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts new policies in force for sessions opened from now on (a reload).
    pub fn set_policies(&self, policies: Policies) {
        if let Ok(mut p) = self.policies.write() {
            *p = Arc::new(policies);
        }
    }

    /// Open client sessions (of every era and front end).
    pub fn session_count(&self) -> usize {
        self.sessions.count()
    }

    /// Ok once every server marked `required` is ready; else each one that is not.
    pub fn is_ready(&self) -> Result<(), Vec<String>> {
        self.supervisor.is_ready()
    }

    /// Waits until every server has had its first start attempt, at most
    /// `init_timeout`: a client's first list then shows every server's tools.
    pub async fn wait_started(&self) {
        self.supervisor.wait_started().await
    }

    pub fn is_shutting_down(&self) -> bool {
        self.supervisor.is_shutting_down() || self.drain.is_draining()
    }

    /// Counts a client request in flight, for a draining shutdown.
    pub fn busy(&self) -> Busy<'_> {
        self.drain.enter()
    }

    /// The first step of a graceful shutdown: new requests are refused (with an
    /// error saying so) and those in flight get up to `grace` to finish. Returns
    /// how many were still running when the time was up (they are then cancelled
    /// by [`Gateway::shutdown`] and answered with an error).
    pub async fn drain(&self, grace: Duration) -> usize {
        self.drain.drain(grace).await
    }

    /// Stops every backend (each process group is terminated) and returns once
    /// all are gone. Requests still in flight are cancelled.
    pub async fn shutdown(&self) {
        for c in self.sessions.live() {
            c.close();
        }
        self.supervisor.shutdown().await;
    }

    /// Sends a parameterless notification to every initialized client and to
    /// the listen streams that asked for it.
    pub fn broadcast(&self, method: &str) {
        let msg = Message::Notification(Notification { method: method.to_owned(), params: None }).to_json();
        self.sessions.broadcast(&msg);
        self.subscriptions.notify(method, None);
    }

    /// Serves one client request (past the handshake: `initialize`, `ping`
    /// and `server/discover` are the session's). `related`: the request's own
    /// stream, when the front end has one.
    pub async fn handle(&self, client: &Arc<Client>, call: Call, related: Option<Tx>) -> Answer {
        let _permit = self.forwarder.admit(client, call.method())?;
        match call {
            Call::List(kind) => {
                self.router.check(call_method(kind), Subject::default())?;
                Ok(self.catalog.snapshot().listing(kind).result_for(&client.policy))
            }
            Call::ListResources(which, params) => {
                let only = self.router.check(which.method(), Subject::default())?;
                fan_out::list(&self.supervisor, &self.router, client, which, params, only.as_deref()).await
            }
            Call::Get { kind, name, params } => {
                let m = call_method_get(kind);
                let started = Instant::now();
                let mut facts = Facts::default();
                let result = self.get(client, kind, &name, params, related, &mut facts).await;
                self.audited(client, m, &name, facts, started, &result);
                result
            }
            Call::Read { uri, params } => {
                let started = Instant::now();
                let mut facts = Facts::default();
                let result = self.read(client, &uri, params, related, &mut facts).await;
                self.audited(client, method::RESOURCES_READ, &uri, facts, started, &result);
                result
            }
            Call::Subscribe { uri, params, on } => {
                let m = if on { method::RESOURCES_SUBSCRIBE } else { method::RESOURCES_UNSUBSCRIBE };
                if !client.policy.allows(&uri) {
                    return Err(GatewayError::UnknownResource { uri, reason: "no such resource".into() });
                }
                self.router.check(m, Subject { resource: Some(&uri), ..Subject::default() })?;
                self.subscriptions.set(client, &uri, params, on).await
            }
            Call::Listen(id, params) => {
                self.router.check(method::SUBSCRIPTIONS_LISTEN, Subject::default())?;
                let sink = related.or_else(|| client.outbound_sender());
                self.subscriptions.listen(&id, params.as_ref(), sink).await
            }
            Call::Complete { mut params, mut reference, target } => {
                let m = method::COMPLETION_COMPLETE;
                let (key, to) = match &target {
                    Reference::Prompt(name) => ("name", self.router.resolve(client, Kind::Prompt, m, name)?),
                    Reference::Resource(uri) => ("uri", self.router.resolve_resource(client, m, uri)?),
                };
                reference.set(key, &to.original);
                params.set("ref", &reference);
                self.forwarder.forward(client, &to.server, m, params, related, true).await
            }
            Call::SetLevel(params) => self.set_level(params).await,
            Call::Extension(m, params) => {
                // The vmcp/* methods describe the whole gateway: they are names
                // under the policies like any other.
                if !client.policy.allows(&m) {
                    return Err(GatewayError::MethodNotFound(m));
                }
                match self.describe().extension(&m, params.as_deref()) {
                    Some(answer) => {
                        self.router.check(&m, Subject::default())?;
                        answer
                    }
                    None => Err(GatewayError::MethodNotFound(m)),
                }
            }
            Call::Unknown(m) => Err(GatewayError::MethodNotFound(m)),
            // The session answers these itself (`session.rs`).
            Call::Initialize(_) | Call::Ping | Call::Discover => Ok(jsonrpc::empty_object()),
        }
    }

    /// `tools/call` or `prompts/get`.
    async fn get(
        &self,
        client: &Arc<Client>,
        kind: Kind,
        name: &str,
        mut params: RawObject,
        related: Option<Tx>,
        facts: &mut Facts,
    ) -> Answer {
        let m = call_method_get(kind);
        let to = self.router.resolve(client, kind, m, name).map_err(|u| {
            facts.denied = u.denied;
            // Only the arguments are kept for the audit, and only when it writes them.
            facts.arguments = self.arguments(&params);
            u.error
        })?;
        facts.arguments = self.arguments(&params);
        facts.server = Some(to.server.clone());
        params.set("name", &to.original);
        // Prompts are read, not acted on: safe to repeat.
        let safe = to.safe || kind == Kind::Prompt;
        self.forwarder.forward(client, &to.server, m, params, related, safe).await
    }

    /// `resources/read`.
    async fn read(
        &self,
        client: &Arc<Client>,
        uri: &str,
        mut params: RawObject,
        related: Option<Tx>,
        facts: &mut Facts,
    ) -> Answer {
        let m = method::RESOURCES_READ;
        let Target { server, original, .. } = self.router.resolve_resource(client, m, uri).map_err(|u| {
            facts.denied = u.denied;
            u.error
        })?;
        facts.server = Some(server.clone());
        params.set("uri", &original);
        self.forwarder.forward(client, &server, m, params, related, true).await
    }

    /// `logging/setLevel`: every replica keeps its own level, so all of them hear it.
    async fn set_level(&self, mut params: RawObject) -> Answer {
        self.router.check(method::LOGGING_SET_LEVEL, Subject::default())?;
        stateless::strip_client_meta(&mut params);
        let calls = self
            .supervisor
            .servers()
            .into_iter()
            .flat_map(|s| s.conns())
            .filter(|c| c.info().is_some_and(|i| i.has("logging")))
            .map(|c| {
                let p = params.to_raw();
                async move {
                    if let Err(e) = c.call(method::LOGGING_SET_LEVEL, Some(p), None, None).await {
                        tracing::warn!(server = %c.server, "logging/setLevel: {e}");
                    }
                }
            });
        join_all(calls).await;
        Ok(jsonrpc::empty_object())
    }

    /// A tool call's arguments, when the audit log writes them.
    fn arguments(&self, params: &RawObject) -> Option<Box<RawValue>> {
        if self.audit.wants_arguments() { params.get("arguments").map(|a| a.to_owned()) } else { None }
    }

    /// Writes the audit line of a tool call, prompt get or resource read.
    fn audited(&self, client: &Client, m: &str, name: &str, facts: Facts, started: Instant, result: &Answer) {
        if !self.audit.is_enabled() {
            return;
        }
        let (outcome, code) = match result {
            Ok(r) if r.get().contains("\"isError\":true") => ("tool_error", None),
            Ok(_) => ("ok", None),
            Err(_) if facts.denied => ("denied", None),
            Err(e) => ("error", Some(e.to_error_object().code)),
        };
        self.audit.record(&Entry {
            principal: &client.principal.name,
            session: client.id,
            server: facts.server.as_deref(),
            method: m,
            name,
            outcome,
            code,
            duration: started.elapsed(),
            arguments: facts.arguments.as_deref(),
        });
    }

    /// A server's `notifications/resources/updated`, under the URI clients
    /// know: to the clients subscribed to it, and the listen streams.
    fn resource_updated(&self, conn: &BackendConn, n: Notification) {
        let Some(mut params) = n.params.as_deref().and_then(|p| RawObject::parse(p).ok()) else { return };
        let Some(uri) = params.get_str("uri") else { return };
        let exposed = self.settings.naming.expose_uri(&conn.server, &uri);
        params.set("uri", &exposed);
        let msg = Message::Notification(Notification { method: n.method, params: Some(params.to_raw()) }).to_json();
        for c in self.sessions.live() {
            if c.is_subscribed(&exposed) {
                c.send(msg.clone());
            }
        }
        self.subscriptions.notify(method::RESOURCES_UPDATED, Some(&params));
    }
}

fn call_method(kind: Kind) -> &'static str {
    match kind {
        Kind::Tool => method::TOOLS_LIST,
        Kind::Prompt => method::PROMPTS_LIST,
    }
}

fn call_method_get(kind: Kind) -> &'static str {
    match kind {
        Kind::Tool => method::TOOLS_CALL,
        Kind::Prompt => method::PROMPTS_GET,
    }
}

impl Events for Gateway {
    fn lists_changed(&self) {
        let source = |s: Arc<Server>| Source {
            server: s.id.clone(),
            lists: s.lists(),
            filter: (!s.filter.is_empty()).then(|| s.filter.clone()),
        };
        let changed = self.catalog.rebuild(|| self.supervisor.servers().into_iter().map(source).collect());
        if changed.tools {
            self.broadcast(method::TOOLS_LIST_CHANGED);
        }
        if changed.prompts {
            self.broadcast(method::PROMPTS_LIST_CHANGED);
        }
    }

    fn resources_changed(&self) {
        self.broadcast(method::RESOURCES_LIST_CHANGED);
    }

    fn server_message(&self, conn: &Arc<BackendConn>, msg: Message) {
        let n = match msg {
            Message::Notification(n) => n,
            Message::Request(r) => return self.relay.request(conn, r),
            Message::Response(_) => return,
        };
        match n.method.as_str() {
            method::PROGRESS => self.relay.progress(n),
            method::CANCELLED => self.relay.cancelled(conn, &n),
            method::TOOLS_LIST_CHANGED | method::PROMPTS_LIST_CHANGED => {
                let supervisor = self.supervisor.clone();
                let conn = conn.clone();
                tokio::spawn(async move { supervisor.refresh(&conn).await });
            }
            method::RESOURCES_LIST_CHANGED => self.broadcast(method::RESOURCES_LIST_CHANGED),
            method::RESOURCES_UPDATED => self.resource_updated(conn, n),
            method::MESSAGE => self.sessions.broadcast(&Message::Notification(n).to_json()),
            other => tracing::debug!(server = %conn.server, method = other, "notification from the server ignored"),
        }
    }
}
