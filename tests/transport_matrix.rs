//! Every front end × every backend transport: a client on stdio, streamable
//! HTTP (`/mcp`), legacy SSE (`/sse`) or WebSocket (`/ws`) reaches a server over
//! stdio, streamable HTTP, legacy SSE or WebSocket; for each of the 16 pairs a
//! call goes through and its progress comes back, with the client's own token,
//! before the response.

mod common;

use common::*;
use serde_json::{Value, json};

const BACKENDS: [&str; 4] = ["viastdio", "viahttp", "viasse", "viaws"];

/// One `vmcp mock --listen` (it serves /mcp, /sse and /ws) and a config whose
/// four servers reach it, or a stdio mock, over each transport.
async fn setup() -> (HttpGateway, Setup) {
    let mock = mock_listen("remote", "127.0.0.1:0", &[]).await;
    let ws = mock.base.replacen("http://", "ws://", 1);
    let servers = vec![
        mock_server("viastdio", &[]),
        format!("[servers.viahttp]\ntransport = \"http\"\nurl = \"{}/mcp\"\n", mock.base),
        format!("[servers.viasse]\ntransport = \"sse\"\nurl = \"{}/sse\"\n", mock.base),
        format!("[servers.viaws]\ntransport = \"websocket\"\nurl = \"{ws}/ws\"\n"),
    ];
    (mock, Setup::new("", &servers))
}

fn echo(backend: &str, front: &str) -> Value {
    json!({"name": format!("{backend}__echo"), "arguments": {"text": format!("{front}->{backend}")}})
}

fn progress(backend: &str, token: &str) -> Value {
    json!({"name": format!("{backend}__progress"), "arguments": {"steps": 2}, "_meta": {"progressToken": token}})
}

/// Checks that `messages` (in arrival order) hold two progress reports for
/// `token` before the response with `id`.
fn progress_before_response(messages: &[Value], token: &str, id: &Value, pair: &str) {
    let at = messages.iter().position(|m| m.get("id") == Some(id) && m.get("method").is_none());
    let at = at.unwrap_or_else(|| panic!("{pair}: no response in {messages:?}"));
    assert!(messages[at].get("result").is_some(), "{pair}: {}", messages[at]);
    let before = messages[..at]
        .iter()
        .filter(|m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == token)
        .count();
    assert_eq!(before, 2, "{pair}: {messages:?}");
}

/// A front that carries messages both ways on one channel (/sse, /ws).
async fn exercise(conn: &mut impl McpConn, front: &str) {
    conn.initialize("2025-11-25", json!({})).await;
    for backend in BACKENDS {
        let pair = format!("{front} -> {backend}");
        let r = conn.call("tools/call", echo(backend, front)).await;
        assert_eq!(first_text(&r), format!("{front}->{backend}"), "{pair}");
        let token = format!("{front}-{backend}");
        let id = conn.send_request("tools/call", progress(backend, &token)).await;
        // Collect everything up to the response, in order.
        let mut seen: Vec<Value> = conn.backlog().drain(..).collect();
        loop {
            let done = seen.iter().any(|m| m.get("id") == Some(&json!(id)) && m.get("method").is_none());
            if done {
                break;
            }
            seen.push(conn.receive().await.unwrap_or_else(|| panic!("{pair}: connection ended")));
        }
        progress_before_response(&seen, &token, &json!(id), &pair);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_front_reaches_every_backend_transport() {
    let (_mock, setup) = setup().await;
    let gw = HttpGateway::start(&setup).await;

    // Streamable HTTP: progress arrives on the call's own SSE answer.
    let mut http = HttpClient::new(gw.url("/mcp"));
    http.initialize(json!({})).await;
    for backend in BACKENDS {
        let pair = format!("mcp -> {backend}");
        let r = http.call("tools/call", echo(backend, "mcp")).await;
        assert_eq!(first_text(&r), format!("mcp->{backend}"), "{pair}");
        let token = format!("mcp-{backend}");
        let p = http.request("tools/call", progress(backend, &token)).await;
        assert!(p.sse, "{pair}: {p:?}");
        let id = p.response()["id"].clone();
        progress_before_response(&p.messages, &token, &id, &pair);
    }

    let mut sse = SseClient::connect(&gw.base).await;
    exercise(&mut sse, "sse").await;
    let mut ws = WsClient::connect(&gw.base).await;
    exercise(&mut ws, "ws").await;
    ws.close().await;
    gw.stop().await;

    // stdio, against the same four servers.
    let mut stdio = StdioGateway::start(&setup).await;
    stdio.initialize("2025-11-25", json!({})).await;
    for backend in BACKENDS {
        let pair = format!("stdio -> {backend}");
        let r = stdio.call("tools/call", echo(backend, "stdio")).await;
        assert_eq!(first_text(&r), format!("stdio->{backend}"), "{pair}");
        let token = format!("stdio-{backend}");
        stdio.clear_backlog();
        let id = stdio.send_request("tools/call", progress(backend, &token)).await;
        let resp = stdio.response(id).await;
        let mut seen: Vec<Value> = stdio.backlog().iter().cloned().collect();
        seen.push(resp);
        progress_before_response(&seen, &token, &json!(id), &pair);
    }
    assert!(stdio.close().await.success());
}
