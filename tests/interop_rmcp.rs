//! Interop with the official Rust SDK, `rmcp`: as a client of vmcp over stdio
//! (`vmcp start --stdio` as a child process) and over streamable HTTP, in the
//! handshake era (`initialize`) and in 2026-07-28 (`server/discover`, stateless
//! requests, `input_required` rounds); and as a 2026-07-28 server behind vmcp
//! (rmcp's streamable HTTP server, in this process).
//! Negotiated protocol versions are printed (see them with `--nocapture`).

// Sampling and roots are deprecated in rmcp (SEP-2577) but are what we test.
#![allow(deprecated)]

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ClientRequest, ContentBlock, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationCapability, GetPromptRequestParams,
    Implementation, InputRequest, InputRequests, InputRequiredResult, ListRootsResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams, Root,
    RootsCapabilities, SamplingCapability, SamplingMessage, ServerCapabilities, ServerConfig, ServerResult, Tool,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, PeerRequestOptions, RequestContext, RunningService,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use common::*;

const SAMPLED: &str = "rmcp-sampled-answer";
const ELICITED: &str = "rmcp-elicited-name";
const ROOT: &str = "file:///tmp/rmcp-root";

/// An rmcp client that answers sampling, elicitation and roots with fixed
/// values and records progress notifications.
#[derive(Clone, Default)]
struct TestClient {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    progressed: Arc<Notify>,
}

impl ClientHandler for TestClient {
    async fn create_message(
        &self,
        _params: CreateMessageRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        Ok(CreateMessageResult::new(SamplingMessage::assistant_text(SAMPLED), "rmcp-test-model".into()))
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "name": ELICITED })))
    }

    async fn list_roots(&self, _cx: RequestContext<RoleClient>) -> Result<ListRootsResult, ErrorData> {
        Ok(ListRootsResult::new(vec![Root::new(ROOT).with_name("rmcp root")]))
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _cx: NotificationContext<RoleClient>) {
        if let Ok(mut p) = self.progress.lock() {
            p.push(params);
        }
        self.progressed.notify_one();
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.sampling = Some(SamplingCapability::default());
        capabilities.elicitation = Some(ElicitationCapability::default());
        capabilities.roots = Some(RootsCapabilities::default());
        ClientConfig::new(capabilities, Implementation::new("vmcp-rmcp-interop", "0"))
    }
}

type Client = RunningService<RoleClient, TestClient>;

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut).await.unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn two_servers() -> Setup {
    Setup::new("", &[mock_server("alpha", &[]), mock_server("beta", &[])])
}

/// The revision rmcp settled on, checked against the ones vmcp speaks.
fn negotiated(client: &Client, transport: &str) -> String {
    let info = client.peer_info().expect("rmcp knows the server after initialize");
    let version = info.protocol_version.to_string();
    eprintln!(
        "rmcp over {transport}: negotiated protocol version {version} (rmcp asked for {})",
        ProtocolVersion::default()
    );
    assert!(
        ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"].contains(&version.as_str()),
        "unexpected revision {version}"
    );
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("vmcp"), "serverInfo: {info:?}");
    version
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("arguments must be an object: {other}"),
    }
}

/// Calls a tool and returns the result as JSON (so assertions see the wire shape).
async fn call(client: &Client, name: &str, arguments: Value) -> Value {
    let params = CallToolRequestParams::new(name.to_owned()).with_arguments(args(arguments));
    let result = bounded(name, client.call_tool(params)).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::to_value(&result).expect("serialize result")
}

/// Lists tools, calls `alpha__echo`; what both transports must do.
async fn list_and_echo(client: &Client) {
    let tools = bounded("list_all_tools", client.list_all_tools()).await.expect("list tools");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for expected in ["alpha__echo", "beta__echo", "alpha__progress", "beta__sample"] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    let r = call(client, "alpha__echo", json!({"text": "hello from rmcp"})).await;
    assert_eq!(first_text(&r), "hello from rmcp", "{r}");
    assert_eq!(r["_meta"], json!({"vmcp.mock/echo": true}), "_meta lost: {r}");
}

/// Calls `alpha__progress` with rmcp's own progress token; the three
/// notifications come back with it.
async fn check_progress(client: &Client, handler: &TestClient) {
    let params = CallToolRequestParams::new("alpha__progress").with_arguments(args(json!({"steps": 3, "delay_ms": 5})));
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle =
        bounded("send progress call", client.send_cancellable_request(request, PeerRequestOptions::no_options()))
            .await
            .expect("send");
    let token = handle.progress_token.clone();
    let result = bounded("progress call", handle.await_response()).await.expect("progress call");
    let ServerResult::CallToolResult(result) = result else { panic!("not a tool result: {result:?}") };
    let result = serde_json::to_value(&result).expect("serialize");
    assert_eq!(first_text(&result), "done after 3 steps");
    bounded("three progress notifications", async {
        loop {
            let notified = handler.progressed.notified();
            if handler.progress.lock().map(|p| p.len() >= 3).unwrap_or(false) {
                break;
            }
            notified.await;
        }
    })
    .await;
    let seen = handler.progress.lock().map(|p| p.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(p.progress_token, token, "the client's own token: {p:?}");
        assert_eq!(p.progress, (i + 1) as f64, "{p:?}");
        assert_eq!(p.total, Some(3.0), "{p:?}");
    }
}

#[tokio::test]
async fn rmcp_over_stdio() {
    let setup = two_servers();
    let mut cmd = tokio::process::Command::new(vmcp_bin());
    cmd.arg("start").arg("--stdio").arg("--config").arg(&setup.config).env("VMCP_LOG", "info");
    let transport = TokioChildProcess::new(cmd).expect("spawn vmcp start --stdio");
    let client =
        bounded("rmcp initialize over stdio", TestClient::default().serve(transport)).await.expect("initialize");
    negotiated(&client, "stdio");

    list_and_echo(&client).await;

    let resources = bounded("list_all_resources", client.list_all_resources()).await.expect("list resources");
    let uris: Vec<String> = resources.iter().map(|r| r.uri.clone()).collect();
    assert!(uris.iter().any(|u| u.starts_with("beta+mock://resource/")), "{uris:?}");
    let uri = uris
        .iter()
        .find(|u| u.starts_with("alpha+mock://resource/"))
        .unwrap_or_else(|| panic!("no alpha resource in {uris:?}"))
        .clone();
    let read = bounded("read_resource", client.read_resource(ReadResourceRequestParams::new(uri.clone())))
        .await
        .expect("read resource");
    let read = serde_json::to_value(&read).expect("serialize");
    let n = uri.rsplit('/').next().expect("index");
    assert_eq!(read["contents"][0]["text"], format!("resource {n}"), "{read}");

    let prompt = GetPromptRequestParams::new("alpha__prompt_0").with_arguments(args(json!({"topic": "interop"})));
    let got = bounded("get_prompt", client.get_prompt(prompt)).await.expect("get prompt");
    let got = serde_json::to_value(&got).expect("serialize");
    let text = got["messages"][0]["content"]["text"].as_str().unwrap_or_else(|| panic!("no text in {got}"));
    assert!(text.contains("interop") && text.contains("prompt_0"), "{got}");

    bounded("rmcp cancel", client.cancel()).await.expect("close the client");
}

#[tokio::test]
async fn rmcp_over_streamable_http() {
    let setup = two_servers();
    let gw = HttpGateway::start(&setup).await;
    let transport = StreamableHttpClientTransport::from_uri(gw.url("/mcp"));
    let handler = TestClient::default();
    let client = bounded("rmcp initialize over HTTP", handler.clone().serve(transport)).await.expect("initialize");
    negotiated(&client, "streamable HTTP");

    list_and_echo(&client).await;

    check_progress(&client, &handler).await;

    let r = call(&client, "alpha__sample", json!({"prompt": "say something"})).await;
    assert!(first_text(&r).contains(SAMPLED), "sampling answer missing: {r}");

    let r = call(&client, "alpha__elicit", json!({"message": "your name?"})).await;
    let text = first_text(&r);
    assert!(text.contains(ELICITED) && text.contains("accept"), "elicitation answer missing: {r}");

    let r = call(&client, "alpha__roots", json!({})).await;
    assert!(first_text(&r).contains(ROOT), "roots answer missing: {r}");

    bounded("rmcp cancel", client.cancel()).await.expect("close the client");
    let status = gw.stop().await;
    assert!(status.success(), "{status}");
}

// ---------------------------------------------------------------------------
// rmcp as a 2026-07-28 client of vmcp: `server/discover`, then stateless
// requests; sampling, elicitation and roots arrive as `input_required` results,
// which rmcp's `call_tool` fulfils through its ClientHandler and retries.

/// rmcp's opt-in stateless lifecycle: `server/discover` only, no fallback.
fn discover_only() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
}

/// rmcp's probing lifecycle: `server/discover`, falling back to `initialize`.
fn discover_or_initialize() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

/// The revision rmcp settled on through `server/discover`: must be 2026-07-28.
fn negotiated_stateless(client: &Client, transport: &str, mode: &str) {
    let info = client.peer_info().expect("rmcp knows the server after server/discover");
    let version = info.protocol_version.to_string();
    eprintln!("rmcp ({mode}) over {transport}: negotiated protocol version {version}");
    assert_eq!(version, "2026-07-28", "{info:?}");
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("vmcp"), "serverInfo: {info:?}");
}

/// What a 2026-07-28 rmcp client does with vmcp, on either transport.
async fn stateless_client_session(client: &Client, handler: &TestClient) {
    list_and_echo(client).await;
    check_progress(client, handler).await;

    // One round by hand: the sampling request comes back as an input_required result.
    let params = CallToolRequestParams::new("alpha__sample").with_arguments(args(json!({"prompt": "by hand?"})));
    let first = bounded("alpha__sample once", client.call_tool_once(params.clone())).await.expect("call_tool_once");
    let CallToolResponse::InputRequired(asked) = first else { panic!("expected input_required, got {first:?}") };
    let asked = serde_json::to_value(&asked).expect("serialize");
    eprintln!("vmcp's input_required result, as rmcp parsed it: {asked}");
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let (key, request) = asked["inputRequests"]
        .as_object()
        .and_then(|m| m.iter().next())
        .unwrap_or_else(|| panic!("no request: {asked}"));
    assert_eq!(request["method"], "sampling/createMessage", "{asked}");
    assert_eq!(request["params"]["messages"][0]["content"]["text"], "by hand?", "{asked}");
    let state = asked["requestState"].as_str().unwrap_or_else(|| panic!("no requestState: {asked}"));
    let answer = json!({"role": "assistant", "content": {"type": "text", "text": "answered by hand"}, "model": "m"});
    let retry = params.with_input_responses([(key.clone(), answer)].into_iter().collect()).with_request_state(state);
    let done = bounded("alpha__sample retry", client.call_tool_once(retry)).await.expect("retry");
    let CallToolResponse::Complete(done) = done else { panic!("expected a complete result, got {done:?}") };
    let done = serde_json::to_value(&done).expect("serialize");
    assert!(first_text(&done).contains("answered by hand"), "{done}");

    // rmcp's call_tool drives the rounds itself, answering from TestClient.
    let r = call(client, "alpha__sample", json!({"prompt": "say something"})).await;
    assert!(first_text(&r).contains(SAMPLED), "sampling answer missing: {r}");
    let r = call(client, "alpha__elicit", json!({"message": "your name?"})).await;
    let text = first_text(&r);
    assert!(text.contains(ELICITED) && text.contains("accept"), "elicitation answer missing: {r}");
    let r = call(client, "alpha__roots", json!({})).await;
    assert!(first_text(&r).contains(ROOT), "roots answer missing: {r}");
}

#[tokio::test]
async fn rmcp_2026_client_over_stdio() {
    let setup = two_servers();
    let mut cmd = tokio::process::Command::new(vmcp_bin());
    cmd.arg("start").arg("--stdio").arg("--config").arg(&setup.config).env("VMCP_LOG", "info");
    let transport = TokioChildProcess::new(cmd).expect("spawn vmcp start --stdio");
    let handler = TestClient::default();
    let client =
        bounded("rmcp server/discover over stdio", handler.clone().serve_with_lifecycle(transport, discover_only()))
            .await
            .expect("server/discover");
    negotiated_stateless(&client, "stdio", "Discover");
    stateless_client_session(&client, &handler).await;
    bounded("rmcp cancel", client.cancel()).await.expect("close the client");
}

#[tokio::test]
async fn rmcp_2026_client_over_streamable_http() {
    let setup = two_servers();
    let gw = HttpGateway::start(&setup).await;
    let transport = StreamableHttpClientTransport::from_uri(gw.url("/mcp"));
    let handler = TestClient::default();
    let client = bounded(
        "rmcp server/discover over HTTP",
        handler.clone().serve_with_lifecycle(transport, discover_or_initialize()),
    )
    .await
    .expect("server/discover");
    negotiated_stateless(&client, "streamable HTTP", "Auto");
    stateless_client_session(&client, &handler).await;
    bounded("rmcp cancel", client.cancel()).await.expect("close the client");
    let status = gw.stop().await;
    assert!(status.success(), "{status}");
}

// ---------------------------------------------------------------------------
// rmcp as a 2026-07-28 server behind vmcp: an rmcp ServerHandler served over
// streamable HTTP in this process, configured as `[servers.rs]`.

/// The backend's `requestState` after its first round of `ask`.
const ASK_STATE: &str = "rs-ask/round-1";

/// One `tools/call` as the rmcp backend received it.
#[derive(Clone, Debug)]
struct Seen {
    tool: String,
    protocol: Option<String>,
    request_state: Option<String>,
    input_responses: Option<Value>,
}

/// An rmcp server with two tools: `echo`, and `ask`, which needs the client's
/// model: in 2026-07-28 it answers `input_required` with a sampling request and
/// a `requestState`, and completes on the retry that carries the answer.
#[derive(Clone, Default)]
struct RsBackend {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RsBackend {
    fn seen(&self, tool: &str) -> Vec<Seen> {
        self.seen.lock().map(|s| s.iter().filter(|c| c.tool == tool).cloned().collect()).unwrap_or_default()
    }
}

fn schema(v: Value) -> Arc<serde_json::Map<String, Value>> {
    Arc::new(args(v))
}

impl ServerHandler for RsBackend {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("rmcp-backend", "0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let text = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
        let question =
            json!({"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]});
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("echo", "Returns its text", schema(text)),
            Tool::new("ask", "Asks the client's model (sampling, as input_required)", schema(question)),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Seen {
                tool: request.name.to_string(),
                protocol: cx.protocol_version().map(|v| v.to_string()),
                request_state: request.request_state.clone(),
                input_responses: request.input_responses.as_ref().map(|r| json!(r)),
            });
        }
        let arg = |k: &str| {
            request.arguments.as_ref().and_then(|a| a.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned()
        };
        match request.name.as_ref() {
            "echo" => Ok(CallToolResult::success(vec![ContentBlock::text(arg("text"))]).into()),
            "ask" => match (request.request_state.as_deref(), &request.input_responses) {
                (None, _) => {
                    let question = SamplingMessage::user_text(arg("question"));
                    let sampling = CreateMessageRequest::new(CreateMessageRequestParams::new(vec![question], 50));
                    let mut requests = InputRequests::new();
                    requests.insert("q".into(), InputRequest::CreateMessage(sampling));
                    Ok(InputRequiredResult::new(Some(requests), Some(ASK_STATE.into())).into())
                }
                (Some(ASK_STATE), Some(responses)) => {
                    let answer = responses
                        .get("q")
                        .and_then(|r| r["content"]["text"].as_str())
                        .ok_or_else(|| ErrorData::invalid_params(format!("no answer to q in {responses:?}"), None))?;
                    Ok(CallToolResult::success(vec![ContentBlock::text(format!("answer: {answer}"))]).into())
                }
                (state, responses) => Err(ErrorData::invalid_params(
                    format!("unexpected retry: requestState {state:?}, inputResponses {responses:?}"),
                    None,
                )),
            },
            other => Err(ErrorData::invalid_params(format!("no tool {other:?}"), None)),
        }
    }
}

/// `RsBackend` on rmcp's streamable HTTP server (axum), at `http://127.0.0.1:PORT/mcp`.
struct RsServer {
    url: String,
    backend: RsBackend,
    ct: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RsServer {
    async fn start() -> RsServer {
        let backend = RsBackend::default();
        let ct = CancellationToken::new();
        let config =
            StreamableHttpServerConfig::default().with_sse_keep_alive(None).with_cancellation_token(ct.child_token());
        let factory = backend.clone();
        let service: StreamableHttpService<RsBackend, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(factory.clone()), Default::default(), config);
        let router = axum::Router::new().nest_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shutdown = ct.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        });
        RsServer { url: format!("http://{addr}/mcp"), backend, ct, task: Some(task) }
    }

    /// The `[servers.rs]` table for vmcp.
    fn server_table(&self) -> String {
        format!("[servers.rs]\ntransport = \"http\"\nurl = {:?}\n", self.url)
    }

    /// Stops the server: graceful shutdown, then abort if a stream stays open.
    async fn stop(mut self) {
        self.ct.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(std::time::Duration::from_secs(5), &mut task).await.is_err()
        {
            eprintln!("the rmcp server did not shut down within 5 s; aborting it");
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for RsServer {
    fn drop(&mut self) {
        self.ct.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The `protocol=` of vmcp's "ready server=<id>" log line.
async fn ready_protocol(stderr: &mut tokio::sync::mpsc::UnboundedReceiver<String>, server: &str) -> String {
    let needle = format!("ready server={server} ");
    bounded(&format!("vmcp's ready line for {server}"), async {
        while let Some(line) = stderr.recv().await {
            if let Some(rest) = line.split(&needle).nth(1) {
                let protocol = rest.split_whitespace().find_map(|f| f.strip_prefix("protocol="));
                return protocol.unwrap_or_else(|| panic!("no protocol= in {line:?}")).to_owned();
            }
        }
        panic!("vmcp's stderr ended before {server} was ready");
    })
    .await
}

/// The answer a client gives to the backend's sampling question.
fn sampling_answer(text: &str) -> Value {
    json!({"role": "assistant", "content": {"type": "text", "text": text}, "model": "test-model"})
}

/// The backend's `ask` ran twice: first without state, then with its own
/// `requestState` and the client's answer, each time on 2026-07-28.
fn assert_ask_rounds(backend: &RsBackend, answer: &str) {
    let asks = backend.seen("ask");
    assert_eq!(asks.len(), 2, "{asks:?}");
    assert_eq!(asks[0].request_state, None, "{asks:?}");
    assert_eq!(asks[1].request_state.as_deref(), Some(ASK_STATE), "{asks:?}");
    let responses = asks[1].input_responses.as_ref().unwrap_or_else(|| panic!("no inputResponses: {asks:?}"));
    assert_eq!(responses["q"]["content"]["text"], answer, "{asks:?}");
    for a in &asks {
        assert_eq!(a.protocol.as_deref(), Some("2026-07-28"), "{asks:?}");
    }
}

#[tokio::test]
async fn rmcp_2026_server_behind_vmcp_for_a_handshake_client() {
    let rs = RsServer::start().await;
    let setup = Setup::new("", &[rs.server_table()]);
    let mut gw = StdioGateway::start(&setup).await;
    let init = gw.initialize("2025-11-25", json!({"sampling": {}})).await;
    assert_eq!(init["protocolVersion"], "2025-11-25", "{init}");
    let protocol = ready_protocol(&mut gw.stderr, "rs").await;
    eprintln!("vmcp negotiated {protocol} with the rmcp backend");
    assert_eq!(protocol, "2026-07-28");

    let names = tool_names(&gw.call("tools/list", json!({})).await);
    for expected in ["rs__echo", "rs__ask"] {
        assert!(names.contains(&expected.to_owned()), "{expected} missing from {names:?}");
    }
    let r = gw.call("tools/call", json!({"name": "rs__echo", "arguments": {"text": "through vmcp"}})).await;
    assert_eq!(first_text(&r), "through vmcp", "{r}");

    // The backend's input_required becomes a sampling request to this client.
    let id = gw.send_request("tools/call", json!({"name": "rs__ask", "arguments": {"question": "2+2?"}})).await;
    let req = gw.wait_for("sampling/createMessage", |m| m["method"] == "sampling/createMessage").await;
    assert_eq!(req["params"]["messages"][0]["content"]["text"], "2+2?", "{req}");
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": sampling_answer("four")})).await;
    let resp = gw.response(id).await;
    let result = resp.get("result").unwrap_or_else(|| panic!("rs__ask failed: {resp}"));
    assert_eq!(first_text(result), "answer: four", "{resp}");
    assert!(result.get("resultType").is_none_or(|t| t == "complete"), "{resp}");
    assert_ask_rounds(&rs.backend, "four");

    assert!(gw.close().await.success());
    rs.stop().await;
}

#[tokio::test]
async fn rmcp_2026_server_behind_vmcp_for_a_2026_client() {
    let rs = RsServer::start().await;
    let setup = Setup::new("", &[rs.server_table()]);
    // (vmcp's "ready" line may come before its "listening" line, which
    // HttpGateway::start reads past: the revision is checked on what the
    // backend received instead, in assert_ask_rounds.)
    let gw = HttpGateway::start(&setup).await;

    let mut c = HttpClient::new(gw.url("/mcp"));
    c.version = "2026-07-28".into();
    let meta = |capabilities: Value| {
        json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "interop-rmcp", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": capabilities,
        })
    };
    let post = |id: i64, method: &'static str, name: Option<&'static str>, params: Value| {
        let c = &c;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        async move {
            let mut b = c.builder().header("mcp-method", method);
            if let Some(n) = name {
                b = b.header("mcp-name", n);
            }
            let p = c.send(b.body(body)).await;
            assert_eq!(p.status, 200, "{method}: {p:?}");
            assert!(p.headers.get("mcp-session-id").is_none(), "{p:?}");
            p.response().get("result").unwrap_or_else(|| panic!("{method} failed: {p:?}")).clone()
        }
    };

    let tools = post(1, "tools/list", None, json!({"_meta": meta(json!({}))})).await;
    let names = tool_names(&tools);
    assert!(names.contains(&"rs__echo".to_owned()) && names.contains(&"rs__ask".to_owned()), "{names:?}");
    let r = post(
        2,
        "tools/call",
        Some("rs__echo"),
        json!({"name": "rs__echo", "arguments": {"text": "stateless"}, "_meta": meta(json!({}))}),
    )
    .await;
    assert_eq!(first_text(&r), "stateless", "{r}");
    assert_eq!(r["resultType"], "complete", "{r}");

    // The backend's input_required reaches this client as the backend wrote it.
    let call = json!({"name": "rs__ask", "arguments": {"question": "2+2?"}, "_meta": meta(json!({"sampling": {}}))});
    let first = post(3, "tools/call", Some("rs__ask"), call.clone()).await;
    eprintln!("input_required through vmcp: {first}");
    assert_eq!(first["resultType"], "input_required", "{first}");
    let request = &first["inputRequests"]["q"];
    assert_eq!(request["method"], "sampling/createMessage", "{first}");
    assert_eq!(request["params"]["messages"][0]["content"]["text"], "2+2?", "{first}");
    assert_eq!(first["requestState"], ASK_STATE, "the backend's own state passes through: {first}");

    // The retry, with the backend's state and this client's answer, completes there.
    let mut retry = call;
    retry["requestState"] = first["requestState"].clone();
    retry["inputResponses"] = json!({"q": sampling_answer("four")});
    let done = post(4, "tools/call", Some("rs__ask"), retry).await;
    assert_eq!(done["resultType"], "complete", "{done}");
    assert_eq!(first_text(&done), "answer: four", "{done}");
    assert_ask_rounds(&rs.backend, "four");

    let status = gw.stop().await;
    assert!(status.success(), "{status}");
    rs.stop().await;
}

/// Both ends rmcp on 2026-07-28, vmcp in the middle: rmcp's client drives the
/// rmcp backend's input_required rounds through vmcp by itself.
#[tokio::test]
async fn rmcp_2026_client_and_server_through_vmcp() {
    let rs = RsServer::start().await;
    let setup = Setup::new("", &[rs.server_table()]);
    let mut cmd = tokio::process::Command::new(vmcp_bin());
    cmd.arg("start").arg("--stdio").arg("--config").arg(&setup.config).env("VMCP_LOG", "info");
    let transport = TokioChildProcess::new(cmd).expect("spawn vmcp start --stdio");
    let client =
        bounded("rmcp server/discover", TestClient::default().serve_with_lifecycle(transport, discover_only()))
            .await
            .expect("server/discover");
    negotiated_stateless(&client, "stdio, rmcp backend", "Discover");
    let r = call(&client, "rs__echo", json!({"text": "rmcp to rmcp"})).await;
    assert_eq!(first_text(&r), "rmcp to rmcp", "{r}");
    let r = call(&client, "rs__ask", json!({"question": "who answers?"})).await;
    assert_eq!(first_text(&r), format!("answer: {SAMPLED}"), "{r}");
    assert_ask_rounds(&rs.backend, SAMPLED);
    bounded("rmcp cancel", client.cancel()).await.expect("close the client");
    rs.stop().await;
}
