//! A server as clients see it: one id, one set of tools, one state, and
//! behind it one or more replicas ([`super::replica`]) that requests are
//! balanced over ([`super::balance`]).
//!
//! The server is ready while any replica is. While none is, its tools and
//! prompts leave the catalog (clients are told with `list_changed`) and
//! requests for it fail at once with an error that says why; every other
//! server goes on serving. The server also owns what is shared by its
//! replicas: the limits (concurrency and rates), the tool filter, and with
//! `isolation = "per_session"` the processes of each client session.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::balance::{Balancer, Candidate};
use super::breaker::{self, Breaker, Ticket};
use super::isolation::Processes;
use super::replica::{Replica, Status, Target};
use super::start::Where;
use crate::config::{Isolation, ServerConfig, TransportKind};
use crate::gateway::backend::{BackendConn, InitInfo, list_all};
use crate::gateway::catalog::{Lists, ToolFilter};
use crate::gateway::error::GatewayError;
use crate::gateway::limit::{Concurrency, Permit, RateLimiter};
use crate::observe::metrics::Metrics;
use crate::protocol::method;
/// Where a server was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `[servers.<id>]` table of the configuration.
    Config,
    /// `vmcp mount` (persisted in the registry).
    Mounted,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Mounted => "mounted",
        }
    }
}

/// A running supervisor's handles: `stop` ends it, `done` says it has ended.
struct Run {
    stop: CancellationToken,
    done: CancellationToken,
}

/// The replica chosen for one request, with its breaker's permission.
pub struct Pick {
    pub replica: Arc<Replica>,
    pub conn: Arc<BackendConn>,
    pub ticket: Ticket,
}

pub struct Server {
    pub id: Arc<str>,
    pub config: ServerConfig,
    pub source: Source,
    pub replicas: Vec<Arc<Replica>>,
    pub balancer: Balancer,
    pub concurrency: Arc<Concurrency>,
    pub rate: Option<RateLimiter>,
    pub tool_rates: Vec<(String, RateLimiter)>,
    pub filter: Arc<ToolFilter>,
    pub processes: Processes,
    lists: Mutex<Lists>,
    metrics: Metrics,
    disabled: Mutex<bool>,
    run: Mutex<Option<Run>>,
    /// Which replicas have finished a first start attempt.
    first_attempts: Mutex<Vec<bool>>,
    /// Cancelled once every replica's first start attempt is over.
    settled: CancellationToken,
}

impl Server {
    pub fn new(id: &str, config: ServerConfig, source: Source, metrics: Metrics) -> Arc<Server> {
        let status = if config.enabled { Status::Starting } else { Status::Disabled };
        let settled = CancellationToken::new();
        if !config.enabled {
            settled.cancel();
        }
        let targets: Vec<(Target, u32)> = match config.transport {
            TransportKind::Stdio => (0..config.replicas.max(1)).map(|_| (Target::Process, 1)).collect(),
            _ if !config.urls.is_empty() => {
                config.urls.iter().map(|e| (Target::Url(e.url.clone()), e.weight.max(1))).collect()
            }
            _ => (0..config.replicas.max(1)).map(|_| (Target::Process, 1)).collect(),
        };
        let replicas: Vec<Arc<Replica>> = targets
            .into_iter()
            .enumerate()
            .map(|(i, (target, weight))| Replica::new(i, weight, target, Breaker::new(config.breaker), status))
            .collect();
        let n = replicas.len();
        Arc::new(Server {
            id: id.into(),
            balancer: Balancer::new(config.balance, n),
            concurrency: Concurrency::new(config.max_concurrency),
            rate: config.rate_limit.map(RateLimiter::new),
            tool_rates: config.tool_rate_limits.iter().map(|(t, r)| (t.clone(), RateLimiter::new(*r))).collect(),
            filter: Arc::new(ToolFilter::new(&config)),
            processes: Processes::new(config.max_processes, config.process_idle_timeout),
            replicas,
            config,
            source,
            lists: Mutex::new(Lists::default()),
            disabled: Mutex::new(status == Status::Disabled),
            run: Mutex::new(None),
            first_attempts: Mutex::new(vec![false; n]),
            settled,
            metrics,
        })
    }

    /// Where starts of this server go (its id and configuration).
    pub fn at(&self) -> Where<'_> {
        Where { id: &self.id, config: &self.config }
    }

    /// Tells the replica's breaker how a request it admitted went; a change
    /// of the circuit's state is logged and shown in the metrics.
    pub fn record(&self, pick: &Pick, failed: bool) {
        let Some(state) = pick.ticket.record(failed) else { return };
        let replica = &pick.replica;
        match state {
            breaker::State::Open => {
                tracing::warn!(server = %self.id, replica = %replica.label(), "circuit open: too many failures; out of balancing")
            }
            other => tracing::info!(server = %self.id, replica = %replica.label(), "circuit {}", other.as_str()),
        }
        self.metrics.breaker_state(&self.id, &replica.index.to_string(), state.as_str());
    }

    /// Whether each client session gets processes of its own.
    pub fn per_session(&self) -> bool {
        self.config.isolation == Isolation::PerSession
    }

    /// Records the supervisor now running this server.
    pub(super) fn set_run(&self, stop: CancellationToken, done: CancellationToken) {
        if let Ok(mut r) = self.run.lock() {
            *r = Some(Run { stop, done });
        }
    }

    /// Stops the supervisor, if one runs, and waits until it has stopped every
    /// replica (and every per-session process).
    pub(super) async fn stop_run(&self) {
        let run = self.run.lock().ok().and_then(|mut r| r.take());
        if let Some(run) = run {
            run.stop.cancel();
            run.done.cancelled().await;
        }
        self.processes.stop_all().await;
    }

    /// `Disabled` takes the server out of service; `Starting` puts it back
    /// before its supervisor starts again.
    pub(super) fn set_status(&self, status: Status) {
        if let Ok(mut d) = self.disabled.lock() {
            *d = status == Status::Disabled;
        }
        if status != Status::Disabled {
            for r in &self.replicas {
                r.set_status(status);
            }
        }
        self.publish();
    }

    /// Shows the current state in the metrics.
    pub(super) fn publish(&self) {
        self.metrics.server_state(&self.id, self.status().as_str());
    }

    /// How the server last answered `initialize` or `server/discover`.
    pub fn protocol(&self) -> Option<String> {
        self.conn().and_then(|c| c.info().map(|i| i.revision.as_str().to_owned()))
    }

    /// Ready while any replica is; starting while any is starting; down else.
    pub fn status(&self) -> Status {
        if self.disabled.lock().map(|d| *d).unwrap_or(false) {
            return Status::Disabled;
        }
        // Asked on every call: one pass, nothing collected.
        let (mut starting, mut all_stopped) = (false, true);
        for state in self.replicas.iter().map(|r| r.status()) {
            match state {
                Status::Ready => return Status::Ready,
                Status::Starting => starting = true,
                _ => {}
            }
            all_stopped &= state == Status::Stopped;
        }
        if starting {
            Status::Starting
        } else if all_stopped {
            Status::Stopped
        } else {
            Status::Down
        }
    }

    /// The first ready replica's connection: for what any replica can answer
    /// alike (lists, subscriptions), kept on one replica so cursors stay valid.
    pub fn conn(&self) -> Option<Arc<BackendConn>> {
        if self.status() == Status::Disabled {
            return None;
        }
        self.replicas.iter().find_map(|r| r.conn())
    }

    /// Every ready replica's connection (`logging/setLevel` goes to all).
    pub fn conns(&self) -> Vec<Arc<BackendConn>> {
        self.replicas.iter().filter_map(|r| r.conn()).collect()
    }

    /// What the server announced in `initialize` (any ready replica).
    pub fn info(&self) -> Option<InitInfo> {
        self.conn().and_then(|c| c.info().cloned())
    }

    pub fn lists(&self) -> Lists {
        if self.status() != Status::Ready {
            return Lists::default();
        }
        self.lists.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn last_error(&self) -> Option<String> {
        self.replicas.iter().find_map(|r| r.last_error())
    }

    pub fn restarts(&self) -> u32 {
        self.replicas.iter().map(|r| r.restarts()).sum()
    }

    pub fn pid(&self) -> Option<u32> {
        self.replicas.iter().find_map(|r| r.pid())
    }

    /// A one-line account of the state, for errors and status output.
    pub fn describe(&self) -> String {
        match (self.status(), self.last_error()) {
            (Status::Ready, _) => "ready".to_owned(),
            (Status::Starting, None) => "starting".to_owned(),
            (st, Some(e)) if self.replicas.len() == 1 => format!("{} ({e})", st.as_str()),
            (st, Some(e)) => format!("{} (every replica; first: {e})", st.as_str()),
            (st, None) => st.as_str().to_owned(),
        }
    }

    pub async fn settled(&self) {
        self.settled.cancelled().await
    }

    /// A replica finished a start attempt: the server is settled once every
    /// replica has tried (as the gateway waits for every server), so the first
    /// client finds the whole group, not just its fastest replica.
    pub(super) fn replica_settled(&self, index: usize) {
        let all = match self.first_attempts.lock() {
            Ok(mut tried) => {
                if let Some(t) = tried.get_mut(index) {
                    *t = true;
                }
                tried.iter().all(|t| *t)
            }
            Err(_) => true,
        };
        if all {
            self.settled.cancel();
        }
    }

    pub(super) fn set_lists(&self, lists: Lists) {
        if let Ok(mut l) = self.lists.lock() {
            *l = lists;
        }
    }

    /// Picks the replica for one request: the session's own replica while it
    /// is up (affinity), else the strategy's choice among the replicas that are
    /// ready, whose circuit lets requests through, and that were not `tried`.
    pub fn pick(&self, pinned: Option<usize>, key: &[u8], tried: &[usize]) -> Result<Pick, GatewayError> {
        if self.status() == Status::Disabled {
            return Err(GatewayError::Unavailable { server: self.id.to_string(), reason: self.describe() });
        }
        // One replica (the common case): no lists to build.
        if let [only] = &self.replicas[..] {
            let conn = only.conn().filter(|c| !c.is_closed() && !tried.contains(&only.index));
            let Some(conn) = conn else {
                let reason = if tried.is_empty() { self.describe() } else { "no other replica is ready".to_owned() };
                return Err(GatewayError::Unavailable { server: self.id.to_string(), reason });
            };
            return match only.breaker.admit() {
                Ok(ticket) => Ok(Pick { replica: only.clone(), conn, ticket }),
                Err(wait) => {
                    Err(GatewayError::CircuitOpen { server: self.id.to_string(), retry_in_ms: wait.as_millis() })
                }
            };
        }
        let ready: Vec<(&Arc<Replica>, Arc<BackendConn>)> = self
            .replicas
            .iter()
            .filter(|r| !tried.contains(&r.index))
            // A connection that has just closed is not taken, though its
            // supervisor may not have noticed yet.
            .filter_map(|r| r.conn().filter(|c| !c.is_closed()).map(|c| (r, c)))
            .collect();
        if ready.is_empty() {
            let reason = if tried.is_empty() { self.describe() } else { "no other replica is ready".to_owned() };
            return Err(GatewayError::Unavailable { server: self.id.to_string(), reason });
        }
        if let Some(p) = pinned
            && let Some((r, c)) = ready.iter().find(|(r, _)| r.index == p)
            && let Ok(ticket) = r.breaker.admit()
        {
            return Ok(Pick { replica: (*r).clone(), conn: c.clone(), ticket });
        }
        let mut candidates: Vec<Candidate> = ready
            .iter()
            .filter(|(r, _)| r.breaker.available())
            .map(|(r, c)| Candidate {
                index: r.index,
                weight: r.weight,
                in_flight: r.in_flight(),
                latency_us: c.latency.decayed_us(),
            })
            .collect();
        while let Some(index) = self.balancer.pick(&candidates, key) {
            if let Some((r, c)) = ready.iter().find(|(r, _)| r.index == index) {
                match r.breaker.admit() {
                    Ok(ticket) => return Ok(Pick { replica: (*r).clone(), conn: c.clone(), ticket }),
                    Err(_) => candidates.retain(|c| c.index != index),
                }
            } else {
                candidates.retain(|c| c.index != index);
            }
        }
        let retry_in = ready.iter().map(|(r, _)| r.breaker.retry_in()).min().unwrap_or_default();
        Err(GatewayError::CircuitOpen { server: self.id.to_string(), retry_in_ms: retry_in.as_millis() })
    }

    /// Applies the server's limits to one request (tool: the server's own name).
    pub fn admit(&self, tool: Option<&str>) -> Result<Permit, GatewayError> {
        if let Some(rate) = &self.rate
            && let Err(wait) = rate.check("")
        {
            return Err(GatewayError::RateLimited {
                server: Some(self.id.to_string()),
                scope: format!("server '{}'", self.id),
                retry_after_ms: wait.as_millis().max(1),
            });
        }
        if let Some(tool) = tool
            && let Some((_, rate)) = self.tool_rates.iter().find(|(t, _)| t == tool)
            && let Err(wait) = rate.check("")
        {
            return Err(GatewayError::RateLimited {
                server: Some(self.id.to_string()),
                scope: format!("tool '{tool}' of server '{}'", self.id),
                retry_after_ms: wait.as_millis().max(1),
            });
        }
        self.concurrency.try_acquire().ok_or_else(|| GatewayError::Overloaded {
            server: Some(self.id.to_string()),
            scope: format!("server '{}'", self.id),
            limit: self.concurrency.limit(),
        })
    }
}

/// Fetches the lists the catalog keeps, for the capabilities the server announced.
pub async fn fetch_lists(conn: &BackendConn, info: &InitInfo) -> Result<Lists, GatewayError> {
    let tools = if info.has("tools") { list_all(conn, method::TOOLS_LIST, "tools").await? } else { Vec::new() };
    let prompts = if info.has("prompts") { list_all(conn, method::PROMPTS_LIST, "prompts").await? } else { Vec::new() };
    Ok(Lists { tools: Arc::new(tools), prompts: Arc::new(prompts) })
}
