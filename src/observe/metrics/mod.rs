//! Prometheus metrics (served at `/metrics`, every name prefixed `vmcp_`): the
//! [`Metrics`] handle and its recording API. The same series also give a typed
//! [`Summary`] (what `vmcp metrics show` prints).
//!
//! | name | type | labels |
//! |---|---|---|
//! | `vmcp_requests_total` | counter | `server`, `method`, `outcome` |
//! | `vmcp_request_duration_seconds` | histogram | `server`, `method` |
//! | `vmcp_requests_in_flight` | gauge | `server` |
//! | `vmcp_sessions` | gauge | `front` |
//! | `vmcp_backend_up` | gauge | `server`, `state` |
//! | `vmcp_backend_restarts_total` | counter | `server` |
//! | `vmcp_catalog_items` | gauge | `kind` |
//! | `vmcp_breaker_state` | gauge (0 closed, 1 half-open, 2 open) | `server`, `replica` |
//! | `vmcp_breaker_opened_total` | counter | `server`, `replica` |
//! | `vmcp_rejected_total` | counter | `reason` (overloaded, rate_limited, circuit_open, denied) |
//! | `vmcp_retries_total` | counter | `server` |
//! | `vmcp_route_cache_lookups_total` | counter | `result` (hit, miss) |
//! | `vmcp_process_resident_memory_bytes` | gauge | |
//! | `vmcp_build_info` | gauge (always 1) | `version` |
//!
//! Recording is cheap: each label value is interned once, and every series keeps
//! its metric handle, so a steady-state call takes one read lock, two hash
//! lookups by `&str` and the metric's own atomics. Nothing allocates after a
//! series' first use and no lock is held beyond the call.
//!
//! Cardinality is bounded: past [`MAX_SERIES`] distinct servers, further servers
//! are counted under `server="other"`; past [`MAX_SERIES`] distinct
//! (server, method) pairs, further methods are counted under `method="other"`.
//! Outcomes and states outside their fixed sets become `"other"` too.
//!
//! The files: `series.rs` (label sets, interned handles, caps), `histogram.rs`
//! (the latency buckets), `summary.rs` (the [`Summary`] and how it is read off
//! the series), `table.rs` (its human form), `process.rs` (resident memory),
//! `tests.rs` (recording, through the text it encodes).

mod histogram;
mod process;
mod series;
mod summary;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use histogram::Buckets;
pub use histogram::Quantile;
use series::*;
pub use summary::{BreakerSummary, Latency, MethodSummary, Requests, RouteCache, ServerSummary, Summary};

/// The `Content-Type` of what [`Metrics::encode`] produces (Prometheus text, 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The default bound on distinct servers, and on distinct (server, method) pairs.
pub const MAX_SERIES: usize = 10_000;

/// The label value excess servers, methods, outcomes and states are folded into.
pub const OTHER: &str = "other";

/// Request outcomes, in the order summaries list them.
pub const OUTCOMES: [&str; 7] = ["ok", "error", "timeout", "unavailable", "transport", "cancelled", OTHER];

/// Backend states, as `gateway::server::Status::as_str` spells them.
pub const STATES: [&str; 4] = ["starting", "ready", "down", "stopped"];

/// Latency buckets, in seconds: 0.5 ms to 60 s in 1-2.5-5 steps (each about 2 to
/// 2.5 times the last), from a cached `tools/list` to a slow tool call.
pub const DURATION_BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0];

/// Every metric vmcp exports: a handle, cheap to clone, whose clones record
/// into the same series. `Send + Sync`.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

/// The registry (what [`Metrics::encode`] writes out) and, beside it, the
/// handles recording goes through and the summary reads.
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<MethodLabels, Buckets>,
    in_flight: Family<ServerLabels, Gauge>,
    up: Family<StateLabels, Gauge>,
    restarts: Family<ServerLabels, Counter>,
    retries: Family<ServerLabels, Counter>,
    sessions: Keyed<FrontLabels, Gauge>,
    catalog: Keyed<KindLabels, Gauge>,
    rejected: Keyed<ReasonLabels, Counter>,
    breaker: Family<ReplicaLabels, Gauge>,
    breaker_opened: Family<ReplicaLabels, Counter>,
    route_hits: Counter,
    route_misses: Counter,
    /// Breakers by server name, so unmounting a server drops them too.
    /// Not capped: replicas come from the configuration.
    breakers: Mutex<HashMap<String, Vec<Breaker>>>,
    servers: RwLock<Servers>,
    cap: usize,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").field("cap", &self.0.cap).finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::with_cap(MAX_SERIES)
    }

    /// Like [`Metrics::new`] with another bound on distinct servers and on
    /// distinct (server, method) pairs (at least 1).
    pub fn with_cap(cap: usize) -> Metrics {
        let cap = cap.max(1);
        let mut registry = Registry::with_prefix("vmcp");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests sent to backend servers, by server, MCP method and outcome \
             (ok, error: the server answered with an error, timeout, unavailable, \
             transport: connection lost or refused, cancelled)",
            requests.clone(),
        );
        let duration = Family::<MethodLabels, Buckets>::default();
        registry.register(
            "request_duration_seconds",
            "Time from sending a request to a backend server to its outcome, in seconds",
            duration.clone(),
        );
        let in_flight = Family::<ServerLabels, Gauge>::default();
        registry.register(
            "requests_in_flight",
            "Requests sent to a backend server and not finished yet",
            in_flight.clone(),
        );
        let sessions = Keyed::new(|front| FrontLabels { front });
        registry.register(
            "sessions",
            "Open client sessions, by front end (stdio, http, sse, websocket)",
            sessions.family.clone(),
        );
        let up = Family::<StateLabels, Gauge>::default();
        registry.register(
            "backend_up",
            "Backend server state: 1 for the current state (starting, ready, down, stopped), 0 for the others",
            up.clone(),
        );
        let restarts = Family::<ServerLabels, Counter>::default();
        registry.register("backend_restarts", "Backend server restarts after a failure", restarts.clone());
        let catalog = Keyed::new(|kind| KindLabels { kind });
        registry.register(
            "catalog_items",
            "Items in the merged catalog clients see, by kind (tools, prompts)",
            catalog.family.clone(),
        );
        let breaker = Family::<ReplicaLabels, Gauge>::default();
        registry.register(
            "breaker_state",
            "Circuit breaker of each replica: 0 closed, 1 half-open (a probe may go), 2 open",
            breaker.clone(),
        );
        let breaker_opened = Family::<ReplicaLabels, Counter>::default();
        registry.register("breaker_opened", "Times a replica's circuit opened", breaker_opened.clone());
        let rejected = Keyed::new(|reason| ReasonLabels { reason });
        registry.register(
            "rejected",
            "Client requests refused by the gateway itself, by reason (overloaded, rate_limited, circuit_open, denied)",
            rejected.family.clone(),
        );
        let retries = Family::<ServerLabels, Counter>::default();
        registry.register("retries", "Requests retried on another replica", retries.clone());
        let route_cache = Family::<ResultLabels, Counter>::default();
        registry.register(
            "route_cache_lookups",
            "Routing-rule cache lookups, by result (hit, miss)",
            route_cache.clone(),
        );
        let route_hits = route_cache.get_or_create(&ResultLabels { result: "hit" }).clone();
        let route_misses = route_cache.get_or_create(&ResultLabels { result: "miss" }).clone();
        registry.register_collector(Box::new(process::ProcessCollector));
        let build = Family::<BuildLabels, Gauge>::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("build_info", "The running vmcp's version; the value is always 1", build);
        Metrics(Arc::new(Inner {
            registry,
            requests,
            duration,
            in_flight,
            up,
            restarts,
            retries,
            sessions,
            catalog,
            rejected,
            breaker,
            breaker_opened,
            route_hits,
            route_misses,
            breakers: Mutex::new(HashMap::new()),
            servers: RwLock::new(Servers::default()),
            cap,
        }))
    }

    /// Runs `f` on the series `server` is counted under (created when missing;
    /// with `fold` false, not at all for a server past the cap).
    fn with_server<R>(&self, server: &str, fold: bool, f: impl FnOnce(&ServerSeries) -> R) -> Option<R> {
        let m = &*self.0;
        {
            let servers = read(&m.servers);
            if let Some(s) = servers.find(server, m.cap).filter(|s| fold || &*s.name == server) {
                return Some(f(s));
            }
        }
        let mut servers = write(&m.servers);
        servers.slot(server, m.cap, fold).map(|s| f(s))
    }

    /// One finished request to a backend: `outcome` is "ok", "error" (the
    /// backend answered an error), "timeout", "unavailable", "transport"
    /// (connection lost or refused) or "cancelled"; anything else counts as "other".
    pub fn request_done(&self, server: &str, method: &str, outcome: &str, seconds: f64) {
        let m = &*self.0;
        let outcome = outcome_index(outcome);
        let seconds = if seconds.is_finite() { seconds.max(0.0) } else { 0.0 };
        {
            let servers = read(&m.servers);
            let full = servers.pairs >= m.cap;
            if let Some(s) = servers.find(server, m.cap)
                && let Some(series) = s.method(method, full)
            {
                self.record(s, series, outcome, seconds);
                return;
            }
        }
        let mut guard = write(&m.servers);
        let Servers { map, pairs } = &mut *guard;
        let key = if map.contains_key(server) || map.len() < m.cap { server } else { OTHER };
        let s = map.entry(Arc::from(key)).or_insert_with_key(|k| ServerSeries::new(k.clone()));
        let (key, counted) = if s.methods.contains_key(method) {
            (method, false)
        } else if *pairs < m.cap {
            (method, true)
        } else {
            (OTHER, false)
        };
        if !s.methods.contains_key(key) {
            let method: Arc<str> = Arc::from(key);
            let duration =
                m.duration.get_or_create_owned(&MethodLabels { server: s.name.clone(), method: method.clone() });
            *pairs += usize::from(counted);
            let series = MethodSeries { method: method.clone(), duration, outcomes: Default::default(), counted };
            s.methods.insert(method, series);
        }
        if let Some(series) = s.methods.get(key) {
            self.record(s, series, outcome, seconds);
        }
    }

    fn record(&self, s: &ServerSeries, series: &MethodSeries, outcome: usize, seconds: f64) {
        series.duration.observe(seconds);
        if let Some(slot) = series.outcomes.get(outcome) {
            slot.get_or_init(|| {
                self.0.requests.get_or_create_owned(&RequestLabels {
                    server: s.name.clone(),
                    method: series.method.clone(),
                    outcome: OUTCOMES[outcome],
                })
            })
            .inc();
        }
    }

    /// Requests in flight to `server`: +1 on send, -1 on completion.
    pub fn in_flight(&self, server: &str, delta: i64) {
        self.with_server(server, true, |s| {
            s.in_flight
                .get_or_init(|| self.0.in_flight.get_or_create_owned(&ServerLabels { server: s.name.clone() }))
                .inc_by(delta);
        });
    }

    pub fn session_opened(&self, front: &str) {
        self.0.sessions.get(front).inc();
    }

    pub fn session_closed(&self, front: &str) {
        self.0.sessions.get(front).dec();
    }

    /// Sets `vmcp_backend_up{server,state}`: 1 for `state`, 0 for the others of
    /// starting|ready|down|stopped (all 0 for a state outside that set). Servers
    /// past the cap are not tracked (their states cannot share one series).
    pub fn server_state(&self, server: &str, state: &str) {
        let current = STATES.iter().position(|s| *s == state);
        self.with_server(server, false, |s| {
            let gauges = s.up.get_or_init(|| {
                std::array::from_fn(|i| {
                    self.0.up.get_or_create_owned(&StateLabels { server: s.name.clone(), state: STATES[i] })
                })
            });
            for (i, g) in gauges.iter().enumerate() {
                g.set(i64::from(current == Some(i)));
            }
        });
    }

    /// Drops every series of `server` (it was unmounted).
    pub fn server_removed(&self, server: &str) {
        let m = &*self.0;
        let breakers = m.breakers.lock().unwrap_or_else(PoisonError::into_inner).remove(server).unwrap_or_default();
        for b in breakers {
            let labels = ReplicaLabels { server: server.to_owned(), replica: b.replica };
            m.breaker.remove(&labels);
            m.breaker_opened.remove(&labels);
        }
        // The families are pruned under the write lock: a concurrent first use
        // would otherwise pick up a series about to be removed.
        let mut servers = write(&m.servers);
        let Some(s) = servers.map.remove(server) else { return };
        servers.pairs -= s.methods.values().filter(|series| series.counted).count();
        for series in s.methods.values() {
            m.duration.remove(&MethodLabels { server: s.name.clone(), method: series.method.clone() });
            for outcome in OUTCOMES {
                m.requests.remove(&RequestLabels { server: s.name.clone(), method: series.method.clone(), outcome });
            }
        }
        let labels = ServerLabels { server: s.name.clone() };
        m.in_flight.remove(&labels);
        m.restarts.remove(&labels);
        m.retries.remove(&labels);
        for state in STATES {
            m.up.remove(&StateLabels { server: s.name.clone(), state });
        }
    }

    /// `server` was restarted after a failure.
    pub fn restart(&self, server: &str) {
        self.with_server(server, true, |s| {
            s.restarts
                .get_or_init(|| self.0.restarts.get_or_create_owned(&ServerLabels { server: s.name.clone() }))
                .inc();
        });
    }

    /// A replica's circuit breaker moved to `state` (closed, half_open, open).
    pub fn breaker_state(&self, server: &str, replica: &str, state: &str) {
        let m = &*self.0;
        let value = match state {
            "open" => 2,
            "half_open" => 1,
            _ => 0,
        };
        let mut breakers = m.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let replicas = breakers.entry(server.to_owned()).or_default();
        let i = match replicas.iter().position(|b| b.replica == replica) {
            Some(i) => i,
            None => {
                let labels = ReplicaLabels { server: server.to_owned(), replica: replica.to_owned() };
                replicas.push(Breaker {
                    replica: replica.to_owned(),
                    state: m.breaker.get_or_create_owned(&labels),
                    opened: m.breaker_opened.get_or_create_owned(&labels),
                });
                replicas.len() - 1
            }
        };
        if let Some(b) = replicas.get(i) {
            if value == 2 {
                b.opened.inc();
            }
            b.state.set(value);
        }
    }

    /// The gateway refused a client request itself (`reason`: overloaded,
    /// rate_limited, circuit_open, denied).
    pub fn rejected(&self, reason: &'static str) {
        self.0.rejected.get(reason).inc();
    }

    /// A request to `server` was retried on another replica.
    pub fn retried(&self, server: &str) {
        self.with_server(server, true, |s| {
            s.retries
                .get_or_init(|| self.0.retries.get_or_create_owned(&ServerLabels { server: s.name.clone() }))
                .inc();
        });
    }

    /// A routing-rule cache lookup.
    pub fn route_cache(&self, hit: bool) {
        if hit {
            self.0.route_hits.inc()
        } else {
            self.0.route_misses.inc()
        };
    }

    /// The merged catalog holds `n` items of `kind` ("tools", "prompts").
    pub fn catalog_size(&self, kind: &str, n: usize) {
        self.0.catalog.get(kind).set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Every metric in the Prometheus text format ([`CONTENT_TYPE`]), with the
    /// process memory read now.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.0.registry);
        out
    }

    /// The same metrics as a typed summary (what `GET /admin/v1/metrics`
    /// answers), with the process memory read now.
    pub fn summary(&self) -> Summary {
        summary::collect(&self.0)
    }
}
