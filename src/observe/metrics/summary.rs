//! The typed metrics summary: what `GET /admin/v1/metrics` answers and `vmcp
//! metrics show` prints (as a table, see [`super::table`], or as this JSON with
//! `--json`). It is computed from the live series, not from the Prometheus
//! text, so nothing parses that text back.
//!
//! The shape is stable: fields are only ever added, and every struct reads
//! with `#[serde(default)]`, so a CLI and a gateway one version apart still
//! understand each other.

use std::collections::BTreeMap;
use std::sync::PoisonError;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde::{Deserialize, Serialize};

use super::histogram::{Quantile, Snapshot};
use super::labels::OUTCOMES;
use super::series::read;
use super::state::Inner;

/// Every metric vmcp keeps, summarised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// The gateway's version.
    pub version: String,
    /// Which replica answered (`[cluster] replica_id` or its default).
    pub replica: Option<String>,
    /// How many replicas share its registry (1 without a shared registry).
    pub members: Option<usize>,
    /// Resident memory, in bytes; absent where it cannot be read (not Linux).
    pub resident_memory_bytes: Option<u64>,
    /// Requests to every backend server.
    pub requests: Requests,
    /// Requests sent to a backend and not finished yet, over every server.
    pub in_flight: i64,
    /// One entry per server, by name. `"other"` holds the servers past the
    /// series cap.
    pub servers: Vec<ServerSummary>,
    /// Open client sessions, by front end (stdio, http, sse, websocket).
    pub sessions: BTreeMap<String, i64>,
    /// Client requests the gateway refused itself, by reason (overloaded,
    /// rate_limited, circuit_open, denied, connections).
    pub rejected: BTreeMap<String, u64>,
    /// Routing-rule cache lookups.
    pub route_cache: RouteCache,
    /// Items in the merged catalog clients see, by kind (tools, prompts).
    pub catalog: BTreeMap<String, i64>,
}

/// Requests counted by outcome, with their latency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Requests {
    pub total: u64,
    /// Counts by outcome (ok, error, timeout, unavailable, transport,
    /// cancelled, other); outcomes that never happened are left out.
    pub outcomes: BTreeMap<String, u64>,
    /// The share of finished requests that did not end ok. Requests whose
    /// caller stopped waiting (`cancelled`) are left out of both sides: they
    /// say nothing of the backend. Absent when no request finished.
    pub error_rate: Option<f64>,
    /// Estimated from the histogram buckets; absent when nothing was timed.
    pub latency: Option<Latency>,
}

/// Latency quantiles, estimated within the `vmcp_request_duration_seconds`
/// buckets the way Prometheus' `histogram_quantile` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub mean_seconds: f64,
    pub p50: Quantile,
    pub p95: Quantile,
    pub p99: Quantile,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSummary {
    pub server: String,
    /// starting, ready, down or stopped; absent when not reported (servers
    /// past the cap have none).
    pub state: Option<String>,
    pub in_flight: i64,
    /// Restarts after a failure.
    pub restarts: u64,
    /// Requests retried on another replica.
    pub retries: u64,
    pub requests: Requests,
    /// By method name. `"other"` holds the methods past the series cap.
    pub methods: Vec<MethodSummary>,
    /// One entry per replica whose circuit breaker has reported, by replica.
    pub breakers: Vec<BreakerSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodSummary {
    pub method: String,
    pub requests: Requests,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerSummary {
    pub replica: String,
    /// closed, half_open or open.
    pub state: String,
    /// Times the circuit opened.
    pub opened: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteCache {
    pub hits: u64,
    pub misses: u64,
}

/// Raw counts on their way to [`Requests`]; they add up across methods and
/// servers (quantiles do not, so they are taken last).
#[derive(Default)]
struct Tally {
    outcomes: [u64; OUTCOMES.len()],
    latency: Snapshot,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        self.latency.add(&other.latency);
    }

    fn requests(&self) -> Requests {
        let count = |name: &str| OUTCOMES.iter().position(|o| *o == name).map_or(0, |i| self.outcomes[i]);
        let total: u64 = self.outcomes.iter().sum();
        let finished = total - count("cancelled");
        let failed = finished - count("ok");
        let outcomes =
            OUTCOMES.iter().zip(self.outcomes).filter(|(_, n)| *n > 0).map(|(o, n)| ((*o).to_owned(), n)).collect();
        let latency = match (self.latency.quantile(0.5), self.latency.quantile(0.95), self.latency.quantile(0.99)) {
            (Some(p50), Some(p95), Some(p99)) => {
                Some(Latency { mean_seconds: self.latency.sum / self.latency.count() as f64, p50, p95, p99 })
            }
            _ => None,
        };
        Requests { total, outcomes, error_rate: (finished > 0).then(|| failed as f64 / finished as f64), latency }
    }
}

fn breaker_state(value: i64) -> &'static str {
    match value {
        2 => "open",
        1 => "half_open",
        _ => "closed",
    }
}

/// Replica labels are indexes: "2" sorts before "10".
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// Reads every series once. Each value is read atomically, the whole is not:
/// a request finishing meanwhile may show in one total and not another.
pub(super) fn collect(m: &Inner) -> Summary {
    let mut servers: BTreeMap<String, ServerSummary> = BTreeMap::new();
    let mut all = Tally::default();
    for s in read(&m.servers).map.values() {
        let mut tally = Tally::default();
        let mut methods = Vec::with_capacity(s.methods.len());
        for series in s.methods.values() {
            let mut t = Tally { latency: series.duration.snapshot(), ..Tally::default() };
            for (n, slot) in t.outcomes.iter_mut().zip(&series.outcomes) {
                *n = slot.get().map_or(0, Counter::get);
            }
            tally.add(&t);
            methods.push(MethodSummary { method: series.method.to_string(), requests: t.requests() });
        }
        methods.sort_by(|a, b| a.method.cmp(&b.method));
        all.add(&tally);
        let summary = ServerSummary {
            server: s.name.to_string(),
            state: s.state().map(str::to_owned),
            in_flight: s.in_flight.get().map_or(0, Gauge::get),
            restarts: s.restarts.get().map_or(0, Counter::get),
            retries: s.retries.get().map_or(0, Counter::get),
            requests: tally.requests(),
            methods,
            breakers: Vec::new(),
        };
        servers.insert(summary.server.clone(), summary);
    }
    // Breakers are kept per server name, outside the capped server series.
    {
        let breakers = m.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        for (server, replicas) in breakers.iter() {
            let entry = servers
                .entry(server.clone())
                .or_insert_with(|| ServerSummary { server: server.clone(), ..ServerSummary::default() });
            entry.breakers = replicas
                .iter()
                .map(|b| BreakerSummary {
                    replica: b.replica.clone(),
                    state: breaker_state(b.state.get()).to_owned(),
                    opened: b.opened.get(),
                })
                .collect();
            entry.breakers.sort_by(|a, b| natural(&a.replica, &b.replica));
        }
    }
    let servers: Vec<ServerSummary> = servers.into_values().collect();
    Summary {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        resident_memory_bytes: super::process::resident_bytes(),
        requests: all.requests(),
        in_flight: servers.iter().map(|s| s.in_flight).sum(),
        servers,
        sessions: m.sessions.values(Gauge::get).into_iter().collect(),
        rejected: m.rejected.values(Counter::get).into_iter().collect(),
        route_cache: RouteCache { hits: m.route_hits.get(), misses: m.route_misses.get() },
        catalog: m.catalog.values(Gauge::get).into_iter().collect(),
        // Filled in by whoever knows the cluster (the admin API).
        replica: None,
        members: None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::series::SMALL_CAP;
    use super::super::{Metrics, OTHER};
    use super::*;

    /// time: tools/call 95 (ok 90, error 4, timeout 1), tools/list 5 ok;
    /// 50 requests at 8 ms, 40 at 30 ms, 10 at 70 ms. search: 10 ok and 2
    /// cancelled, all at 100 s.
    pub(in super::super) fn recorded() -> Metrics {
        let m = Metrics::new();
        for i in 0..95 {
            let seconds = match i {
                0..45 => 0.008,
                45..85 => 0.03,
                _ => 0.07,
            };
            let outcome = match i {
                0..90 => "ok",
                90..94 => "error",
                _ => "timeout",
            };
            m.request_done("time", "tools/call", outcome, seconds);
        }
        for _ in 0..5 {
            m.request_done("time", "tools/list", "ok", 0.008);
        }
        for i in 0..12 {
            m.request_done("search", "tools/call", if i < 10 { "ok" } else { "cancelled" }, 100.0);
        }
        m
    }

    fn server<'a>(s: &'a Summary, name: &str) -> &'a ServerSummary {
        s.servers.iter().find(|s| s.server == name).unwrap_or_else(|| panic!("no server {name} in {s:#?}"))
    }

    fn outcomes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(o, n)| ((*o).to_owned(), *n)).collect()
    }

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn requests_are_counted_by_server_method_and_outcome() {
        let s = recorded().summary();
        assert_eq!(s.requests.total, 112);
        assert_eq!(s.requests.outcomes, outcomes(&[("ok", 105), ("error", 4), ("timeout", 1), ("cancelled", 2)]));
        // Cancelled requests count on neither side of the rate.
        assert!(s.requests.error_rate.is_some_and(|r| near(r, 5.0 / 110.0)), "{:?}", s.requests);
        let names: Vec<&str> = s.servers.iter().map(|s| s.server.as_str()).collect();
        assert_eq!(names, ["search", "time"]);

        let time = server(&s, "time");
        assert_eq!(time.requests.total, 100);
        assert_eq!(time.requests.outcomes, outcomes(&[("ok", 95), ("error", 4), ("timeout", 1)]));
        assert!(time.requests.error_rate.is_some_and(|r| near(r, 0.05)));
        let methods: Vec<(&str, u64)> = time.methods.iter().map(|m| (m.method.as_str(), m.requests.total)).collect();
        assert_eq!(methods, [("tools/call", 95), ("tools/list", 5)]);
        assert_eq!(time.methods[1].requests.outcomes, outcomes(&[("ok", 5)]));
        assert_eq!(time.methods[1].requests.error_rate, Some(0.0));

        // Buckets merged over the server's methods: 50 under 10 ms, 90 under
        // 50 ms, 100 under 100 ms.
        let l = time.requests.latency.unwrap_or_else(|| panic!("no latency: {time:?}"));
        assert!(near(l.mean_seconds, 0.023), "{l:?}");
        assert_eq!(l.p50, Quantile { seconds: 0.01, at_least: false });
        assert!(near(l.p95.seconds, 0.075) && !l.p95.at_least, "{l:?}");
        assert!(near(l.p99.seconds, 0.095) && !l.p99.at_least, "{l:?}");

        let search = server(&s, "search");
        assert_eq!(search.requests.error_rate, Some(0.0));
        let l = search.requests.latency.unwrap_or_else(|| panic!("no latency: {search:?}"));
        assert_eq!(l.p50, Quantile { seconds: 60.0, at_least: true });
        assert!(near(l.mean_seconds, 100.0));
    }

    #[test]
    fn gauges_and_small_sets_are_read() {
        let m = Metrics::new();
        m.in_flight("time", 1);
        m.in_flight("time", 1);
        m.in_flight("time", -1);
        m.in_flight("search", 3);
        m.server_state("time", "starting");
        m.server_state("time", "ready");
        m.server_state("search", "down");
        m.restart("search");
        m.restart("search");
        m.retried("pool");
        m.breaker_state("pool", "10", "closed");
        m.breaker_state("pool", "2", "open");
        m.breaker_state("pool", "2", "half_open");
        m.breaker_state("pool", "2", "open");
        m.session_opened("http");
        m.session_opened("http");
        m.session_opened("stdio");
        m.session_closed("stdio");
        m.rejected("overloaded");
        m.rejected("connections");
        m.rejected("overloaded");
        m.route_cache(true);
        m.route_cache(true);
        m.route_cache(false);
        m.catalog_size("tools", 42);
        m.catalog_size("prompts", 3);
        let s = m.summary();
        assert_eq!(s.in_flight, 4);
        let time = server(&s, "time");
        assert_eq!((time.state.as_deref(), time.in_flight), (Some("ready"), 1));
        assert_eq!(time.requests, Requests::default());
        let search = server(&s, "search");
        assert_eq!((search.state.as_deref(), search.restarts), (Some("down"), 2));
        let pool = server(&s, "pool");
        assert_eq!((pool.state.as_deref(), pool.retries), (None, 1));
        let breakers: Vec<(&str, &str, u64)> =
            pool.breakers.iter().map(|b| (b.replica.as_str(), b.state.as_str(), b.opened)).collect();
        assert_eq!(breakers, [("2", "open", 2), ("10", "closed", 0)]);
        let map = |pairs: &[(&str, i64)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        assert_eq!(s.sessions, map(&[("http", 2), ("stdio", 0)]));
        assert_eq!(s.catalog, map(&[("prompts", 3), ("tools", 42)]));
        assert_eq!(s.rejected, outcomes(&[("connections", 1), ("overloaded", 2)]));
        assert_eq!(s.route_cache, RouteCache { hits: 2, misses: 1 });
        assert_eq!(s.version, env!("CARGO_PKG_VERSION"));
        #[cfg(target_os = "linux")]
        assert!(s.resident_memory_bytes.is_some_and(|b| b > 1024 * 1024));
        // Unmounted: gone from the summary too.
        m.server_removed("pool");
        m.server_removed("time");
        let names: Vec<String> = m.summary().servers.into_iter().map(|s| s.server).collect();
        assert_eq!(names, ["search"]);
    }

    #[test]
    fn what_is_past_the_caps_shows_as_other() {
        let m = Metrics::with_cap(2);
        for method in ["a", "b", "c", "d"] {
            m.request_done("one", method, "ok", 0.01);
        }
        for server in ["two", "three", "four"] {
            m.request_done(server, "x", "error", 0.01);
            m.server_state(server, "ready");
        }
        let s = m.summary();
        let names: Vec<&str> = s.servers.iter().map(|s| s.server.as_str()).collect();
        // "two" fits under the cap of 2 servers; "three" and "four" fold.
        assert_eq!(names, ["one", OTHER, "two"]);
        let one = server(&s, "one");
        let methods: Vec<(&str, u64)> = one.methods.iter().map(|m| (m.method.as_str(), m.requests.total)).collect();
        assert_eq!(methods, [("a", 1), ("b", 1), (OTHER, 2)]);
        // The pair cap is reached too: every further method folds.
        let two = server(&s, "two");
        let methods: Vec<&str> = two.methods.iter().map(|m| m.method.as_str()).collect();
        assert_eq!((methods, two.state.as_deref()), (vec![OTHER], Some("ready")));
        let other = server(&s, OTHER);
        assert_eq!(other.requests.outcomes, outcomes(&[("error", 2)]));
        assert_eq!(other.state, None, "folded servers have no state");
        assert_eq!(s.requests.total, 7);

        let m = Metrics::new();
        for i in 0..SMALL_CAP + 3 {
            m.session_opened(&format!("front{i}"));
        }
        let s = m.summary();
        assert_eq!(s.sessions.len(), SMALL_CAP + 1);
        assert_eq!(s.sessions.get(OTHER), Some(&3));
    }

    #[test]
    fn nothing_recorded_is_an_empty_summary() {
        let s = Metrics::new().summary();
        assert_eq!(s.requests, Requests::default());
        assert_eq!((s.requests.error_rate, s.requests.latency), (None, None));
        assert!(s.servers.is_empty() && s.sessions.is_empty() && s.rejected.is_empty());
        assert_eq!(s.route_cache, RouteCache::default());
    }

    #[test]
    fn the_json_shape_is_stable_and_reads_back() {
        let s = recorded().summary();
        let v = serde_json::to_value(&s).unwrap_or_default();
        let time = &v["servers"][1];
        assert_eq!(time["server"], "time");
        assert_eq!(time["requests"]["outcomes"]["ok"], 95);
        assert_eq!(time["requests"]["latency"]["p50"]["seconds"], 0.01);
        assert_eq!(time["requests"]["latency"]["p50"]["at_least"], false);
        assert_eq!(time["methods"][0]["method"], "tools/call");
        assert_eq!(v["route_cache"], serde_json::json!({ "hits": 0, "misses": 0 }));
        // (serde_json's maps sort their keys.)
        let keys: Vec<&str> = v.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        assert_eq!(
            keys,
            [
                "catalog",
                "in_flight",
                "members",
                "rejected",
                "replica",
                "requests",
                "resident_memory_bytes",
                "route_cache",
                "servers",
                "sessions",
                "version"
            ]
        );
        assert_eq!(serde_json::from_value::<Summary>(v).ok(), Some(s));
        // Fields a gateway of another version lacks or adds do not break the CLI.
        let partial: Option<Summary> = serde_json::from_str(r#"{"requests":{"total":3},"future":1}"#).ok();
        assert_eq!(partial.map(|p| p.requests.total), Some(3));
    }
}
