//! Test harness: runs the real `vmcp` binary with `vmcp mock` backends and talks
//! MCP to it over stdio or streamable HTTP. Every wait is bounded; every process
//! started here is killed when its handle drops.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn vmcp_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vmcp")
}

/// A `[servers.<id>]` table running `vmcp mock` with `args`.
pub fn mock_server(id: &str, args: &[&str]) -> String {
    let mut all = vec!["mock".to_owned(), "--name".to_owned(), id.to_owned()];
    all.extend(args.iter().map(|a| a.to_string()));
    format!("[servers.{id}]\ncommand = {:?}\nargs = {}\n", vmcp_bin(), toml_array(&all))
}

pub fn toml_array(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
}

/// A temporary directory holding a config file.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// `gateway_extra` is added to the `[gateway]` table; `servers` are TOML tables.
    pub fn new(gateway_extra: &str, servers: &[String]) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let mut text = format!(
            "[gateway]\nlisten = \"127.0.0.1:0\"\nstate_dir = {:?}\n{gateway_extra}\n\n",
            state.display().to_string()
        );
        for s in servers {
            text.push_str(s);
            text.push('\n');
        }
        let config = dir.path().join("vmcp.toml");
        std::fs::write(&config, text).expect("write config");
        Setup { dir, config }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Reads lines from a child's stream into a channel.
fn pump_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(r: R) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Forwards a child's stderr to the test's stderr (shown on failure) and to a channel.
fn tee_stderr(child: &mut Child, tag: &'static str) -> mpsc::UnboundedReceiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let mut rx = pump_lines(stderr);
    let (tx, out) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            eprintln!("[{tag}] {line}");
            let _ = tx.send(line);
        }
    });
    out
}

/// `vmcp start --stdio`, and an MCP client speaking to it.
pub struct StdioGateway {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::UnboundedReceiver<String>,
    pub stderr: mpsc::UnboundedReceiver<String>,
    backlog: VecDeque<Value>,
    next_id: i64,
}

impl StdioGateway {
    pub async fn start(setup: &Setup) -> StdioGateway {
        Self::start_with(setup, &[]).await
    }

    pub async fn start_with(setup: &Setup, extra: &[&str]) -> StdioGateway {
        let mut child = Command::new(vmcp_bin())
            .arg("start")
            .arg("--stdio")
            .arg("--config")
            .arg(&setup.config)
            .args(extra)
            .env("VMCP_LOG", "info,vmcp=debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn vmcp");
        let stdin = child.stdin.take();
        let stdout = pump_lines(child.stdout.take().expect("stdout"));
        let stderr = tee_stderr(&mut child, "vmcp");
        StdioGateway { child, stdin, stdout, stderr, backlog: VecDeque::new(), next_id: 1 }
    }

    pub async fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).await.expect("write");
        stdin.write_all(b"\n").await.expect("write");
        stdin.flush().await.expect("flush");
    }

    pub async fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string()).await;
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params})).await;
    }

    /// Sends a request and returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        id
    }

    /// Sends a request and waits for its response (the whole message).
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        self.response(id).await
    }

    /// The `result` of a request; panics on an error response.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params).await;
        match r.get("result") {
            Some(v) => v.clone(),
            None => panic!("{method} failed: {r}"),
        }
    }

    pub async fn response(&mut self, id: i64) -> Value {
        self.wait_for(&format!("response to {id}"), |m| m.get("id") == Some(&json!(id)) && m.get("method").is_none())
            .await
    }

    /// The response to a request sent with a string id.
    pub async fn response_str(&mut self, id: &str) -> Value {
        self.wait_for(&format!("response to {id:?}"), |m| m.get("id") == Some(&json!(id)) && m.get("method").is_none())
            .await
    }

    /// The next message from the gateway, or `None` after `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        if let Some(m) = self.backlog.pop_front() {
            return Some(m);
        }
        match tokio::time::timeout(within, self.stdout.recv()).await {
            Ok(Some(line)) => {
                Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {line}")))
            }
            _ => None,
        }
    }

    /// Waits for the first message matching `pred`; others are kept for later.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(pos).expect("present");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = match tokio::time::timeout(left, self.stdout.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => panic!("vmcp closed stdout while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}; unmatched: {:?}", self.backlog),
            };
            let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {line}"));
            if pred(&msg) {
                return msg;
            }
            self.backlog.push_back(msg);
        }
    }

    /// Messages received so far that nobody waited for.
    pub fn backlog(&self) -> &VecDeque<Value> {
        &self.backlog
    }

    pub fn clear_backlog(&mut self) {
        self.backlog.clear();
    }

    /// initialize + initialized, with the given revision and client capabilities.
    pub async fn initialize(&mut self, version: &str, capabilities: Value) -> Value {
        let r = self
            .call("initialize", json!({"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "vmcp-tests", "version": "0"}}))
            .await;
        self.notify("notifications/initialized", json!({})).await;
        r
    }

    /// Closes stdin and waits for the gateway to exit.
    pub async fn close(mut self) -> std::process::ExitStatus {
        self.stdin = None;
        tokio::time::timeout(WAIT, self.child.wait()).await.expect("vmcp exits after stdin closes").expect("wait")
    }
}

/// Calls a tool and returns the text of its first content item.
pub fn first_text(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_else(|| panic!("no text content in {result}")).to_owned()
}

/// Whether a process exists.
pub fn alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

pub fn tool_names(list: &Value) -> Vec<String> {
    list["tools"].as_array().expect("tools array").iter().map(|t| t["name"].as_str().unwrap_or("").to_owned()).collect()
}

/// `vmcp start` on HTTP, on a free loopback port.
pub struct HttpGateway {
    pub child: Child,
    pub base: String,
    pub stderr: mpsc::UnboundedReceiver<String>,
}

impl HttpGateway {
    pub async fn start(setup: &Setup) -> HttpGateway {
        let child = Command::new(vmcp_bin())
            .arg("start")
            .arg("--config")
            .arg(&setup.config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("VMCP_LOG", "info,vmcp=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn vmcp");
        Self::from_child(child, "vmcp-http").await
    }

    /// Waits for the "listening on http(s)://ADDR/mcp" line.
    pub async fn from_child(mut child: Child, tag: &'static str) -> HttpGateway {
        let mut stderr = tee_stderr(&mut child, tag);
        let base = tokio::time::timeout(WAIT, async {
            while let Some(line) = stderr.recv().await {
                if let Some(rest) = line.split("listening on ").nth(1)
                    && rest.starts_with("http")
                {
                    return rest.trim_end_matches("/mcp").to_owned();
                }
            }
            panic!("{tag} exited before listening");
        })
        .await
        .expect("listening line");
        HttpGateway { child, base, stderr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (within [`WAIT`]) for a line of its stderr that contains `needle`.
    pub async fn wait_stderr(&mut self, needle: &str) -> String {
        let lines = &mut self.stderr;
        tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.recv().await {
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("stderr ended before a line with {needle:?}");
        })
        .await
        .unwrap_or_else(|_| panic!("no stderr line with {needle:?}"))
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
        }
        tokio::time::timeout(WAIT, self.child.wait()).await.expect("vmcp exits on SIGTERM").expect("wait")
    }
}

/// `vmcp mock --listen ADDR` (it serves /mcp, /sse and /ws): the process and its base URL.
pub async fn mock_listen(name: &str, addr: &str, extra: &[&str]) -> HttpGateway {
    let child = Command::new(vmcp_bin())
        .args(["mock", "--name", name, "--listen", addr])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mock");
    HttpGateway::from_child(child, "mock-listen").await
}

/// A minimal streamable HTTP MCP client, enough to see exactly what vmcp sends.
pub struct HttpClient {
    pub http: reqwest::Client,
    pub url: String,
    pub session: Option<String>,
    pub version: String,
    /// Sent as `Authorization: Bearer <auth>` when set.
    pub auth: Option<String>,
    next_id: i64,
}

/// What one POST returned: status, headers, and the JSON-RPC messages in the body
/// (one for JSON, any number for SSE).
#[derive(Debug)]
pub struct Posted {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub sse: bool,
    pub messages: Vec<Value>,
}

impl Posted {
    /// The response message (the one with a result or an error).
    pub fn response(&self) -> &Value {
        self.messages
            .iter()
            .find(|m| m.get("result").is_some() || m.get("error").is_some())
            .unwrap_or_else(|| panic!("no response in {self:?}"))
    }
}

pub fn parse_sse(body: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for event in body.split("\n\n") {
        let data: Vec<&str> =
            event.lines().filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))).collect();
        if !data.is_empty() {
            out.push(serde_json::from_str(&data.join("\n")).unwrap_or_else(|e| panic!("bad SSE data ({e}): {event}")));
        }
    }
    out
}

impl HttpClient {
    pub fn new(url: String) -> HttpClient {
        HttpClient {
            http: reqwest::Client::new(),
            url,
            session: None,
            version: "2025-11-25".into(),
            auth: None,
            next_id: 1,
        }
    }

    pub fn builder(&self) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", &self.version);
        if let Some(s) = &self.session {
            b = b.header("mcp-session-id", s);
        }
        if let Some(a) = &self.auth {
            b = b.header("authorization", format!("Bearer {a}"));
        }
        b
    }

    pub async fn send(&self, b: reqwest::RequestBuilder) -> Posted {
        let resp = tokio::time::timeout(WAIT, b.send()).await.expect("POST in time").expect("POST");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let sse = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = tokio::time::timeout(WAIT, resp.text()).await.expect("body in time").expect("body");
        let messages = if body.trim().is_empty() {
            Vec::new()
        } else if sse {
            parse_sse(&body)
        } else {
            match serde_json::from_str::<Value>(&body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}")) {
                Value::Array(items) => items,
                v => vec![v],
            }
        };
        Posted { status, headers, sse, messages }
    }

    pub async fn post(&self, body: &Value) -> Posted {
        self.send(self.builder().body(body.to_string())).await
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Posted {
        let id = self.next_id;
        self.next_id += 1;
        self.post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let p = self.request(method, params).await;
        assert_eq!(p.status, 200, "{method}: {p:?}");
        match p.response().get("result") {
            Some(r) => r.clone(),
            None => panic!("{method} failed: {p:?}"),
        }
    }

    pub async fn initialize(&mut self, capabilities: Value) -> Value {
        let p = self
            .request("initialize", json!({"protocolVersion": self.version, "capabilities": capabilities, "clientInfo": {"name": "vmcp-tests", "version": "0"}}))
            .await;
        assert_eq!(p.status, 200, "initialize: {p:?}");
        self.session = Some(
            p.headers.get("mcp-session-id").expect("Mcp-Session-Id on initialize").to_str().expect("ascii").to_owned(),
        );
        let result = p.response()["result"].clone();
        let n = self.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        assert_eq!(n.status, 202);
        result
    }
}

/// Third-party interop peers (server-everything, the Python SDK client).
pub mod balancer;
pub mod cluster;
pub mod interop;
pub mod postgres;

/// A client connection that carries every message both ways on one channel (the
/// legacy SSE transport, WebSocket), with the request helpers built on that.
#[allow(async_fn_in_trait)]
pub trait McpConn {
    /// Sends one message (or batch) to the server.
    async fn send(&mut self, msg: &Value);
    /// The next message from the server; `None` when the connection ends. Panics after `WAIT`.
    async fn receive(&mut self) -> Option<Value>;
    /// Messages received that nobody waited for yet.
    fn backlog(&mut self) -> &mut VecDeque<Value>;
    fn next_id(&mut self) -> i64;

    /// Waits for the first message matching `pred`; others are kept for later.
    async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.backlog().iter().position(&pred) {
            return self.backlog().remove(pos).expect("present");
        }
        loop {
            let Some(msg) = self.receive().await else {
                panic!("the connection ended while waiting for {what}; unmatched: {:?}", self.backlog());
            };
            if pred(&msg) {
                return msg;
            }
            self.backlog().push_back(msg);
        }
    }

    /// Sends a request and returns its id.
    async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        id
    }

    async fn response(&mut self, id: i64) -> Value {
        self.wait_for(&format!("response to {id}"), |m| m.get("id") == Some(&json!(id)) && m.get("method").is_none())
            .await
    }

    /// Sends a request and waits for its response (the whole message).
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        self.response(id).await
    }

    /// The `result` of a request; panics on an error response.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params).await;
        r.get("result").unwrap_or_else(|| panic!("{method} failed: {r}")).clone()
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params})).await;
    }

    /// initialize + initialized; returns the initialize result.
    async fn initialize(&mut self, version: &str, capabilities: Value) -> Value {
        let r = self
            .call("initialize", json!({"protocolVersion": version, "capabilities": capabilities, "clientInfo": {"name": "vmcp-tests", "version": "0"}}))
            .await;
        self.notify("notifications/initialized", json!({})).await;
        r
    }
}

/// A legacy HTTP+SSE client: the `GET /sse` stream, read incrementally, and
/// `POST`s to the endpoint it announced.
pub struct SseClient {
    pub http: reqwest::Client,
    /// The absolute URL to POST to (`…/message?sessionId=…`).
    pub endpoint: String,
    /// The `endpoint` event's data, as sent.
    pub endpoint_data: String,
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
    backlog: VecDeque<Value>,
    next_id: i64,
}

impl SseClient {
    /// Opens `GET <base>/sse` and reads the `endpoint` event, which must come first.
    pub async fn connect(base: &str) -> SseClient {
        let http = reqwest::Client::new();
        let get = http.get(format!("{base}/sse")).header("accept", "text/event-stream");
        let resp = tokio::time::timeout(WAIT, get.send()).await.expect("GET /sse in time").expect("GET /sse");
        assert_eq!(resp.status(), 200, "GET /sse");
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("text/event-stream"), "GET /sse content-type {ct:?}");
        let mut c = SseClient {
            http,
            endpoint: String::new(),
            endpoint_data: String::new(),
            stream: Box::pin(resp.bytes_stream()),
            buf: String::new(),
            backlog: VecDeque::new(),
            next_id: 1,
        };
        let (event, data) = c.next_event().await.expect("an endpoint event");
        assert_eq!(event, "endpoint", "the first event must be the endpoint (data {data:?})");
        c.endpoint = format!("{base}{data}");
        c.endpoint_data = data;
        c
    }

    /// The session id in the endpoint URI.
    pub fn session_id(&self) -> &str {
        self.endpoint_data.split("sessionId=").nth(1).expect("sessionId in the endpoint")
    }

    /// The next event with data, as (event name, data); `None` when the stream ends.
    pub async fn next_event(&mut self) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                let mut name = "message".to_owned();
                let mut data = Vec::new();
                for line in event.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if !data.is_empty() {
                    return Some((name, data.join("\n")));
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, futures_util::StreamExt::next(&mut self.stream)).await {
                Err(_) => panic!("timed out waiting for an SSE event; buffered: {:?}", self.buf),
                Ok(None) => return None,
                Ok(Some(Err(e))) => panic!("SSE stream failed: {e}"),
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
            }
        }
    }

    /// POSTs `body` to the endpoint; returns the status and the body text.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> (u16, String) {
        let b = self.http.post(&self.endpoint).header("content-type", "application/json").body(body);
        let resp = tokio::time::timeout(WAIT, b.send()).await.expect("POST in time").expect("POST");
        let status = resp.status().as_u16();
        (status, tokio::time::timeout(WAIT, resp.text()).await.expect("body in time").expect("body"))
    }
}

impl McpConn for SseClient {
    async fn send(&mut self, msg: &Value) {
        let (status, body) = self.post_raw(msg.to_string()).await;
        assert_eq!(status, 202, "POST {msg} to {}: {body}", self.endpoint);
        assert!(body.is_empty(), "a 202 has no body: {body:?}");
    }

    async fn receive(&mut self) -> Option<Value> {
        let (event, data) = self.next_event().await?;
        assert_eq!(event, "message", "unexpected SSE event {event:?}: {data}");
        Some(serde_json::from_str(&data).unwrap_or_else(|e| panic!("bad SSE data ({e}): {data}")))
    }

    fn backlog(&mut self) -> &mut VecDeque<Value> {
        &mut self.backlog
    }

    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id - 1
    }
}

pub type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client of `/ws`: one JSON-RPC message per text frame.
pub struct WsClient {
    pub ws: WsStream,
    /// The close frame the server sent, once the connection ended with one.
    pub closed_with: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>,
    backlog: VecDeque<Value>,
    next_id: i64,
}

impl WsClient {
    /// Connects to `<base>/ws` (`base` is `http://…`).
    pub async fn connect(base: &str) -> WsClient {
        let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
        let (ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url.as_str()))
            .await
            .expect("WebSocket handshake in time")
            .unwrap_or_else(|e| panic!("WebSocket connect to {url}: {e}"));
        assert_eq!(resp.status().as_u16(), 101, "{resp:?}");
        WsClient { ws, closed_with: None, backlog: VecDeque::new(), next_id: 1 }
    }

    pub async fn send_frame(&mut self, frame: tokio_tungstenite::tungstenite::Message) {
        use futures_util::SinkExt;
        tokio::time::timeout(WAIT, self.ws.send(frame)).await.expect("send in time").expect("send frame");
    }

    /// Sends a close frame and waits for the server's.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(WAIT, self.ws.close(None)).await.expect("close in time");
        while self.receive().await.is_some() {}
    }
}

impl McpConn for WsClient {
    async fn send(&mut self, msg: &Value) {
        self.send_frame(tokio_tungstenite::tungstenite::Message::text(msg.to_string())).await;
    }

    async fn receive(&mut self) -> Option<Value> {
        use tokio_tungstenite::tungstenite::Message as M;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(left, futures_util::StreamExt::next(&mut self.ws))
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for a WebSocket frame"));
            match frame {
                None | Some(Err(_)) => return None,
                Some(Ok(M::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).unwrap_or_else(|e| panic!("bad frame ({e}): {t}")));
                }
                Some(Ok(M::Close(frame))) => {
                    self.closed_with = frame;
                }
                Some(Ok(M::Binary(b))) => panic!("the server sent a binary frame ({} bytes)", b.len()),
                Some(Ok(_)) => {}
            }
        }
    }

    fn backlog(&mut self) -> &mut VecDeque<Value> {
        &mut self.backlog
    }

    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id - 1
    }
}
