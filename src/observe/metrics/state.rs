//! The metrics' state: the Prometheus registry (what is encoded at
//! `/metrics`) and, beside it, the handles recording goes through and the
//! summary reads.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::histogram::Buckets;
use super::process;
use super::series::*;

/// The registry (what [`Metrics::encode`] writes out) and, beside it, the
/// handles recording goes through and the summary reads.
pub(super) struct Inner {
    pub(super) registry: Registry,
    pub(super) requests: Family<RequestLabels, Counter>,
    pub(super) duration: Family<MethodLabels, Buckets>,
    pub(super) in_flight: Family<ServerLabels, Gauge>,
    pub(super) up: Family<StateLabels, Gauge>,
    pub(super) restarts: Family<ServerLabels, Counter>,
    pub(super) retries: Family<ServerLabels, Counter>,
    pub(super) sessions: Keyed<FrontLabels, Gauge>,
    pub(super) catalog: Keyed<KindLabels, Gauge>,
    pub(super) rejected: Keyed<ReasonLabels, Counter>,
    pub(super) breaker: Family<ReplicaLabels, Gauge>,
    pub(super) breaker_opened: Family<ReplicaLabels, Counter>,
    pub(super) route_hits: Counter,
    pub(super) route_misses: Counter,
    /// Breakers by server name, so unmounting a server drops them too.
    /// Not capped: replicas come from the configuration.
    pub(super) breakers: Mutex<HashMap<String, Vec<Breaker>>>,
    pub(super) servers: RwLock<Servers>,
    pub(super) cap: usize,
}

impl Inner {
    /// Every series registered, none recorded yet; `cap` (at least 1) bounds
    /// distinct servers and distinct (server, method) pairs.
    pub(super) fn new(cap: usize) -> Inner {
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
        Inner {
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
        }
    }
}
