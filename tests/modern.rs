//! MCP 2026-07-28 through vmcp, raw on the wire: stateless requests, the
//! `input_required` round trip that replaces server→client requests,
//! `subscriptions/listen`, caching hints, and the header rules of streamable HTTP.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};

fn meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "stateless-test", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    })
}

fn setup() -> Setup {
    Setup::new("", &[mock_server("alpha", &[]), mock_server("beta", &["--tools", "1"])])
}

#[tokio::test]
async fn stdio_requests_are_stateless_and_input_required_replaces_server_requests() {
    let setup = setup();
    let mut gw = StdioGateway::start(&setup).await;
    // No initialize: the first request carries everything.
    let tools = gw.call("tools/list", json!({"_meta": meta(json!({}))})).await;
    assert_eq!(tools["resultType"], "complete");
    assert_eq!(tools["ttlMs"], 0);
    assert_eq!(tools["cacheScope"], "private");
    assert!(tool_names(&tools).contains(&"alpha__sample".to_owned()));

    // The backend asks for sampling mid-call: the call ends with input_required.
    let call =
        json!({"name": "alpha__sample", "arguments": {"prompt": "2+2?"}, "_meta": meta(json!({"sampling": {}}))});
    let first = gw.call("tools/call", call.clone()).await;
    assert_eq!(first["resultType"], "input_required", "{first}");
    let (key, request) = first["inputRequests"].as_object().and_then(|m| m.iter().next()).expect("one input request");
    assert_eq!(request["method"], "sampling/createMessage");
    assert_eq!(request["params"]["messages"][0]["content"]["text"], "2+2?");
    let state = first["requestState"].as_str().expect("requestState");
    // Nothing was sent to the client as a request of its own.
    assert!(!gw.backlog().iter().any(|m| m["method"] == "sampling/createMessage"));

    // The retry carries the answer; the same backend call completes.
    let mut retry = call.clone();
    retry["requestState"] = json!(state);
    retry["inputResponses"] =
        json!({ key: {"role": "assistant", "content": {"type": "text", "text": "four"}, "model": "m"} });
    let done = gw.call("tools/call", retry.clone()).await;
    assert_eq!(done["resultType"], "complete", "{done}");
    assert!(first_text(&done).contains("four"), "{done}");

    // A state used once is gone; a forged one is refused.
    let e = gw.request("tools/call", retry).await;
    assert_eq!(e["error"]["code"], -32602, "{e}");
    assert!(e["error"]["message"].as_str().unwrap_or("").contains("requestState"), "{e}");

    // Without the capability the backend is told so, and its error reaches the client.
    let e = gw.request("tools/call", json!({"name": "alpha__sample", "arguments": {}, "_meta": meta(json!({}))})).await;
    assert!(e["error"]["message"].as_str().unwrap_or("").contains("sampling"), "{e}");

    // An unknown revision is refused with what is supported.
    let e = gw.request("tools/list", json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2030-01-01"}})).await;
    assert_eq!(e["error"]["code"], -32022, "{e}");
    assert!(e["error"]["data"]["supported"].as_array().is_some_and(|v| v.iter().any(|x| x == "2026-07-28")), "{e}");
}

#[tokio::test]
async fn http_enforces_the_header_rules_and_keeps_no_session() {
    let setup = setup();
    let gw = HttpGateway::start(&setup).await;
    let mut c = HttpClient::new(gw.url("/mcp"));
    c.version = "2026-07-28".into();
    let body =
        |id: i64, method: &str, params: Value| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let echo =
        body(1, "tools/call", json!({"name": "alpha__echo", "arguments": {"text": "hi"}, "_meta": meta(json!({}))}));

    let ok = c
        .send(c.builder().header("mcp-method", "tools/call").header("mcp-name", "alpha__echo").body(echo.to_string()))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.headers.get("mcp-session-id").is_none());
    assert_eq!(first_text(&ok.response()["result"]), "hi");
    assert_eq!(ok.response()["result"]["resultType"], "complete");

    for (method, name, why) in [
        (None, Some("alpha__echo"), "missing Mcp-Method"),
        (Some("tools/list"), Some("alpha__echo"), "Mcp-Method disagrees"),
        (Some("tools/call"), None, "missing Mcp-Name"),
        (Some("tools/call"), Some("beta__echo"), "Mcp-Name disagrees"),
    ] {
        let mut b = c.builder().body(echo.to_string());
        if let Some(m) = method {
            b = b.header("mcp-method", m);
        }
        if let Some(n) = name {
            b = b.header("mcp-name", n);
        }
        let p = c.send(b).await;
        assert_eq!(p.status, 400, "{why}: {p:?}");
        assert_eq!(p.response()["error"]["code"], -32020, "{why}: {p:?}");
    }
    // Base64-encoded header values are decoded before comparing.
    let p = c
        .send(
            c.builder()
                .header("mcp-method", "tools/call")
                .header("mcp-name", "=?base64?YWxwaGFfX2VjaG8=?=")
                .body(echo.to_string()),
        )
        .await;
    assert_eq!(p.status, 200, "{p:?}");

    let missing_caps =
        body(2, "tools/list", json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}));
    let p = c.send(c.builder().header("mcp-method", "tools/list").body(missing_caps.to_string())).await;
    assert_eq!((p.status, p.response()["error"]["code"].clone()), (400, json!(-32602)), "{p:?}");

    let unknown = body(3, "no/such", json!({"_meta": meta(json!({}))}));
    let p = c.send(c.builder().header("mcp-method", "no/such").body(unknown.to_string())).await;
    assert_eq!((p.status, p.response()["error"]["code"].clone()), (404, json!(-32601)), "{p:?}");

    let get = reqwest::Client::new()
        .get(gw.url("/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .send()
        .await
        .expect("GET");
    assert_eq!(get.status().as_u16(), 405);
    gw.stop().await;
}

#[tokio::test]
async fn listen_streams_carry_what_was_asked_for_and_release_subscriptions() {
    let setup = setup();
    let gw = HttpGateway::start(&setup).await;
    let mut c = HttpClient::new(gw.url("/mcp"));
    c.version = "2026-07-28".into();
    let listen = json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "_meta": meta(json!({})),
        "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["alpha+mock://resource/1", "nosuch+x://y"]},
    }});
    let resp = tokio::time::timeout(
        WAIT,
        c.builder().header("mcp-method", "subscriptions/listen").body(listen.to_string()).send(),
    )
    .await
    .expect("in time")
    .expect("POST");
    assert_eq!(resp.status().as_u16(), 200);
    let send = |name: &'static str, args: Value| {
        let c = &c;
        let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": name, "arguments": args, "_meta": meta(json!({}))}}).to_string();
        async move { c.send(c.builder().header("mcp-method", "tools/call").header("mcp-name", name).body(body)).await }
    };
    {
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        let mut next = async || -> Value {
            loop {
                if let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    if let Some(m) = parse_sse(&event).into_iter().next() {
                        return m;
                    }
                    continue;
                }
                let chunk = tokio::time::timeout(WAIT, stream.next())
                    .await
                    .expect("event in time")
                    .expect("stream open")
                    .expect("chunk");
                buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        let ack = next().await;
        assert_eq!(ack["method"], "notifications/subscriptions/acknowledged", "{ack}");
        assert_eq!(ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "sub-1");
        assert_eq!(ack["params"]["notifications"]["toolsListChanged"], true);
        assert_eq!(
            ack["params"]["notifications"]["resourceSubscriptions"],
            json!(["alpha+mock://resource/1"]),
            "unroutable URIs are not honoured"
        );

        assert_eq!(send("alpha__touch", json!({"uri": "mock://resource/1"})).await.status, 200);
        let updated = next().await;
        assert_eq!(updated["method"], "notifications/resources/updated", "{updated}");
        assert_eq!(updated["params"]["uri"], "alpha+mock://resource/1");
        assert_eq!(updated["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], "sub-1");
        assert_eq!(send("alpha__change_list", json!({})).await.status, 200);
        let changed = next().await;
        assert_eq!(changed["method"], "notifications/tools/list_changed", "{changed}");
    }
    // The stream is closed now: the subscription ends and the backend is unsubscribed.
    for _ in 0..200 {
        let p = send("alpha__stats", json!({})).await;
        let stats: Value = serde_json::from_str(&first_text(&p.response()["result"])).expect("stats");
        if stats["subscriptions"].as_array().is_some_and(|s| s.is_empty()) {
            gw.stop().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the backend was never unsubscribed after the listen stream closed");
}

/// A 2026-07-28 *backend*: another vmcp (which answers `server/discover`) in
/// front of a mock. A handshake-era client of the outer gateway still gets
/// sampling as a request, progress, and list changes: the outer gateway turns the
/// inner one's `input_required` results back into requests, and listens for
/// changes on a `subscriptions/listen` stream.
#[tokio::test]
async fn a_handshake_client_in_front_of_a_2026_backend() {
    let inner = Setup::new("", &[mock_server("alpha", &[])]);
    let inner_config = inner.config.display().to_string();
    let outer = Setup::new(
        "",
        &[format!(
            "[servers.inner]\ncommand = {:?}\nargs = [\"start\", \"--stdio\", \"--config\", {:?}]\n",
            vmcp_bin(),
            inner_config
        )],
    );
    let mut gw = StdioGateway::start(&outer).await;
    gw.initialize("2024-11-05", json!({"sampling": {}})).await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"inner__alpha__echo".to_owned()), "{names:?}");
    let r = gw.call("tools/call", json!({"name": "inner__alpha__echo", "arguments": {"text": "two hops"}})).await;
    assert_eq!(first_text(&r), "two hops");

    // Sampling: input_required from the inner gateway becomes a request to this client.
    let id = gw.send_request("tools/call", json!({"name": "inner__alpha__sample", "arguments": {"prompt": "q"}})).await;
    let req = gw.wait_for("sampling", |m| m["method"] == "sampling/createMessage").await;
    assert_eq!(req["params"]["messages"][0]["content"]["text"], "q");
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "a"}, "model": "m"}})).await;
    let resp = gw.response(id).await;
    assert!(first_text(&resp["result"]).contains("\"text\":\"a\""), "{resp}");

    // Progress crosses both gateways with this client's token.
    let id = gw
        .send_request(
            "tools/call",
            json!({"name": "inner__alpha__progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "t"}}),
        )
        .await;
    gw.response(id).await;
    let progress = gw
        .backlog()
        .iter()
        .filter(|m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == "t")
        .count();
    assert_eq!(progress, 2, "{:?}", gw.backlog());

    // A list change in the inner gateway's backend reaches this client.
    gw.call("tools/call", json!({"name": "inner__alpha__change_list", "arguments": {}})).await;
    gw.wait_for("list_changed", |m| m["method"] == "notifications/tools/list_changed").await;
    let mut found = false;
    for _ in 0..100 {
        if tool_names(&gw.call("tools/list", json!({})).await).contains(&"inner__alpha__added_0".to_owned()) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "the added tool never appeared");
    assert!(gw.close().await.success());
}
