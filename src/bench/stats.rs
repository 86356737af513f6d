//! What a benchmark measures and how it is reported.
//!
//! Latencies go into HDR histograms (microseconds, 3 significant digits,
//! resized as needed): memory is bounded by the range of latencies seen, never
//! by the number of requests. One recorder per run, per kind of request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::kind::Kind;

/// How one measured request ended.
pub enum Outcome {
    Ok,
    /// A JSON-RPC error response.
    Rpc(String),
    /// A `tools/call` result with `isError: true`.
    Tool,
    /// No answer: the connection failed, the answer was unreadable, or it timed out.
    Transport(String),
}

/// Distinct error messages kept per kind, with their counts.
const SAMPLES: usize = 5;

struct KindStats {
    hist: Histogram<u64>,
    requests: u64,
    rpc: u64,
    tool: u64,
    transport: u64,
    samples: BTreeMap<String, u64>,
}

impl KindStats {
    fn new() -> Result<KindStats, String> {
        // Auto-resizing: it starts tiny and grows to the range of latencies seen.
        let hist = Histogram::new(3).map_err(|e| format!("cannot set up a histogram: {e}"))?;
        Ok(KindStats { hist, requests: 0, rpc: 0, tool: 0, transport: 0, samples: BTreeMap::new() })
    }

    fn sample(&mut self, message: String) {
        if let Some(n) = self.samples.get_mut(&message) {
            *n += 1;
        } else if self.samples.len() < SAMPLES {
            self.samples.insert(message, 1);
        }
    }
}

/// Counts and latencies of the measured requests.
pub struct Recorder {
    kinds: Vec<KindStats>,
}

impl Recorder {
    pub fn new() -> Result<Recorder, String> {
        Ok(Recorder { kinds: Kind::ALL.iter().map(|_| KindStats::new()).collect::<Result<_, _>>()? })
    }

    /// Records one measured request. Latency counts for every request that was
    /// answered (errors included), not for transport failures.
    pub fn record(&mut self, kind: Kind, outcome: Outcome, latency: Duration) {
        let Some(k) = self.kinds.get_mut(kind as usize) else { return };
        k.requests += 1;
        let answered = !matches!(outcome, Outcome::Transport(_));
        match outcome {
            Outcome::Ok => {}
            Outcome::Rpc(m) => {
                k.rpc += 1;
                k.sample(m);
            }
            Outcome::Tool => {
                k.tool += 1;
                k.sample("tool result with isError: true".into());
            }
            Outcome::Transport(m) => {
                k.transport += 1;
                k.sample(m);
            }
        }
        if answered {
            // The histogram grows to fit (`saturating_record` would clamp to its current range).
            let v = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            if k.hist.record(v).is_err() {
                k.hist.saturating_record(v);
            }
        }
    }
}

/// Errors by kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ErrorCounts {
    /// JSON-RPC error responses.
    pub jsonrpc: u64,
    /// `tools/call` results with `isError: true`.
    pub tool: u64,
    /// No answer: connection failures, unreadable answers, timeouts.
    pub transport: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.jsonrpc + self.tool + self.transport
    }
}

/// Latency figures, in microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub min: u64,
    pub mean: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        Some(Latency {
            min: h.min(),
            mean: h.mean().round() as u64,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

/// One error message seen, and how often.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorSample {
    pub method: String,
    pub message: String,
    pub count: u64,
}

/// The figures of one kind of request.
#[derive(Debug, Clone, Serialize)]
pub struct MethodReport {
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_kind: ErrorCounts,
    pub calls_per_s: f64,
    /// `null` when no request was answered.
    pub latency_us: Option<Latency>,
}

/// The result of a run; its JSON form (`--json`) has stable field names.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The URL, or the command line of a stdio server.
    pub target: String,
    /// "http" or "stdio".
    pub transport: &'static str,
    /// The protocol revision the server agreed to.
    pub protocol_version: String,
    pub sessions: usize,
    /// Requests made during the warm-up, not counted anywhere else.
    pub warmup_requests: u64,
    /// Measured requests.
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_kind: ErrorCounts,
    /// The measured time, in seconds: from the end of the warm-up to the last answer.
    pub duration_s: f64,
    pub calls_per_s: f64,
    /// `null` when no request was answered.
    pub latency_us: Option<Latency>,
    /// Per method (`tools/list`, `tools/call`, `resources/read`).
    pub by_method: BTreeMap<String, MethodReport>,
    /// Up to five distinct error messages per method.
    pub error_samples: Vec<ErrorSample>,
    /// What was skipped or went wrong along the way.
    pub notes: Vec<String>,
    /// Whether the run was stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// What the report needs besides the recorder.
pub struct RunInfo {
    pub target: String,
    pub transport: &'static str,
    pub protocol_version: String,
    pub sessions: usize,
    pub warmup_requests: u64,
    pub measured: Duration,
    pub notes: Vec<String>,
    pub interrupted: bool,
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { round2(n as f64 / secs) } else { 0.0 }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Report {
    pub fn new(rec: Recorder, info: RunInfo) -> Report {
        let secs = info.measured.as_secs_f64();
        let mut all: Option<Histogram<u64>> = None;
        let mut errors = ErrorCounts::default();
        let mut requests = 0;
        let mut by_method = BTreeMap::new();
        let mut error_samples = Vec::new();
        for (kind, k) in Kind::ALL.iter().zip(rec.kinds) {
            if k.requests == 0 {
                continue;
            }
            match &mut all {
                None => all = Some(k.hist.clone()),
                // Same configuration, auto-resizing: adding cannot fail.
                Some(a) => {
                    let _ = a.add(&k.hist);
                }
            }
            let e = ErrorCounts { jsonrpc: k.rpc, tool: k.tool, transport: k.transport };
            errors.jsonrpc += e.jsonrpc;
            errors.tool += e.tool;
            errors.transport += e.transport;
            requests += k.requests;
            by_method.insert(
                kind.method().to_owned(),
                MethodReport {
                    requests: k.requests,
                    ok: k.requests - e.total(),
                    errors: e.total(),
                    errors_by_kind: e,
                    calls_per_s: rate(k.requests, secs),
                    latency_us: Latency::of(&k.hist),
                },
            );
            for (message, count) in k.samples {
                error_samples.push(ErrorSample { method: kind.method().to_owned(), message, count });
            }
        }
        Report {
            target: info.target,
            transport: info.transport,
            protocol_version: info.protocol_version,
            sessions: info.sessions,
            warmup_requests: info.warmup_requests,
            requests,
            ok: requests - errors.total(),
            errors: errors.total(),
            errors_by_kind: errors,
            duration_s: (secs * 1000.0).round() / 1000.0,
            calls_per_s: rate(requests, secs),
            latency_us: all.as_ref().and_then(Latency::of),
            by_method,
            error_samples,
            notes: info.notes,
            interrupted: info.interrupted,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human form: a summary, then a table per method.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "target      {} ({}, MCP {}), {} session{}",
            self.target,
            self.transport,
            self.protocol_version,
            self.sessions,
            if self.sessions == 1 { "" } else { "s" }
        );
        let _ = writeln!(s, "requests    {} (warm-up: {} more, not counted)", self.requests, self.warmup_requests);
        let e = &self.errors_by_kind;
        let _ = writeln!(
            s,
            "errors      {} (JSON-RPC errors {}, tool errors {}, transport {})",
            self.errors, e.jsonrpc, e.tool, e.transport
        );
        let _ =
            writeln!(s, "duration    {:.3} s{}", self.duration_s, if self.interrupted { " (interrupted)" } else { "" });
        let _ = writeln!(s, "throughput  {:.1} calls/s", self.calls_per_s);
        if let Some(l) = &self.latency_us {
            let _ = writeln!(
                s,
                "latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                us(l.p50),
                us(l.p90),
                us(l.p99),
                us(l.p999),
                us(l.max)
            );
        }
        if !self.by_method.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "{:<16} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "method", "requests", "errors", "calls/s", "p50", "p90", "p99", "p99.9", "max"
            );
            for (name, m) in &self.by_method {
                let (p50, p90, p99, p999, max) = match &m.latency_us {
                    Some(l) => (us(l.p50), us(l.p90), us(l.p99), us(l.p999), us(l.max)),
                    None => Default::default(),
                };
                let _ = writeln!(
                    s,
                    "{name:<16} {:>9} {:>7} {:>10.1} {p50:>9} {p90:>9} {p99:>9} {p999:>9} {max:>9}",
                    m.requests, m.errors, m.calls_per_s
                );
            }
        }
        if !self.error_samples.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "errors seen:");
            for e in &self.error_samples {
                let _ = writeln!(s, "  {:>7} × {}: {}", e.count, e.method, e.message);
            }
        }
        s
    }
}

/// A latency in microseconds, shown in µs, ms or s as fits.
pub fn us(v: u64) -> String {
    if v < 1_000 {
        format!("{v}µs")
    } else if v < 1_000_000 {
        format!("{:.2}ms", v as f64 / 1e3)
    } else {
        format!("{:.2}s", v as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            target: "t".into(),
            transport: "stdio",
            protocol_version: "2025-11-25".into(),
            sessions: 1,
            warmup_requests: 3,
            measured: Duration::from_secs(2),
            notes: vec![],
            interrupted: false,
        }
    }

    #[test]
    fn figures_add_up_and_percentiles_are_ordered() {
        let mut r = Recorder::new().unwrap();
        for i in 1..=1000u64 {
            r.record(Kind::Call, Outcome::Ok, Duration::from_micros(i));
        }
        r.record(Kind::Call, Outcome::Rpc("boom (-32603)".into()), Duration::from_micros(5));
        r.record(Kind::Call, Outcome::Tool, Duration::from_micros(5));
        r.record(Kind::List, Outcome::Transport("gone".into()), Duration::from_secs(9));
        let rep = Report::new(r, info());
        assert_eq!(rep.requests, 1003);
        assert_eq!(rep.errors, 3);
        assert_eq!(rep.ok, 1000);
        assert_eq!((rep.errors_by_kind.jsonrpc, rep.errors_by_kind.tool, rep.errors_by_kind.transport), (1, 1, 1));
        assert_eq!(rep.calls_per_s, 501.5);
        let l = rep.latency_us.unwrap();
        assert!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, "{l:?}");
        assert!((495..=505).contains(&l.p50), "{l:?}");
        assert_eq!(l.max, 1000);
        // A transport failure has no latency.
        assert!(rep.by_method["tools/list"].latency_us.is_none());
        assert_eq!(rep.error_samples.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&rep.to_json()).unwrap();
        assert_eq!(v["by_method"]["tools/call"]["requests"], 1002);
        assert!(rep.to_text().contains("tools/call"));
    }

    #[test]
    fn units_fit_the_value() {
        assert_eq!(us(250), "250µs");
        assert_eq!(us(1_500), "1.50ms");
        assert_eq!(us(2_500_000), "2.50s");
    }
}
