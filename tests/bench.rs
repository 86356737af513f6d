//! `vmcp bench` as a user runs it: against `vmcp mock` over stdio and over HTTP,
//! with errors, and with bad input. Every run is bounded by a request count and
//! a wall-clock limit; every process started here is killed when the test ends.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn vmcp_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vmcp")
}

/// Runs `vmcp bench ARGS`: (exit code, stdout, stderr). Killed after `LIMIT`.
fn bench(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(vmcp_bin())
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vmcp bench");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("vmcp bench {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    eprintln!("[bench stderr] {err}");
    (status.code().unwrap_or(-1), out, err)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn assert_ordered(latency: &Value) {
    let get = |k: &str| latency[k].as_u64().unwrap_or_else(|| panic!("latency_us.{k} in {latency}"));
    let seq = [get("min"), get("p50"), get("p90"), get("p99"), get("p999"), get("max")];
    assert!(seq.windows(2).all(|w| w[0] <= w[1]), "percentiles out of order: {latency}");
    assert!(get("max") > 0, "{latency}");
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(marker) {
                found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// `vmcp mock --listen 127.0.0.1:0`, killed on drop.
struct HttpMock {
    child: Child,
    url: String,
}

impl HttpMock {
    fn start(extra: &[&str]) -> HttpMock {
        let mut child = Command::new(vmcp_bin())
            .args(["mock", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run vmcp mock");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("http://") {
                    let _ = tx.send(line[i..].trim().to_owned());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(20)).expect("the mock says where it listens");
        HttpMock { child, url }
    }
}

impl Drop for HttpMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn stdio_echo_counts_every_request_and_leaves_no_process() {
    let marker = format!("bench-test-{}", std::process::id());
    let (code, out, err) = bench(&[
        "--command",
        vmcp_bin(),
        "--arg",
        "mock",
        "--arg",
        "--name",
        "--arg",
        &marker,
        "--requests",
        "200",
        "--sessions",
        "2",
        "--tool",
        "echo",
        "--args",
        r#"{"text":"x"}"#,
        "--warmup",
        "300ms",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["requests"], 200, "{r}");
    assert_eq!(r["ok"], 200, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["sessions"], 2);
    assert_eq!(r["transport"], "stdio");
    assert_eq!(r["protocol_version"], "2025-11-25");
    assert!(r["warmup_requests"].as_u64().unwrap() > 0, "the warm-up made requests: {r}");
    assert!(r["calls_per_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["duration_s"].as_f64().unwrap() > 0.0, "{r}");
    assert_ordered(&r["latency_us"]);
    assert_eq!(r["by_method"]["tools/call"]["requests"], 200, "{r}");
    assert_ordered(&r["by_method"]["tools/call"]["latency_us"]);
    // Every server process is gone by the time bench exits.
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[test]
fn http_mix_rotates_list_call_and_read() {
    let mock = HttpMock::start(&[]);
    let (code, out, err) = bench(&[
        "--url",
        &mock.url,
        "--mix",
        "list,call,read",
        "--args",
        r#"{"text":"x"}"#,
        "--sessions",
        "3",
        "--requests",
        "300",
        "--warmup",
        "0s",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["transport"], "http");
    assert_eq!(r["requests"], 300, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_ordered(&r["latency_us"]);
    let mut sum = 0;
    for m in ["tools/list", "tools/call", "resources/read"] {
        let n = r["by_method"][m]["requests"].as_u64().unwrap_or_else(|| panic!("{m} in {r}"));
        assert!(n > 0, "{m}: {r}");
        assert_ordered(&r["by_method"][m]["latency_us"]);
        sum += n;
    }
    assert_eq!(sum, 300);

    // The text form, for a duration.
    let (code, out, err) = bench(&[
        "--url",
        &mock.url,
        "--tool",
        "echo",
        "--args",
        r#"{"text":"x"}"#,
        "--duration",
        "300ms",
        "--warmup",
        "0s",
    ]);
    assert_eq!(code, 0, "{err}");
    for needle in ["requests", "calls/s", "p50", "p99.9", "tools/call", "errors      0"] {
        assert!(out.contains(needle), "{needle:?} in {out}");
    }
}

#[test]
fn a_mix_skips_what_the_server_lacks() {
    let (code, out, err) = bench(&[
        "--command",
        vmcp_bin(),
        "--arg",
        "mock",
        "--arg",
        "--resources",
        "--arg",
        "0",
        "--mix",
        "--requests",
        "30",
        "--warmup",
        "0s",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert!(err.contains("skipping read"), "{err}");
    assert!(r["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("skipping read")), "{r}");
    assert!(r["by_method"].get("resources/read").is_none(), "{r}");
    assert_eq!(r["requests"], 30);
    // The first listed tool (echo) is called with `{}`: the mock refuses it, and that is counted.
    assert!(r["by_method"]["tools/call"]["errors_by_kind"]["jsonrpc"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["by_method"]["tools/list"]["errors"], 0, "{r}");
}

#[test]
fn errors_are_counted_by_kind_and_the_run_goes_on() {
    let (code, out, err) = bench(&[
        "--command",
        vmcp_bin(),
        "--arg",
        "mock",
        "--arg",
        "--error-rate",
        "--arg",
        "1",
        "--tool",
        "echo",
        "--args",
        r#"{"text":"x"}"#,
        "--requests",
        "50",
        "--warmup",
        "0s",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["requests"], 50, "{r}");
    assert_eq!(r["errors"], 50, "{r}");
    assert_eq!(r["errors_by_kind"]["jsonrpc"], 50, "{r}");
    assert!(r["error_samples"][0]["message"].as_str().unwrap().contains("injected failure"), "{r}");

    // isError results are their own kind.
    let (code, out, err) = bench(&[
        "--command",
        vmcp_bin(),
        "--arg",
        "mock",
        "--tool",
        "tool_error",
        "--requests",
        "20",
        "--warmup",
        "0s",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["errors_by_kind"]["tool"], 20, "{r}");
    assert_eq!(r["errors_by_kind"]["jsonrpc"], 0, "{r}");

    // A server that dies mid-run: transport errors, and the other session goes on.
    let (code, out, err) = bench(&[
        "--command",
        vmcp_bin(),
        "--arg",
        "mock",
        "--arg",
        "--crash-after",
        "--arg",
        "20",
        "--tool",
        "echo",
        "--args",
        r#"{"text":"x"}"#,
        "--sessions",
        "2",
        "--requests",
        "100",
        "--warmup",
        "0s",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["errors_by_kind"]["transport"], 2, "one failed request per session: {r}");
    assert!(err.contains("session 0 ended") && err.contains("exited with status 3"), "{err}");
}

#[test]
fn bad_input_is_refused_clearly() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "no target"),
        (&["--url", "http://127.0.0.1:9/mcp", "--command", "x"], "not both"),
        (&["--command", "x", "--tool", "echo", "--args", "{not json"], "invalid --args"),
        (&["--command", "x", "--tool", "echo", "--args", "[1,2]"], "JSON object"),
        (&["--command", "x", "--requests", "5", "--duration", "1s"], "not both"),
        (&["--command", "x", "--mix", "list,write"], "unknown --mix kind \"write\""),
        (
            &["--command", "/nonexistent/vmcp-bench-test", "--tool", "echo"],
            "cannot start `/nonexistent/vmcp-bench-test`",
        ),
    ];
    for (args, needle) in cases {
        let (code, out, err) = bench(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} in {err}");
        assert!(out.is_empty(), "{out}");
    }

    // An address where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let (code, _, err) = bench(&["--url", &url, "--tool", "echo", "--requests", "5"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot reach {url}")), "{err}");

    // A server that fails to start, and one that refuses initialize: what they said is shown.
    let (code, _, err) = bench(&["--command", vmcp_bin(), "--arg", "mock", "--arg", "--fail-start", "--tool", "echo"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("failed to initialize") && err.contains("exited with status 4"), "{err}");
    let refuse = r#"echo 'bad config: no API key' >&2; read l; echo '{"jsonrpc":"2.0","id":0,"error":{"code":-32600,"message":"unsupported protocol"}}'; sleep 10"#;
    let (code, _, err) =
        bench(&["--command", "sh", "--arg", "-c", "--arg", refuse, "--tool", "echo", "--timeout", "10s"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("answered initialize with an error: unsupported protocol (-32600)"), "{err}");
}
