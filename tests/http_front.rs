//! The streamable HTTP front end (`/mcp`, `/healthz`, `/readyz`), driven over real
//! HTTP against the real binary with `vmcp mock` backends.

mod common;

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};

use common::*;

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A `text/event-stream` response read incrementally, one JSON-RPC message at a time.
struct EventStream {
    inner: ByteStream,
    buf: String,
}

impl EventStream {
    fn new(resp: reqwest::Response) -> EventStream {
        let ct = content_type(resp.headers());
        assert!(ct.starts_with("text/event-stream"), "expected an SSE response, got content-type {ct:?}");
        EventStream { inner: Box::pin(resp.bytes_stream()), buf: String::new() }
    }

    /// The next message; `None` when the stream ends. Panics after `WAIT`.
    async fn next(&mut self) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(msg) = self.take_event() {
                return Some(msg);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.inner.next()).await {
                Err(_) => panic!("timed out waiting for an SSE event; buffered: {:?}", self.buf),
                Ok(None) => return None,
                Ok(Some(Err(e))) => panic!("SSE stream failed: {e}"),
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
            }
        }
    }

    /// The next message, which must exist.
    async fn expect(&mut self, what: &str) -> Value {
        match self.next().await {
            Some(m) => m,
            None => panic!("the SSE stream ended before {what}"),
        }
    }

    /// Removes complete events from the buffer until one carries data.
    fn take_event(&mut self) -> Option<Value> {
        while let Some(end) = self.buf.find("\n\n") {
            let event: String = self.buf.drain(..end + 2).collect();
            let data: Vec<&str> =
                event.lines().filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))).collect();
            if !data.is_empty() {
                let text = data.join("\n");
                return Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad SSE data ({e}): {text}")));
            }
        }
        None
    }
}

fn content_type(h: &reqwest::header::HeaderMap) -> String {
    h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn two_servers(gateway_extra: &str) -> Setup {
    Setup::new(gateway_extra, &[mock_server("alpha", &[]), mock_server("beta", &[])])
}

/// A gateway with two mock servers and one initialized client.
async fn gateway_and_client(gateway_extra: &str, capabilities: Value) -> (Setup, HttpGateway, HttpClient) {
    let setup = two_servers(gateway_extra);
    let gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(capabilities).await;
    (setup, gw, client)
}

/// A POST to `/mcp` with exactly these headers (nothing added).
fn bare_post(client: &HttpClient, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    let mut b = client.http.post(&client.url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body)
}

/// The usual headers of an initialized client, with `session`.
fn session_headers(session: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("mcp-session-id", session.to_owned()),
    ]
}

fn session_of(client: &HttpClient) -> String {
    client.session.clone().expect("initialized client has a session")
}

fn error_of(p: &Posted) -> &Value {
    p.response().get("error").unwrap_or_else(|| panic!("expected an error response: {p:?}"))
}

async fn send_bounded(b: reqwest::RequestBuilder) -> reqwest::Response {
    tokio::time::timeout(WAIT, b.send()).await.expect("HTTP request in time").expect("HTTP request")
}

async fn body_json(resp: reqwest::Response) -> Value {
    let text = tokio::time::timeout(WAIT, resp.text()).await.expect("body in time").expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

fn initialize_body(version: &str, capabilities: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
           "params": {"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "vmcp-tests", "version": "0"}}})
}

/// The JSON object a mock's `stats` tool returns.
async fn stats(client: &mut HttpClient, server: &str) -> Value {
    let r = client.call("tools/call", json!({"name": format!("{server}__stats"), "arguments": {}})).await;
    serde_json::from_str(&first_text(&r)).unwrap_or_else(|e| panic!("stats is not JSON ({e}): {r}"))
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn initialize_negotiates_every_revision() {
    let setup = two_servers("");
    let gw = HttpGateway::start(&setup).await;
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut client = HttpClient::new(gw.url("/mcp"));
        client.version = version.to_owned();
        let result = client.initialize(json!({})).await;
        assert!(!session_of(&client).is_empty(), "{version}: empty Mcp-Session-Id");
        assert_eq!(result["protocolVersion"], version, "{version}: {result}");
        assert_eq!(result["serverInfo"]["name"], "vmcp", "{version}: {result}");
        for cap in ["tools", "prompts", "resources"] {
            assert!(result["capabilities"][cap].is_object(), "{version}: capability {cap} missing: {result}");
        }
        // The session works at the negotiated revision.
        let tools = client.call("tools/list", json!({})).await;
        assert!(tool_names(&tools).contains(&"alpha__echo".to_owned()), "{version}: {tools}");
    }

    // An unknown revision gets the latest one. (A client sends no
    // MCP-Protocol-Version header before it knows the negotiated revision.)
    let client = HttpClient::new(gw.url("/mcp"));
    let b = bare_post(
        &client,
        &[("content-type", "application/json"), ("accept", "application/json, text/event-stream")],
        initialize_body("2099-01-01", json!({})).to_string(),
    );
    let p = client.send(b).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(p.headers.get("mcp-session-id").is_some(), "no Mcp-Session-Id: {p:?}");
    assert_eq!(p.response()["result"]["protocolVersion"], "2025-11-25", "{p:?}");
    let status = gw.stop().await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn failed_initialize_creates_no_session() {
    let setup = Setup::new("", &[mock_server("alpha", &[])]);
    let gw = HttpGateway::start(&setup).await;
    let client = HttpClient::new(gw.url("/mcp"));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}});
    let b = bare_post(
        &client,
        &[("content-type", "application/json"), ("accept", "application/json, text/event-stream")],
        body.to_string(),
    );
    let p = client.send(b).await;
    let e = error_of(&p);
    assert!(e["message"].as_str().unwrap_or("").contains("protocolVersion"), "{p:?}");
    assert!(p.headers.get("mcp-session-id").is_none(), "a failed initialize must not mint a session: {p:?}");
}

#[tokio::test]
async fn tools_list_is_json_and_echo_keeps_meta() {
    let (_setup, gw, mut client) = gateway_and_client("", json!({})).await;

    let p = client.request("tools/list", json!({})).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(!p.sse, "tools/list should be answered with JSON, not SSE: {p:?}");
    assert!(content_type(&p.headers).starts_with("application/json"), "{p:?}");
    let list = &p.response()["result"];
    let names = tool_names(list);
    for expected in ["alpha__echo", "beta__echo"] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    let echo =
        list["tools"].as_array().expect("tools").iter().find(|t| t["name"] == "alpha__echo").expect("alpha__echo");
    assert_eq!(echo["_meta"], json!({"vmcp.mock/kept": true}), "tool _meta lost: {echo}");

    let r = client.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "hello over http"}})).await;
    assert_eq!(first_text(&r), "hello over http");
    assert_eq!(r["_meta"], json!({"vmcp.mock/echo": true}), "result _meta lost: {r}");
    drop(gw);
}

#[tokio::test]
async fn progress_streams_before_the_response() {
    let (_setup, _gw, client) = gateway_and_client("", json!({})).await;
    let call = |id: i64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "alpha__progress", "arguments": {"steps": 3, "delay_ms": 5}, "_meta": {"progressToken": "client-token-7"}}})
    };

    let p = client.post(&call(10)).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(p.sse, "a tool call with a progress token should be answered with SSE: {p:?}");
    let last = p.messages.last().expect("messages");
    assert_eq!(last["id"], 10, "the response must come last: {:?}", p.messages);
    assert_eq!(first_text(&last["result"]), "done after 3 steps");
    let progress: Vec<&Value> = p.messages.iter().filter(|m| m["method"] == "notifications/progress").collect();
    assert_eq!(progress.len(), 3, "{:?}", p.messages);
    for (i, n) in progress.iter().enumerate() {
        assert_eq!(n["params"]["progressToken"], "client-token-7", "the client's own token: {n}");
        assert_eq!(n["params"]["progress"], json!(i + 1), "{n}");
    }

    // Accept: application/json only: the same call is answered with JSON.
    let session = session_of(&client);
    let b = bare_post(
        &client,
        &[
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        call(11).to_string(),
    );
    let p = client.send(b).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(!p.sse && content_type(&p.headers).starts_with("application/json"), "{p:?}");
    assert_eq!(p.messages.len(), 1, "{p:?}");
    assert_eq!(p.messages[0]["id"], 11);
    assert_eq!(first_text(&p.messages[0]["result"]), "done after 3 steps");
}

#[tokio::test]
async fn a_quick_answer_is_json_a_slow_or_chatty_one_streams() {
    let (_setup, _gw, mut client) = gateway_and_client("", json!({})).await;
    // Accepting both, a tool call that answers at once and says nothing else
    // gets plain JSON: no SSE framing for the common case.
    let p = client.request("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "quick"}})).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(!p.sse && content_type(&p.headers).starts_with("application/json"), "{p:?}");
    assert_eq!(first_text(&p.response()["result"]), "quick");
    // One that takes longer than the linger gets its stream (headers first, the
    // answer when it comes), so a client sees a response at once.
    let p = client.request("tools/call", json!({"name": "alpha__sleep", "arguments": {"ms": 300}})).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(p.sse, "a slow call should be streamed: {p:?}");
    assert!(p.response().get("result").is_some(), "{p:?}");
}

/// Calls `tool` as an SSE request, answers the server→client request `method`
/// that arrives on that stream with `answer` (POSTed while the stream is open),
/// and returns the tool result.
async fn server_to_client_round_trip(capabilities: Value, tool: &str, method: &str, answer: Value) -> Value {
    let (_setup, _gw, client) = gateway_and_client("", capabilities).await;
    let session = session_of(&client);
    let body = json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
    let resp = send_bounded(client.builder().body(body.to_string())).await;
    assert_eq!(resp.status(), 200);
    let mut stream = EventStream::new(resp);

    let ask = stream.expect(method).await;
    assert_eq!(ask["method"], method, "expected {method} first: {ask}");
    let ask_id = ask["id"].clone();
    assert!(!ask_id.is_null(), "{method} must be a request: {ask}");

    let reply = json!({"jsonrpc": "2.0", "id": ask_id, "result": answer});
    let mut b = client.http.post(&client.url);
    for (k, v) in session_headers(&session) {
        b = b.header(k, v);
    }
    let posted = send_bounded(b.body(reply.to_string())).await;
    assert_eq!(posted.status(), 202, "the answer to {method} should be accepted");

    let done = stream.expect("the tool result").await;
    assert_eq!(done["id"], 42, "{done}");
    // The response ends the request's stream: a client reading it to the end must not hang.
    assert_eq!(stream.next().await, None, "the stream should end after the response");
    done.get("result").unwrap_or_else(|| panic!("{tool} failed: {done}")).clone()
}

#[tokio::test]
async fn json_only_client_gets_server_requests_on_the_get_stream() {
    let (_setup, _gw, client) = gateway_and_client("", json!({"sampling": {}})).await;
    let session = session_of(&client);
    let json_only = |body: &Value| {
        bare_post(
            &client,
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-11-25"),
            ],
            body.to_string(),
        )
    };
    let sample = |id: i64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "alpha__sample", "arguments": {}}});

    // No stream to carry sampling/createMessage: an error at once, not a hang.
    let p = client.send(json_only(&sample(1))).await;
    assert!(!p.sse, "{p:?}");
    let e = error_of(&p);
    assert!(e["message"].as_str().unwrap_or("").contains("sampling/createMessage"), "{p:?}");

    // With the standalone GET stream open, the request travels there.
    let get = client.http.get(&client.url).header("accept", "text/event-stream").header("mcp-session-id", &session);
    let resp = send_bounded(get).await;
    assert_eq!(resp.status(), 200);
    let mut standalone = EventStream::new(resp);
    // The tool call (answered with JSON, so it blocks) and the client's answer
    // on another POST run side by side; `HttpClient::send` bounds the call.
    let call = client.send(json_only(&sample(2)));
    let answer = async {
        let ask = standalone.expect("sampling/createMessage").await;
        assert_eq!(ask["method"], "sampling/createMessage", "{ask}");
        let answer = json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "via-get-stream"}, "model": "m"}});
        let mut b = client.http.post(&client.url);
        for (k, v) in session_headers(&session) {
            b = b.header(k, v);
        }
        assert_eq!(send_bounded(b.body(answer.to_string())).await.status(), 202);
    };
    let (p, ()) = tokio::join!(call, answer);
    assert!(!p.sse, "{p:?}");
    let result = p.response().get("result").unwrap_or_else(|| panic!("{p:?}"));
    assert!(first_text(result).contains("via-get-stream"), "{p:?}");
}

#[tokio::test]
async fn sampling_round_trip_over_http() {
    let answer =
        json!({"role": "assistant", "content": {"type": "text", "text": "sampled-by-the-test"}, "model": "test-model"});
    let result =
        server_to_client_round_trip(json!({"sampling": {}}), "alpha__sample", "sampling/createMessage", answer).await;
    let text = first_text(&result);
    assert!(text.contains("sampled-by-the-test"), "{text}");
}

#[tokio::test]
async fn elicitation_round_trip_over_http() {
    let answer = json!({"action": "accept", "content": {"name": "elicited-by-the-test"}});
    let result =
        server_to_client_round_trip(json!({"elicitation": {}}), "alpha__elicit", "elicitation/create", answer).await;
    let text = first_text(&result);
    assert!(text.contains("elicited-by-the-test"), "{text}");
}

#[tokio::test]
async fn get_stream_carries_list_changed() {
    let (_setup, _gw, mut client) = gateway_and_client("", json!({})).await;
    let session = session_of(&client);
    let get = |client: &HttpClient| {
        client
            .http
            .get(&client.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
    };
    let resp = send_bounded(get(&client)).await;
    assert_eq!(resp.status(), 200);
    let mut standalone = EventStream::new(resp);

    // One standalone stream per session.
    let second = send_bounded(get(&client)).await;
    assert_eq!(second.status(), 409, "a second GET stream on the same session");

    let r = client.call("tools/call", json!({"name": "alpha__change_list", "arguments": {}})).await;
    assert_eq!(first_text(&r), "added added_0");
    let note = standalone.expect("notifications/tools/list_changed").await;
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");

    let names = tool_names(&client.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__added_0".to_owned()), "{names:?}");

    // Once the client drops its stream, it may open a new one (the gateway
    // notices the disconnect asynchronously: poll, bounded).
    drop(standalone);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut reopened = loop {
        let resp = send_bounded(get(&client)).await;
        if resp.status() == 200 {
            break EventStream::new(resp);
        }
        assert_eq!(resp.status(), 409, "reopening the GET stream");
        assert!(tokio::time::Instant::now() < deadline, "the dropped GET stream was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let r = client.call("tools/call", json!({"name": "alpha__change_list", "arguments": {}})).await;
    assert_eq!(first_text(&r), "added added_1");
    let note = reopened.expect("notifications/tools/list_changed on the new stream").await;
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
}

#[tokio::test]
async fn session_lifecycle_and_missing_sessions() {
    let (_setup, gw, mut client) = gateway_and_client("", json!({})).await;
    let session = session_of(&client);

    // No session id, not initialize: 400.
    let mut anonymous = HttpClient::new(gw.url("/mcp"));
    let p = anonymous.request("tools/list", json!({})).await;
    assert_eq!(p.status, 400, "{p:?}");
    assert!(error_of(&p)["message"].as_str().unwrap_or("").contains("Mcp-Session-Id"), "{p:?}");

    // Unknown session id: 404.
    anonymous.session = Some("0123456789abcdef0123456789abcdef".into());
    let p = anonymous.request("tools/list", json!({})).await;
    assert_eq!(p.status, 404, "{p:?}");

    // DELETE ends the session.
    let del = client.http.delete(&client.url).header("mcp-session-id", &session);
    let resp = send_bounded(del).await;
    assert!(resp.status().is_success(), "DELETE: {}", resp.status());
    let p = client.request("tools/list", json!({})).await;
    assert_eq!(p.status, 404, "a deleted session must be gone: {p:?}");
    let del = client.http.delete(&client.url).header("mcp-session-id", &session);
    assert_eq!(send_bounded(del).await.status(), 404, "a second DELETE");
}

#[tokio::test]
async fn notifications_and_responses_get_202() {
    let (_setup, _gw, client) = gateway_and_client("", json!({})).await;
    let session = session_of(&client);
    let bodies = [
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 12345}}),
        json!({"jsonrpc": "2.0", "id": 777, "result": {}}),
        json!([{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}, {"jsonrpc": "2.0", "id": 778, "result": {}}]),
    ];
    for body in bodies {
        let mut b = client.http.post(&client.url);
        for (k, v) in session_headers(&session) {
            b = b.header(k, v);
        }
        let resp = send_bounded(b.body(body.to_string())).await;
        assert_eq!(resp.status(), 202, "{body}");
        let text = tokio::time::timeout(WAIT, resp.text()).await.expect("body in time").expect("body");
        assert!(text.is_empty(), "202 must have an empty body, got {text:?} for {body}");
    }
}

#[tokio::test]
async fn origin_is_checked() {
    let setup = Setup::new("allowed_origins = [\"https://app.example\"]", &[mock_server("alpha", &[])]);
    let gw = HttpGateway::start(&setup).await;
    let client = HttpClient::new(gw.url("/mcp"));
    let init = initialize_body("2025-11-25", json!({})).to_string();
    let with_origin = |origin: &str| {
        bare_post(
            &client,
            &[
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("origin", origin),
            ],
            init.clone(),
        )
    };

    let p = client.send(with_origin("http://evil.example")).await;
    assert_eq!(p.status, 403, "{p:?}");
    let e = error_of(&p);
    assert_eq!(p.messages[0]["jsonrpc"], "2.0", "{p:?}");
    assert!(e["code"].is_i64() && e["message"].as_str().unwrap_or("").contains("evil.example"), "{p:?}");
    assert!(p.headers.get("mcp-session-id").is_none(), "no session for a forbidden origin: {p:?}");

    for ok in ["http://localhost:1234", "https://app.example"] {
        let p = client.send(with_origin(ok)).await;
        assert_eq!(p.status, 200, "{ok}: {p:?}");
        assert_eq!(p.response()["result"]["serverInfo"]["name"], "vmcp", "{ok}: {p:?}");
    }
}

#[tokio::test]
async fn unsupported_protocol_version_header_is_400() {
    let (_setup, _gw, mut client) = gateway_and_client("", json!({})).await;
    client.version = "1999-01-01".into();
    let p = client.request("tools/list", json!({})).await;
    assert_eq!(p.status, 400, "{p:?}");
    let msg = error_of(&p)["message"].as_str().unwrap_or("").to_owned();
    for v in ["1999-01-01", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        assert!(msg.contains(v), "the error should name {v}: {msg}");
    }
}

#[tokio::test]
async fn malformed_requests_get_precise_errors() {
    let (_setup, _gw, mut client) = gateway_and_client("", json!({})).await;

    let p = client.send(client.builder().body("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")).await;
    assert_eq!(p.status, 400, "{p:?}");
    assert_eq!(error_of(&p)["code"], -32700, "{p:?}");

    let p = client.post(&json!({"jsonrpc": "1.0", "id": 2, "method": "tools/list"})).await;
    assert_eq!(error_of(&p)["code"], -32600, "{p:?}");

    let p = client.request("no/such/method", json!({})).await;
    assert_eq!(p.status, 200, "{p:?}");
    let e = error_of(&p);
    assert_eq!(e["code"], -32601, "{p:?}");
    assert!(e["message"].as_str().unwrap_or("").contains("no/such/method"), "{p:?}");

    for tool in ["alpha__nope", "nosuch__echo"] {
        let p = client.request("tools/call", json!({"name": tool, "arguments": {}})).await;
        let e = error_of(&p);
        assert!(e["message"].as_str().unwrap_or("").contains(tool), "the error should name {tool}: {p:?}");
    }

    let session = session_of(&client);
    let b = bare_post(
        &client,
        &[
            ("content-type", "text/plain"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-session-id", &session),
        ],
        "{}",
    );
    let p = client.send(b).await;
    assert_eq!(p.status, 415, "{p:?}");
}

#[tokio::test]
async fn oversized_body_is_413_and_the_session_survives() {
    let (_setup, _gw, mut client) = gateway_and_client("max_message_size = \"4KiB\"", json!({})).await;
    let big = "x".repeat(8 * 1024);
    let p = client.request("tools/call", json!({"name": "alpha__echo", "arguments": {"text": big}})).await;
    assert_eq!(p.status, 413, "{p:?}");
    let e = error_of(&p);
    assert!(e["message"].as_str().unwrap_or("").contains("max_message_size"), "{p:?}");

    let r = client.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "still here"}})).await;
    assert_eq!(first_text(&r), "still here");
}

#[tokio::test]
async fn batch_of_two_requests() {
    let (_setup, _gw, client) = gateway_and_client("", json!({})).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": "a", "method": "tools/list"},
        {"jsonrpc": "2.0", "id": "b", "method": "ping"},
    ]);
    let p = client.post(&batch).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(p.messages.len(), 2, "{p:?}");
    let by_id =
        |id: &str| p.messages.iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("no response {id}: {p:?}"));
    assert!(tool_names(&by_id("a")["result"]).contains(&"beta__echo".to_owned()), "{p:?}");
    assert_eq!(by_id("b")["result"], json!({}), "{p:?}");

    // A batch that may stream is answered on one SSE stream, progress included.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "alpha__echo", "arguments": {"text": "one"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "beta__progress", "arguments": {"steps": 2, "delay_ms": 1}, "_meta": {"progressToken": 99}}},
    ]);
    let p = client.post(&batch).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(p.sse, "{p:?}");
    let responses: Vec<&Value> = p.messages.iter().filter(|m| m.get("method").is_none()).collect();
    assert_eq!(responses.len(), 2, "{p:?}");
    let text_of = |id: i64| {
        first_text(
            &responses.iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("no response {id}: {p:?}"))["result"],
        )
    };
    assert_eq!(text_of(1), "one");
    assert_eq!(text_of(2), "done after 2 steps");
    let progress = p
        .messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == 99)
        .count();
    assert_eq!(progress, 2, "{p:?}");
}

/// The number of requests the mock `server` has received, its `stats` calls included.
async fn request_count(observer: &mut HttpClient, server: &str) -> u64 {
    stats(observer, server).await["requests"].as_u64().expect("requests")
}

/// Waits until the mock `server` has received one request more than `before`
/// (taken with [`request_count`]) besides the `stats` calls made here.
async fn wait_for_one_more_request(observer: &mut HttpClient, server: &str, before: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut polls = 0;
    loop {
        let n = request_count(observer, server).await;
        polls += 1;
        if n > before + polls {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the call never reached {server} ({n} requests)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the mock `server` has seen a `notifications/cancelled`.
async fn wait_for_upstream_cancellation(observer: &mut HttpClient, server: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = stats(observer, server).await;
        if s["cancellations"].as_array().is_some_and(|c| !c.is_empty()) {
            return s;
        }
        assert!(tokio::time::Instant::now() < deadline, "{server} saw no cancellation within 10 s: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sleep_call(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "alpha__sleep", "arguments": {"ms": 30000}}})
}

#[tokio::test]
async fn client_disconnect_cancels_upstream() {
    let (_setup, gw, client) = gateway_and_client("", json!({})).await;
    let mut observer = HttpClient::new(gw.url("/mcp"));
    observer.initialize(json!({})).await;
    let before = request_count(&mut observer, "alpha").await;

    let resp = send_bounded(client.builder().body(sleep_call(1).to_string())).await;
    assert_eq!(resp.status(), 200);
    assert!(content_type(resp.headers()).starts_with("text/event-stream"), "{:?}", resp.headers());
    // The headers come before the call is forwarded: wait until the mock has the
    // sleep in hand, or a disconnect now would rightly have nothing to cancel.
    wait_for_one_more_request(&mut observer, "alpha", before).await;
    drop(resp);
    wait_for_upstream_cancellation(&mut observer, "alpha").await;
}

#[tokio::test]
async fn cancelled_notification_ends_the_call() {
    let (_setup, gw, client) = gateway_and_client("", json!({})).await;
    let mut observer = HttpClient::new(gw.url("/mcp"));
    observer.initialize(json!({})).await;
    let before = request_count(&mut observer, "alpha").await;

    let resp = send_bounded(client.builder().body(sleep_call(5).to_string())).await;
    assert_eq!(resp.status(), 200);
    let mut stream = EventStream::new(resp);
    wait_for_one_more_request(&mut observer, "alpha", before).await;

    let cancel =
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5, "reason": "test"}});
    assert_eq!(client.post(&cancel).await.status, 202);
    let done = stream.expect("the end of the cancelled call").await;
    assert_eq!(done["id"], 5, "{done}");
    assert_eq!(done["error"]["code"], -32800, "a cancelled call ends with a cancellation error: {done}");
    wait_for_upstream_cancellation(&mut observer, "alpha").await;
}

#[tokio::test]
async fn healthz_and_readyz() {
    let (_setup, gw, _client) = gateway_and_client("", json!({})).await;
    let http = reqwest::Client::new();
    let resp = send_bounded(http.get(gw.url("/healthz"))).await;
    assert_eq!(resp.status(), 200);
    let resp = send_bounded(http.get(gw.url("/readyz"))).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn readyz_names_a_missing_required_server() {
    let broken = "[servers.broken]\ncommand = \"/nonexistent/x\"\nrequired = true\n".to_owned();
    let setup = Setup::new("", &[mock_server("alpha", &[]), broken]);
    let gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(json!({})).await;

    let resp = send_bounded(reqwest::Client::new().get(gw.url("/readyz"))).await;
    assert_eq!(resp.status(), 503);
    let body = body_json(resp).await;
    assert!(body.to_string().contains("broken"), "the reason should name the server: {body}");
    assert!(!body.to_string().contains("alpha"), "alpha is not required: {body}");

    let r = client.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "alpha works"}})).await;
    assert_eq!(first_text(&r), "alpha works");
    let p = client.request("tools/call", json!({"name": "broken__echo", "arguments": {}})).await;
    assert!(error_of(&p)["message"].as_str().unwrap_or("").contains("broken"), "{p:?}");
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_stops_backends() {
    // A call in flight gets shutdown_grace to finish, then ends with an error.
    let (_setup, gw, mut client) = gateway_and_client("shutdown_grace = \"1s\"", json!({})).await;
    let mut pids = Vec::new();
    for server in ["alpha", "beta"] {
        let s = stats(&mut client, server).await;
        let pid = s["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {s}")) as u32;
        assert!(alive(pid), "{server} (pid {pid}) should be running");
        pids.push((server, pid));
    }

    // Open streams must not hold up the exit beyond the grace: a standalone GET
    // stream and a slow call in flight (30 s, longer than the 1 s grace).
    let session = session_of(&client);
    let get = client.http.get(&client.url).header("accept", "text/event-stream").header("mcp-session-id", &session);
    let get = send_bounded(get).await;
    assert_eq!(get.status(), 200);
    let mut standalone = EventStream::new(get);
    let before = request_count(&mut client, "alpha").await;
    let slow = send_bounded(client.builder().body(sleep_call(77).to_string())).await;
    let mut slow = EventStream::new(slow);
    wait_for_one_more_request(&mut client, "alpha", before).await;

    let started = std::time::Instant::now();
    let status = gw.stop().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "vmcp took {took:?} to exit: open streams held it up");
    if let Some(last) = slow.next().await {
        assert_eq!(last["id"], 77, "{last}");
        assert!(last.get("error").is_some(), "the call in flight should end with an error: {last}");
    }
    assert_eq!(slow.next().await, None, "the in-flight call's stream should end");
    assert_eq!(standalone.next().await, None, "the GET stream should end");
    assert!(status.success(), "vmcp should exit cleanly on SIGTERM: {status}");
    for (server, pid) in pids {
        assert!(!alive(pid), "{server} (pid {pid}) is still alive after vmcp exited");
    }
}

#[tokio::test]
async fn idle_sessions_are_closed() {
    let (_setup, gw, mut idle) = gateway_and_client("session_idle_timeout = \"200ms\"", json!({})).await;
    let sid = session_of(&idle);
    // Time passing is the event under test: nothing to await but the clock.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let p = idle.request("ping", json!({})).await;
    assert_eq!(p.status, 404, "session {sid} should have expired: {p:?}");
    // A new session works as usual.
    let mut fresh = HttpClient::new(gw.url("/mcp"));
    fresh.initialize(json!({})).await;
    assert_eq!(fresh.call("ping", json!({})).await, json!({}));
}

#[tokio::test]
async fn sampling_with_an_ambiguous_owner_is_refused_not_guessed() {
    let (_setup, gw, busy) = gateway_and_client("", json!({"sampling": {}})).await;
    let mut asker = HttpClient::new(gw.url("/mcp"));
    asker.initialize(json!({"sampling": {}})).await;
    let before = request_count(&mut asker, "alpha").await;
    // One session keeps a call in flight on alpha ...
    let slow = send_bounded(busy.builder().body(sleep_call(1).to_string())).await;
    wait_for_one_more_request(&mut asker, "alpha", before).await;
    // ... so when alpha asks for sampling during another session's call, two
    // sessions could have caused it: vmcp answers alpha with an error.
    let p = asker.request("tools/call", json!({"name": "alpha__sample", "arguments": {}})).await;
    let e = error_of(&p);
    assert!(e["message"].as_str().unwrap_or("").contains("cannot tell"), "{p:?}");
    assert!(!p.messages.iter().any(|m| m["method"] == "sampling/createMessage"), "{p:?}");
    drop(slow);
}
