//! The official server-everything as a *remote* backend: in its streamableHttp
//! mode (`transport = "http"`) and its legacy sse mode (`transport = "sse"`),
//! driven through vmcp by a raw JSON-RPC client and by the Python SDK.

mod common;

use std::process::Stdio;

use common::interop::Peers;
use common::*;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// server-everything in `mode`, on a free loopback port (the preload pins it to
/// 127.0.0.1 and reports the port).
async fn everything_at(peers: &Peers, mode: &str) -> (Child, u16) {
    let preload = match std::env::var("VMCP_TEST_LOOPBACK_PRELOAD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(!common::interop::in_ci(), "VMCP_TEST_LOOPBACK_PRELOAD unset under CI");
            format!("{}/tests/interop/loopback.cjs", env!("CARGO_MANIFEST_DIR"))
        }
    };
    let mut child = Command::new(&peers.node)
        .arg("--require")
        .arg(&preload)
        .arg(&peers.everything)
        .arg(mode)
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server-everything");
    let stderr = child.stderr.take().expect("stderr");
    let port = tokio::time::timeout(WAIT, async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(p) = line.split("VMCP_TEST_LISTENING port=").nth(1) {
                let port: u16 = p.split_whitespace().next().and_then(|p| p.parse().ok()).expect("port number");
                // Keep draining so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return port;
            }
        }
        panic!("server-everything ({mode}) exited before listening");
    })
    .await
    .expect("server-everything listens in time");
    (child, port)
}

fn remote(id: &str, transport: &str, url: &str) -> String {
    format!("[servers.{id}]\ntransport = \"{transport}\"\nurl = \"{url}\"\n")
}

#[tokio::test]
async fn everything_over_streamable_http_and_sse_through_vmcp() {
    let Some(peers) = Peers::everything("everything_over_streamable_http_and_sse_through_vmcp") else { return };
    let (_http, hport) = everything_at(&peers, "streamableHttp").await;
    let (_sse, sport) = everything_at(&peers, "sse").await;
    let setup = Setup::new(
        "",
        &[
            remote("evhttp", "http", &format!("http://127.0.0.1:{hport}/mcp")),
            remote("evsse", "sse", &format!("http://127.0.0.1:{sport}/sse")),
        ],
    );
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({"sampling": {}, "elicitation": {}, "roots": {}})).await;

    // Tools that server-everything adds after initialized arrive with list_changed.
    let mut names = Vec::new();
    for _ in 0..100 {
        names = tool_names(&gw.call("tools/list", json!({})).await);
        if names.iter().any(|n| n == "evhttp__trigger-sampling-request") && names.iter().any(|n| n == "evsse__echo") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(names.contains(&"evhttp__trigger-sampling-request".to_owned()), "{names:?}");
    for server in ["evhttp", "evsse"] {
        let r =
            gw.call("tools/call", json!({"name": format!("{server}__echo"), "arguments": {"message": server}})).await;
        assert_eq!(first_text(&r), format!("Echo: {server}"));
        let r =
            gw.call("tools/call", json!({"name": format!("{server}__get-sum"), "arguments": {"a": 2, "b": 3}})).await;
        assert!(first_text(&r).contains('5'), "{r}");
    }

    // Progress over the HTTP backend's SSE answer, with the client's own token.
    let id = gw
        .send_request(
            "tools/call",
            json!({"name": "evhttp__trigger-long-running-operation", "arguments": {"duration": 1, "steps": 2}, "_meta": {"progressToken": "mine"}}),
        )
        .await;
    let resp = gw.response(id).await;
    assert!(resp.get("result").is_some(), "{resp}");
    let progress: Vec<Value> =
        gw.backlog().iter().filter(|m| m["method"] == "notifications/progress").cloned().collect();
    assert_eq!(progress.len(), 2, "{progress:?}");
    assert!(progress.iter().all(|p| p["params"]["progressToken"] == "mine"));
    gw.clear_backlog();

    // Sampling from the HTTP backend reaches the client and the answer goes back.
    let id = gw
        .send_request("tools/call", json!({"name": "evhttp__trigger-sampling-request", "arguments": {"prompt": "hi"}}))
        .await;
    let req = gw.wait_for("sampling", |m| m["method"] == "sampling/createMessage").await;
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "from-the-client"}, "model": "t"}})).await;
    let resp = gw.response(id).await;
    assert!(first_text(&resp["result"]).contains("from-the-client"), "{resp}");

    // Resources over the legacy SSE backend.
    let read = gw.call("resources/read", json!({"uri": "evsse+demo://resource/static/document/architecture.md"})).await;
    assert!(read["contents"][0]["text"].as_str().is_some_and(|t| !t.is_empty()), "{read}");
    let p = gw.call("prompts/get", json!({"name": "evsse__args-prompt", "arguments": {"city": "Paris"}})).await;
    assert!(p["messages"][0]["content"]["text"].as_str().unwrap_or("").contains("Paris"), "{p}");
}

#[tokio::test]
async fn python_sdk_through_vmcp_to_an_http_backend() {
    let Some(peers) = Peers::all("python_sdk_through_vmcp_to_an_http_backend") else { return };
    let (_http, hport) = everything_at(&peers, "streamableHttp").await;
    let setup = Setup::new("", &[remote("evhttp", "http", &format!("http://127.0.0.1:{hport}/mcp"))]);
    let gw = HttpGateway::start(&setup).await;
    let run = peers
        .py_client(&[
            "--call".into(),
            "evhttp__echo".into(),
            "--args".into(),
            r#"{"message":"py"}"#.into(),
            "--progress-tool".into(),
            "evhttp__trigger-long-running-operation".into(),
            "--progress-args".into(),
            r#"{"duration":1,"steps":2}"#.into(),
            "--http".into(),
            gw.url("/mcp"),
        ])
        .await;
    let out = run.assert_ok();
    assert_eq!(out["call"]["text"], "Echo: py", "{out}");
    assert!(out["progress"].as_array().is_some_and(|p| p.len() == 2), "{out}");
    eprintln!("Python SDK ↔ vmcp negotiated {}", out["protocol_version"]);
}
