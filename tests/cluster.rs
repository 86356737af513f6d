//! Replicas sharing one PostgreSQL registry (`[registry] url`): a mount, an
//! unmount or a disable made on one replica reaches the others at once, with
//! their clients told; a replica that missed notifications catches up when it
//! reconnects; the members list shows who is alive.
//!
//! Each test starts its own PostgreSQL (see `common/postgres.rs`) and real
//! `vmcp start` processes; without PostgreSQL on the machine it is skipped
//! loudly (failed when `CI` is set).

mod common;

use std::time::{Duration, Instant};

use common::cluster::{admin, cli, cli_json, replica, server_ids, state_of, until};
use common::postgres::Postgres;
use common::*;
use serde_json::json;

/// Reads a GET stream until `needle` arrives.
async fn hear(stream: reqwest::Response, needle: &str) {
    use futures_util::StreamExt;
    let mut body = stream.bytes_stream();
    let mut seen = String::new();
    tokio::time::timeout(WAIT, async {
        while !seen.contains(needle) {
            let chunk = body.next().await.expect("stream open").expect("chunk");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle} on the stream; heard: {seen}"));
}

async fn listen_stream(gw: &HttpGateway, client: &HttpClient) -> reqwest::Response {
    let stream = reqwest::Client::new()
        .get(gw.url("/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", client.session.clone().expect("session"))
        .send()
        .await
        .expect("GET");
    assert_eq!(stream.status().as_u16(), 200);
    stream
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_the_others_and_their_clients() {
    let Some(pg) = Postgres::start("a_change_on_one_replica_reaches_the_others_and_their_clients") else { return };
    let (sa, sb, sc) = (replica(&pg, "a"), replica(&pg, "b"), replica(&pg, "c"));
    let a = HttpGateway::start(&sa).await;
    let b = HttpGateway::start(&sb).await;
    let c = HttpGateway::start(&sc).await;

    // A client of B, listening for list changes.
    let mut client_b = HttpClient::new(b.url("/mcp"));
    client_b.initialize(json!({})).await;
    let stream_b = listen_stream(&b, &client_b).await;

    // Every replica is in the members list, as each sees it.
    let status = cli_json(&sb, &["status", "--json"]);
    assert_eq!(status["replica"], "b");
    assert!(status["registry"].as_str().is_some_and(|r| r.starts_with("postgres://")), "{status}");
    let members = until(WAIT, || {
        let s = cli_json(&sb, &["status", "--json"]);
        s["members"].as_array().map(|m| m.len()) == Some(3)
    })
    .await;
    assert!(members.is_some(), "three members: {}", cli_json(&sb, &["status", "--json"]));
    let status = cli_json(&sa, &["status", "--json"]);
    let ids: Vec<&str> =
        status["members"].as_array().expect("members").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(status["members"][1]["advertise"], "http://127.0.0.1:1/b");

    // Mount on A: B and C know within a second, and B's client is told.
    let (code, out, err) =
        cli(&sa, &["mount", "beta", "--command", vmcp_bin(), "--arg", "mock", "--arg", "--tools", "--arg", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mounted beta"), "{out}");
    for (name, setup) in [("b", &sb), ("c", &sc)] {
        let took = until(Duration::from_secs(5), || server_ids(setup).contains(&"beta".to_owned())).await;
        let took = took.unwrap_or_else(|| panic!("replica {name} never saw the mount"));
        eprintln!("replica {name} saw the mount after {took:?}");
        assert!(took <= Duration::from_secs(1), "replica {name} took {took:?} to see the mount (at most 1 s)");
    }
    hear(stream_b, "notifications/tools/list_changed").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let names = tool_names(&client_b.call("tools/list", json!({})).await);
        if names.contains(&"beta__tool_0".to_owned()) {
            break;
        }
        assert!(Instant::now() < deadline, "B never listed beta's tool: {names:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same id again, on another replica: refused by the shared registry.
    let (code, _, err) = cli(&sc, &["mount", "beta", "--command", vmcp_bin()]);
    assert_eq!(code, 1);
    assert!(err.contains("beta"), "{err}");

    // Disable on B: A stops it too. Enable on C: A starts it again.
    admin(&sb, "/admin/v1/servers/beta/disable").await;
    let seen = until(Duration::from_secs(5), || state_of(&sa, "beta").as_deref() == Some("disabled")).await;
    assert!(seen.is_some(), "A: {:?}", state_of(&sa, "beta"));
    admin(&sc, "/admin/v1/servers/beta/enable").await;
    let seen = until(WAIT, || state_of(&sa, "beta").as_deref() == Some("ready")).await;
    assert!(seen.is_some(), "A: {:?}", state_of(&sa, "beta"));

    // Unmount on C: gone everywhere.
    let (code, _, err) = cli(&sc, &["unmount", "beta"]);
    assert_eq!(code, 0, "{err}");
    for setup in [&sa, &sb, &sc] {
        let gone = until(Duration::from_secs(5), || !server_ids(setup).contains(&"beta".to_owned())).await;
        assert!(gone.is_some(), "{:?}", server_ids(setup));
    }

    // A restarted replica comes back with what is stored.
    let (code, _, err) =
        cli(&sb, &["mount", "gamma", "--command", vmcp_bin(), "--arg", "mock", "--arg", "--tools", "--arg", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(c.stop().await.success());
    let c = HttpGateway::start(&sc).await;
    assert!(server_ids(&sc).contains(&"gamma".to_owned()), "{:?}", server_ids(&sc));
    drop((a, b, c));
}

#[tokio::test]
async fn a_replica_that_missed_notifications_catches_up_when_it_reconnects() {
    let Some(pg) = Postgres::start("a_replica_that_missed_notifications_catches_up_when_it_reconnects") else {
        return;
    };
    let sa = replica(&pg, "a");
    let mut a = HttpGateway::start(&sa).await;
    a.wait_stderr("registry: listening for changes").await;
    let sql = pg.connect().await;

    // A mount written behind the replicas' backs: no NOTIFY, as if it had
    // been announced while the replica was disconnected.
    let snippet = format!("command = {:?}\nargs = [\"mock\", \"--tools\", \"1\"]\n", vmcp_bin());
    sql.batch_execute("UPDATE vmcp_revision SET revision = revision + 1").await.expect("bump");
    sql.execute(
        "INSERT INTO vmcp_mounts (id, snippet, enabled, mounted_at, revision) \
         VALUES ('quiet', $1, true, 0, (SELECT revision FROM vmcp_revision))",
        &[&snippet],
    )
    .await
    .expect("insert");
    assert!(!server_ids(&sa).contains(&"quiet".to_owned()), "nothing announced it yet");

    // Cut the replica's connections: it reconnects, reads everything, and finds it.
    let cut = sql
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vmcp/a'", &[])
        .await
        .expect("terminate");
    assert!(!cut.is_empty(), "the replica's connections are named after it");
    a.wait_stderr("listening for changes again").await;
    let seen = until(Duration::from_secs(5), || server_ids(&sa).contains(&"quiet".to_owned())).await;
    assert!(seen.is_some(), "{:?}", server_ids(&sa));
}

#[tokio::test]
async fn a_dead_replica_leaves_the_members_list() {
    let Some(pg) = Postgres::start("a_dead_replica_leaves_the_members_list") else { return };
    let (sa, sb, sc) = (replica(&pg, "a"), replica(&pg, "b"), replica(&pg, "c"));
    let _a = HttpGateway::start(&sa).await;
    let b = HttpGateway::start(&sb).await;
    let c = HttpGateway::start(&sc).await;
    let members = |s: &Setup| -> Vec<String> {
        let status = cli_json(s, &["status", "--json"]);
        status["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(until(WAIT, || members(&sa).len() == 3).await.is_some(), "{:?}", members(&sa));

    // A clean stop leaves at once; kill -9 within the heartbeat timeout.
    assert!(b.stop().await.success());
    assert_eq!(members(&sa), ["a", "c"]);
    let mut child = c.child;
    child.start_kill().expect("kill -9");
    child.wait().await.expect("wait");
    let gone = until(Duration::from_secs(30), || members(&sa) == ["a"]).await;
    let gone = gone.unwrap_or_else(|| panic!("a killed replica is still listed after 30 s: {:?}", members(&sa)));
    eprintln!("the killed replica left the list after {gone:?}");
}
