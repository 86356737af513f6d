//! Operating the gateway as an operator would: status, list, mount at runtime
//! (clients see the change), `kill -9`, a restart that brings the mounts back,
//! unmount, health checks, stop; and every bad input on the way.

mod common;

use std::process::Command as StdCommand;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Runs `vmcp <args> --config <config>`; returns exit code, stdout, stderr.
fn cli(setup: &Setup, args: &[&str]) -> (i32, String, String) {
    let out = StdCommand::new(vmcp_bin()).args(args).arg("--config").arg(&setup.config).output().expect("run vmcp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_json(setup: &Setup, args: &[&str]) -> Value {
    let (code, out, err) = cli(setup, args);
    assert_eq!(code, 0, "vmcp {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("vmcp {args:?} --json printed no JSON ({e}): {out}"))
}

fn pids(list: &Value) -> Vec<u32> {
    list.as_array().expect("list").iter().filter_map(|s| s["pid"].as_u64()).map(|p| p as u32).collect()
}

#[tokio::test]
async fn mount_survives_kill_9_and_clients_see_every_change() {
    let setup = Setup::new("", &[mock_server("alpha", &[])]);
    let gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(json!({})).await;
    // A GET stream, to hear list changes.
    let stream = reqwest::Client::new()
        .get(gw.url("/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", client.session.clone().expect("session"))
        .send()
        .await
        .expect("GET");
    assert_eq!(stream.status().as_u16(), 200);

    let status = cli_json(&setup, &["status", "--json"]);
    assert_eq!(status["servers"], 1);
    assert_eq!(status["ready_for_traffic"], true);

    // Mount a server: clients are told and see its tools.
    let (code, out, err) =
        cli(&setup, &["mount", "beta", "--command", "vmcp", "--arg", "mock", "--arg", "--tools", "--arg", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mounted beta"), "{out}");
    let mut body = stream.bytes_stream();
    let mut seen = String::new();
    tokio::time::timeout(WAIT, async {
        use futures_util::StreamExt;
        while !seen.contains("notifications/tools/list_changed") {
            let chunk = body.next().await.expect("stream open").expect("chunk");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("list_changed after mount");
    let names = tool_names(&client.call("tools/list", json!({})).await);
    assert!(names.contains(&"beta__tool_0".to_owned()), "{names:?}");

    // Bad input changes nothing.
    for (args, expect) in [
        (vec!["mount", "beta", "--command", "vmcp"], "already exists"),
        (vec!["mount", "Bad_Id", "--command", "vmcp"], "invalid server id"),
        (vec!["mount", "gamma", "--file", "/nonexistent.toml"], "/nonexistent.toml"),
        (vec!["unmount", "nosuch"], "no server 'nosuch'"),
        (vec!["unmount", "alpha"], "configuration file"),
    ] {
        let (code, _, err) = cli(&setup, &args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let snippet = setup.path().join("bad.toml");
    std::fs::write(&snippet, "comand = \"x\"\n").expect("write");
    let (code, _, err) = cli(&setup, &["mount", "gamma", "--file", snippet.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `command`"), "{err}");
    let list = cli_json(&setup, &["list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    // kill -9: nothing acknowledged is lost, no backend is left behind.
    let backends = pids(&list);
    assert_eq!(backends.len(), 2);
    let mut child = gw.child;
    child.start_kill().expect("kill -9");
    child.wait().await.expect("wait");
    for _ in 0..100 {
        if backends.iter().all(|p| !alive(*p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(backends.iter().all(|p| !alive(*p)), "backends outlived a kill -9 of the gateway");
    let (code, _, err) = cli(&setup, &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("admin.sock"), "where it looked: {err}");
    let (code, _, _) = cli(&setup, &["health", "check"]);
    assert_eq!(code, 2, "unreachable is 'down'");

    let gw = HttpGateway::start(&setup).await;
    // A second gateway on the same state is refused.
    let (code, _, err) = cli(&setup, &["start"]);
    assert_eq!(code, 1);
    assert!(err.contains("already running"), "{err}");
    let list = cli_json(&setup, &["list", "--json"]);
    let ids: Vec<&str> = list.as_array().expect("list").iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["alpha", "beta"]);
    // The restored mount starts in the background: wait for it to be ready.
    let deadline = std::time::Instant::now() + WAIT;
    let info = loop {
        let info = cli_json(&setup, &["info", "beta", "--json"]);
        if info["state"] == "ready" || std::time::Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(info["source"], "mounted");
    assert!(info["capabilities"].as_array().is_some_and(|c| c.iter().any(|x| x == "tools")), "{info}");
    assert!(info["latency_avg_ms"].as_f64().is_some(), "latency after its lists were fetched: {info}");
    let (code, out, _) = cli(&setup, &["health", "check"]);
    assert_eq!(code, 0, "{out}");

    // A mount that cannot start makes the gateway degraded, not down.
    let (code, _, err) = cli(&setup, &["mount", "ghost", "--command", "/nonexistent/mcp"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&setup, &["health", "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ghost"), "{out}");

    let (code, _, err) = cli(&setup, &["unmount", "beta"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = cli(&setup, &["unmount", "ghost"]);
    assert_eq!(code, 0);

    // Metrics: two tool calls through the restarted gateway show up per server
    // and per method, and unmounted servers are gone.
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(json!({})).await;
    for text in ["one", "two"] {
        client.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": text}})).await;
    }
    let (code, out, err) = cli(&setup, &["metrics", "show"]);
    assert_eq!(code, 0, "{err}");
    let line =
        |start: &str, has: &[&str]| out.lines().any(|l| l.starts_with(start) && has.iter().all(|h| l.contains(h)));
    assert!(line("vmcp ", &[env!("CARGO_PKG_VERSION")]), "{out}");
    assert!(line("requests ", &["ok "]), "{out}");
    assert!(line("sessions ", &["http 1"]), "{out}");
    assert!(line("alpha ", &["ready"]), "server row: {out}");
    assert!(line("alpha ", &["tools/call", "ok 2", "0.0%"]), "method row: {out}");
    assert!(!out.contains("beta") && !out.contains("ghost"), "{out}");
    let summary = cli_json(&setup, &["metrics", "show", "--json"]);
    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    let servers = summary["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{summary}");
    let alpha = &servers[0];
    assert_eq!(alpha["server"], "alpha");
    assert_eq!(alpha["state"], "ready");
    let call = alpha["methods"].as_array().and_then(|m| m.iter().find(|m| m["method"] == "tools/call"));
    let call = call.expect("a tools/call row");
    assert_eq!(call["requests"]["total"], 2);
    assert_eq!(call["requests"]["outcomes"], json!({ "ok": 2 }));
    assert_eq!(call["requests"]["error_rate"], 0.0);
    assert!(call["requests"]["latency"]["p99"]["seconds"].as_f64().is_some_and(|s| s > 0.0), "{call}");
    assert_eq!(summary["sessions"]["http"], 1);
    assert!(summary["catalog"]["tools"].as_i64().is_some_and(|n| n > 0), "{summary}");

    // stop returns once the process is gone, and takes the backends with it.
    let backends = pids(&cli_json(&setup, &["list", "--json"]));
    let (code, out, err) = cli(&setup, &["stop"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stopped"), "{out}");
    let mut child = gw.child;
    let status = tokio::time::timeout(WAIT, child.wait()).await.expect("exited").expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(backends.iter().all(|p| !alive(*p)));
}

#[tokio::test]
async fn a_corrupt_registry_is_refused_with_its_path() {
    let setup = Setup::new("", &[mock_server("alpha", &[])]);
    let state = setup.path().join("state");
    std::fs::create_dir_all(&state).expect("mkdir");
    std::fs::write(state.join("registry.db"), b"this is not a database, it is a text file written by mistake\n")
        .expect("write");
    let (code, _, err) = cli(&setup, &["start"]);
    assert_eq!(code, 1);
    assert!(err.contains("registry.db"), "{err}");
}

#[tokio::test]
async fn daemon_mode_detaches_writes_its_pid_and_stops_cleanly() {
    let setup = Setup::new("", &[mock_server("alpha", &[])]);
    let state = setup.path().join("state");
    let (code, out, err) = cli(&setup, &["start", "--daemon"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("vmcp started"), "{out}");
    let pid: u32 = std::fs::read_to_string(state.join("vmcp.pid")).expect("pid file").trim().parse().expect("a pid");
    assert!(alive(pid));
    let status = cli_json(&setup, &["status", "--json"]);
    assert_eq!(status["pid"], pid);
    let (code, _, err) = cli(&setup, &["start", "--daemon"]);
    assert_eq!(code, 1);
    assert!(err.contains("already running"), "{err}");
    let backends = pids(&cli_json(&setup, &["list", "--json"]));
    let (code, _, err) = cli(&setup, &["stop"]);
    assert_eq!(code, 0, "{err}");
    assert!(!state.join("vmcp.pid").exists(), "pid file removed on exit");
    assert!(std::fs::read_to_string(state.join("vmcp.log")).expect("log").contains("stopped"));
    for _ in 0..100 {
        if backends.iter().all(|p| !alive(*p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("backends outlived `vmcp stop`");
}

#[tokio::test]
async fn hot_reload_applies_the_difference_and_keeps_sessions() {
    let setup = Setup::new("", &[mock_server("alpha", &[]), mock_server("gone", &[])]);
    let original = std::fs::read_to_string(&setup.config).expect("config");
    let mut gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(json!({})).await;
    let before = cli_json(&setup, &["list", "--json"]);
    let alpha_pid =
        before.as_array().expect("list").iter().find(|s| s["id"] == "alpha").and_then(|s| s["pid"].as_u64());

    // A broken file is refused whole: nothing changes.
    std::fs::write(&setup.config, format!("{original}\n[servers.bad]\ncomand = \"x\"\n")).expect("write");
    let p = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(gw.child.id().expect("pid").to_string())
        .status()
        .expect("kill");
    assert!(p.success());
    tokio::time::timeout(WAIT, async {
        while let Some(line) = gw.stderr.recv().await {
            if line.contains("configuration not reloaded") {
                return;
            }
        }
    })
    .await
    .expect("the broken configuration is reported");
    let during = cli_json(&setup, &["list", "--json"]);
    let ids: Vec<&str> = during.as_array().expect("list").iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["alpha", "gone"], "a broken configuration changes nothing");
    // Then a good one: `gone` removed, `beta` added, alpha untouched (same process).
    let good = original.replace(&mock_server("gone", &[]), &mock_server("beta", &["--tools", "1"]));
    assert_ne!(good, original);
    std::fs::write(&setup.config, &good).expect("write");
    let mut ids = Vec::new();
    for _ in 0..200 {
        let list = cli_json(&setup, &["list", "--json"]);
        ids = list.as_array().expect("list").iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect();
        let beta_ready = list.as_array().expect("list").iter().any(|s| s["id"] == "beta" && s["state"] == "ready");
        if ids == ["alpha", "beta"] && beta_ready {
            let alpha =
                list.as_array().expect("list").iter().find(|s| s["id"] == "alpha").and_then(|s| s["pid"].as_u64());
            assert_eq!(alpha, alpha_pid, "an unchanged server keeps running");
            // The session lived through it and sees the new catalog.
            let names = tool_names(&client.call("tools/list", json!({})).await);
            assert!(
                names.contains(&"beta__tool_0".to_owned()) && !names.iter().any(|n| n.starts_with("gone__")),
                "{names:?}"
            );
            gw.stop().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the configuration change never took effect: {ids:?}");
}

#[tokio::test]
async fn a_graceful_stop_lets_calls_in_flight_finish_and_refuses_new_ones() {
    let setup = Setup::new("", &[mock_server("alpha", &[])]);
    let gw = HttpGateway::start(&setup).await;
    let mut slow = HttpClient::new(gw.url("/mcp"));
    slow.initialize(json!({})).await;
    let mut other = HttpClient::new(gw.url("/mcp"));
    other.initialize(json!({})).await;
    let stats = |v: Value| -> u64 {
        let text = first_text(&v);
        serde_json::from_str::<Value>(&text).expect("stats")["requests"].as_u64().unwrap_or(0)
    };
    let before = stats(other.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await);
    let call = tokio::spawn(async move {
        slow.request("tools/call", json!({"name": "alpha__sleep", "arguments": {"ms": 1500}})).await
    });
    // Wait until the sleep is with the backend (its request counter moved by two: the sleep and this poll).
    let mut polls = 0;
    loop {
        polls += 1;
        let n = stats(other.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await);
        if n > before + polls {
            break;
        }
        assert!(polls < 200, "the call never reached the backend");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = gw.child.id().expect("pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    // New requests are refused while the gateway drains ...
    let mut refused = false;
    for _ in 0..100 {
        let p = other.request("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "late"}})).await;
        if p.response()["error"]["code"] == -32014 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "a request during the drain is refused with -32014");
    // ... and the call in flight finishes with its real result.
    let done = call.await.expect("join");
    assert_eq!(first_text(&done.response()["result"]), "slept", "{done:?}");
    let mut child = gw.child;
    let status = tokio::time::timeout(WAIT, child.wait()).await.expect("exits").expect("wait");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_admin_api_on_tcp_needs_its_token() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let token = "a-long-enough-admin-token";
    let setup = Setup::new(
        &format!("admin_listen = \"127.0.0.1:{port}\"\nadmin_token = \"{token}\""),
        &[mock_server("alpha", &[])],
    );
    let gw = HttpGateway::start(&setup).await;
    let url = format!("http://127.0.0.1:{port}/admin/v1/status");
    let http = reqwest::Client::new();
    for auth in [None, Some("Bearer wrong-token-of-some-length"), Some(token)] {
        let mut req = http.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
    }
    let resp = http.get(&url).bearer_auth(token).send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let status: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    assert_eq!(status["servers"], 1);
    gw.stop().await;
}

#[test]
fn the_admin_api_never_listens_beyond_loopback_or_without_a_token() {
    for (gateway, expect) in [
        ("admin_listen = \"0.0.0.0:3001\"\nadmin_token = \"0123456789abcdef\"", "not a loopback address"),
        ("admin_listen = \"127.0.0.1:3001\"", "needs gateway.admin_token"),
        ("admin_listen = \"127.0.0.1:3001\"\nadmin_token = \"short\"", "at least 16"),
    ] {
        let setup = Setup::new(gateway, &[mock_server("alpha", &[])]);
        let out = StdCommand::new(vmcp_bin()).args(["config", "validate"]).arg(&setup.config).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{gateway}: {err}");
        assert!(err.contains(expect), "{gateway}: {err}");
    }
}
