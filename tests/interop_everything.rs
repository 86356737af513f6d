//! The official `@modelcontextprotocol/server-everything` as a backend of vmcp.
//!
//! vmcp runs server-everything (stdio, under node) beside one `vmcp mock`, and is
//! driven two ways: raw JSON-RPC through the harness's [`StdioGateway`], so the test
//! sees exactly what vmcp forwards (and answers sampling and elicitation itself),
//! and through the official Python SDK (tests/interop/py_client.py).
//!
//! Needs the peers `.ci/run` installs (`VMCP_TEST_EVERYTHING`, `VMCP_TEST_NODE`, and
//! for the Python tests `VMCP_TEST_PYTHON`, `VMCP_TEST_PY_CLIENT`); without them each
//! test prints SKIPPED, or fails when `CI` is set.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::interop::{Peers, direct_list, log_field, vmcp_stdio_command};
use common::{HttpGateway, Setup, StdioGateway, WAIT, first_text, mock_server, tool_names};
use serde_json::{Value, json};

const DOC: &str = "demo://resource/static/document/architecture.md";
const PREFIXED_DOC: &str = "everything+demo://resource/static/document/architecture.md";

/// Tools server-everything registers only after `notifications/initialized`, when its
/// client (vmcp) declared sampling, elicitation and roots.
const CONDITIONAL_TOOLS: &[&str] =
    &["everything__trigger-sampling-request", "everything__trigger-elicitation-request", "everything__get-roots-list"];

fn setup(peers: &Peers) -> Setup {
    Setup::new(
        "",
        &[
            peers.everything_server("everything"),
            // Paginated, so lists through vmcp need its composite cursor.
            mock_server("alpha", &["--resources", "5", "--templates", "3", "--page-size", "2"]),
        ],
    )
}

fn everything_command(peers: &Peers) -> Vec<String> {
    vec![peers.node.display().to_string(), peers.everything.display().to_string(), "stdio".into()]
}

/// vmcp on stdio in front of server-everything, initialized with `capabilities`,
/// after the tools registered late have reached its catalog. Also returns the
/// revision vmcp negotiated with server-everything (from its "ready" log line).
async fn start(peers: &Peers, capabilities: Value) -> (Setup, StdioGateway, String) {
    let setup = setup(peers);
    let mut gw = StdioGateway::start(&setup).await;
    let init = gw.initialize("2025-11-25", capabilities).await;
    assert_eq!(init["protocolVersion"], "2025-11-25", "{init}");
    let backend = ready_protocol(&mut gw, "everything").await;
    wait_for_tools(&mut gw, CONDITIONAL_TOOLS).await;
    (setup, gw, backend)
}

/// The `protocol=` of vmcp's "ready server=<id>" log line.
async fn ready_protocol(gw: &mut StdioGateway, server: &str) -> String {
    let needle = format!("ready server={server} ");
    let found = tokio::time::timeout(WAIT, async {
        while let Some(line) = gw.stderr.recv().await {
            if line.contains(&needle) {
                return line;
            }
        }
        panic!("vmcp's stderr closed before {needle:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} log line within {WAIT:?}"));
    let protocol = log_field(&found, "protocol").unwrap_or_else(|| panic!("no protocol= in {found}")).to_owned();
    eprintln!("negotiated protocol (vmcp ↔ server-everything): {protocol}   [{found}]");
    protocol
}

/// Re-lists tools until all of `wanted` are there (they may arrive with
/// notifications/tools/list_changed), for at most 10 s.
async fn wait_for_tools(gw: &mut StdioGateway, wanted: &[&str]) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names = tool_names(&gw.call("tools/list", json!({})).await);
        if wanted.iter().all(|w| names.iter().any(|n| n == w)) {
            return names;
        }
        assert!(tokio::time::Instant::now() < deadline, "tools {wanted:?} not all listed within 10 s: {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What arrived while waiting for some responses.
#[derive(Default, Debug)]
struct Exchange {
    responses: HashMap<i64, Value>,
    /// Requests vmcp sent the client (each answered with `answer`).
    requests: Vec<Value>,
    notifications: Vec<Value>,
}

/// Reads messages until every id in `ids` has its response, answering each request
/// vmcp sends meanwhile with `answer(request)` (the `result` to send back).
async fn exchange(gw: &mut StdioGateway, ids: &[i64], mut answer: impl FnMut(&Value) -> Value) -> Exchange {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut ex = Exchange::default();
    while ids.iter().any(|id| !ex.responses.contains_key(id)) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(msg) = gw.next(left).await else {
            panic!("timed out waiting for responses to {ids:?}; so far: {ex:?}");
        };
        match (msg.get("method"), msg.get("id")) {
            (Some(_), Some(id)) => {
                let result = answer(&msg);
                gw.send(&json!({"jsonrpc": "2.0", "id": id, "result": result})).await;
                ex.requests.push(msg);
            }
            (Some(_), None) => ex.notifications.push(msg),
            (None, Some(id)) => {
                if let Some(id) = id.as_i64().filter(|id| ids.contains(id)) {
                    ex.responses.insert(id, msg);
                }
            }
            (None, None) => panic!("neither request, notification nor response: {msg}"),
        }
    }
    ex
}

fn no_requests_expected(req: &Value) -> Value {
    panic!("unexpected request from vmcp: {req}")
}

fn result_of(ex: &Exchange, id: i64) -> &Value {
    let r = &ex.responses[&id];
    r.get("result").unwrap_or_else(|| panic!("request {id} failed: {r}"))
}

/// Follows `nextCursor` through vmcp to the end; returns the items and the page count.
async fn list_all(gw: &mut StdioGateway, method: &str, key: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    for pages in 1..=100 {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let page = gw.call(method, params).await;
        items.extend(page[key].as_array().unwrap_or_else(|| panic!("{method}: no {key} in {page}")).iter().cloned());
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(c) => {
                assert!(seen.insert(c.to_owned()), "{method}: nextCursor {c:?} repeats");
                cursor = Some(c.to_owned());
            }
            None => return (items, pages),
        }
    }
    panic!("{method}: more than 100 pages");
}

fn field<'a>(items: &'a [Value], key: &str) -> Vec<&'a str> {
    items.iter().map(|i| i[key].as_str().unwrap_or_else(|| panic!("no {key} in {i}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_tools_list_and_calls() {
    let Some(peers) = Peers::everything("everything_tools_list_and_calls") else {
        return;
    };
    let (_setup, mut gw, backend) = start(&peers, json!({})).await;
    assert_eq!(backend, "2025-11-25", "vmcp ↔ server-everything revision");

    let list = gw.call("tools/list", json!({})).await;
    let names = tool_names(&list);
    for t in [
        "everything__echo",
        "everything__get-sum",
        "everything__trigger-long-running-operation",
        "everything__toggle-subscriber-updates",
        "alpha__echo",
    ] {
        assert!(names.iter().any(|n| n == t), "{t} missing from {names:?}");
    }
    // Fidelity: each tool server-everything lists reaches the client unchanged but for its name.
    let direct = direct_list(&everything_command(&peers), "tools/list", "tools").await;
    assert!(direct.len() >= 10, "server-everything listed only {} tools directly", direct.len());
    let by_name: HashMap<&str, &Value> =
        list["tools"].as_array().expect("tools").iter().map(|t| (t["name"].as_str().unwrap_or(""), t)).collect();
    for tool in &direct {
        let name = tool["name"].as_str().expect("name");
        let exposed = format!("everything__{name}");
        let got = by_name.get(exposed.as_str()).unwrap_or_else(|| panic!("{exposed} missing"));
        let mut expected = tool.clone();
        expected["name"] = json!(exposed);
        assert_eq!(*got, &expected, "{exposed} changed on its way through vmcp");
    }

    let echo =
        gw.call("tools/call", json!({"name": "everything__echo", "arguments": {"message": "through vmcp"}})).await;
    assert_eq!(first_text(&echo), "Echo: through vmcp");
    let sum = gw.call("tools/call", json!({"name": "everything__get-sum", "arguments": {"a": 2, "b": 40}})).await;
    assert!(first_text(&sum).contains("42"), "{sum}");
    // structuredContent and non-text content types come through.
    let weather = gw
        .call("tools/call", json!({"name": "everything__get-structured-content", "arguments": {"location": "Chicago"}}))
        .await;
    assert_eq!(
        weather["structuredContent"],
        json!({"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82}),
        "{weather}"
    );
    let image = gw.call("tools/call", json!({"name": "everything__get-tiny-image", "arguments": {}})).await;
    let image = image["content"]
        .as_array()
        .expect("content")
        .iter()
        .find(|c| c["type"] == "image")
        .cloned()
        .unwrap_or_else(|| panic!("no image in {image}"));
    assert_eq!(image["mimeType"], "image/png", "{image}");
    assert!(image["data"].as_str().is_some_and(|d| d.len() > 100), "{image}");
    // A bad argument is the server's answer (isError or a JSON-RPC error), never a hang.
    let bad = gw.request("tools/call", json!({"name": "everything__get-sum", "arguments": {"a": "x"}})).await;
    assert!(bad.get("error").is_some() || bad["result"]["isError"] == true, "{bad}");
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_progress_uses_the_clients_own_tokens() {
    let Some(peers) = Peers::everything("everything_progress_uses_the_clients_own_tokens") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({})).await;
    // Two calls in flight at once, one with a string token and one with a number.
    let args = json!({"duration": 1, "steps": 3});
    let a = gw.send_request("tools/call", json!({"name": "everything__trigger-long-running-operation", "arguments": args, "_meta": {"progressToken": "client-token-a"}})).await;
    let b = gw.send_request("tools/call", json!({"name": "everything__trigger-long-running-operation", "arguments": args, "_meta": {"progressToken": 4242}})).await;
    let ex = exchange(&mut gw, &[a, b], no_requests_expected).await;
    for id in [a, b] {
        assert!(first_text(result_of(&ex, id)).contains("Long running operation completed"), "{:?}", ex.responses[&id]);
    }
    let progress: Vec<&Value> = ex.notifications.iter().filter(|n| n["method"] == "notifications/progress").collect();
    for token in [json!("client-token-a"), json!(4242)] {
        let mine: Vec<f64> = progress
            .iter()
            .filter(|n| n["params"]["progressToken"] == token)
            .map(|n| n["params"]["progress"].as_f64().expect("progress"))
            .collect();
        assert!(mine.len() >= 2, "token {token}: expected >= 2 progress notifications, got {mine:?} of {progress:?}");
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "token {token}: progress must increase: {mine:?}");
    }
    for n in &progress {
        let t = &n["params"]["progressToken"];
        assert!(*t == json!("client-token-a") || *t == json!(4242), "a token the client never sent: {n}");
        assert_eq!(n["params"]["total"], 3, "{n}");
    }
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_sampling_request_is_answered_by_the_client() {
    let Some(peers) = Peers::everything("everything_sampling_request_is_answered_by_the_client") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({"sampling": {}})).await;
    let id = gw
        .send_request(
            "tools/call",
            json!({"name": "everything__trigger-sampling-request", "arguments": {"prompt": "what is vmcp?"}}),
        )
        .await;
    let ex = exchange(&mut gw, &[id], |req| {
        assert_eq!(req["method"], "sampling/createMessage", "{req}");
        json!({"role": "assistant", "content": {"type": "text", "text": "answer-from-rust-test"}, "model": "rust-test-model", "stopReason": "endTurn"})
    })
    .await;
    assert_eq!(ex.requests.len(), 1, "{:?}", ex.requests);
    // Forwarded as the server sent it: only the JSON-RPC id is vmcp's own.
    let expected = json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": "Resource trigger-sampling-request context: what is vmcp?"}}],
        "systemPrompt": "You are a helpful test server.",
        "maxTokens": 100,
        "temperature": 0.7,
    });
    assert_eq!(ex.requests[0]["params"], expected);
    let text = first_text(result_of(&ex, id));
    assert!(text.contains("answer-from-rust-test") && text.contains("rust-test-model"), "{text}");
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_elicitation_request_is_answered_by_the_client() {
    let Some(peers) = Peers::everything("everything_elicitation_request_is_answered_by_the_client") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({"elicitation": {}})).await;
    let id = gw
        .send_request("tools/call", json!({"name": "everything__trigger-elicitation-request", "arguments": {}}))
        .await;
    let ex = exchange(&mut gw, &[id], |req| {
        assert_eq!(req["method"], "elicitation/create", "{req}");
        json!({"action": "accept", "content": {"name": "Ada Lovelace", "check": true, "email": "ada@example.com", "integer": 7}})
    })
    .await;
    assert_eq!(ex.requests.len(), 1, "{:?}", ex.requests);
    let schema = &ex.requests[0]["params"]["requestedSchema"];
    assert_eq!(schema["properties"]["name"]["type"], "string", "{schema}");
    let result = result_of(&ex, id);
    let all: String = result["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("Name: Ada Lovelace") && all.contains("Favorite Integer: 7"), "{all}");
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_resources_read_and_paginated_lists() {
    let Some(peers) = Peers::everything("everything_resources_read_and_paginated_lists") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({})).await;

    let read = gw.call("resources/read", json!({"uri": PREFIXED_DOC})).await;
    let contents = read["contents"].as_array().expect("contents");
    assert_eq!(contents.len(), 1, "{read}");
    assert!(contents[0]["text"].as_str().expect("text").contains("Architecture"), "{read}");
    // The result comes back as the server sent it.
    assert_eq!(contents[0]["uri"], DOC, "{read}");

    let direct = direct_list(&everything_command(&peers), "resources/list", "resources").await;
    let (items, pages) = list_all(&mut gw, "resources/list", "resources").await;
    let uris = field(&items, "uri");
    let unique: HashSet<&str> = uris.iter().copied().collect();
    assert_eq!(unique.len(), uris.len(), "duplicates across pages: {uris:?}");
    assert!(pages >= 3, "alpha pages by 2, so vmcp must page too (got {pages} pages)");
    let mut ours: Vec<String> = uris.iter().filter_map(|u| u.strip_prefix("everything+")).map(str::to_owned).collect();
    let mut theirs: Vec<String> = field(&direct, "uri").into_iter().map(str::to_owned).collect();
    ours.sort();
    theirs.sort();
    eprintln!(
        "server-everything lists {} resources directly; vmcp lists {} in {pages} pages",
        theirs.len(),
        uris.len()
    );
    assert!(theirs.iter().any(|u| u == DOC), "{theirs:?}");
    assert_eq!(ours, theirs, "server-everything's resources through vmcp vs directly");
    assert_eq!(uris.iter().filter(|u| u.starts_with("alpha+")).count(), 5, "{uris:?}");
    assert_eq!(uris.len(), theirs.len() + 5);
    // Items are passed through: the prefixed URI is the only change.
    let doc = items.iter().find(|i| i["uri"] == PREFIXED_DOC).expect("the document");
    let mut expected = direct.iter().find(|i| i["uri"] == DOC).expect("listed directly").clone();
    expected["uri"] = json!(PREFIXED_DOC);
    assert_eq!(doc, &expected);

    let direct = direct_list(&everything_command(&peers), "resources/templates/list", "resourceTemplates").await;
    let (items, _) = list_all(&mut gw, "resources/templates/list", "resourceTemplates").await;
    let templates = field(&items, "uriTemplate");
    let unique: HashSet<&str> = templates.iter().copied().collect();
    assert_eq!(unique.len(), templates.len(), "duplicates: {templates:?}");
    assert!(templates.contains(&"everything+demo://resource/dynamic/text/{resourceId}"), "{templates:?}");
    let mut ours: Vec<&str> = templates.iter().filter_map(|u| u.strip_prefix("everything+")).collect();
    let mut theirs = field(&direct, "uriTemplate");
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(templates.iter().filter(|u| u.starts_with("alpha+")).count(), 3, "{templates:?}");

    // A resource from a template, read through vmcp.
    let read = gw.call("resources/read", json!({"uri": "everything+demo://resource/dynamic/text/7"})).await;
    assert!(read["contents"][0]["text"].as_str().expect("text").starts_with("Resource 7:"), "{read}");
    // A cursor vmcp never issued is an error, not a hang or an empty page.
    let bad = gw.request("resources/list", json!({"cursor": "not-a-cursor"})).await;
    assert!(bad.get("error").is_some(), "{bad}");
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_prompts_and_completion() {
    let Some(peers) = Peers::everything("everything_prompts_and_completion") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({})).await;
    let prompts = gw.call("prompts/list", json!({})).await;
    let names = field(prompts["prompts"].as_array().expect("prompts"), "name");
    for p in ["everything__args-prompt", "everything__completable-prompt", "alpha__prompt_0"] {
        assert!(names.contains(&p), "{p} missing from {names:?}");
    }
    // Fidelity: each prompt as server-everything lists it, but for its name.
    let direct = direct_list(&everything_command(&peers), "prompts/list", "prompts").await;
    assert!(!direct.is_empty());
    for prompt in &direct {
        let exposed = format!("everything__{}", prompt["name"].as_str().expect("name"));
        let got = prompts["prompts"]
            .as_array()
            .expect("prompts")
            .iter()
            .find(|p| p["name"] == exposed.as_str())
            .unwrap_or_else(|| panic!("{exposed} missing"));
        let mut expected = prompt.clone();
        expected["name"] = json!(exposed);
        assert_eq!(got, &expected, "{exposed} changed on its way through vmcp");
    }
    let got = gw.call("prompts/get", json!({"name": "everything__args-prompt", "arguments": {"city": "Paris"}})).await;
    let text = got["messages"][0]["content"]["text"].as_str().expect("text");
    assert!(text.contains("Paris"), "{got}");

    let done = gw
        .call("completion/complete", json!({"ref": {"type": "ref/prompt", "name": "everything__completable-prompt"}, "argument": {"name": "department", "value": "E"}}))
        .await;
    let values: Vec<&str> =
        done["completion"]["values"].as_array().expect("values").iter().filter_map(Value::as_str).collect();
    assert!(values.contains(&"Engineering"), "{done}");
    // With context: the second argument depends on the first.
    let done = gw
        .call(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "everything__completable-prompt"}, "argument": {"name": "name", "value": "A"}, "context": {"arguments": {"department": "Engineering"}}}),
        )
        .await;
    assert_eq!(done["completion"]["values"], json!(["Alice"]), "{done}");
    // A resource template reference goes by its prefixed URI template.
    let done = gw
        .call(
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "everything+demo://resource/dynamic/text/{resourceId}"}, "argument": {"name": "resourceId", "value": "3"}}),
        )
        .await;
    assert_eq!(done["completion"]["values"], json!(["3"]), "{done}");
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_subscription_updates_carry_the_prefixed_uri() {
    let Some(peers) = Peers::everything("everything_subscription_updates_carry_the_prefixed_uri") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({})).await;
    let r = gw.call("resources/subscribe", json!({"uri": PREFIXED_DOC})).await;
    assert_eq!(r, json!({}));
    let toggled =
        gw.call("tools/call", json!({"name": "everything__toggle-subscriber-updates", "arguments": {}})).await;
    assert!(first_text(&toggled).starts_with("Started"), "{toggled}");
    // server-everything sends one update at once, then every 5 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut updates = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(msg) = gw.next(left).await else {
            panic!("no notifications/resources/updated within 10 s; updates: {updates:?}")
        };
        if msg["method"] == "notifications/resources/updated" {
            updates.push(msg["params"]["uri"].clone());
            if msg["params"]["uri"] == PREFIXED_DOC {
                break;
            }
        }
    }
    assert!(updates.iter().all(|u| u == PREFIXED_DOC), "updates for URIs the client never subscribed to: {updates:?}");
    let r = gw.call("resources/unsubscribe", json!({"uri": PREFIXED_DOC})).await;
    assert_eq!(r, json!({}));
    let toggled =
        gw.call("tools/call", json!({"name": "everything__toggle-subscriber-updates", "arguments": {}})).await;
    assert!(first_text(&toggled).starts_with("Stopped"), "{toggled}");
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_roots_requests_reach_the_client() {
    let Some(peers) = Peers::everything("everything_roots_requests_reach_the_client") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({"roots": {"listChanged": true}})).await;
    let roots = |uri: &str| json!({"roots": [{"uri": uri, "name": "rust-root"}]});
    let answer_with = |uri: &'static str| {
        move |req: &Value| {
            assert_eq!(req["method"], "roots/list", "{req}");
            roots(uri)
        }
    };
    let id = gw.send_request("tools/call", json!({"name": "everything__get-roots-list", "arguments": {}})).await;
    let ex = exchange(&mut gw, &[id], answer_with("file:///tmp/rust-root-1")).await;
    assert!(!ex.requests.is_empty(), "server-everything asked for roots through vmcp");
    assert!(first_text(result_of(&ex, id)).contains("file:///tmp/rust-root-1"), "{:?}", ex.responses[&id]);

    // server-everything also syncs roots on its own 350 ms after initialized: let that
    // happen (answered as before), so the next roots/list can only come from list_changed.
    let settle = tokio::time::Instant::now() + Duration::from_millis(600);
    while let Some(msg) = gw.next(settle.saturating_duration_since(tokio::time::Instant::now())).await {
        if msg["method"] == "roots/list" {
            gw.send(&json!({"jsonrpc": "2.0", "id": msg["id"], "result": roots("file:///tmp/rust-root-1")})).await;
        }
    }
    // notifications/roots/list_changed reaches the server, which asks again.
    gw.notify("notifications/roots/list_changed", json!({})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut answered = false;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(msg) = gw.next(left).await else {
            panic!("no roots/list after roots/list_changed (answered: {answered})")
        };
        if msg["method"] == "roots/list" {
            gw.send(&json!({"jsonrpc": "2.0", "id": msg["id"], "result": roots("file:///tmp/rust-root-2")})).await;
            answered = true;
        } else if answered
            && msg["method"] == "notifications/message"
            && msg["params"]["data"].as_str().is_some_and(|d| d.starts_with("Roots updated"))
        {
            break;
        }
    }
    let id = gw.send_request("tools/call", json!({"name": "everything__get-roots-list", "arguments": {}})).await;
    let ex = exchange(&mut gw, &[id], answer_with("file:///tmp/rust-root-2")).await;
    assert!(first_text(result_of(&ex, id)).contains("file:///tmp/rust-root-2"), "{:?}", ex.responses[&id]);
    gw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_resource_list_changed_is_forwarded() {
    let Some(peers) = Peers::everything("everything_resource_list_changed_is_forwarded") else {
        return;
    };
    let (_setup, mut gw, _) = start(&peers, json!({})).await;
    gw.clear_backlog();
    // Registers a new resource, demo://resource/session/probe.gz, and says so.
    let data = "data:text/plain;base64,aGVsbG8gZnJvbSB2bWNw";
    let id = gw
        .send_request(
            "tools/call",
            json!({"name": "everything__gzip-file-as-resource", "arguments": {"name": "probe.gz", "data": data}}),
        )
        .await;
    let ex = exchange(&mut gw, &[id], no_requests_expected).await;
    let link = &result_of(&ex, id)["content"][0];
    assert_eq!(link["type"], "resource_link", "{link}");
    let changed = ex.notifications.iter().any(|n| n["method"] == "notifications/resources/list_changed");
    if !changed {
        gw.wait_for("notifications/resources/list_changed", |m| m["method"] == "notifications/resources/list_changed")
            .await;
    }
    let (items, _) = list_all(&mut gw, "resources/list", "resources").await;
    let uris = field(&items, "uri");
    let exposed = "everything+demo://resource/session/probe.gz";
    assert!(uris.contains(&exposed), "{uris:?}");
    let read = gw.call("resources/read", json!({"uri": exposed})).await;
    assert_eq!(read["contents"][0]["mimeType"], "application/gzip", "{read}");
    gw.close().await;
}

/// The py_client.py options for the everything scenario.
fn python_scenario() -> Vec<String> {
    let wait = CONDITIONAL_TOOLS.join(",");
    [
        "--timeout",
        "40",
        "--wait-tools",
        wait.as_str(),
        "--call",
        "everything__get-sum",
        "--args",
        r#"{"a":2,"b":3}"#,
        "--read",
        PREFIXED_DOC,
        "--prompt",
        "everything__args-prompt",
        "--prompt-args",
        r#"{"city":"Paris"}"#,
        "--progress-tool",
        "everything__trigger-long-running-operation",
        "--progress-args",
        r#"{"duration":1,"steps":3}"#,
        "--sampling-tool",
        "everything__trigger-sampling-request",
        "--sampling-args",
        r#"{"prompt":"hi from python"}"#,
        "--elicit-tool",
        "everything__trigger-elicitation-request",
        "--roots-tool",
        "everything__get-roots-list",
        "--complete-prompt",
        "everything__completable-prompt",
        "--complete-arg",
        "department=E",
        "--subscribe",
        PREFIXED_DOC,
        "--subscribe-tool",
        "everything__toggle-subscriber-updates",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn check_python_scenario(out: &Value, transport: &str) {
    eprintln!("negotiated protocol (Python SDK ↔ vmcp over {transport}): {}", out["protocol_version"]);
    // The SDK's default mode probes server/discover, which vmcp answers: 2026-07-28,
    // stateless, with server→client requests as input_required results.
    assert_eq!(out["protocol_version"], "2026-07-28");
    assert_eq!(out["handshake"], "discover");
    let tools: Vec<&str> = out["tools"].as_array().expect("tools").iter().filter_map(Value::as_str).collect();
    for t in ["everything__echo", "everything__get-sum", "alpha__echo"].iter().chain(CONDITIONAL_TOOLS) {
        assert!(tools.contains(t), "{t} missing from {tools:?}");
    }
    let resources: Vec<&str> =
        out["resources"].as_array().expect("resources").iter().filter_map(Value::as_str).collect();
    let unique: HashSet<&str> = resources.iter().copied().collect();
    assert_eq!(unique.len(), resources.len(), "{resources:?}");
    assert!(resources.contains(&PREFIXED_DOC) && resources.contains(&"alpha+mock://resource/4"), "{resources:?}");
    assert!(out["call"]["text"].as_str().expect("text").contains('5'), "{}", out["call"]);
    assert!(out["resource"]["text"].as_str().expect("text").contains("Architecture"));
    assert!(out["prompt"]["text"].as_str().expect("text").contains("Paris"));
    assert!(out["progress"].as_array().expect("progress").len() >= 2, "{}", out["progress"]);
    assert!(out["sampling"]["result"]["text"].as_str().expect("text").contains("sampled-by-python"));
    assert!(out["elicitation"]["result"]["text"].as_str().expect("text").contains("Name: py-elicited"));
    assert!(out["roots"]["result"]["text"].as_str().expect("text").contains("file:///tmp/py-root"));
    assert!(out["completion"]["values"].as_array().expect("values").contains(&json!("Engineering")));
    assert!(out["subscription"]["updates"].as_array().expect("updates").contains(&json!(PREFIXED_DOC)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_through_vmcp_with_the_python_sdk_over_stdio() {
    let Some(peers) = Peers::all("everything_through_vmcp_with_the_python_sdk_over_stdio") else {
        return;
    };
    let setup = setup(&peers);
    let mut args = python_scenario();
    args.push("--stdio".into());
    args.push("--".into());
    args.extend(vmcp_stdio_command(&setup.config));
    let run = peers.py_client(&args).await;
    let out = run.assert_ok();
    check_python_scenario(out, "stdio");
    let ready = run.stderr_line("ready server=everything ").expect("vmcp's ready line for everything");
    eprintln!("negotiated protocol (vmcp ↔ server-everything): {}", log_field(ready, "protocol").unwrap_or("?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_through_vmcp_with_the_python_sdk_over_http() {
    let Some(peers) = Peers::all("everything_through_vmcp_with_the_python_sdk_over_http") else {
        return;
    };
    let setup = setup(&peers);
    let gw = HttpGateway::start(&setup).await;
    let mut args = python_scenario();
    args.push("--http".into());
    args.push(gw.url("/mcp"));
    let run = peers.py_client(&args).await;
    check_python_scenario(run.assert_ok(), "http");
    gw.stop().await;
}
