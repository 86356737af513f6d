//! Interop with the official Rust SDK, `rmcp`, as a client of vmcp: over stdio
//! (`vmcp start --stdio` as a child process) and over streamable HTTP.
//! Negotiated protocol versions are printed (see them with `--nocapture`).

// Sampling and roots are deprecated in rmcp (SEP-2577) but are what we test.
#![allow(deprecated)]

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationCapability, GetPromptRequestParams, Implementation, ListRootsResult, ProgressNotificationParam,
    ProtocolVersion, ReadResourceRequestParams, Root, RootsCapabilities, SamplingCapability, SamplingMessage,
    ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::Notify;

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

    // Progress: rmcp puts its own token on the request; the notifications come back with it.
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
