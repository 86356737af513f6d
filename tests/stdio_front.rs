//! The gateway through its stdio front end, in front of `vmcp mock` backends:
//! aggregation, routing, pagination, notifications, server→client requests,
//! failures and shutdown.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn two_servers() -> Setup {
    Setup::new(
        "",
        &[
            mock_server("alpha", &["--page-size", "2", "--resources", "5", "--instructions", "Alpha knows things."]),
            mock_server("beta", &["--tools", "1", "--resources", "1", "--no-builtins"]),
        ],
    )
}

async fn started(setup: &Setup) -> StdioGateway {
    let mut gw = StdioGateway::start(setup).await;
    gw.initialize("2025-11-25", json!({"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}})).await;
    gw
}

#[tokio::test]
async fn negotiates_each_revision_and_describes_the_gateway() {
    let setup = two_servers();
    for (asked, expected) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2031-01-01", "2025-11-25"),
    ] {
        let mut gw = StdioGateway::start(&setup).await;
        let r = gw.initialize(asked, json!({})).await;
        assert_eq!(r["protocolVersion"], expected, "asked {asked}");
        assert_eq!(r["serverInfo"]["name"], "vmcp");
        assert_eq!(r["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(r["capabilities"]["resources"]["subscribe"], true);
        assert_eq!(r["capabilities"].get("completions").is_some(), asked != "2024-11-05", "{asked}");
        // Instructions are merged under a heading per server.
        assert_eq!(r["instructions"], "## alpha\n\nAlpha knows things.");
        assert!(gw.close().await.success());
    }
}

#[tokio::test]
async fn lists_merge_every_page_of_every_server_under_prefixed_names() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let tools = gw.call("tools/list", json!({})).await;
    let names = tool_names(&tools);
    // alpha pages its list two at a time: every page must have been followed.
    for expected in ["alpha__echo", "alpha__big", "alpha__log", "alpha__tool_0", "alpha__tool_2", "beta__tool_0"] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    assert_eq!(names.iter().filter(|n| n.starts_with("beta__")).count(), 1, "{names:?}");
    assert!(tools.get("nextCursor").is_none());
    // Fields other than the name pass through untouched, unknown ones included.
    let echo = tools["tools"].as_array().unwrap().iter().find(|t| t["name"] == "alpha__echo").unwrap();
    assert_eq!(echo["annotations"]["readOnlyHint"], true);
    assert_eq!(echo["_meta"]["vmcp.mock/kept"], true);

    let prompts = gw.call("prompts/list", json!({})).await;
    let pnames: Vec<_> =
        prompts["prompts"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(pnames, ["alpha__prompt_0", "alpha__prompt_1", "beta__prompt_0", "beta__prompt_1"]);

    let bad = gw.request("tools/list", json!({"cursor": "bogus"})).await;
    assert_eq!(bad["error"]["code"], -32602);
}

#[tokio::test]
async fn resources_are_paginated_with_a_composite_cursor() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let mut uris = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let page = gw.call("resources/list", params).await;
        pages += 1;
        for r in page["resources"].as_array().unwrap() {
            uris.push(r["uri"].as_str().unwrap().to_owned());
        }
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "cursor never ends");
    }
    // alpha has 5 resources in pages of 2, beta 1: three pages, nothing dropped or repeated.
    assert_eq!(pages, 3);
    let mut sorted = uris.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 6, "{uris:?}");
    assert!(uris.contains(&"alpha+mock://resource/4".to_owned()));
    assert!(uris.contains(&"beta+mock://resource/0".to_owned()));

    let templates = gw.call("resources/templates/list", json!({})).await;
    let t: Vec<_> =
        templates["resourceTemplates"].as_array().unwrap().iter().map(|t| t["uriTemplate"].as_str().unwrap()).collect();
    assert_eq!(t, ["alpha+mock://template/0/{id}", "beta+mock://template/0/{id}"]);

    let bad = gw.request("resources/list", json!({"cursor": "not-ours"})).await;
    assert_eq!(bad["error"]["code"], -32602);
    assert!(bad["error"]["message"].as_str().unwrap().contains("invalid cursor"));
}

#[tokio::test]
async fn requests_reach_their_owner_under_the_original_name() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let r = gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "hello"}})).await;
    assert_eq!(first_text(&r), "hello");
    assert_eq!(r["_meta"]["vmcp.mock/echo"], true, "result _meta survives");
    let r = gw.call("tools/call", json!({"name": "beta__tool_0", "arguments": {"k": [1, 2.50]}})).await;
    assert_eq!(first_text(&r), r#"{"k":[1,2.5]}"#);

    let read = gw.call("resources/read", json!({"uri": "alpha+mock://resource/3"})).await;
    assert_eq!(read["contents"][0]["text"], "resource 3");
    let read = gw.call("resources/read", json!({"uri": "beta+mock://template/0/xyz"})).await;
    assert_eq!(read["contents"][0]["text"], "template 0 item xyz");

    let p = gw.call("prompts/get", json!({"name": "beta__prompt_1", "arguments": {"topic": "rust"}})).await;
    assert_eq!(p["messages"][0]["content"]["text"], "Tell me about rust (prompt_1)");

    let c = gw
        .call("completion/complete", json!({"ref": {"type": "ref/prompt", "name": "alpha__prompt_0"}, "argument": {"name": "topic", "value": "b"}}))
        .await;
    assert_eq!(c["completion"]["values"], json!(["beta"]));
    let c = gw
        .call("completion/complete", json!({"ref": {"type": "ref/resource", "uri": "alpha+mock://template/0/{id}"}, "argument": {"name": "id", "value": "g"}}))
        .await;
    assert_eq!(c["completion"]["values"], json!(["gamma"]));

    assert_eq!(gw.call("ping", json!({})).await, json!({}));
    assert_eq!(gw.call("logging/setLevel", json!({"level": "debug"})).await, json!({}));
    let stats = gw.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await;
    let stats: Value = serde_json::from_str(&first_text(&stats)).unwrap();
    assert_eq!(stats["log_level"], "debug", "logging/setLevel fanned out");
}

#[tokio::test]
async fn bad_input_gets_precise_errors_and_the_session_goes_on() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    gw.send_raw("{not json").await;
    let e = gw.wait_for("parse error", |m| m["error"]["code"] == -32700).await;
    assert_eq!(e["id"], Value::Null);

    gw.send_raw(r#"{"jsonrpc":"1.0","id":"v","method":"ping"}"#).await;
    let e = gw.response_str("v").await;
    assert_eq!(e["error"]["code"], -32600);

    let e = gw.request("no/such/method", json!({})).await;
    assert_eq!(e["error"]["code"], -32601);
    assert!(e["error"]["message"].as_str().unwrap().contains("no/such/method"));

    let e = gw.request("tools/call", json!({"name": "alpha__nope", "arguments": {}})).await;
    assert_eq!(e["error"]["code"], -32602);
    assert!(e["error"]["message"].as_str().unwrap().contains("alpha__nope"));

    let e = gw.request("tools/call", json!({"arguments": {}})).await;
    assert_eq!(e["error"]["code"], -32602);

    let e = gw.request("resources/read", json!({"uri": "nosuch+file:///x"})).await;
    assert!(e["error"]["message"].as_str().unwrap().contains("nosuch"), "{e}");

    // A backend's own error passes through untouched.
    let e = gw.request("tools/call", json!({"name": "alpha__fail", "arguments": {"message": "boom"}})).await;
    assert_eq!(e["error"]["code"], -32603);
    assert_eq!(e["error"]["message"], "boom");
    // A tool's isError result is a result, not an error.
    let r = gw.call("tools/call", json!({"name": "alpha__tool_error", "arguments": {}})).await;
    assert_eq!(r["isError"], true);

    // Batches are answered as batches.
    gw.send_raw(r#"[{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","id":"b2","method":"nope"}]"#).await;
    let batch = gw.wait_for("batch", |m| m.is_array()).await;
    assert_eq!(batch.as_array().unwrap().len(), 2);

    // Still serving.
    let r = gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "still here"}})).await;
    assert_eq!(first_text(&r), "still here");
}

#[tokio::test]
async fn oversized_messages_are_refused_without_buffering_them() {
    let setup = Setup::new("max_message_size = \"16KiB\"", &[mock_server("alpha", &[])]);
    let mut gw = started(&setup).await;
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{{"name":"alpha__echo","arguments":{{"text":"{}"}}}}}}"#,
        "x".repeat(20_000)
    );
    gw.send_raw(&huge).await;
    let e = gw.wait_for("size error", |m| m["error"]["code"] == -32600).await;
    assert!(e["error"]["message"].as_str().unwrap().contains("max_message_size"), "{e}");
    // A backend answer over the limit fails that request, with the server named.
    let e = gw.request("tools/call", json!({"name": "alpha__big", "arguments": {"bytes": 20_000}})).await;
    assert_eq!(e["error"]["data"]["server"], "alpha", "{e}");
    let r = gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "ok"}})).await;
    assert_eq!(first_text(&r), "ok");
}

#[tokio::test]
async fn progress_reaches_the_caller_with_its_own_token() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let id = gw
        .send_request("tools/call", json!({"name": "alpha__progress", "arguments": {"steps": 3, "delay_ms": 5}, "_meta": {"progressToken": 42}}))
        .await;
    let resp = gw.response(id).await;
    assert_eq!(first_text(&resp["result"]), "done after 3 steps");
    let progress: Vec<Value> =
        gw.backlog().iter().filter(|m| m["method"] == "notifications/progress").cloned().collect();
    assert_eq!(progress.len(), 3, "{progress:?}");
    for (i, p) in progress.iter().enumerate() {
        assert_eq!(p["params"]["progressToken"], 42);
        assert_eq!(p["params"]["progress"], i + 1);
    }
}

#[tokio::test]
async fn sampling_elicitation_and_roots_round_trip_to_the_client() {
    let setup = two_servers();
    let mut gw = started(&setup).await;

    let id = gw.send_request("tools/call", json!({"name": "alpha__sample", "arguments": {"prompt": "2+2?"}})).await;
    let req = gw.wait_for("sampling request", |m| m["method"] == "sampling/createMessage").await;
    assert_eq!(req["params"]["messages"][0]["content"]["text"], "2+2?");
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "four"}, "model": "m1"}})).await;
    let resp = gw.response(id).await;
    let inner: Value = serde_json::from_str(&first_text(&resp["result"])).unwrap();
    assert_eq!(inner["content"]["text"], "four");
    assert_eq!(inner["model"], "m1");

    let id = gw.send_request("tools/call", json!({"name": "alpha__elicit", "arguments": {"message": "name?"}})).await;
    let req = gw.wait_for("elicitation request", |m| m["method"] == "elicitation/create").await;
    assert_eq!(req["params"]["message"], "name?");
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"action": "accept", "content": {"name": "Ada"}}}))
        .await;
    let resp = gw.response(id).await;
    assert!(first_text(&resp["result"]).contains("Ada"));

    let id = gw.send_request("tools/call", json!({"name": "alpha__roots", "arguments": {}})).await;
    let req = gw.wait_for("roots request", |m| m["method"] == "roots/list").await;
    gw.send(
        &json!({"jsonrpc": "2.0", "id": req["id"], "result": {"roots": [{"uri": "file:///work", "name": "work"}]}}),
    )
    .await;
    let resp = gw.response(id).await;
    assert!(first_text(&resp["result"]).contains("file:///work"));

    // An error from the client goes back to the server, which reports it.
    let id = gw.send_request("tools/call", json!({"name": "alpha__sample", "arguments": {}})).await;
    let req = gw.wait_for("sampling request", |m| m["method"] == "sampling/createMessage").await;
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -1, "message": "user declined"}})).await;
    let resp = gw.response(id).await;
    assert_eq!(resp["error"]["message"], "user declined", "{resp}");
}

#[tokio::test]
async fn a_client_without_the_capability_is_not_asked() {
    let setup = two_servers();
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    let e = gw.request("tools/call", json!({"name": "alpha__sample", "arguments": {}})).await;
    assert!(e["error"]["message"].as_str().unwrap().contains("sampling"), "{e}");
    assert!(!gw.backlog().iter().any(|m| m["method"] == "sampling/createMessage"));
}

#[tokio::test]
async fn cancellation_reaches_the_backend() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let id = gw.send_request("tools/call", json!({"name": "alpha__sleep", "arguments": {"ms": 30000}})).await;
    // The call is in flight once the backend has seen it; wait for that through
    // its own counter rather than a sleep.
    wait_until(&mut gw, "the sleep to reach alpha", |s| s["requests"].as_u64().unwrap_or(0) >= 2).await;
    gw.notify("notifications/cancelled", json!({"requestId": id, "reason": "user"})).await;
    let resp = gw.response(id).await;
    assert_eq!(resp["error"]["code"], -32800);
    let stats =
        wait_until(&mut gw, "alpha to see the cancellation", |s| !s["cancellations"].as_array().unwrap().is_empty())
            .await;
    assert_eq!(stats["cancellations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_cancellation_right_behind_its_request_is_not_lost() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    // Both lines in one write: the cancellation may be read before the request's
    // task has even started.
    gw.send_raw(concat!(
        r#"{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"alpha__sleep","arguments":{"ms":60000}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow"}}"#
    ))
    .await;
    let resp = gw.response_str("slow").await;
    assert_eq!(resp["error"]["code"], -32800, "{resp}");
}

/// Polls alpha's stats (bounded) until `pred` holds.
async fn wait_until(gw: &mut StdioGateway, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let r = gw.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await;
        let stats: Value = serde_json::from_str(&first_text(&r)).unwrap();
        if pred(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn list_changes_and_resource_updates_reach_clients() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    gw.call("tools/call", json!({"name": "alpha__change_list", "arguments": {}})).await;
    gw.wait_for("tools list_changed", |m| m["method"] == "notifications/tools/list_changed").await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__added_0".to_owned()), "{names:?}");
    let r = gw.call("tools/call", json!({"name": "alpha__added_0", "arguments": {"x": 1}})).await;
    assert_eq!(first_text(&r), r#"{"x":1}"#);

    gw.call("resources/subscribe", json!({"uri": "alpha+mock://resource/1"})).await;
    gw.call("tools/call", json!({"name": "alpha__touch", "arguments": {"uri": "mock://resource/1"}})).await;
    let u = gw.wait_for("resources/updated", |m| m["method"] == "notifications/resources/updated").await;
    assert_eq!(u["params"]["uri"], "alpha+mock://resource/1");
    gw.call("resources/unsubscribe", json!({"uri": "alpha+mock://resource/1"})).await;
    let r = gw.call("tools/call", json!({"name": "alpha__touch", "arguments": {"uri": "mock://resource/1"}})).await;
    assert!(first_text(&r).contains("subscribed: false"), "unsubscribe reached the backend");

    let r = gw
        .call("tools/call", json!({"name": "alpha__log", "arguments": {"level": "warning", "message": "careful"}}))
        .await;
    assert_eq!(first_text(&r), "logged");
    let log = gw.wait_for("log message", |m| m["method"] == "notifications/message").await;
    assert_eq!(log["params"]["data"], "careful");
}

#[tokio::test]
async fn a_crashed_backend_disappears_comes_back_and_never_takes_others_down() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let stats = gw.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await;
    let first_pid = serde_json::from_str::<Value>(&first_text(&stats)).unwrap()["pid"].as_u64().unwrap() as u32;

    let e = gw.request("tools/call", json!({"name": "alpha__crash", "arguments": {}})).await;
    assert_eq!(e["error"]["data"]["server"], "alpha", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("alpha"));
    gw.wait_for("list_changed after the crash", |m| m["method"] == "notifications/tools/list_changed").await;
    // beta serves throughout.
    let r = gw.call("tools/call", json!({"name": "beta__tool_0", "arguments": {}})).await;
    assert_eq!(first_text(&r), "{}");
    // alpha comes back (after its backoff) and its tools with it.
    gw.wait_for("list_changed after the restart", |m| m["method"] == "notifications/tools/list_changed").await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__echo".to_owned()), "{names:?}");
    let stats = gw.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await;
    let new_pid = serde_json::from_str::<Value>(&first_text(&stats)).unwrap()["pid"].as_u64().unwrap() as u32;
    assert_ne!(new_pid, first_pid);
    assert!(!alive(first_pid));
}

#[tokio::test]
async fn a_backend_that_cannot_start_leaves_the_others_serving() {
    let setup = Setup::new(
        "",
        &[
            mock_server("alpha", &[]),
            "[servers.ghost]\ncommand = \"/nonexistent/mcp-server\"\n".to_owned(),
            mock_server("early", &["--fail-start"]),
        ],
    );
    let mut gw = started(&setup).await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__echo".to_owned()));
    assert!(!names.iter().any(|n| n.starts_with("ghost__") || n.starts_with("early__")), "{names:?}");
    let e = gw.request("tools/call", json!({"name": "ghost__anything", "arguments": {}})).await;
    assert_eq!(e["error"]["code"], -32010, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("ghost") && msg.contains("/nonexistent/mcp-server"), "{msg}");
    let e = gw.request("tools/call", json!({"name": "early__echo", "arguments": {}})).await;
    assert!(e["error"]["message"].as_str().unwrap().contains("early"), "{e}");
}

#[tokio::test]
async fn closing_stdin_stops_every_backend_process() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let stats = gw.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await;
    let pid = serde_json::from_str::<Value>(&first_text(&stats)).unwrap()["pid"].as_u64().unwrap() as u32;
    assert!(alive(pid));
    let status = gw.close().await;
    assert!(status.success(), "{status:?}");
    assert!(!alive(pid), "backend {pid} outlived the gateway");
}

#[tokio::test]
async fn prefix_conditional_with_one_server_looks_like_that_server() {
    let setup = Setup::new("prefix = \"conditional\"", &[mock_server("solo", &["--instructions", "Solo here."])]);
    let mut gw = StdioGateway::start(&setup).await;
    let r = gw.initialize("2025-06-18", json!({})).await;
    assert_eq!(r["serverInfo"]["name"], "solo");
    assert_eq!(r["instructions"], "Solo here.");
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"echo".to_owned()), "{names:?}");
    let r = gw.call("tools/call", json!({"name": "echo", "arguments": {"text": "plain"}})).await;
    assert_eq!(first_text(&r), "plain");
    let res = gw.call("resources/list", json!({})).await;
    assert_eq!(res["resources"][0]["uri"], "mock://resource/0");
    let read = gw.call("resources/read", json!({"uri": "mock://resource/0"})).await;
    assert_eq!(read["contents"][0]["text"], "resource 0");
}

#[tokio::test]
async fn long_names_are_shortened_within_the_budget() {
    let id = "a-very-long-server-id";
    let setup = Setup::new("max_name_length = 16", &[mock_server(id, &["--no-builtins", "--tools", "12"])]);
    let mut gw = started(&setup).await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(names.iter().all(|n| n.len() <= 16 && n.starts_with("a-very-_")), "{names:?}");
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), 12, "{names:?}");
    // Deterministic: the same names on every list.
    assert_eq!(tool_names(&gw.call("tools/list", json!({})).await), names);
    for n in &names {
        let r = gw.call("tools/call", json!({"name": n, "arguments": {"via": n}})).await;
        assert!(first_text(&r).contains(n.as_str()));
    }
}

#[tokio::test]
async fn shutdown_stops_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    // A server that leaves a grandchild behind, as `npx` or `uvx` wrappers do.
    let script = format!("sleep 300 & echo $! > {}; exec {} mock --name wrapped", pidfile.display(), vmcp_bin());
    let server = format!("[servers.wrapped]\ncommand = \"sh\"\nargs = [\"-c\", {script:?}]\n");
    let setup = Setup::new("", &[server]);
    let mut gw = started(&setup).await;
    let r = gw.call("tools/call", json!({"name": "wrapped__echo", "arguments": {"text": "x"}})).await;
    assert_eq!(first_text(&r), "x");
    let grandchild: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(alive(grandchild));
    assert!(gw.close().await.success());
    // The group was killed and the gateway reaped its child; the grandchild is
    // re-parented and reaped by init, which can take a moment: poll, bounded.
    for _ in 0..100 {
        if !alive(grandchild) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("grandchild {grandchild} outlived the gateway");
}

#[tokio::test]
async fn sigterm_stops_a_stdio_gateway_whose_stdin_is_still_open() {
    let setup = two_servers();
    let mut gw = started(&setup).await;
    let stats = gw.call("tools/call", json!({"name": "alpha__stats", "arguments": {}})).await;
    let pid = serde_json::from_str::<Value>(&first_text(&stats)).unwrap()["pid"].as_u64().unwrap() as u32;
    let me = gw.child.id().expect("running");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(me as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    // Well within shutdown_grace (10 s): a blocked read of stdin must not hold the exit.
    let status = tokio::time::timeout(Duration::from_secs(5), gw.child.wait()).await.expect("exits promptly").unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!alive(pid), "backend {pid} outlived the gateway");
}

#[tokio::test]
async fn the_vmcp_methods_describe_the_gateway() {
    let setup = two_servers();
    let mut gw = StdioGateway::start(&setup).await;
    let init = gw.initialize("2025-11-25", json!({})).await;
    let methods = &init["capabilities"]["experimental"]["vmcp"]["methods"];
    assert!(methods.as_array().is_some_and(|m| m.iter().any(|x| x == "vmcp/routes")), "{init}");
    let list = gw.call("vmcp/servers/list", json!({})).await;
    let ids: Vec<&str> = list["servers"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["alpha", "beta"]);
    let one = gw.call("vmcp/servers/get", json!({"id": "beta"})).await;
    assert_eq!(one["server"]["tool_names"], json!(["beta__tool_0"]));
    let e = gw.request("vmcp/servers/get", json!({"id": "nope"})).await;
    assert_eq!(e["error"]["code"], -32602);
    let health = gw.call("vmcp/health", json!({})).await;
    assert_eq!(health["status"], "healthy");
    let routes = gw.call("vmcp/routes", json!({})).await;
    let echo = routes["tools"].as_array().unwrap().iter().find(|t| t["name"] == "alpha__echo").unwrap();
    assert_eq!((echo["server"].as_str(), echo["original"].as_str()), (Some("alpha"), Some("echo")));
    let metrics = gw.call("vmcp/metrics", json!({})).await;
    assert!(metrics["text"].as_str().unwrap_or("").contains("vmcp_requests_total"), "{metrics}");
}

#[tokio::test]
async fn a_server_that_stops_answering_is_restarted_by_the_health_checks() {
    let setup = Setup::new(
        "health_interval = \"100ms\"\nhealth_timeout = \"100ms\"\nhealth_failures = 2",
        &[mock_server("hangs", &["--hang-after", "12"]), mock_server("fine", &[])],
    );
    let mut gw = started(&setup).await;
    let line = tokio::time::timeout(WAIT, async {
        while let Some(line) = gw.stderr.recv().await {
            if line.contains("server=hangs") && line.contains("health check failed 2 times") {
                return line;
            }
        }
        panic!("vmcp exited");
    })
    .await
    .expect("the hung server is noticed");
    assert!(line.contains("server down"), "{line}");
    // It comes back (a new process), and the healthy one was never touched.
    let mut restarted = false;
    for _ in 0..100 {
        let s = gw.call("vmcp/servers/get", json!({"id": "hangs"})).await;
        if s["server"]["restarts"].as_u64().unwrap_or(0) >= 1 {
            restarted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(restarted, "the hung server was restarted");
    let fine = gw.call("vmcp/servers/get", json!({"id": "fine"})).await;
    assert_eq!(fine["server"]["restarts"], 0);
    assert_eq!(fine["server"]["state"], "ready");
}

#[tokio::test]
async fn requests_that_keep_failing_restart_their_server() {
    // Passive health, set per server: two timed-out requests in a row.
    let slow = format!(
        "{}request_timeout = \"100ms\"\nhealth_interval = \"0s\"\nhealth_failures = 2\n",
        mock_server("slow", &[])
    );
    let setup = Setup::new("", &[slow, mock_server("fine", &[])]);
    let mut gw = started(&setup).await;
    for _ in 0..2 {
        let e = gw.request("tools/call", json!({"name": "slow__sleep", "arguments": {"ms": 2000}})).await;
        assert_eq!(e["error"]["code"], -32011, "{e}");
    }
    let mut restarted = false;
    for _ in 0..200 {
        let s = gw.call("vmcp/servers/get", json!({"id": "slow"})).await;
        if s["server"]["restarts"].as_u64().unwrap_or(0) >= 1 {
            restarted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(restarted, "the failing server was restarted");
    let fine = gw.call("vmcp/servers/get", json!({"id": "fine"})).await;
    assert_eq!(fine["server"]["restarts"], 0);
}
