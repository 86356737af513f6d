//! Handshake-era sessions any replica can serve: with `[cluster] session_key`,
//! a session id carries what the handshake settled, sealed, so a request that
//! a load balancer sends to another replica resumes the session there.
//!
//! Three `vmcp start` replicas share a PostgreSQL registry and a session key,
//! behind HAProxy balancing each request round robin. The official Python SDK
//! and rmcp each make 100 calls, a progress-reporting call, and see a server
//! mounted mid-session, through the balancer: every answer arrives, none is
//! "session not found". Tampered and foreign ids are unknown sessions (404).
//! Needs PostgreSQL and HAProxy (skipped loudly without them, failed under `CI`).

#![allow(deprecated)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::balancer::Balancer;
use common::cluster::{cli, cli_json, replica_with, until};
use common::interop::Peers;
use common::postgres::Postgres;
use common::*;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, ProgressNotificationParam, ServerResult};
use rmcp::service::{NotificationContext, PeerRequestOptions};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

const KEY: &str = "3f1c9a7e5b2d4086a1c3e5f7092b4d6f8a0c2e4f6183a5c7e9f1b3d5a7c9e1f3";
const OLD_KEY: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

/// Three replicas with one session key, and a balancer in front.
struct Cluster {
    setups: Vec<Setup>,
    replicas: Vec<HttpGateway>,
    lb: Balancer,
    _pg: Postgres,
}

async fn cluster(test: &str) -> Option<Cluster> {
    let pg = Postgres::start(test)?;
    let extra = format!("session_key = \"{KEY}\"\nprevious_keys = [\"{OLD_KEY}\"]\n");
    let setups: Vec<Setup> = ["a", "b", "c"].iter().map(|id| replica_with(&pg, id, &extra)).collect();
    let mut replicas = Vec::new();
    for s in &setups {
        replicas.push(HttpGateway::start(s).await);
    }
    let bases: Vec<&str> = replicas.iter().map(|r| r.base.as_str()).collect();
    let lb = Balancer::start(test, &bases).await?;
    Some(Cluster { setups, replicas, lb, _pg: pg })
}

impl Cluster {
    /// How many replicas logged that they resumed a session made elsewhere
    /// (reading what each has logged so far).
    fn resumed_on(&mut self) -> usize {
        let mut count = 0;
        for r in &mut self.replicas {
            let mut resumed = false;
            while let Ok(line) = r.stderr.try_recv() {
                resumed |= line.contains("resumed a session made elsewhere");
            }
            count += usize::from(resumed);
        }
        count
    }

    fn sessions(&self) -> Vec<u64> {
        self.setups.iter().map(|s| cli_json(s, &["status", "--json"])["sessions"].as_u64().unwrap_or(0)).collect()
    }

    /// Mounts `id` (a mock with one tool) on replica `on`, once some replica
    /// holds a session (the client under test has made its handshake).
    async fn mount_once_a_session_exists(&self, id: &str, on: usize) {
        let started = until(WAIT, || self.sessions().iter().sum::<u64>() > 0).await;
        assert!(started.is_some(), "no replica ever held a session");
        let (code, _, err) = cli(
            &self.setups[on],
            &["mount", id, "--command", vmcp_bin(), "--arg", "mock", "--arg", "--tools", "--arg", "1"],
        );
        assert_eq!(code, 0, "mount {id}: {err}");
    }
}

#[tokio::test]
async fn the_python_sdk_keeps_one_session_across_three_replicas() {
    let test = "the_python_sdk_keeps_one_session_across_three_replicas";
    let Some(peers) = Peers::python(test) else { return };
    let Some(c) = cluster(test).await else { return };
    let args: Vec<String> = [
        "--http",
        &format!("{}/mcp", c.lb.base),
        "--mode",
        "legacy",
        "--timeout",
        "60",
        "--no-list",
        "--wait-tools",
        "gamma__tool_0",
        "--subscribe-wait",
        "30",
        "--call",
        "alpha__echo",
        "--args",
        r#"{"text":"round robin"}"#,
        "--repeat",
        "100",
        "--progress-tool",
        "alpha__progress",
        "--progress-args",
        r#"{"steps":3,"delay_ms":20}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (run, ()) = tokio::join!(peers.py_client(&args), c.mount_once_a_session_exists("gamma", 1));
    let out = run.assert_ok();
    assert_eq!(out["call"]["calls"], 100, "{out}");
    assert_eq!(out["call"]["ok"], 100, "{out}");
    assert_eq!(out["call"]["text"], "round robin", "{out}");
    assert_eq!(out["progress"].as_array().map(Vec::len), Some(3), "{out}");
    assert!(
        run.stderr.iter().all(|l| !l.contains("Session not found") && !l.contains("404")),
        "a replica did not know the session"
    );
    // The balancer spread the session: the two replicas that did not make it resumed it.
    let mut c = c;
    assert_eq!(c.resumed_on(), 2, "replicas that resumed the session");
}

/// Counts progress notifications.
#[derive(Clone, Default)]
struct Progress(Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for Progress {
    async fn on_progress(&self, params: ProgressNotificationParam, _cx: NotificationContext<RoleClient>) {
        if let Ok(mut p) = self.0.lock() {
            p.push(params);
        }
    }
}

#[tokio::test]
async fn rmcp_keeps_one_session_across_three_replicas() {
    let Some(c) = cluster("rmcp_keeps_one_session_across_three_replicas").await else { return };
    let handler = Progress::default();
    let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", c.lb.base));
    let client = tokio::time::timeout(WAIT, handler.clone().serve(transport)).await.expect("initialize in time");
    let client = client.expect("initialize through the balancer");

    for i in 0..100 {
        let args = json!({ "text": format!("call {i}") });
        let params =
            CallToolRequestParams::new("alpha__echo").with_arguments(args.as_object().cloned().unwrap_or_default());
        let result = tokio::time::timeout(WAIT, client.call_tool(params)).await.expect("in time");
        let result = serde_json::to_value(result.unwrap_or_else(|e| panic!("call {i}: {e}"))).unwrap_or_default();
        assert_eq!(first_text(&result), format!("call {i}"), "{result}");
    }

    let params = CallToolRequestParams::new("alpha__progress")
        .with_arguments(json!({"steps": 3, "delay_ms": 5}).as_object().cloned().unwrap_or_default());
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = client.send_cancellable_request(request, PeerRequestOptions::no_options()).await.expect("send");
    let result = tokio::time::timeout(WAIT, handle.await_response()).await.expect("in time").expect("progress call");
    let ServerResult::CallToolResult(result) = result else { panic!("not a tool result: {result:?}") };
    assert_eq!(first_text(&serde_json::to_value(&result).unwrap_or_default()), "done after 3 steps");
    // The notifications travel on the same response stream, before the result.
    assert_eq!(handler.0.lock().map(|p| p.len()).unwrap_or(0), 3);

    // A server mounted on one replica shows in the session, wherever its
    // requests land.
    c.mount_once_a_session_exists("delta", 2).await;
    let listed = tokio::time::timeout(WAIT, async {
        loop {
            let tools = client.list_all_tools().await.expect("list tools");
            if tools.iter().any(|t| t.name == "delta__tool_0") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(listed.is_ok(), "delta__tool_0 never listed through the balancer");
    let _ = client.cancel().await;
    let mut c = c;
    assert_eq!(c.resumed_on(), 2, "replicas that resumed the session");
}

#[tokio::test]
async fn tampered_foreign_and_deleted_ids_are_unknown_sessions() {
    let Some(c) = cluster("tampered_foreign_and_deleted_ids_are_unknown_sessions").await else { return };
    let (a, b) = (&c.replicas[0], &c.replicas[1]);
    let mut on_a = HttpClient::new(a.url("/mcp"));
    on_a.initialize(json!({ "sampling": {} })).await;
    let id = on_a.session.clone().expect("a session id");
    assert!(id.contains('.'), "a sealed id: {id}");

    // The same id on replica B: resumed, with the handshake it carries.
    let mut on_b = HttpClient::new(b.url("/mcp"));
    on_b.session = Some(id.clone());
    let list = on_b.call("tools/list", json!({})).await;
    assert!(tool_names(&list).contains(&"alpha__echo".to_owned()), "{list}");

    let status_of = |session: &str| {
        let client = HttpClient::new(b.url("/mcp"));
        let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}});
        let req = client.builder().header("mcp-session-id", session.to_owned()).body(body.to_string());
        async move { req.send().await.expect("POST").status().as_u16() }
    };
    // One character changed: unknown.
    let (kid, body) = id.split_once('.').expect("key id");
    let flipped: String =
        body.chars().enumerate().map(|(i, ch)| if i == 5 { if ch == 'A' { 'B' } else { 'A' } } else { ch }).collect();
    assert_eq!(status_of(&format!("{kid}.{flipped}")).await, 404);
    // Sealed with a key this cluster does not have: unknown.
    let stranger = sealed_elsewhere().await;
    assert_eq!(status_of(&stranger).await, 404);
    assert_eq!(status_of("0123456789abcdef0123456789abcdef").await, 404);
    // Truncated: unknown.
    assert_eq!(status_of(&id[..id.len() - 4]).await, 404);
    assert_eq!(status_of(kid).await, 404);

    // Deleted on B: B does not bring it back.
    let del = on_b
        .http
        .delete(b.url("/mcp"))
        .header("mcp-session-id", id.clone())
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(del.status().as_u16(), 204);
    assert_eq!(status_of(&id).await, 404);
}

/// A session id minted by a gateway with another key.
async fn sealed_elsewhere() -> String {
    let key = "ab".repeat(32);
    let setup = Setup::new("", &[mock_server("alpha", &[]), format!("[cluster]\nsession_key = \"{key}\"\n")]);
    let gw = HttpGateway::start(&setup).await;
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(json!({})).await;
    let id = client.session.clone().expect("session");
    let _ = gw.stop().await;
    id
}
