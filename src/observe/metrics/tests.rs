//! Tests of the recording API through the Prometheus text it encodes (the
//! summary and its table have tests of their own, beside them).

use super::series::{SMALL_CAP, read};
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
    assert_eq!(read(&m.0.servers).pairs, 2);
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
}

#[test]
fn clones_record_into_the_same_series() {
    let a = Metrics::new();
    let b = a.clone();
    b.restart("time");
    a.restart("time");
    assert_has(&a.encode(), r#"vmcp_backend_restarts_total{server="time"} 2"#);
    assert_eq!(b.summary().servers.first().map(|s| s.restarts), Some(2));
}

#[test]
fn a_handle_is_shareable_across_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Metrics>();
}
