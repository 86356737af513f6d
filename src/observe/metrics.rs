//! Prometheus metrics (served at `/metrics`, every name prefixed `vmcp_`), and
//! the readable summary `vmcp metrics show` prints.
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
//! lookups by `&str` and the metric's own atomic (or, for the histogram, its
//! short mutex). Nothing allocates after a series' first use and no lock is held
//! beyond the call.
//!
//! Cardinality is bounded: past [`MAX_SERIES`] distinct servers, further servers
//! are counted under `server="other"`; past [`MAX_SERIES`] distinct
//! (server, method) pairs, further methods are counted under `method="other"`.
//! Outcomes and states outside their fixed sets become `"other"` too.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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

/// At most this many distinct fronts and catalog kinds (they come from code, not
/// from users, so this only guards against a bug).
const SMALL_CAP: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    server: Arc<str>,
    method: Arc<str>,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    server: Arc<str>,
    method: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    server: Arc<str>,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplicaLabels {
    server: String,
    replica: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FrontLabels {
    front: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type DurationFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn outcome_index(outcome: &str) -> usize {
    OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(OUTCOMES.len() - 1)
}

/// One (server, method) pair's handles.
struct MethodSeries {
    method: Arc<str>,
    duration: Histogram,
    /// One counter per entry of [`OUTCOMES`], created on first use.
    outcomes: [OnceLock<Counter>; OUTCOMES.len()],
    /// Whether it counts towards the cap (the fold-in `other` series does not).
    counted: bool,
}

/// One server's handles.
struct ServerSeries {
    name: Arc<str>,
    in_flight: OnceLock<Gauge>,
    restarts: OnceLock<Counter>,
    up: OnceLock<[Gauge; STATES.len()]>,
    methods: HashMap<Arc<str>, MethodSeries>,
}

impl ServerSeries {
    fn new(name: Arc<str>) -> ServerSeries {
        ServerSeries {
            name,
            in_flight: OnceLock::new(),
            restarts: OnceLock::new(),
            up: OnceLock::new(),
            methods: HashMap::new(),
        }
    }

    /// The series `method` is counted under, when it exists; `full` says the
    /// pair cap is reached (so a new method would be folded).
    fn method(&self, method: &str, full: bool) -> Option<&MethodSeries> {
        match self.methods.get(method) {
            Some(m) => Some(m),
            None if full => self.methods.get(OTHER),
            None => None,
        }
    }
}

#[derive(Default)]
struct Servers {
    map: HashMap<Arc<str>, ServerSeries>,
    /// Counted (server, method) pairs, across servers.
    pairs: usize,
}

impl Servers {
    /// The series `server` is counted under, when it exists.
    fn find(&self, server: &str, cap: usize) -> Option<&ServerSeries> {
        match self.map.get(server) {
            Some(s) => Some(s),
            None if self.map.len() >= cap => self.map.get(OTHER),
            None => None,
        }
    }

    /// The series `server` is counted under, created when missing. With `fold`
    /// false, a server past the cap gets `None` instead of `other`.
    fn slot(&mut self, server: &str, cap: usize, fold: bool) -> Option<&mut ServerSeries> {
        let key = if self.map.contains_key(server) || self.map.len() < cap {
            server
        } else if fold {
            OTHER
        } else {
            return None;
        };
        Some(self.map.entry(Arc::from(key)).or_insert_with_key(|k| ServerSeries::new(k.clone())))
    }
}

/// Gauges keyed by one small-set label (front, catalog kind).
struct KeyedGauge<L> {
    family: Family<L, Gauge>,
    slots: RwLock<HashMap<Arc<str>, Gauge>>,
    label: fn(Arc<str>) -> L,
}

impl<L: Clone + std::hash::Hash + Eq> KeyedGauge<L> {
    fn new(label: fn(Arc<str>) -> L) -> Self {
        KeyedGauge { family: Family::default(), slots: RwLock::new(HashMap::new()), label }
    }

    fn get(&self, key: &str) -> Gauge {
        {
            let slots = read(&self.slots);
            let found = match slots.get(key) {
                Some(g) => Some(g),
                None if slots.len() >= SMALL_CAP => slots.get(OTHER),
                None => None,
            };
            if let Some(g) = found {
                return g.clone();
            }
        }
        let mut slots = write(&self.slots);
        let key = if slots.contains_key(key) || slots.len() < SMALL_CAP { key } else { OTHER };
        slots
            .entry(Arc::from(key))
            .or_insert_with_key(|k| self.family.get_or_create_owned(&(self.label)(k.clone())))
            .clone()
    }
}

/// The resident memory, read when metrics are encoded.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        if let Some(bytes) = resident_bytes() {
            let gauge = ConstGauge::new(i64::try_from(bytes).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory of the vmcp process, in bytes.",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// Resident set size from `/proc/self/statm` (Linux); `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(page_size()))
}

fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| auxv_page_size().unwrap_or(4096))
}

/// `AT_PAGESZ` from the auxiliary vector: the real page size without libc.
fn auxv_page_size() -> Option<u64> {
    const AT_NULL: usize = 0;
    const AT_PAGESZ: usize = 6;
    const W: usize = size_of::<usize>();
    let auxv = std::fs::read("/proc/self/auxv").ok()?;
    for pair in auxv.chunks_exact(2 * W) {
        let key = usize::from_ne_bytes(pair[..W].try_into().ok()?);
        match key {
            AT_PAGESZ => return u64::try_from(usize::from_ne_bytes(pair[W..].try_into().ok()?)).ok(),
            AT_NULL => break,
            _ => {}
        }
    }
    None
}

/// Every metric vmcp exports. `Send + Sync`; share one (see [`Metrics::global`]).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: DurationFamily,
    in_flight: Family<ServerLabels, Gauge>,
    up: Family<StateLabels, Gauge>,
    restarts: Family<ServerLabels, Counter>,
    sessions: KeyedGauge<FrontLabels>,
    catalog: KeyedGauge<KindLabels>,
    breaker: Family<ReplicaLabels, Gauge>,
    breaker_opened: Family<ReplicaLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    retries: Family<ServerLabels, Counter>,
    route_hits: Counter,
    route_misses: Counter,
    /// Replica labels that have a breaker series, by server, so unmounting
    /// a server drops them too.
    breaker_series: std::sync::Mutex<HashMap<String, Vec<String>>>,
    servers: RwLock<Servers>,
    cap: usize,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").field("cap", &self.cap).finish_non_exhaustive()
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
        let duration: DurationFamily = Family::new_with_constructor(duration_histogram);
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
        let sessions = KeyedGauge::new(|front| FrontLabels { front });
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
        let catalog = KeyedGauge::new(|kind| KindLabels { kind });
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
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "rejected",
            "Client requests refused by the gateway itself, by reason (overloaded, rate_limited, circuit_open, denied)",
            rejected.clone(),
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
        registry.register_collector(Box::new(ProcessCollector));
        let build = Family::<BuildLabels, Gauge>::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("build_info", "The running vmcp's version; the value is always 1", build);
        Metrics {
            registry,
            requests,
            duration,
            in_flight,
            up,
            restarts,
            sessions,
            catalog,
            breaker,
            breaker_opened,
            rejected,
            retries,
            route_hits,
            route_misses,
            breaker_series: std::sync::Mutex::new(HashMap::new()),
            servers: RwLock::new(Servers::default()),
            cap,
        }
    }

    /// The process-wide instance.
    pub fn global() -> &'static Metrics {
        static GLOBAL: OnceLock<Metrics> = OnceLock::new();
        GLOBAL.get_or_init(Metrics::new)
    }

    /// Runs `f` on the series `server` is counted under (created when missing;
    /// with `fold` false, not at all for a server past the cap).
    fn with_server<R>(&self, server: &str, fold: bool, f: impl FnOnce(&ServerSeries) -> R) -> Option<R> {
        {
            let servers = read(&self.servers);
            if let Some(s) = servers.find(server, self.cap).filter(|s| fold || &*s.name == server) {
                return Some(f(s));
            }
        }
        let mut servers = write(&self.servers);
        servers.slot(server, self.cap, fold).map(|s| f(s))
    }

    /// One finished request to a backend: `outcome` is "ok", "error" (the
    /// backend answered an error), "timeout", "unavailable", "transport"
    /// (connection lost or refused) or "cancelled"; anything else counts as "other".
    pub fn request_done(&self, server: &str, method: &str, outcome: &str, seconds: f64) {
        let outcome = outcome_index(outcome);
        let seconds = if seconds.is_finite() { seconds.max(0.0) } else { 0.0 };
        {
            let servers = read(&self.servers);
            let full = servers.pairs >= self.cap;
            if let Some(s) = servers.find(server, self.cap)
                && let Some(m) = s.method(method, full)
            {
                self.record(s, m, outcome, seconds);
                return;
            }
        }
        let mut guard = write(&self.servers);
        let Servers { map, pairs } = &mut *guard;
        let key = if map.contains_key(server) || map.len() < self.cap { server } else { OTHER };
        let s = map.entry(Arc::from(key)).or_insert_with_key(|k| ServerSeries::new(k.clone()));
        let (key, counted) = if s.methods.contains_key(method) {
            (method, false)
        } else if *pairs < self.cap {
            (method, true)
        } else {
            (OTHER, false)
        };
        if !s.methods.contains_key(key) {
            let method: Arc<str> = Arc::from(key);
            let duration =
                self.duration.get_or_create_owned(&MethodLabels { server: s.name.clone(), method: method.clone() });
            *pairs += usize::from(counted);
            let series = MethodSeries { method: method.clone(), duration, outcomes: Default::default(), counted };
            s.methods.insert(method, series);
        }
        if let Some(m) = s.methods.get(key) {
            self.record(s, m, outcome, seconds);
        }
    }

    fn record(&self, s: &ServerSeries, m: &MethodSeries, outcome: usize, seconds: f64) {
        m.duration.observe(seconds);
        if let Some(slot) = m.outcomes.get(outcome) {
            slot.get_or_init(|| {
                self.requests.get_or_create_owned(&RequestLabels {
                    server: s.name.clone(),
                    method: m.method.clone(),
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
                .get_or_init(|| self.in_flight.get_or_create_owned(&ServerLabels { server: s.name.clone() }))
                .inc_by(delta);
        });
    }

    pub fn session_opened(&self, front: &str) {
        self.sessions.get(front).inc();
    }

    pub fn session_closed(&self, front: &str) {
        self.sessions.get(front).dec();
    }

    /// Sets `vmcp_backend_up{server,state}`: 1 for `state`, 0 for the others of
    /// starting|ready|down|stopped (all 0 for a state outside that set). Servers
    /// past the cap are not tracked (their states cannot share one series).
    pub fn server_state(&self, server: &str, state: &str) {
        let current = STATES.iter().position(|s| *s == state);
        self.with_server(server, false, |s| {
            let gauges = s.up.get_or_init(|| {
                std::array::from_fn(|i| {
                    self.up.get_or_create_owned(&StateLabels { server: s.name.clone(), state: STATES[i] })
                })
            });
            for (i, g) in gauges.iter().enumerate() {
                g.set(i64::from(current == Some(i)));
            }
        });
    }

    /// Drops every series of `server` (it was unmounted).
    pub fn server_removed(&self, server: &str) {
        let replicas = self.breaker_series.lock().ok().and_then(|mut seen| seen.remove(server)).unwrap_or_default();
        for replica in replicas {
            let labels = ReplicaLabels { server: server.to_owned(), replica };
            self.breaker.remove(&labels);
            self.breaker_opened.remove(&labels);
        }
        self.retries.remove(&ServerLabels { server: server.into() });
        // The families are pruned under the write lock: a concurrent first use
        // would otherwise pick up a series about to be removed.
        let mut servers = write(&self.servers);
        let Some(s) = servers.map.remove(server) else { return };
        servers.pairs -= s.methods.values().filter(|m| m.counted).count();
        for m in s.methods.values() {
            self.duration.remove(&MethodLabels { server: s.name.clone(), method: m.method.clone() });
            for outcome in OUTCOMES {
                self.requests.remove(&RequestLabels { server: s.name.clone(), method: m.method.clone(), outcome });
            }
        }
        self.in_flight.remove(&ServerLabels { server: s.name.clone() });
        self.restarts.remove(&ServerLabels { server: s.name.clone() });
        for state in STATES {
            self.up.remove(&StateLabels { server: s.name.clone(), state });
        }
    }

    /// `server` was restarted after a failure.
    pub fn restart(&self, server: &str) {
        self.with_server(server, true, |s| {
            s.restarts
                .get_or_init(|| self.restarts.get_or_create_owned(&ServerLabels { server: s.name.clone() }))
                .inc();
        });
    }

    /// A replica's circuit breaker moved to `state` (closed, half_open, open).
    pub fn breaker_state(&self, server: &str, replica: &str, state: &str) {
        let labels = ReplicaLabels { server: server.to_owned(), replica: replica.to_owned() };
        let value = match state {
            "open" => 2,
            "half_open" => 1,
            _ => 0,
        };
        if let Ok(mut seen) = self.breaker_series.lock() {
            let replicas = seen.entry(server.to_owned()).or_default();
            if !replicas.iter().any(|r| r == replica) {
                replicas.push(replica.to_owned());
            }
        }
        if value == 2 {
            self.breaker_opened.get_or_create(&labels).inc();
        }
        self.breaker.get_or_create(&labels).set(value);
    }

    /// The gateway refused a client request itself (`reason`: overloaded,
    /// rate_limited, circuit_open, denied).
    pub fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// A request to `server` was retried on another replica.
    pub fn retried(&self, server: &str) {
        self.retries.get_or_create(&ServerLabels { server: server.into() }).inc();
    }

    /// A routing-rule cache lookup.
    pub fn route_cache(&self, hit: bool) {
        if hit {
            self.route_hits.inc()
        } else {
            self.route_misses.inc()
        };
    }

    /// The merged catalog holds `n` items of `kind` ("tools", "prompts").
    pub fn catalog_size(&self, kind: &str, n: usize) {
        self.catalog.get(kind).set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Every metric in the Prometheus text format ([`CONTENT_TYPE`]), with the
    /// process memory read now.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

// ---------------------------------------------------------------------------
// `vmcp metrics show`

/// One sample of the text format.
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

impl Sample<'_> {
    fn label(&self, key: &str) -> &str {
        self.labels.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_str())
    }
}

/// Parses one line of the Prometheus (or OpenMetrics) text format; `None` for
/// comments, blank lines and anything malformed.
fn parse_line(line: &str) -> Option<Sample<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(line.len());
    let name = &line[..end];
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let mut key_start = 0;
        let close = loop {
            // Key: up to '='.
            let (i, c) = chars.next()?;
            match c {
                '}' => break i,
                ',' | ' ' => {
                    key_start = i + 1;
                    continue;
                }
                '=' => {}
                _ => continue,
            }
            let key = body[key_start..i].trim();
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            key_start = chars.clone().next().map_or(body.len(), |(i, _)| i);
        };
        rest = &body[close + 1..];
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample { name, labels, value })
}

/// `p`-quantile from cumulative buckets sorted by bound, the way Prometheus'
/// `histogram_quantile` estimates it (linear within a bucket). The flag is true
/// when the quantile is past the largest finite bound (then returned).
fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<(f64, bool)> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, cumulative) in buckets {
        if cumulative >= rank {
            if le.is_infinite() {
                return Some((lower, true));
            }
            let inside = cumulative - below;
            if inside <= 0.0 {
                return Some((le, false));
            }
            return Some((lower + (le - lower) * (rank - below) / inside, false));
        }
        (lower, below) = (le, cumulative);
    }
    None
}

fn seconds(s: f64) -> String {
    if s < 0.001 {
        format!("{:.2} ms", s * 1e3)
    } else if s < 0.01 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

/// The sum of `values`; 0 (not the -0 of an empty float sum) when there are none.
fn total<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    values.sum::<f64>() + 0.0
}

/// "(a 1, b 2)" over the non-zero entries, or "".
fn breakdown<'a>(items: impl IntoIterator<Item = (&'a str, f64)>) -> String {
    let parts: Vec<String> = items.into_iter().filter(|(_, n)| *n != 0.0).map(|(k, n)| format!("{k} {n}")).collect();
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

/// Outcome counts in [`OUTCOMES`] order, then any others by name.
fn outcomes(counts: &BTreeMap<String, f64>) -> String {
    let known = OUTCOMES.iter().filter_map(|o| counts.get(*o).map(|n| (*o, *n)));
    let unknown = counts.iter().filter(|(o, _)| !OUTCOMES.contains(&o.as_str())).map(|(o, n)| (o.as_str(), *n));
    breakdown(known.chain(unknown))
}

#[derive(Default)]
struct Summary {
    requests: BTreeMap<String, BTreeMap<String, f64>>,
    /// Per server: (bound, cumulative count), summed over methods.
    buckets: BTreeMap<String, Vec<(f64, f64)>>,
    in_flight: BTreeMap<String, f64>,
    sessions: BTreeMap<String, f64>,
    states: BTreeMap<String, String>,
    restarts: BTreeMap<String, f64>,
    catalog: BTreeMap<String, f64>,
    memory: Option<f64>,
    version: Option<String>,
}

/// A readable summary of the metrics in `text` (what [`Metrics::encode`]
/// produces, or any Prometheus text with these names), for `vmcp metrics show`:
/// requests by outcome, per server with p50/p90/p99 latency estimated from the
/// histogram buckets, requests in flight, sessions by front end, backend states,
/// restarts, catalog sizes and memory.
pub fn summarize(text: &str) -> String {
    let mut m = Summary::default();
    for sample in text.lines().filter_map(parse_line) {
        let Some(name) = sample.name.strip_prefix("vmcp_") else { continue };
        let server = sample.label("server").to_owned();
        match name {
            "requests_total" => {
                *m.requests.entry(server).or_default().entry(sample.label("outcome").to_owned()).or_default() +=
                    sample.value;
            }
            "request_duration_seconds_bucket" => {
                let Ok(le) = sample.label("le").parse::<f64>() else { continue };
                let buckets = m.buckets.entry(server).or_default();
                match buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, n)) => *n += sample.value,
                    None => buckets.push((le, sample.value)),
                }
            }
            "requests_in_flight" => *m.in_flight.entry(server).or_default() += sample.value,
            "sessions" => *m.sessions.entry(sample.label("front").to_owned()).or_default() += sample.value,
            "backend_up" if sample.value == 1.0 => {
                m.states.insert(server, sample.label("state").to_owned());
            }
            "backend_restarts_total" => *m.restarts.entry(server).or_default() += sample.value,
            "catalog_items" => *m.catalog.entry(sample.label("kind").to_owned()).or_default() += sample.value,
            "process_resident_memory_bytes" => m.memory = Some(sample.value),
            "build_info" => m.version = Some(sample.label("version").to_owned()),
            _ => {}
        }
    }
    for buckets in m.buckets.values_mut() {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    m.render()
}

impl Summary {
    fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        let mut totals = BTreeMap::new();
        for counts in self.requests.values() {
            for (outcome, n) in counts {
                *totals.entry(outcome.clone()).or_default() += n;
            }
        }
        let all = total(totals.values());
        writeln!(out, "requests   total {all}{}", outcomes(&totals))?;
        let mut servers: Vec<&str> = self.requests.keys().chain(self.buckets.keys()).map(String::as_str).collect();
        servers.sort_unstable();
        servers.dedup();
        let width = servers.iter().map(|s| s.len()).max().unwrap_or(0);
        for server in servers {
            let empty = BTreeMap::new();
            let counts = self.requests.get(server).unwrap_or(&empty);
            let n = total(counts.values());
            write!(out, "  {server:<width$} total {n}{}", outcomes(counts))?;
            let buckets = self.buckets.get(server).map_or(&[][..], Vec::as_slice);
            if quantile(0.5, buckets).is_some() {
                write!(out, "  latency")?;
                for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                    if let Some((v, above)) = quantile(q, buckets) {
                        write!(out, " {label} {}{}", if above { ">" } else { "" }, seconds(v))?;
                    }
                }
            }
            writeln!(out)?;
        }
        let in_flight = total(self.in_flight.values());
        writeln!(out, "in flight  {in_flight}{}", breakdown(self.in_flight.iter().map(|(k, v)| (k.as_str(), *v))))?;
        let sessions = total(self.sessions.values());
        writeln!(out, "sessions   {sessions}{}", breakdown(self.sessions.iter().map(|(k, v)| (k.as_str(), *v))))?;
        if self.states.is_empty() {
            writeln!(out, "backends   none")?;
        } else {
            let mut by_state: Vec<(&str, usize)> = Vec::new();
            for state in self.states.values() {
                match by_state.iter_mut().find(|(s, _)| *s == state) {
                    Some((_, n)) => *n += 1,
                    None => by_state.push((state, 1)),
                }
            }
            let rank = |s: &str| STATES.iter().position(|k| *k == s).map_or(1, |i| if i == 1 { 0 } else { i + 1 });
            by_state.sort_by_key(|(s, _)| (rank(s), *s));
            let counts: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
            let not_ready: Vec<String> =
                self.states.iter().filter(|(_, s)| *s != "ready").map(|(k, s)| format!("{k} {s}")).collect();
            write!(out, "backends   {}", counts.join(", "))?;
            if !not_ready.is_empty() {
                write!(out, " ({})", not_ready.join(", "))?;
            }
            writeln!(out)?;
        }
        let restarts = total(self.restarts.values());
        writeln!(out, "restarts   {restarts}{}", breakdown(self.restarts.iter().map(|(k, v)| (k.as_str(), *v))))?;
        if !self.catalog.is_empty() {
            let kinds: Vec<String> = self.catalog.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(out, "catalog    {}", kinds.join(", "))?;
        }
        if let Some(bytes) = self.memory {
            writeln!(out, "memory     {:.1} MiB resident", bytes / (1024.0 * 1024.0))?;
        }
        if let Some(v) = &self.version {
            writeln!(out, "version    {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    fn assert_has(text: &str, line: &str) {
        assert!(has(text, line), "missing line {line:?} in:\n{text}");
    }

    fn assert_lacks(text: &str, needle: &str) {
        assert!(!text.contains(needle), "unexpected {needle:?} in:\n{text}");
    }

    #[test]
    fn recording_then_encoding_shows_the_series() {
        let m = Metrics::new();
        m.request_done("time", "tools/call", "ok", 0.003);
        m.request_done("time", "tools/call", "ok", 0.004);
        m.request_done("time", "tools/call", "error", 0.2);
        m.request_done("time", "tools/list", "weird", 0.001);
        m.in_flight("time", 1);
        m.in_flight("time", 1);
        m.in_flight("time", -1);
        m.session_opened("http");
        m.session_opened("http");
        m.session_opened("stdio");
        m.session_closed("http");
        m.restart("time");
        m.restart("time");
        m.catalog_size("tools", 42);
        m.catalog_size("prompts", 3);
        m.catalog_size("tools", 40);
        let text = m.encode();
        assert_has(&text, r#"vmcp_requests_total{server="time",method="tools/call",outcome="ok"} 2"#);
        assert_has(&text, r#"vmcp_requests_total{server="time",method="tools/call",outcome="error"} 1"#);
        assert_has(&text, r#"vmcp_requests_total{server="time",method="tools/list",outcome="other"} 1"#);
        assert_lacks(&text, r#"outcome="timeout""#);
        assert_has(&text, r#"vmcp_request_duration_seconds_count{server="time",method="tools/call"} 3"#);
        assert_has(&text, r#"vmcp_requests_in_flight{server="time"} 1"#);
        assert_has(&text, r#"vmcp_sessions{front="http"} 1"#);
        assert_has(&text, r#"vmcp_sessions{front="stdio"} 1"#);
        assert_has(&text, r#"vmcp_backend_restarts_total{server="time"} 2"#);
        assert_has(&text, r#"vmcp_catalog_items{kind="tools"} 40"#);
        assert_has(&text, r#"vmcp_catalog_items{kind="prompts"} 3"#);
        assert_has(&text, &format!(r#"vmcp_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION")));
        for (name, kind) in [
            ("vmcp_requests_total", "counter"),
            ("vmcp_request_duration_seconds", "histogram"),
            ("vmcp_requests_in_flight", "gauge"),
            ("vmcp_sessions", "gauge"),
            ("vmcp_backend_restarts_total", "counter"),
            ("vmcp_catalog_items", "gauge"),
            ("vmcp_build_info", "gauge"),
        ] {
            assert_has(&text, &format!("# TYPE {name} {kind}"));
            assert!(text.contains(&format!("# HELP {name} ")), "no HELP for {name}:\n{text}");
        }
    }

    #[test]
    fn histogram_buckets_count_cumulatively() {
        let m = Metrics::new();
        for s in [0.0004, 0.003, 0.7, 100.0, f64::NAN, -1.0] {
            m.request_done("time", "tools/call", "ok", s);
        }
        let text = m.encode();
        let bucket = |le: &str, n: u64| {
            format!(r#"vmcp_request_duration_seconds_bucket{{server="time",method="tools/call",le="{le}"}} {n}"#)
        };
        // NaN and negative durations count as 0.
        assert_has(&text, &bucket("0.0005", 3));
        assert_has(&text, &bucket("0.001", 3));
        assert_has(&text, &bucket("0.005", 4));
        assert_has(&text, &bucket("0.5", 4));
        assert_has(&text, &bucket("1", 5));
        assert_has(&text, &bucket("60", 5));
        assert_has(&text, &bucket("+Inf", 6));
        assert_has(&text, r#"vmcp_request_duration_seconds_count{server="time",method="tools/call"} 6"#);
        let buckets = text.lines().filter(|l| l.starts_with("vmcp_request_duration_seconds_bucket")).count();
        assert_eq!(buckets, DURATION_BUCKETS.len() + 1);
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix(r#"vmcp_request_duration_seconds_sum{server="time",method="tools/call"} "#))
            .and_then(|v| v.parse::<f64>().ok());
        assert!(sum.is_some_and(|s| (s - 100.7034).abs() < 1e-9), "{text}");
    }

    #[test]
    fn breaker_series_leave_with_their_server() {
        let m = Metrics::new();
        m.breaker_state("pool", "0", "open");
        m.breaker_state("pool", "1", "closed");
        m.retried("pool");
        m.breaker_state("other", "0", "half_open");
        let text = m.encode();
        assert!(text.contains(r#"vmcp_breaker_state{server="pool",replica="0"} 2"#), "{text}");
        assert!(text.contains(r#"vmcp_breaker_opened_total{server="pool",replica="0"} 1"#), "{text}");
        m.server_removed("pool");
        let text = m.encode();
        assert!(!text.contains(r#"server="pool""#), "{text}");
        assert!(text.contains(r#"vmcp_breaker_state{server="other",replica="0"} 1"#), "{text}");
    }

    #[test]
    fn server_state_moves_the_one_between_states() {
        let m = Metrics::new();
        let up = |text: &str, state: &str, v: u8| {
            assert_has(text, &format!(r#"vmcp_backend_up{{server="time",state="{state}"}} {v}"#));
        };
        m.server_state("time", "starting");
        let text = m.encode();
        up(&text, "starting", 1);
        up(&text, "ready", 0);
        up(&text, "down", 0);
        up(&text, "stopped", 0);
        m.server_state("time", "ready");
        let text = m.encode();
        up(&text, "starting", 0);
        up(&text, "ready", 1);
        m.server_state("time", "down");
        let text = m.encode();
        up(&text, "ready", 0);
        up(&text, "down", 1);
        assert_eq!(text.lines().filter(|l| l.starts_with("vmcp_backend_up{")).count(), 4);
        m.server_state("time", "bogus");
        let text = m.encode();
        assert!(text.lines().filter(|l| l.starts_with("vmcp_backend_up{")).all(|l| l.ends_with(" 0")), "{text}");
        assert_lacks(&text, "bogus");
    }

    #[test]
    fn server_removed_drops_its_series() {
        let m = Metrics::new();
        for server in ["time", "search"] {
            m.request_done(server, "tools/call", "ok", 0.01);
            m.request_done(server, "tools/call", "timeout", 30.0);
            m.in_flight(server, 1);
            m.server_state(server, "ready");
            m.restart(server);
        }
        m.server_removed("time");
        m.server_removed("never-seen");
        let text = m.encode();
        assert_lacks(&text, r#"server="time""#);
        assert_has(&text, r#"vmcp_requests_total{server="search",method="tools/call",outcome="ok"} 1"#);
        assert_has(&text, r#"vmcp_backend_up{server="search",state="ready"} 1"#);
        assert_has(&text, r#"vmcp_backend_restarts_total{server="search"} 1"#);
        assert_has(&text, r#"vmcp_requests_in_flight{server="search"} 1"#);
        // Mounted again: fresh series.
        m.request_done("time", "tools/call", "ok", 0.01);
        let text = m.encode();
        assert_has(&text, r#"vmcp_requests_total{server="time",method="tools/call",outcome="ok"} 1"#);
        assert_has(&text, r#"vmcp_request_duration_seconds_count{server="time",method="tools/call"} 1"#);
        assert_lacks(&text, r#"vmcp_requests_total{server="time",method="tools/call",outcome="timeout"}"#);
        assert_eq!(read(&m.servers).pairs, 2);
    }

    #[test]
    fn cardinality_is_capped() {
        let m = Metrics::with_cap(3);
        // Methods: three pairs fit, the rest fold into method="other".
        for method in ["a", "b", "c", "d", "e"] {
            m.request_done("one", method, "ok", 0.01);
        }
        let text = m.encode();
        assert_has(&text, r#"vmcp_requests_total{server="one",method="c",outcome="ok"} 1"#);
        assert_has(&text, r#"vmcp_requests_total{server="one",method="other",outcome="ok"} 2"#);
        assert_lacks(&text, r#"method="d""#);
        // Known pairs keep their own series once the cap is reached.
        m.request_done("one", "a", "ok", 0.01);
        assert_has(&m.encode(), r#"vmcp_requests_total{server="one",method="a",outcome="ok"} 2"#);
        // Servers: past the cap, further servers fold into server="other".
        for server in ["two", "three", "four", "five"] {
            m.in_flight(server, 1);
            m.restart(server);
            m.request_done(server, "x", "ok", 0.01);
        }
        let text = m.encode();
        assert_has(&text, r#"vmcp_requests_in_flight{server="two"} 1"#);
        assert_has(&text, r#"vmcp_requests_in_flight{server="three"} 1"#);
        assert_has(&text, r#"vmcp_requests_in_flight{server="other"} 2"#);
        assert_has(&text, r#"vmcp_backend_restarts_total{server="other"} 2"#);
        assert_has(&text, r#"vmcp_requests_total{server="two",method="other",outcome="ok"} 1"#);
        assert_has(&text, r#"vmcp_requests_total{server="other",method="other",outcome="ok"} 2"#);
        assert_lacks(&text, r#"server="four""#);
        // A server past the cap has no state series rather than a shared one.
        m.server_state("five", "ready");
        assert_lacks(&m.encode(), "vmcp_backend_up");
        let series = |text: &str| text.lines().filter(|l| l.starts_with("vmcp_requests_total{")).count();
        // one: a, b, c, other; two, three and other: other.
        assert_eq!(series(&text), 4 + 3);
        // Removing a server frees room under the cap.
        m.server_removed("one");
        m.request_done("two", "y", "ok", 0.01);
        assert_has(&m.encode(), r#"vmcp_requests_total{server="two",method="y",outcome="ok"} 1"#);
        // Small-set labels are capped too.
        for i in 0..SMALL_CAP + 5 {
            m.session_opened(&format!("front{i}"));
        }
        let text = m.encode();
        assert_eq!(text.lines().filter(|l| l.starts_with("vmcp_sessions{")).count(), SMALL_CAP + 1);
        assert_has(&text, r#"vmcp_sessions{front="other"} 5"#);
    }

    const SAMPLE: &str = r#"# HELP vmcp_requests_total Requests.
# TYPE vmcp_requests_total counter
vmcp_requests_total{server="time",method="tools/call",outcome="ok"} 90
vmcp_requests_total{server="time",method="tools/list",outcome="ok"} 5
vmcp_requests_total{server="time",method="tools/call",outcome="error"} 4
vmcp_requests_total{server="time",method="tools/call",outcome="timeout"} 1
vmcp_requests_total{server="search",method="tools/call",outcome="ok"} 10
# TYPE vmcp_request_duration_seconds histogram
vmcp_request_duration_seconds_bucket{server="time",method="tools/call",le="0.005"} 0
vmcp_request_duration_seconds_bucket{server="time",method="tools/call",le="0.01"} 45
vmcp_request_duration_seconds_bucket{server="time",method="tools/call",le="0.05"} 85
vmcp_request_duration_seconds_bucket{server="time",method="tools/call",le="0.1"} 95
vmcp_request_duration_seconds_bucket{server="time",method="tools/call",le="+Inf"} 95
vmcp_request_duration_seconds_sum{server="time",method="tools/call"} 2.5
vmcp_request_duration_seconds_count{server="time",method="tools/call"} 95
vmcp_request_duration_seconds_bucket{server="time",method="tools/list",le="0.005"} 0
vmcp_request_duration_seconds_bucket{server="time",method="tools/list",le="0.01"} 5
vmcp_request_duration_seconds_bucket{server="time",method="tools/list",le="0.05"} 5
vmcp_request_duration_seconds_bucket{server="time",method="tools/list",le="0.1"} 5
vmcp_request_duration_seconds_bucket{server="time",method="tools/list",le="+Inf"} 5
vmcp_request_duration_seconds_bucket{server="search",method="tools/call",le="60"} 0
vmcp_request_duration_seconds_bucket{server="search",method="tools/call",le="+Inf"} 10
vmcp_requests_in_flight{server="time"} 2
vmcp_requests_in_flight{server="search"} 0
vmcp_sessions{front="http"} 3
vmcp_sessions{front="stdio"} 1
vmcp_backend_up{server="time",state="ready"} 1
vmcp_backend_up{server="time",state="down"} 0
vmcp_backend_up{server="search",state="ready"} 0
vmcp_backend_up{server="search",state="down"} 1
vmcp_backend_restarts_total{server="search"} 2
vmcp_catalog_items{kind="tools"} 42
vmcp_catalog_items{kind="prompts"} 3
vmcp_process_resident_memory_bytes 12582912
vmcp_build_info{version="1.2.3"} 1
# EOF
"#;

    #[test]
    fn summarize_gives_readable_lines() {
        let s = summarize(SAMPLE);
        // Buckets merged over the server's methods: 50 under 10 ms, 90 under 50 ms,
        // 100 under 100 ms; p99 interpolates to 95 ms.
        let expected = "\
requests   total 110 (ok 105, error 4, timeout 1)
  search total 10 (ok 10)  latency p50 >60.0 s p90 >60.0 s p99 >60.0 s
  time   total 100 (ok 95, error 4, timeout 1)  latency p50 10 ms p90 50 ms p99 95 ms
in flight  2 (time 2)
sessions   4 (http 3, stdio 1)
backends   1 ready, 1 down (search down)
restarts   2 (search 2)
catalog    prompts 3, tools 42
memory     12.0 MiB resident
version    1.2.3
";
        assert_eq!(s, expected);
    }

    #[test]
    fn summarize_reads_what_encode_writes() {
        let m = Metrics::new();
        for _ in 0..10 {
            m.request_done("time", "tools/call", "ok", 0.002);
        }
        m.request_done("time", "tools/call", "transport", 0.002);
        m.server_state("time", "ready");
        m.session_opened("websocket");
        let s = summarize(&m.encode());
        assert!(has(&s, "requests   total 11 (ok 10, transport 1)"), "{s}");
        assert!(s.contains("  time total 11 (ok 10, transport 1)  latency p50 "), "{s}");
        assert!(has(&s, "sessions   1 (websocket 1)"), "{s}");
        assert!(has(&s, "backends   1 ready"), "{s}");
        assert!(has(&s, &format!("version    {}", env!("CARGO_PKG_VERSION"))), "{s}");
    }

    #[test]
    fn summarize_of_nothing() {
        assert_eq!(summarize(""), "requests   total 0\nin flight  0\nsessions   0\nbackends   none\nrestarts   0\n");
    }

    #[test]
    fn labels_with_escapes_parse() {
        let s = parse_line(r#"vmcp_sessions{front="a\"b\\c\nd",x="}"} 7 1700000000"#);
        let s = s.map(|s| (s.name, s.labels, s.value));
        assert_eq!(s, Some(("vmcp_sessions", vec![("front", "a\"b\\c\nd".to_owned()), ("x", "}".to_owned())], 7.0)));
        assert!(parse_line("# HELP x y").is_none());
        assert!(parse_line("vmcp_sessions{front=\"unterminated} 1").is_none());
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let b = [(0.01, 50.0), (0.05, 90.0), (0.1, 100.0), (f64::INFINITY, 100.0)];
        assert_eq!(quantile(0.5, &b), Some((0.01, false)));
        assert!(quantile(0.99, &b).is_some_and(|(v, above)| (v - 0.095).abs() < 1e-12 && !above));
        assert_eq!(quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 4.0)]), Some((1.0, true)));
        assert_eq!(quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]), None);
        assert_eq!(quantile(0.5, &[]), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_memory_is_read_at_encode_time() {
        let text = Metrics::new().encode();
        let bytes = text
            .lines()
            .find_map(|l| l.strip_prefix("vmcp_process_resident_memory_bytes "))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(bytes.is_some_and(|b| b > 1024 * 1024), "{text}");
        assert_has(&text, "# TYPE vmcp_process_resident_memory_bytes gauge");
        assert!(page_size().is_power_of_two());
    }

    #[test]
    fn global_is_one_instance() {
        assert!(std::ptr::eq(Metrics::global(), Metrics::global()));
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Metrics>();
    }
}
