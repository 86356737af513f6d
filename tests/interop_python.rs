//! The official Python MCP SDK (`mcp` 2.3.0, through tests/interop/py_client.py) as a
//! client of vmcp, over stdio, streamable HTTP and legacy HTTP+SSE, with two `vmcp mock` backends.
//!
//! The SDK's default `auto` mode first probes `server/discover` (a 2026-07-28 method).
//! vmcp answers it with an error (-32601 on stdio, a 4xx on HTTP) and the SDK then
//! falls back to `initialize`: these tests check that both halves happen.
//!
//! Needs the peers `.ci/run` installs (`VMCP_TEST_PYTHON`, `VMCP_TEST_PY_CLIENT`);
//! without them each test prints SKIPPED, or fails when `CI` is set.

mod common;

use std::collections::HashSet;

use common::interop::{Peers, PyRun, vmcp_stdio_command};
use common::{HttpClient, HttpGateway, Setup, StdioGateway, mock_server};
use serde_json::{Value, json};

/// What the Python client negotiates with vmcp: the SDK's newest handshake revision.
const EXPECTED_PROTOCOL: &str = "2025-11-25";

fn two_mocks() -> Setup {
    Setup::new(
        "",
        &[
            mock_server("alpha", &[]),
            // Paginated, so the client has to follow vmcp's composite cursor.
            mock_server("beta", &["--resources", "5", "--page-size", "2"]),
        ],
    )
}

/// The whole scenario, as py_client.py options.
fn scenario() -> Vec<String> {
    [
        "--timeout",
        "30",
        "--call",
        "alpha__echo",
        "--args",
        r#"{"text":"hello from python"}"#,
        "--read",
        "alpha+mock://resource/0",
        "--prompt",
        "alpha__prompt_0",
        "--prompt-args",
        r#"{"topic":"x"}"#,
        "--progress-tool",
        "alpha__progress",
        "--progress-args",
        r#"{"steps":3,"delay_ms":20}"#,
        "--sampling-tool",
        "alpha__sample",
        "--sampling-args",
        r#"{"prompt":"say something"}"#,
        "--elicit-tool",
        "alpha__elicit",
        "--elicit-args",
        r#"{"message":"who are you?"}"#,
        "--roots-tool",
        "alpha__roots",
        "--subscribe",
        "beta+mock://resource/1",
        "--subscribe-tool",
        "beta__touch",
        "--subscribe-args",
        r#"{"uri":"mock://resource/1"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

/// Checks everything py_client.py reported for [`scenario`].
fn check_scenario(run: &PyRun, transport: &str) {
    let out = run.assert_ok();
    assert_eq!(out["transport"], transport);

    // Handshake: the discover probe failed, and the SDK fell back to initialize.
    let discover = out["discover"].as_array().expect("discover attempts");
    assert!(!discover.is_empty(), "the SDK in auto mode should have probed server/discover first: {out}");
    assert_eq!(discover[0]["version"], "2026-07-28");
    assert!(discover[0].get("error").is_some(), "vmcp must answer server/discover with an error: {}", discover[0]);
    if transport == "stdio" {
        assert_eq!(discover[0]["error"]["code"], -32601, "server/discover on stdio: {}", discover[0]);
    }
    assert_eq!(out["handshake"], "initialize", "fell back to initialize");
    let version = out["protocol_version"].as_str().expect("protocol_version");
    eprintln!("negotiated protocol (Python SDK ↔ vmcp over {transport}): {version}");
    assert_eq!(version, EXPECTED_PROTOCOL);
    assert_eq!(out["server_name"], "vmcp");

    // Lists: both prefixed sets, every page.
    let tools = strings(&out["tools"]);
    for server in ["alpha", "beta"] {
        for t in ["echo", "progress", "sample", "elicit", "roots", "tool_0"] {
            let name = format!("{server}__{t}");
            assert!(tools.contains(&name), "{name} missing from {tools:?}");
        }
    }
    let resources = strings(&out["resources"]);
    let unique: HashSet<&String> = resources.iter().collect();
    assert_eq!(unique.len(), resources.len(), "duplicates in {resources:?}");
    for r in ["alpha+mock://resource/0", "alpha+mock://resource/2", "beta+mock://resource/0", "beta+mock://resource/4"]
    {
        assert!(resources.iter().any(|x| x == r), "{r} missing from {resources:?}");
    }
    assert_eq!(resources.len(), 3 + 5, "{resources:?}");
    let templates = strings(&out["resource_templates"]);
    assert!(templates.iter().any(|t| t == "alpha+mock://template/0/{id}"), "{templates:?}");
    let prompts = strings(&out["prompts"]);
    assert!(
        prompts.iter().any(|p| p == "alpha__prompt_0") && prompts.iter().any(|p| p == "beta__prompt_1"),
        "{prompts:?}"
    );

    // Requests on prefixed names.
    assert_eq!(out["call"]["text"], "hello from python", "{}", out["call"]);
    assert_eq!(out["resource"]["text"], "resource 0", "{}", out["resource"]);
    let prompt = out["prompt"]["text"].as_str().expect("prompt text");
    assert!(prompt.contains('x'), "{prompt}");

    // Progress reaches the client under its own token.
    let progress = out["progress"].as_array().expect("progress values");
    assert!(progress.len() >= 2, "expected >= 2 progress notifications, got {progress:?}");
    assert_eq!(out["progress_call"]["text"], "done after 3 steps");

    // Server → client requests, forwarded by vmcp and answered by the SDK.
    let sampling = &out["sampling"];
    assert_eq!(sampling["count"], 1, "{sampling}");
    let text = sampling["result"]["text"].as_str().expect("sampling result text");
    assert!(text.contains("sampled-by-python"), "{text}");
    let elicitation = &out["elicitation"];
    assert_eq!(elicitation["count"], 1, "{elicitation}");
    let text = elicitation["result"]["text"].as_str().expect("elicitation result text");
    assert!(text.contains("accept") && text.contains("py-elicited"), "{text}");
    let roots = &out["roots"];
    assert!(roots["requests"].as_u64().unwrap_or(0) >= 1, "{roots}");
    let text = roots["result"]["text"].as_str().expect("roots result text");
    assert!(text.contains("file:///tmp/py-root"), "{text}");

    // Resource updates carry the URI the client subscribed to.
    let updates = strings(&out["subscription"]["updates"]);
    assert!(updates.iter().any(|u| u == "beta+mock://resource/1"), "{updates:?}");
    assert!(
        updates.iter().all(|u| u.starts_with("beta+") || u.starts_with("alpha+")),
        "unprefixed update URI: {updates:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_stdio() {
    let Some(peers) = Peers::python("python_sdk_over_stdio") else {
        return;
    };
    let setup = two_mocks();
    let mut args = scenario();
    args.push("--stdio".into());
    args.push("--".into());
    args.extend(vmcp_stdio_command(&setup.config));
    let run = peers.py_client(&args).await;
    check_scenario(&run, "stdio");
    // vmcp's own account of the handshake.
    let line = run.stderr_line("client initialized").expect("vmcp logged the client's initialize");
    assert!(line.contains("negotiated=2025-11-25") && line.contains("client=vmcp-py-interop"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_streamable_http() {
    let Some(peers) = Peers::python("python_sdk_over_streamable_http") else {
        return;
    };
    let setup = two_mocks();
    let gw = HttpGateway::start(&setup).await;
    let mut args = scenario();
    args.push("--http".into());
    args.push(gw.url("/mcp"));
    let run = peers.py_client(&args).await;
    check_scenario(&run, "http");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_legacy_sse() {
    let Some(peers) = Peers::python("python_sdk_over_legacy_sse") else {
        return;
    };
    let setup = two_mocks();
    let gw = HttpGateway::start(&setup).await;
    let mut args = scenario();
    args.push("--sse".into());
    args.push(gw.url("/sse"));
    let run = peers.py_client(&args).await;
    check_scenario(&run, "sse");
    gw.stop().await;
}

/// What vmcp answers to `server/discover` on stdio, seen raw: -32601, and the
/// connection goes on to a normal initialize.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_probe_is_refused_on_stdio_then_initialize_works() {
    let setup = two_mocks();
    let mut gw = StdioGateway::start(&setup).await;
    let meta = json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }});
    let r = gw.request("server/discover", meta).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
    assert!(r.get("result").is_none(), "{r}");
    let init = gw.initialize("2025-11-25", json!({})).await;
    assert_eq!(init["protocolVersion"], "2025-11-25");
    let tools = gw.call("tools/list", json!({})).await;
    assert!(common::tool_names(&tools).iter().any(|t| t == "beta__echo"));
    gw.close().await;
}

/// The same over streamable HTTP: a 4xx (with a JSON-RPC error body the SDK can
/// read), with or without the 2026 protocol header, and no session is minted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_probe_is_refused_on_http_then_initialize_works() {
    let setup = two_mocks();
    let gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    }}});
    for version in ["2026-07-28", "2025-11-25"] {
        client.version = version.to_owned();
        let p = client.post(&discover).await;
        assert!((400..500).contains(&p.status), "server/discover with MCP-Protocol-Version {version}: {p:?}");
        assert!(p.headers.get("mcp-session-id").is_none(), "no session for a refused probe: {p:?}");
        if let Some(m) = p.messages.first() {
            assert!(m.get("error").is_some(), "a 4xx body, when there is one, is a JSON-RPC error: {m}");
        }
    }
    client.version = "2025-11-25".to_owned();
    let init = client.initialize(json!({})).await;
    assert_eq!(init["protocolVersion"], "2025-11-25");
    let tools = client.call("tools/list", json!({})).await;
    assert!(common::tool_names(&tools).iter().any(|t| t == "alpha__echo"));
    gw.stop().await;
}
