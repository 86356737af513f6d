//! Server groups, isolation, routing rules, tool filters, limits and timeouts,
//! driven through the real binary.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

async fn started(setup: &Setup) -> StdioGateway {
    let mut gw = StdioGateway::start(setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    gw
}

fn stats(result: &Value) -> Value {
    serde_json::from_str(&first_text(result)).expect("stats JSON")
}

async fn http_session(gw: &HttpGateway) -> HttpClient {
    let mut c = HttpClient::new(gw.url("/mcp"));
    c.initialize(json!({})).await;
    c
}

#[tokio::test]
async fn a_group_is_one_server_and_each_session_keeps_to_its_replica() {
    let pool = format!("{}replicas = 3\nbalance = \"round_robin\"\n", mock_server("pool", &[]));
    let setup = Setup::new("", &[pool]);
    let gw = HttpGateway::start(&setup).await;
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(http_session(&gw).await);
    }
    // One set of tools, whatever the number of replicas.
    let tools = sessions[0].call("tools/list", json!({})).await;
    let names = tool_names(&tools);
    assert_eq!(names.iter().filter(|n| *n == "pool__echo").count(), 1, "{names:?}");
    let mut first_replica = Vec::new();
    for s in sessions.iter_mut() {
        let mut seen = BTreeSet::new();
        for _ in 0..4 {
            let replica = stats(&s.call("tools/call", json!({"name": "pool__stats"})).await)["replica"].clone();
            seen.insert(replica.as_str().unwrap_or("?").to_owned());
        }
        assert_eq!(seen.len(), 1, "a session stays on one replica: {seen:?}");
        first_replica.push(seen.into_iter().next().expect("one"));
    }
    // Sessions are spread round robin: two on each of the three replicas.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &first_replica {
        *counts.entry(r.clone()).or_default() += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![2, 2, 2], "{counts:?}");
    // Three processes, each with its replica number.
    let view = sessions[0].call("vmcp/servers/get", json!({"id": "pool"})).await;
    let replicas = view["server"]["replicas"].as_array().expect("replicas").clone();
    assert_eq!(replicas.len(), 3);
    let pids: BTreeSet<u64> = replicas.iter().map(|r| r["pid"].as_u64().expect("pid")).collect();
    assert_eq!(pids.len(), 3, "{replicas:?}");
    assert!(replicas.iter().all(|r| r["state"] == "ready" && r["breaker"] == "closed"), "{replicas:?}");
    gw.stop().await;
    for pid in pids {
        assert!(!alive(pid as u32), "replica {pid} stopped with the gateway");
    }
}

#[tokio::test]
async fn weighted_round_robin_over_urls_follows_the_weights() {
    let a = mock_listen("a", "127.0.0.1:0", &[]).await;
    let b = mock_listen("b", "127.0.0.1:0", &[]).await;
    let pool = format!(
        "[servers.web]\ntransport = \"http\"\nurls = [{{ url = \"{}\", weight = 3 }}, \"{}\"]\n\
         balance = \"weighted_round_robin\"\naffinity = \"none\"\n",
        a.url("/mcp"),
        b.url("/mcp")
    );
    let setup = Setup::new("", &[pool]);
    let mut gw = started(&setup).await;
    for _ in 0..40 {
        gw.call("tools/call", json!({"name": "web__echo", "arguments": {"text": "x"}})).await;
    }
    // Each mock counts what it served (tools/list etc. at start come on top, the
    // same for both: one initialize and the list fetches).
    let view = gw.call("vmcp/servers/get", json!({"id": "web"})).await;
    let replicas = view["server"]["replicas"].as_array().expect("replicas").clone();
    assert_eq!(replicas.len(), 2, "{view}");
    assert_eq!(replicas[0]["weight"], 3);
    let mut served = Vec::new();
    for url in [a.url("/mcp"), b.url("/mcp")] {
        let mut direct = HttpClient::new(url);
        direct.initialize(json!({})).await;
        served
            .push(stats(&direct.call("tools/call", json!({"name": "stats"})).await)["requests"].as_u64().unwrap_or(0));
    }
    let (sa, sb) = (served[0] as i64, served[1] as i64);
    assert_eq!(sa - sb, 20, "30 echo calls on a, 10 on b: {served:?}");
}

#[tokio::test]
async fn per_session_isolation_gives_each_client_its_own_process() {
    let iso = format!(
        "{}isolation = \"per_session\"\nmax_processes = 2\nprocess_idle_timeout = \"60s\"\n",
        mock_server("iso", &[])
    );
    let setup = Setup::new("", &[iso]);
    let gw = HttpGateway::start(&setup).await;
    let mut a = http_session(&gw).await;
    let mut b = http_session(&gw).await;
    let pid_of = |r: &Value| stats(r)["pid"].as_u64().expect("pid");
    let a1 = pid_of(&a.call("tools/call", json!({"name": "iso__stats"})).await);
    let a2 = pid_of(&a.call("tools/call", json!({"name": "iso__stats"})).await);
    let b1 = pid_of(&b.call("tools/call", json!({"name": "iso__stats"})).await);
    assert_eq!(a1, a2, "one session, one process");
    assert_ne!(a1, b1, "two sessions, two processes");
    let view = a.call("vmcp/servers/get", json!({"id": "iso"})).await;
    let shared = view["server"]["replicas"][0]["pid"].as_u64().expect("the lister's pid");
    assert!(shared != a1 && shared != b1, "client requests never reach the shared process");
    assert_eq!(view["server"]["session_processes"], 2);
    // The cap: a third session is refused at once, with a reason.
    let mut c = http_session(&gw).await;
    let refused = c.request("tools/call", json!({"name": "iso__stats"})).await;
    assert_eq!(refused.response()["error"]["code"], -32016, "{refused:?}");
    assert!(refused.response()["error"]["message"].as_str().unwrap_or("").contains("max_processes"), "{refused:?}");
    // Closing a session stops its process, which frees a place.
    let del = a.http.delete(&a.url).header("mcp-session-id", a.session.clone().expect("session")).send().await;
    assert!(del.expect("DELETE").status().is_success());
    let t = Instant::now();
    while alive(a1 as u32) {
        assert!(t.elapsed() < WAIT, "the closed session's process is stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c1 = pid_of(&c.call("tools/call", json!({"name": "iso__stats"})).await);
    assert!(c1 != a1 && c1 != b1);
    gw.stop().await;
    for pid in [b1, c1, shared] {
        assert!(!alive(pid as u32), "{pid} stopped with the gateway");
    }
}

#[tokio::test]
async fn routing_rules_deny_and_redirect_before_the_catalog() {
    let rules = "[[route]]\ntool = \"*__crash\"\ndeny = true\nreason = \"no crashing in production\"\n\n\
                 [[route]]\nmethod = \"tools/call\"\ntool = \"search_*\"\nto = \"beta\"\n\n\
                 [[route]]\nmethod = \"resources/read\"\nresource = \"alpha+mock://resource/2\"\ndeny = true\n";
    let setup = Setup::new("", &[mock_server("alpha", &[]), mock_server("beta", &[]), rules.to_owned()]);
    let mut gw = started(&setup).await;
    let denied = gw.request("tools/call", json!({"name": "alpha__crash"})).await;
    assert_eq!(denied["error"]["code"], -32018, "{denied}");
    let msg = denied["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("route rule 1") && msg.contains("no crashing"), "{msg}");
    // "search_echo" is in no catalog; the rule sends it to beta as is: beta has
    // no such tool, and says so itself.
    let routed = gw.request("tools/call", json!({"name": "search_echo", "arguments": {}})).await;
    assert!(routed["error"]["message"].as_str().unwrap_or("").contains("search_echo"), "{routed}");
    assert_ne!(routed["error"]["code"], -32018);
    let read = gw.request("resources/read", json!({"uri": "alpha+mock://resource/2"})).await;
    assert_eq!(read["error"]["code"], -32018, "{read}");
    gw.call("resources/read", json!({"uri": "alpha+mock://resource/1"})).await;
    let routes = gw.call("vmcp/routes", json!({})).await;
    assert_eq!(routes["rules"].as_array().map(Vec::len), Some(3), "{routes}");
    assert!(routes["cache"]["misses"].as_u64() >= Some(3), "{routes}");
    // The gateway is still whole: the crash tool was never called.
    gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "still here"}})).await;
}

#[tokio::test]
async fn tool_filters_hide_and_rename() {
    let fs = format!(
        "{}allow_tools = [\"echo\", \"tool_?\"]\ndeny_tools = [\"tool_2\"]\nrename_tools = {{ echo = \"say\" }}\n",
        mock_server("fs", &[])
    );
    let setup = Setup::new("", &[fs]);
    let mut gw = started(&setup).await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert_eq!(names, vec!["fs__say", "fs__tool_0", "fs__tool_1"], "{names:?}");
    let r = gw.call("tools/call", json!({"name": "fs__say", "arguments": {"text": "renamed"}})).await;
    assert_eq!(first_text(&r), "renamed", "the server hears its own name");
    for hidden in ["fs__echo", "fs__tool_2", "fs__crash"] {
        let e = gw.request("tools/call", json!({"name": hidden})).await;
        assert_eq!(e["error"]["code"], -32602, "{hidden}: {e}");
    }
}

#[tokio::test]
async fn limits_answer_at_once_with_a_reason_and_a_retry_delay() {
    let limited = format!("{}max_concurrency = 1\ntool_rate_limits = {{ echo = \"2/m\" }}\n", mock_server("lim", &[]));
    let setup = Setup::new("", &[limited]);
    let mut gw = started(&setup).await;
    // Concurrency: one call in flight, the next refused at once.
    let slow = gw.send_request("tools/call", json!({"name": "lim__sleep", "arguments": {"ms": 1000}})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let over = gw.request("tools/call", json!({"name": "lim__add", "arguments": {"a": 1, "b": 2}})).await;
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(over["error"]["code"], -32016, "{over}");
    assert_eq!(over["error"]["data"]["reason"], "overloaded");
    assert!(gw.response(slow).await.get("result").is_some());
    // A tool's rate: two a minute, then a refusal that says when to retry.
    for _ in 0..2 {
        gw.call("tools/call", json!({"name": "lim__echo", "arguments": {"text": "x"}})).await;
    }
    let limited = gw.request("tools/call", json!({"name": "lim__echo", "arguments": {"text": "x"}})).await;
    assert_eq!(limited["error"]["code"], -32017, "{limited}");
    let retry = limited["error"]["data"]["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!((20_000..=30_000).contains(&retry), "{retry}");
    // Other tools are not limited by it.
    gw.call("tools/call", json!({"name": "lim__add", "arguments": {"a": 1, "b": 2}})).await;
}

#[tokio::test]
async fn a_client_rate_limit_is_per_session() {
    let setup = Setup::new("rate_limit = \"3/m\"", &[mock_server("a", &[])]);
    let mut gw = started(&setup).await;
    // initialize does not count; three requests do.
    for _ in 0..3 {
        gw.call("tools/list", json!({})).await;
    }
    let e = gw.request("tools/list", json!({})).await;
    assert_eq!(e["error"]["code"], -32017, "{e}");
    assert_eq!(e["error"]["data"]["reason"], "rate_limited");
}

#[tokio::test]
async fn timeouts_per_method_and_the_absolute_cap() {
    let t = format!(
        "{}timeouts = {{ \"tools/call\" = \"300ms\" }}\nmax_request_time = \"1s\"\nhealth_interval = \"0s\"\n",
        mock_server("t", &[])
    );
    let setup = Setup::new("", &[t]);
    let mut gw = started(&setup).await;
    let e = gw.request("tools/call", json!({"name": "t__sleep", "arguments": {"ms": 2000}})).await;
    assert_eq!(e["error"]["code"], -32011, "{e}");
    assert!(e["error"]["message"].as_str().unwrap_or("").contains("300 ms"), "{e}");
    // Progress every 100 ms keeps the 300 ms idle timeout from firing, but not
    // the 1 s cap.
    let started_at = Instant::now();
    let e = gw
        .request(
            "tools/call",
            json!({"name": "t__progress", "arguments": {"steps": 40, "delay_ms": 100}, "_meta": {"progressToken": "p"}}),
        )
        .await;
    let took = started_at.elapsed();
    assert_eq!(e["error"]["code"], -32011, "{e}");
    assert!(e["error"]["message"].as_str().unwrap_or("").contains("1000 ms"), "{e}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{took:?}");
    // A call shorter than both succeeds.
    let ok = gw
        .call(
            "tools/call",
            json!({"name": "t__progress", "arguments": {"steps": 3, "delay_ms": 100}, "_meta": {"progressToken": "q"}}),
        )
        .await;
    assert!(first_text(&ok).contains("done"));
}

#[tokio::test]
async fn a_method_goes_only_to_servers_that_announced_its_capability() {
    let setup = Setup::new("", &[mock_server("nc", &["--omit-capability", "completions"])]);
    let mut gw = started(&setup).await;
    let e = gw
        .request(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "nc__prompt_0"}, "argument": {"name": "a", "value": ""}}),
        )
        .await;
    assert_eq!(e["error"]["code"], -32601, "{e}");
    let msg = e["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("'nc'") && msg.contains("completions"), "{msg}");
    assert_eq!(e["error"]["data"]["reason"], "no_capability", "{e}");
}

#[tokio::test]
async fn an_unused_session_process_is_stopped_and_started_again_when_needed() {
    let iso = format!("{}isolation = \"per_session\"\nprocess_idle_timeout = \"300ms\"\n", mock_server("iso", &[]));
    let setup = Setup::new("", &[iso]);
    let mut gw = started(&setup).await;
    let pid_of = |r: &Value| stats(r)["pid"].as_u64().expect("pid") as u32;
    let first = pid_of(&gw.call("tools/call", json!({"name": "iso__stats"})).await);
    let t = Instant::now();
    while alive(first) {
        assert!(t.elapsed() < WAIT, "the idle process is stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(t.elapsed() >= Duration::from_millis(200), "not before it was idle: {:?}", t.elapsed());
    let second = pid_of(&gw.call("tools/call", json!({"name": "iso__stats"})).await);
    assert_ne!(first, second);
}
