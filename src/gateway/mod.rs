//! The gateway: one MCP server in front of many.
//!
//! - [`server`]: each backend server's lifecycle (start, initialize, restart with backoff, stop).
//! - [`ops`]: changes at runtime: mount, unmount, enable, disable, restart.
//! - [`reload`]: a changed configuration applied as a difference (hot reload).
//! - [`backend`]: a live connection to one backend, with id remapping and cancellation.
//! - [`catalog`] and [`names`]: the merged, namespaced tools and prompts.
//! - [`session`]: one client's session (handshake, in-flight requests, server→client requests).
//! - [`router`]: where each client request goes; [`forward`]: how it gets there.
//! - [`upstream`]: what backends send unprompted (notifications, sampling, elicitation, roots).
//! - [`cursor`]: the composite cursor of fanned-out lists.
//! - [`extension`]: the `vmcp/*` methods, the gateway describing itself.
//! - [`listen`]: `subscriptions/listen`, list changes and resource updates for
//!   stateless clients.
//! - [`mrtr`]: server→client requests for stateless (2026-07-28) clients, as
//!   `input_required` results and retries.
//!
//! See `DESIGN.md` beside this file for version negotiation and naming.

pub mod backend;
pub mod balance;
pub mod breaker;
pub mod catalog;
pub mod cursor;
pub mod error;
pub mod extension;
pub mod filter;
pub mod forward;
pub mod isolation;
pub mod limit;
pub mod listen;
pub mod mrtr;
pub mod names;
pub mod ops;
pub mod reload;
pub mod replica;
pub mod router;
pub mod routes;
pub mod server;
pub mod session;
pub mod upstream;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Policies, Principal};
use crate::config::Config;
use crate::observe::audit::Audit;
use crate::protocol::{Message, Notification};
use crate::service::{Outbound, Refused, Service};
use catalog::{Catalog, Listing};
pub use error::GatewayError;
use names::Naming;
use server::{Server, Status};
use session::ClientSession;

/// Counts client requests in flight; wakes a drain when the count reaches zero.
#[derive(Default)]
pub(crate) struct Busy {
    count: AtomicUsize,
    draining: AtomicBool,
    idle: tokio::sync::Notify,
}

/// Held while a client request is handled.
pub(crate) struct BusyGuard<'a>(&'a Busy);

impl Busy {
    pub(crate) fn enter(&self) -> BusyGuard<'_> {
        self.count.fetch_add(1, Ordering::Relaxed);
        BusyGuard(self)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Gateway-wide settings, fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub naming: Naming,
    pub server_name: String,
    pub request_timeout: Duration,
    pub init_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_message_size: usize,
    pub health: Health,
    /// Absolute cap on one backend request.
    pub max_request_time: Duration,
    /// Sessions open at once, all front ends together.
    pub max_sessions: usize,
}

/// Gateway-wide limits on client requests.
pub(crate) struct Limits {
    pub concurrency: Arc<limit::Concurrency>,
    /// Per client identity.
    pub client_rate: Option<limit::RateLimiter>,
    pub retry_budget: limit::RetryBudget,
}

/// Active health checks: a ping every `interval` (zero: none), each within
/// `timeout`; `failures` misses in a row restart the server.
#[derive(Debug, Clone, Copy)]
pub struct Health {
    pub interval: Duration,
    pub timeout: Duration,
    pub failures: u32,
}

pub struct Gateway {
    pub settings: Settings,
    servers: RwLock<BTreeMap<String, Arc<Server>>>,
    catalog: RwLock<Arc<Catalog>>,
    /// Serializes catalog rebuilds: two rebuilds racing could otherwise swap in
    /// an older snapshot after a newer one.
    rebuilding: Mutex<()>,
    sessions: Mutex<HashMap<u64, Weak<ClientSession>>>,
    next_session: AtomicU64,
    pub(crate) upstream: upstream::Routes,
    pub(crate) mrtr: mrtr::Table,
    pub(crate) listeners: listen::Listeners,
    pub(crate) limits: Limits,
    /// `[[route]]`, swapped whole on reload.
    routes: RwLock<Arc<routes::RouteTable>>,
    /// `[[policy]]`, swapped whole on reload (sessions opened before keep theirs).
    policies: RwLock<Arc<Policies>>,
    /// The audit log (disabled unless `gateway.audit_log` is set).
    pub(crate) audit: Audit,
    /// Client requests being handled, for a draining shutdown.
    pub(crate) busy: Busy,
    shutdown: CancellationToken,
    supervisors: TaskTracker,
}

impl Gateway {
    /// Builds the gateway and starts every enabled server in parallel. Returns at
    /// once; [`Gateway::wait_started`] waits for the first start attempts.
    pub fn start(config: &Config, audit: Audit) -> Arc<Gateway> {
        let g = &config.gateway;
        let enabled = config.servers.values().filter(|s| s.enabled).count();
        let naming = Naming::new(&g.separator, g.max_name_length, g.prefix, enabled);
        let settings = Settings {
            naming: naming.clone(),
            server_name: g.server_name.clone(),
            request_timeout: g.request_timeout,
            init_timeout: g.init_timeout,
            shutdown_grace: g.shutdown_grace,
            max_message_size: g.max_message_size,
            health: Health { interval: g.health_interval, timeout: g.health_timeout, failures: g.health_failures },
            max_request_time: g.max_request_time,
            max_sessions: g.max_sessions as usize,
        };
        let limits = Limits {
            concurrency: limit::Concurrency::new(g.max_concurrency),
            client_rate: g.rate_limit.map(limit::RateLimiter::new),
            retry_budget: limit::RetryBudget::new(g.retry_budget_percent),
        };
        let servers = config
            .servers
            .iter()
            .map(|(id, cfg)| (id.clone(), Server::new(id, cfg.clone(), server::Source::Config)))
            .collect::<BTreeMap<_, _>>();
        let gw = Arc::new(Gateway {
            settings,
            servers: RwLock::new(servers),
            catalog: RwLock::new(Arc::new(Catalog::empty(&naming))),
            rebuilding: Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
            upstream: upstream::Routes::default(),
            mrtr: mrtr::Table::default(),
            listeners: listen::Listeners::default(),
            limits,
            routes: RwLock::new(Arc::new(routes::RouteTable::new(&config.routes, g.route_cache_ttl))),
            policies: RwLock::new(Arc::new(Policies::new(&config.policies))),
            audit,
            busy: Busy::default(),
            shutdown: CancellationToken::new(),
            supervisors: TaskTracker::new(),
        });
        for server in gw.servers() {
            if server.config.enabled {
                gw.start_server(&server);
            }
        }
        gw
    }

    pub fn servers(&self) -> Vec<Arc<Server>> {
        self.servers.read().map(|s| s.values().cloned().collect()).unwrap_or_default()
    }

    pub fn server(&self, id: &str) -> Option<Arc<Server>> {
        self.servers.read().ok().and_then(|s| s.get(id).cloned())
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Waits until every server has finished its first start attempt (ready or
    /// failed), at most `init_timeout`. A client that connects while backends are
    /// starting then sees their tools in its first list rather than an empty one.
    pub async fn wait_started(&self) {
        let waits = self.servers().into_iter().map(|s| async move { s.settled().await });
        let _ = tokio::time::timeout(self.settings.init_timeout, futures_util::future::join_all(waits)).await;
    }

    /// Rebuilds the catalog from every ready server and tells clients when it changed.
    pub(crate) fn rebuild_catalog(&self) {
        let _serial = self.rebuilding.lock().unwrap_or_else(|p| p.into_inner());
        let servers = self.servers();
        let snapshots: Vec<_> = servers.iter().map(|s| (s.id.clone(), s.lists())).collect();
        let tools: Vec<_> = servers
            .iter()
            .zip(&snapshots)
            .map(|(s, (id, l))| (id.clone(), &l.tools[..], (!s.filter.is_empty()).then_some(&s.filter)))
            .collect();
        let prompts: Vec<_> = snapshots.iter().map(|(id, l)| (id.clone(), &l.prompts[..])).collect();
        let naming = &self.settings.naming;
        let new = Catalog {
            tools: Listing::build_filtered("tools", naming, &tools),
            prompts: Listing::build("prompts", naming, &prompts),
        };
        let metrics = crate::observe::metrics::Metrics::global();
        metrics.catalog_size("tools", new.tools.len);
        metrics.catalog_size("prompts", new.prompts.len);
        let old = self.catalog();
        let tools_changed = old.tools.result().get() != new.tools.result().get();
        let prompts_changed = old.prompts.result().get() != new.prompts.result().get();
        if let Ok(mut c) = self.catalog.write() {
            *c = Arc::new(new);
        }
        if tools_changed {
            self.broadcast(crate::protocol::method::TOOLS_LIST_CHANGED);
        }
        if prompts_changed {
            self.broadcast(crate::protocol::method::PROMPTS_LIST_CHANGED);
        }
    }

    /// Sends a parameterless notification to every initialized session.
    pub(crate) fn broadcast(&self, method: &str) {
        let msg = Message::Notification(Notification { method: method.to_owned(), params: None }).to_json();
        for s in self.live_sessions() {
            s.send_outbound(msg.clone());
        }
        self.listeners.notify(method, None);
    }

    /// Open client sessions (of every era and front end).
    pub fn session_count(&self) -> usize {
        self.sessions.lock().map(|s| s.values().filter(|w| w.strong_count() > 0).count()).unwrap_or(0)
    }

    pub(crate) fn live_sessions(&self) -> Vec<Arc<ClientSession>> {
        let Ok(mut sessions) = self.sessions.lock() else { return Vec::new() };
        sessions.retain(|_, w| w.strong_count() > 0);
        sessions.values().filter_map(Weak::upgrade).filter(|s| s.is_initialized()).collect()
    }

    pub(crate) fn forget_session(&self, id: u64) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(&id);
        }
        for server in self.servers() {
            if server.per_session() {
                server.processes.release(id);
            }
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
    pub(crate) fn set_policies(&self, policies: Policies) {
        if let Ok(mut p) = self.policies.write() {
            *p = Arc::new(policies);
        }
    }

    /// The routing rules now in force.
    pub fn routes(&self) -> Arc<routes::RouteTable> {
        match self.routes.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts new routing rules in force (a reload).
    pub(crate) fn set_routes(&self, table: routes::RouteTable) {
        if let Ok(mut r) = self.routes.write() {
            *r = Arc::new(table);
        }
    }

    /// Ready servers, in id order.
    pub(crate) fn ready(&self) -> Vec<(Arc<Server>, Arc<backend::BackendConn>)> {
        self.servers().into_iter().filter_map(|s| s.conn().map(|c| (s, c))).collect()
    }

    /// True once every server marked `required` is ready.
    pub fn is_ready(&self) -> Result<(), Vec<String>> {
        let missing: Vec<String> = self
            .servers()
            .iter()
            .filter(|s| s.config.required && s.status() != Status::Ready)
            .map(|s| format!("{}: {}", s.id, s.describe()))
            .collect();
        if missing.is_empty() { Ok(()) } else { Err(missing) }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled() || self.busy.draining.load(Ordering::Relaxed)
    }

    /// The first step of a graceful shutdown: new requests are refused (with an
    /// error saying so) and those in flight get up to `grace` to finish. Returns
    /// how many were still running when the time was up (they are then cancelled
    /// by [`Gateway::shutdown`] and answered with an error).
    pub async fn drain(&self, grace: Duration) -> usize {
        self.busy.draining.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let n = self.busy.count.load(Ordering::Relaxed);
            if n == 0 {
                return 0;
            }
            let idle = self.busy.idle.notified();
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                let left = self.busy.count.load(Ordering::Relaxed);
                tracing::warn!(left, "requests still in flight after shutdown_grace; cancelling them");
                return left;
            }
        }
    }

    /// Stops every backend (each process group is terminated) and returns once
    /// all are gone.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        for s in self.live_sessions() {
            transport_close(&s);
        }
        self.supervisors.close();
        self.supervisors.wait().await;
        let private = self.servers().into_iter().map(|s| async move { s.processes.stop_all().await });
        futures_util::future::join_all(private).await;
    }
}

fn transport_close(s: &Arc<ClientSession>) {
    use crate::service::Session as _;
    s.close();
}

impl Service for Arc<Gateway> {
    type Session = ClientSession;

    fn open(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
    ) -> Result<Arc<ClientSession>, Refused> {
        if self.session_count() >= self.settings.max_sessions {
            return Err(Refused(format!(
                "{} sessions are open, the most gateway.max_sessions allows; close one or try again later",
                self.settings.max_sessions
            )));
        }
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let policy = self.policies().view(&principal);
        let session = ClientSession::new(id, self.clone(), front, outbound, principal, policy);
        crate::observe::metrics::Metrics::global().session_opened(front);
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(id, Arc::downgrade(&session));
        }
        tracing::debug!(session = id, front, principal = %session.principal.name, "session opened");
        Ok(session)
    }
}
