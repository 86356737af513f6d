//! [`Metrics`]: the handle every part of vmcp records through, and what it
//! reads back (the Prometheus text, the [`Summary`]).

use std::fmt;
use std::sync::{Arc, PoisonError};

use prometheus_client::encoding::prometheus_text;

use super::labels::*;
use super::series::*;
use super::state::Inner;
use super::summary::{self, Summary};

/// Every metric vmcp exports: a handle, cheap to clone, whose clones record
/// into the same series. `Send + Sync`.
#[derive(Clone)]
pub struct Metrics(pub(super) Arc<Inner>);

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
        Metrics(Arc::new(Inner::new(cap.max(1))))
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
