//! The legacy HTTP+SSE front end (`/sse` + `/message`) and the WebSocket front end
//! (`/ws`), driven over real connections against the real binary with `vmcp mock`
//! backends. Both carry the same scenario ([`full_session`]) as stdio and `/mcp`.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use common::*;

fn two_servers(gateway_extra: &str) -> Setup {
    Setup::new(gateway_extra, &[mock_server("alpha", &[]), mock_server("beta", &[])])
}

async fn gateway(gateway_extra: &str) -> (Setup, HttpGateway) {
    let setup = two_servers(gateway_extra);
    let gw = HttpGateway::start(&setup).await;
    (setup, gw)
}

/// Handshake, lists, calls, a batch, progress, sampling and list changes: what
/// every front end must carry.
async fn full_session<C: McpConn>(c: &mut C) {
    let init = c.initialize("2025-11-25", json!({"sampling": {}})).await;
    assert_eq!(init["protocolVersion"], "2025-11-25", "{init}");
    assert_eq!(init["serverInfo"]["name"], "vmcp", "{init}");

    let names = tool_names(&c.call("tools/list", json!({})).await);
    for expected in ["alpha__echo", "beta__echo", "alpha__progress"] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    let r = c.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "hello"}})).await;
    assert_eq!(first_text(&r), "hello");
    assert_eq!(r["_meta"], json!({"vmcp.mock/echo": true}), "result _meta lost: {r}");

    // A batch is answered with one array.
    c.send(&json!([
        {"jsonrpc": "2.0", "id": "a", "method": "ping"},
        {"jsonrpc": "2.0", "id": "b", "method": "tools/call", "params": {"name": "beta__echo", "arguments": {"text": "in a batch"}}},
    ]))
    .await;
    let batch = c.wait_for("the batch's responses", Value::is_array).await;
    let by_id = |id: &str| batch.as_array().and_then(|a| a.iter().find(|m| m["id"] == id)).cloned();
    assert_eq!(by_id("a").map(|m| m["result"].clone()), Some(json!({})), "{batch}");
    assert_eq!(first_text(&by_id("b").unwrap_or_default()["result"]), "in a batch", "{batch}");

    // Progress arrives under the client's own token, before the response.
    let id = c
        .send_request(
            "tools/call",
            json!({"name": "alpha__progress", "arguments": {"steps": 3, "delay_ms": 5}, "_meta": {"progressToken": "tok-7"}}),
        )
        .await;
    let mut progress = Vec::new();
    let done = loop {
        let m = c
            .wait_for("progress or the response", |m| {
                m["method"] == "notifications/progress" || (m["id"] == id && m.get("method").is_none())
            })
            .await;
        if m["id"] == id {
            break m;
        }
        assert_eq!(m["params"]["progressToken"], "tok-7", "the client's own token: {m}");
        progress.push(m["params"]["progress"].clone());
    };
    assert_eq!(progress, vec![json!(1), json!(2), json!(3)], "all progress before the response");
    assert_eq!(first_text(&done["result"]), "done after 3 steps", "{done}");

    // Sampling: the request arrives on the connection; the answer goes back the same way.
    let id = c.send_request("tools/call", json!({"name": "alpha__sample", "arguments": {"prompt": "hi"}})).await;
    let ask = c.wait_for("sampling/createMessage", |m| m["method"] == "sampling/createMessage").await;
    assert!(!ask["id"].is_null(), "sampling/createMessage must be a request: {ask}");
    let answer = json!({"role": "assistant", "content": {"type": "text", "text": "sampled-by-the-test"}, "model": "m"});
    c.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "result": answer})).await;
    let done = c.response(id).await;
    let result = done.get("result").unwrap_or_else(|| panic!("alpha__sample failed: {done}"));
    assert!(first_text(result).contains("sampled-by-the-test"), "{done}");

    // List changes reach the client.
    let r = c.call("tools/call", json!({"name": "alpha__change_list", "arguments": {}})).await;
    assert!(first_text(&r).starts_with("added added_"), "{r}");
    c.wait_for("notifications/tools/list_changed", |m| m["method"] == "notifications/tools/list_changed").await;
    let names = tool_names(&c.call("tools/list", json!({})).await);
    assert!(names.iter().any(|n| n.starts_with("alpha__added_")), "{names:?}");
}

/// The JSON object a mock's `stats` tool returns.
async fn stats(c: &mut impl McpConn, server: &str) -> Value {
    let r = c.call("tools/call", json!({"name": format!("{server}__stats"), "arguments": {}})).await;
    serde_json::from_str(&first_text(&r)).unwrap_or_else(|e| panic!("stats is not JSON ({e}): {r}"))
}

/// Sends a 30 s `alpha__sleep` on `client` and waits (through `observer`) until
/// the mock has it in hand.
async fn start_sleep(client: &mut impl McpConn, observer: &mut impl McpConn) -> i64 {
    let before = stats(observer, "alpha").await["requests"].as_u64().expect("requests");
    let id = client.send_request("tools/call", json!({"name": "alpha__sleep", "arguments": {"ms": 30000}})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // Each poll is a request too: the sleep is there once the count runs ahead of them.
    for polls in 1.. {
        let n = stats(observer, "alpha").await["requests"].as_u64().expect("requests");
        if n > before + polls {
            return id;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sleep never reached alpha ({n} requests)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unreachable!()
}

/// Waits until the mock `alpha` has seen a `notifications/cancelled`.
async fn wait_for_upstream_cancellation(observer: &mut impl McpConn) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = stats(observer, "alpha").await;
        if s["cancellations"].as_array().is_some_and(|c| !c.is_empty()) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "alpha saw no cancellation within 10 s: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn error_message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(v["jsonrpc"], "2.0", "a JSON-RPC error body: {v}");
    v["error"]["message"].as_str().unwrap_or_else(|| panic!("no error message: {v}")).to_owned()
}

async fn send_bounded(b: reqwest::RequestBuilder) -> (u16, String) {
    let resp = tokio::time::timeout(WAIT, b.send()).await.expect("HTTP request in time").expect("HTTP request");
    let status = resp.status().as_u16();
    (status, tokio::time::timeout(WAIT, resp.text()).await.expect("body in time").expect("body"))
}

// --- legacy HTTP+SSE ---------------------------------------------------------

#[tokio::test]
async fn sse_full_session() {
    let (_setup, gw) = gateway("").await;
    let mut c = SseClient::connect(&gw.base).await;
    assert!(c.endpoint_data.starts_with("/message?sessionId="), "a relative endpoint URI: {}", c.endpoint_data);
    assert!(c.session_id().len() >= 16, "{}", c.endpoint_data);
    full_session(&mut c).await;
}

#[tokio::test]
async fn sse_refuses_what_mcp_refuses() {
    let (_setup, gw) = gateway("max_message_size = \"4KiB\"").await;
    let http = reqwest::Client::new();

    let (status, body) = send_bounded(
        http.get(gw.url("/sse")).header("accept", "text/event-stream").header("origin", "http://evil.example"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(error_message(&body).contains("evil.example"), "{body}");
    let (status, body) = send_bounded(http.get(gw.url("/sse")).header("accept", "application/json")).await;
    assert_eq!(status, 406, "{body}");

    let mut c = SseClient::connect(&gw.base).await;
    c.initialize("2024-11-05", json!({})).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();

    let unknown = gw.url("/message?sessionId=0123456789abcdef0123456789abcdef");
    let (status, body) =
        send_bounded(http.post(&unknown).header("content-type", "application/json").body(ping.clone())).await;
    assert_eq!(status, 404, "{body}");
    assert!(error_message(&body).contains("0123456789abcdef"), "{body}");
    let (status, body) =
        send_bounded(http.post(gw.url("/message")).header("content-type", "application/json").body(ping.clone())).await;
    assert_eq!(status, 400, "{body}");
    assert!(error_message(&body).contains("sessionId"), "{body}");

    let evil =
        http.post(&c.endpoint).header("content-type", "application/json").header("origin", "http://evil.example");
    let (status, body) = send_bounded(evil.body(ping.clone())).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = send_bounded(http.post(&c.endpoint).header("content-type", "text/plain").body(ping)).await;
    assert_eq!(status, 415, "{body}");

    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "alpha__echo", "arguments": {"text": "x".repeat(8 * 1024)}}});
    let (status, body) = c.post_raw(big.to_string()).await;
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).contains("max_message_size"), "{body}");

    let (status, body) = c.post_raw("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": ").await;
    assert_eq!(status, 400, "{body}");

    // None of it hurt the session.
    let r = c.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "still here"}})).await;
    assert_eq!(first_text(&r), "still here");
}

#[tokio::test]
async fn sse_closing_the_stream_cancels_in_flight_requests() {
    let (_setup, gw) = gateway("").await;
    let mut observer = SseClient::connect(&gw.base).await;
    observer.initialize("2025-11-25", json!({})).await;
    let mut c = SseClient::connect(&gw.base).await;
    c.initialize("2025-11-25", json!({})).await;
    let endpoint = c.endpoint.clone();
    start_sleep(&mut c, &mut observer).await;
    drop(c);
    wait_for_upstream_cancellation(&mut observer).await;
    // The session went with its stream (the gateway notices the disconnect
    // asynchronously: poll, bounded).
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ping = json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}).to_string();
        let (status, _) =
            send_bounded(http.post(&endpoint).header("content-type", "application/json").body(ping)).await;
        if status == 404 {
            break;
        }
        assert_eq!(status, 202);
        assert!(tokio::time::Instant::now() < deadline, "the session outlived its stream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// --- WebSocket ----------------------------------------------------------------

#[tokio::test]
async fn ws_full_session() {
    let (_setup, gw) = gateway("").await;
    let mut c = WsClient::connect(&gw.base).await;
    full_session(&mut c).await;
    c.close().await;
}

#[tokio::test]
async fn ws_binary_frame_gets_an_error_and_the_connection_goes_on() {
    let (_setup, gw) = gateway("").await;
    let mut c = WsClient::connect(&gw.base).await;
    c.initialize("2025-11-25", json!({})).await;
    c.send_frame(tungstenite::Message::binary(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}".to_vec())).await;
    let e = c.wait_for("the binary frame's error", |m| m.get("error").is_some()).await;
    assert_eq!(e["error"]["code"], -32600, "{e}");
    assert_eq!(e["error"]["message"], "binary frames are not supported: send JSON-RPC as text frames", "{e}");
    assert!(e["id"].is_null(), "{e}");
    // Malformed text is a JSON-RPC error too, not the end of the connection.
    c.send_frame(tungstenite::Message::text("{\"jsonrpc\": ")).await;
    let e = c.wait_for("the parse error", |m| m.get("error").is_some()).await;
    assert_eq!(e["error"]["code"], -32700, "{e}");
    let r = c.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "still here"}})).await;
    assert_eq!(first_text(&r), "still here");
}

#[tokio::test]
async fn ws_oversized_message_closes_with_1009() {
    let (_setup, gw) = gateway("max_message_size = \"4KiB\"").await;
    let mut c = WsClient::connect(&gw.base).await;
    c.initialize("2025-11-25", json!({})).await;
    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "alpha__echo", "arguments": {"text": "x".repeat(8 * 1024)}}});
    c.send(&big).await;
    assert_eq!(c.receive().await, None, "the connection should end");
    let frame = c.closed_with.clone().expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009, "{frame:?}");
    assert!(frame.reason.contains("max_message_size"), "{frame:?}");
}

#[tokio::test]
async fn ws_origin_is_checked_before_the_upgrade() {
    let (_setup, gw) = gateway("").await;
    let url = format!("{}/ws", gw.base.replacen("http://", "ws://", 1));
    let with_origin = |origin: &'static str| {
        let mut req = url.as_str().into_client_request().expect("request");
        req.headers_mut().insert("origin", tungstenite::http::HeaderValue::from_static(origin));
        req
    };
    let refused = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(with_origin("http://evil.example")))
        .await
        .expect("an answer in time");
    match refused {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403, "{resp:?}");
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(error_message(&body).contains("evil.example"), "{body}");
        }
        Err(e) => panic!("expected a 403, got {e}"),
        Ok(_) => panic!("a WebSocket from http://evil.example must be refused"),
    }
    let accepted = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(with_origin("http://localhost:5173")))
        .await
        .expect("an answer in time");
    assert!(accepted.is_ok(), "a loopback origin is allowed: {:?}", accepted.err());

    // A plain GET is not an upgrade: a JSON-RPC error, not a hang.
    let (status, body) = send_bounded(reqwest::Client::new().get(gw.url("/ws"))).await;
    assert!((400..500).contains(&status), "{status}: {body}");
    assert!(error_message(&body).contains("WebSocket"), "{body}");
}

#[tokio::test]
async fn ws_closing_the_socket_cancels_in_flight_requests() {
    let (_setup, gw) = gateway("").await;
    let mut observer = WsClient::connect(&gw.base).await;
    observer.initialize("2025-11-25", json!({})).await;
    let mut c = WsClient::connect(&gw.base).await;
    c.initialize("2025-11-25", json!({})).await;
    start_sleep(&mut c, &mut observer).await;
    c.close().await;
    wait_for_upstream_cancellation(&mut observer).await;
}

// --- both ---------------------------------------------------------------------

#[tokio::test]
async fn sigterm_ends_sse_and_websocket_connections() {
    // The sleeps outlast the 1 s shutdown_grace: they end with an error.
    let (_setup, gw) = gateway("shutdown_grace = \"1s\"").await;
    let mut observer = WsClient::connect(&gw.base).await;
    observer.initialize("2025-11-25", json!({})).await;
    let mut sse = SseClient::connect(&gw.base).await;
    sse.initialize("2025-11-25", json!({})).await;
    let mut ws = WsClient::connect(&gw.base).await;
    ws.initialize("2025-11-25", json!({})).await;
    let sse_sleep = start_sleep(&mut sse, &mut observer).await;
    let ws_sleep = start_sleep(&mut ws, &mut observer).await;

    let started = std::time::Instant::now();
    let status = gw.stop().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "vmcp took {took:?} to exit: open connections held it up");
    assert!(status.success(), "vmcp should exit cleanly on SIGTERM: {status}");

    // Whatever arrives before the end answers the sleep with an error.
    for (what, m) in [("sse", sse.receive().await), ("ws", ws.receive().await)] {
        if let Some(m) = m {
            assert!(m["id"] == sse_sleep || m["id"] == ws_sleep, "{what}: {m}");
            assert!(m.get("error").is_some(), "{what}: the call in flight should end with an error: {m}");
        }
    }
    assert_eq!(sse.receive().await, None, "the SSE stream should end");
    assert_eq!(ws.receive().await, None, "the WebSocket should end");
    let frame = ws.closed_with.clone().expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
}

#[tokio::test]
async fn mock_listen_speaks_all_three_http_transports() {
    let child = Command::new(vmcp_bin())
        .args(["mock", "--name", "m", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn vmcp mock");
    let mock = HttpGateway::from_child(child, "mock").await;

    let mut http = HttpClient::new(mock.url("/mcp"));
    http.initialize(json!({})).await;
    let r = http.call("tools/call", json!({"name": "echo", "arguments": {"text": "over /mcp"}})).await;
    assert_eq!(first_text(&r), "over /mcp");

    let mut sse = SseClient::connect(&mock.base).await;
    let init = sse.initialize("2024-11-05", json!({})).await;
    assert_eq!(init["serverInfo"]["name"], "m", "{init}");
    let r = sse.call("tools/call", json!({"name": "echo", "arguments": {"text": "over /sse"}})).await;
    assert_eq!(first_text(&r), "over /sse");

    let mut ws = WsClient::connect(&mock.base).await;
    ws.initialize("2025-11-25", json!({})).await;
    let r = ws.call("tools/call", json!({"name": "echo", "arguments": {"text": "over /ws"}})).await;
    assert_eq!(first_text(&r), "over /ws");
    ws.close().await;
}

#[tokio::test]
async fn ws_client_that_answers_no_ping_is_closed() {
    use futures_util::{SinkExt, StreamExt};
    let (_setup, mut gw) = gateway("keepalive = \"200ms\"").await;
    let url = format!("{}/ws", gw.base.replacen("http://", "ws://", 1));
    let connect = || async { tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url.as_str())).await };
    // Never read, so never answers the gateway's pings.
    let (mut silent, _) = connect().await.expect("in time").expect("silent connects");
    // Reads everything, so its pongs go back.
    let (lively, _) = connect().await.expect("in time").expect("lively connects");
    let (mut lively_tx, mut lively_rx) = lively.split();
    let (pings_tx, mut pings) = tokio::sync::watch::channel(0u32);
    let (texts_tx, mut texts) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = lively_rx.next().await {
            match frame {
                tungstenite::Message::Ping(_) => pings_tx.send_modify(|n| *n += 1),
                tungstenite::Message::Text(t) => {
                    let _ = texts_tx.send(t.to_string());
                }
                _ => {}
            }
        }
    });

    gw.wait_stderr("answered no ping").await;
    // Its connection ends: with the close frame, or (when the client first
    // tries to send the pongs it owes) with the socket already shut.
    tokio::time::timeout(WAIT, async {
        while let Some(frame) = silent.next().await {
            match frame {
                Ok(tungstenite::Message::Close(Some(c))) => {
                    assert_eq!(u16::from(c.code), 1001, "{c:?}");
                    assert_eq!(c.reason.as_str(), "no answer to pings");
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await
    .expect("the silent client's connection ends");

    // The one that answers stays, well past three intervals.
    tokio::time::timeout(WAIT, pings.wait_for(|n| *n >= 10)).await.expect("pings in time").expect("reader alive");
    lively_tx.send(tungstenite::Message::text(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)).await.expect("send");
    let answer = tokio::time::timeout(WAIT, texts.recv()).await.expect("an answer in time").expect("open");
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["result"], json!({}), "{answer}");
    reader.abort();
}
