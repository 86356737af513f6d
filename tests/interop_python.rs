//! The official Python MCP SDK (`mcp` 2.3.0, through tests/interop/py_client.py) as a
//! client of vmcp, over stdio, streamable HTTP and legacy HTTP+SSE, with two `vmcp mock` backends.
//!
//! The SDK's default `auto` mode probes `server/discover`; vmcp answers it, so the
//! SDK speaks the stateless 2026-07-28 revision (sampling, elicitation and roots as
//! `input_required` results, resource updates on `subscriptions/listen`). With
//! `--mode legacy` it uses the `initialize` handshake. Both eras are tested.
//!
//! Needs the peers `.ci/run` installs (`VMCP_TEST_PYTHON`, `VMCP_TEST_PY_CLIENT`);
//! without them each test prints SKIPPED, or fails when `CI` is set.

mod common;

use std::collections::HashSet;

use common::interop::{Peers, PyRun, vmcp_stdio_command};
use common::{HttpClient, HttpGateway, Setup, StdioGateway, mock_server};
use serde_json::{Value, json};

/// What the Python client negotiates with vmcp: the SDK's newest handshake revision.
/// What the SDK negotiates: in its default `auto` mode it probes `server/discover`
/// and, since vmcp answers it, speaks 2026-07-28; with `--mode legacy` it uses the
/// `initialize` handshake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Era {
    Stateless,
    Legacy,
}

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
fn check_scenario(run: &PyRun, transport: &str, era: Era) {
    let out = run.assert_ok();
    assert_eq!(out["transport"], transport);

    let version = out["protocol_version"].as_str().expect("protocol_version");
    eprintln!("Python SDK ({transport}, {era:?}) negotiated {version}");
    match era {
        Era::Stateless => {
            let discover = out["discover"].as_array().expect("discover attempts");
            assert!(!discover.is_empty(), "the SDK in auto mode probes server/discover first: {out}");
            assert!(discover[0].get("error").is_none(), "vmcp answers server/discover: {}", discover[0]);
            assert_eq!(out["handshake"], "discover", "{out}");
            assert_eq!(version, "2026-07-28");
        }
        Era::Legacy => {
            assert_eq!(out["handshake"], "initialize", "{out}");
            assert_eq!(version, "2025-11-25");
        }
    }
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

async fn over_stdio(test: &str, era: Era) {
    let Some(peers) = Peers::python(test) else {
        return;
    };
    let setup = two_mocks();
    let mut args = scenario();
    if era == Era::Legacy {
        args.extend(["--mode".to_owned(), "legacy".to_owned()]);
    }
    args.push("--stdio".into());
    args.push("--".into());
    args.extend(vmcp_stdio_command(&setup.config));
    let run = peers.py_client(&args).await;
    check_scenario(&run, "stdio", era);
    if era == Era::Legacy {
        // vmcp's own account of the handshake.
        let line = run.stderr_line("client initialized").expect("vmcp logged the client's initialize");
        assert!(line.contains("negotiated=2025-11-25") && line.contains("client=vmcp-py-interop"), "{line}");
    }
}

async fn over_http(test: &str, transport: &str, era: Era) {
    let Some(peers) = Peers::python(test) else {
        return;
    };
    let setup = two_mocks();
    let gw = HttpGateway::start(&setup).await;
    let mut args = scenario();
    if era == Era::Legacy {
        args.extend(["--mode".to_owned(), "legacy".to_owned()]);
    }
    args.push(format!("--{transport}"));
    args.push(gw.url(if transport == "sse" { "/sse" } else { "/mcp" }));
    let run = peers.py_client(&args).await;
    check_scenario(&run, transport, era);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_stdio_2026() {
    over_stdio("python_sdk_over_stdio_2026", Era::Stateless).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_stdio_handshake() {
    over_stdio("python_sdk_over_stdio_handshake", Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_streamable_http_2026() {
    over_http("python_sdk_over_streamable_http_2026", "http", Era::Stateless).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_streamable_http_handshake() {
    over_http("python_sdk_over_streamable_http_handshake", "http", Era::Legacy).await;
}

/// The legacy HTTP+SSE transport with the initialize handshake, as 2024-11-05 clients use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_legacy_sse() {
    over_http("python_sdk_over_legacy_sse", "sse", Era::Legacy).await;
}

fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// `server/discover` on stdio, seen raw: every revision is offered; stateless
/// requests work; and the handshake still works for handshake-era clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_and_both_eras_on_stdio() {
    let setup = two_mocks();
    let mut gw = StdioGateway::start(&setup).await;
    let r = gw.call("server/discover", json!({"_meta": modern_meta()})).await;
    assert_eq!(r["resultType"], "complete");
    let versions: Vec<&str> = r["supportedVersions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(versions, ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]);
    assert_eq!(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "vmcp");
    assert!(r.get("ttlMs").is_some() && r.get("cacheScope").is_some(), "{r}");
    let tools = gw.call("tools/list", json!({"_meta": modern_meta()})).await;
    assert_eq!(tools["resultType"], "complete");
    assert!(common::tool_names(&tools).iter().any(|t| t == "beta__echo"));
    // An unknown revision in _meta is refused with the list of supported ones.
    let bad =
        gw.request("tools/list", json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "1999-01-01"}})).await;
    assert_eq!(bad["error"]["code"], -32022, "{bad}");
    let init = gw.initialize("2025-11-25", json!({})).await;
    assert_eq!(init["protocolVersion"], "2025-11-25");
    gw.close().await;
}

/// The same over streamable HTTP: stateless (no session minted), with the
/// 2026-07-28 headers checked against the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_and_both_eras_on_http() {
    let setup = two_mocks();
    let gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": modern_meta()}});
    client.version = "2026-07-28".to_owned();
    let p = client.send(client.builder().header("mcp-method", "server/discover").body(discover.to_string())).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert!(p.headers.get("mcp-session-id").is_none(), "stateless: no session: {p:?}");
    assert_eq!(p.response()["result"]["supportedVersions"][0], "2026-07-28");
    // Mcp-Method must agree with the body.
    let p = client.send(client.builder().header("mcp-method", "tools/list").body(discover.to_string())).await;
    assert_eq!(p.status, 400, "{p:?}");
    assert_eq!(p.response()["error"]["code"], -32020);
    // A 2026-07-28 body under a 2025 header is refused too.
    client.version = "2025-11-25".to_owned();
    let p = client.send(client.builder().header("mcp-method", "server/discover").body(discover.to_string())).await;
    assert_eq!(p.status, 400, "{p:?}");
    // And the handshake still works.
    let init = client.initialize(json!({})).await;
    assert_eq!(init["protocolVersion"], "2025-11-25");
    let tools = client.call("tools/list", json!({})).await;
    assert!(common::tool_names(&tools).iter().any(|t| t == "alpha__echo"));
    gw.stop().await;
}

/// The Python SDK as the client of a gateway with `[auth]` and a policy: with its
/// API key it sees only what the policy allows and a denied tool is unknown to
/// it; with a wrong key it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_with_a_bearer_key_and_a_policy() {
    let Some(peers) = Peers::python("python_sdk_with_a_bearer_key_and_a_policy") else {
        return;
    };
    let key = "python-interop-key-0123";
    let sha: String =
        <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let auth = format!(
        "[auth]\napi_keys = [{{ name = \"py\", sha256 = \"{sha}\", roles = [\"dev\"] }}]\n\n\
         [[policy]]\nroles = [\"dev\"]\nallow = [\"alpha__*\"]\ndeny = [\"alpha__crash\"]\n"
    );
    let setup = Setup::new("", &[mock_server("alpha", &[]), mock_server("beta", &[]), auth]);
    let gw = HttpGateway::start(&setup).await;
    let url = gw.url("/mcp");
    let with = |k: &str, call: &str| {
        vec![
            "--timeout".to_owned(),
            "30".to_owned(),
            "--header".to_owned(),
            format!("Authorization:Bearer {k}"),
            "--call".to_owned(),
            call.to_owned(),
            "--args".to_owned(),
            r#"{"text":"hi"}"#.to_owned(),
            "--http".to_owned(),
            url.clone(),
        ]
    };
    let run = peers.py_client(&with(key, "alpha__echo")).await;
    let out = run.assert_ok();
    assert_eq!(out["call"]["text"], "hi", "{out}");
    let tools: Vec<&str> = out["tools"].as_array().expect("tools").iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"alpha__echo") && !tools.contains(&"alpha__crash"), "{tools:?}");
    assert!(tools.iter().all(|t| t.starts_with("alpha__")), "{tools:?}");
    let denied = peers.py_client(&with(key, "alpha__crash")).await;
    assert_eq!(denied.out["call"]["error"]["message"], "Unknown tool: alpha__crash", "{}", denied.out);
    let refused = peers.py_client(&with("not-our-key", "alpha__echo")).await;
    assert_ne!(refused.code, Some(0));
    assert!(refused.out["errors"].to_string().contains("Unauthorized"), "{}", refused.out);
    gw.stop().await;
}
