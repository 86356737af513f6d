//! The human form of a [`Summary`], as `vmcp metrics show` prints it: a few
//! headline lines, then one table row per server, per (server, method) pair
//! and per circuit breaker.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::histogram::Quantile;
use super::labels::OUTCOMES;
use super::summary::{Latency, Requests, Summary};

impl Summary {
    /// The summary as aligned text, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = self.headlines();
        if self.servers.is_empty() {
            out.push_str("\nno backend servers reported yet\n");
            return out;
        }
        for table in [self.servers_table(), self.methods_table(), self.breakers_table()].into_iter().flatten() {
            out.push('\n');
            out.push_str(&table);
        }
        out
    }

    /// Gateway-wide figures, one per line.
    fn headlines(&self) -> String {
        let mut lines = Vec::new();
        let mut head = format!("vmcp {}", clean(&self.version));
        if let Some(replica) = &self.replica {
            head.push_str(&format!(", replica {}", clean(replica)));
            if let Some(n) = self.members.filter(|&n| n > 1) {
                head.push_str(&format!(" of {n}"));
            }
        }
        if let Some(bytes) = self.resident_memory_bytes {
            head.push_str(&format!(", {:.1} MiB resident", bytes as f64 / (1024.0 * 1024.0)));
        }
        lines.push(head);
        let r = &self.requests;
        let mut requests = format!("{}{}", r.total, breakdown(outcomes(&r.outcomes)));
        if let Some(rate) = r.error_rate {
            requests.push_str(&format!(", {} errors", percent(rate)));
        }
        lines.push(field("requests", requests));
        if let Some(l) = &r.latency {
            let [p50, p95, p99] = quantiles(Some(l));
            lines.push(field("latency", format!("p50 {p50}, p95 {p95}, p99 {p99}")));
        }
        lines.push(field("in flight", self.in_flight.to_string()));
        let sessions = self.sessions.iter().map(|(k, v)| (k.as_str(), *v));
        lines.push(field("sessions", format!("{}{}", self.sessions.values().sum::<i64>(), breakdown(sessions))));
        let rejected = self.rejected.iter().map(|(k, v)| (k.as_str(), *v));
        lines.push(field("rejected", format!("{}{}", self.rejected.values().sum::<u64>(), breakdown(rejected))));
        let rc = &self.route_cache;
        if rc.hits + rc.misses > 0 {
            lines.push(field("route cache", format!("hits {}, misses {}", rc.hits, rc.misses)));
        }
        if !self.catalog.is_empty() {
            let kinds: Vec<String> = self.catalog.iter().map(|(k, n)| format!("{} {n}", clean(k))).collect();
            lines.push(field("catalog", kinds.join(", ")));
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// One row per server.
    fn servers_table(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .servers
            .iter()
            .map(|s| {
                let mut row = vec![
                    clean(&s.server).into_owned(),
                    s.state.as_deref().map_or_else(|| "-".to_owned(), |st| clean(st).into_owned()),
                    s.in_flight.to_string(),
                    s.requests.total.to_string(),
                    s.requests.error_rate.map_or_else(|| "-".to_owned(), percent),
                ];
                row.extend(quantiles(s.requests.latency.as_ref()));
                row.extend([s.restarts.to_string(), s.retries.to_string()]);
                row
            })
            .collect();
        let headers =
            ["server", "state", "in flight", "requests", "errors", "p50", "p95", "p99", "restarts", "retries"];
        table(&headers, &rows)
    }

    /// One row per (server, method) pair.
    fn methods_table(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .servers
            .iter()
            .flat_map(|s| s.methods.iter().map(move |m| (s, m)))
            .map(|(s, m)| {
                let r: &Requests = &m.requests;
                let counts: Vec<String> = outcomes(&r.outcomes).map(|(o, n)| format!("{} {n}", clean(o))).collect();
                let mut row = vec![
                    clean(&s.server).into_owned(),
                    clean(&m.method).into_owned(),
                    r.total.to_string(),
                    counts.join(", "),
                    r.error_rate.map_or_else(|| "-".to_owned(), percent),
                ];
                row.extend(quantiles(r.latency.as_ref()));
                row
            })
            .collect();
        table(&["server", "method", "requests", "outcomes", "errors", "p50", "p95", "p99"], &rows)
    }

    /// One row per replica whose circuit breaker has reported.
    fn breakers_table(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .servers
            .iter()
            .flat_map(|s| s.breakers.iter().map(move |b| (s, b)))
            .map(|(s, b)| {
                vec![
                    clean(&s.server).into_owned(),
                    clean(&b.replica).into_owned(),
                    clean(&b.state).into_owned(),
                    b.opened.to_string(),
                ]
            })
            .collect();
        table(&["server", "replica", "breaker", "opened"], &rows)
    }
}

/// "name" padded to the width of the longest headline name, then the value.
fn field(name: &str, value: String) -> String {
    format!("{name:<11}  {value}")
}

/// Outcome counts in [`OUTCOMES`] order, then any others (from a newer
/// gateway) by name.
fn outcomes(counts: &BTreeMap<String, u64>) -> impl Iterator<Item = (&str, u64)> {
    let known = OUTCOMES.iter().filter_map(|o| counts.get(*o).map(|n| (*o, *n)));
    let unknown = counts.iter().filter(|(o, _)| !OUTCOMES.contains(&o.as_str())).map(|(o, n)| (o.as_str(), *n));
    known.chain(unknown)
}

/// " (a 1, b 2)" over the non-zero entries, or "".
fn breakdown<'a, N: PartialEq + Default + std::fmt::Display>(items: impl Iterator<Item = (&'a str, N)>) -> String {
    let parts: Vec<String> =
        items.filter(|(_, n)| *n != N::default()).map(|(k, n)| format!("{} {n}", clean(k))).collect();
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn quantiles(latency: Option<&Latency>) -> [String; 3] {
    match latency {
        Some(l) => [quantile(&l.p50), quantile(&l.p95), quantile(&l.p99)],
        None => ["-".to_owned(), "-".to_owned(), "-".to_owned()],
    }
}

/// A duration with a precision fit for its size; ">" marks a lower bound.
fn quantile(q: &Quantile) -> String {
    let s = q.seconds;
    let text = if s < 0.001 {
        format!("{:.2} ms", s * 1e3)
    } else if s < 0.01 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    };
    if q.at_least { format!(">{text}") } else { text }
}

/// Names come from configuration and from clients (method names): control
/// characters are escaped so they cannot move the cursor or forge lines.
fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Left-aligned columns two spaces apart, upper-case headers, no trailing
/// blanks; `None` without rows (a table of headers alone says nothing).
fn table(headers: &[&str], rows: &[Vec<String>]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let mut line = String::new();
        for (cell, w) in cells.zip(&widths) {
            let pad = w.saturating_sub(cell.chars().count());
            line.push_str(&cell);
            line.push_str(&" ".repeat(pad + 2));
        }
        line.truncate(line.trim_end().len());
        line.push('\n');
        line
    };
    let mut out = line(&mut headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        out.push_str(&line(&mut row.iter().cloned()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::super::summary::tests::recorded;

    #[test]
    fn a_busy_gateway_reads_as_headlines_then_tables() {
        let m = recorded();
        m.in_flight("time", 2);
        m.server_state("time", "ready");
        m.server_state("search", "down");
        m.restart("search");
        m.breaker_state("search", "0", "open");
        m.breaker_state("search", "1", "closed");
        m.session_opened("http");
        m.session_opened("stdio");
        m.rejected("overloaded");
        m.route_cache(true);
        m.route_cache(false);
        m.catalog_size("tools", 42);
        m.catalog_size("prompts", 3);
        let mut s = m.summary();
        s.version = "1.2.3".into();
        s.resident_memory_bytes = Some(12 * 1024 * 1024);
        let expected = "\
vmcp 1.2.3, 12.0 MiB resident
requests     112 (ok 105, error 4, timeout 1, cancelled 2), 4.5% errors
latency      p50 29 ms, p95 >60.0 s, p99 >60.0 s
in flight    2
sessions     2 (http 1, stdio 1)
rejected     1 (overloaded 1)
route cache  hits 1, misses 1
catalog      prompts 3, tools 42

SERVER  STATE  IN FLIGHT  REQUESTS  ERRORS  P50      P95      P99      RESTARTS  RETRIES
search  down   0          12        0.0%    >60.0 s  >60.0 s  >60.0 s  1         0
time    ready  2          100       5.0%    10 ms    75 ms    95 ms    0         0

SERVER  METHOD      REQUESTS  OUTCOMES                   ERRORS  P50      P95      P99
search  tools/call  12        ok 10, cancelled 2         0.0%    >60.0 s  >60.0 s  >60.0 s
time    tools/call  95        ok 90, error 4, timeout 1  5.3%    27 ms    76 ms    95 ms
time    tools/list  5         ok 5                       0.0%    7.5 ms   9.8 ms   10.0 ms

SERVER  REPLICA  BREAKER  OPENED
search  0        open     1
search  1        closed   0
";
        assert_eq!(s.to_text(), expected);
    }

    #[test]
    fn nothing_recorded_says_so() {
        let mut s = Metrics::new().summary();
        s.version = "1.2.3".into();
        s.resident_memory_bytes = None;
        let expected = "\
vmcp 1.2.3
requests     0
in flight    0
sessions     0
rejected     0

no backend servers reported yet
";
        assert_eq!(s.to_text(), expected);
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        let m = Metrics::new();
        m.request_done("time", "evil\n\u{1b}[2Jmethod", "ok", 0.001);
        let text = m.summary().to_text();
        assert!(text.contains("evil\\n\\u{1b}[2Jmethod"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
