//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, every
//! server scenario: `--suite all`) against vmcp.
//!
//! The suite runs twice: directly against `vmcp mock --conformance --listen`, a
//! backend offering the suite's fixtures, and against vmcp's `/mcp` with that same
//! mock (over stdio) as its only server and `prefix = "conditional"`, so names
//! reach the client unprefixed. Every scenario the backend passes directly must
//! pass through vmcp too. Both tables are printed (`--nocapture` to see them).
//!
//! Needs the peers `.ci/run` installs (`VMCP_TEST_CONFORMANCE`, `VMCP_TEST_NODE22`);
//! without them the test prints SKIPPED, or fails when `CI` is set.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::interop::{Peers, SuiteRun, scenario_of_dir};
use common::{HttpClient, HttpGateway, Setup, WAIT, mock_server, tool_names, vmcp_bin};
use serde_json::json;
use tokio::process::Command;

/// How long one run of the whole suite may take (it takes a few seconds).
const SUITE_LIMIT: Duration = Duration::from_secs(170);

/// Scenarios the mock is known to fail directly, with the reason. Empty: it
/// passes them all; a scenario failing directly that is not listed here fails
/// the test, so a regression of the mock or of the HTTP front end is noticed.
const KNOWN_DIRECT_FAILURES: &[(&str, &str)] = &[];

#[tokio::test]
async fn conformance_suite_direct_and_through_vmcp() {
    let Some(peers) = Peers::conformance("conformance_suite_direct_and_through_vmcp") else { return };
    let scenarios = peers.conformance_scenarios().await;
    let out = tempfile::tempdir().expect("tempdir");

    // (a) Directly against the mock, over streamable HTTP.
    let mock = Command::new(vmcp_bin())
        .args(["mock", "--conformance", "--listen", "127.0.0.1:0"])
        .env("VMCP_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn vmcp mock --conformance");
    let mock = HttpGateway::from_child(mock, "mock").await;
    let direct = peers.run_conformance(&mock.url("/mcp"), &out.path().join("direct"), SUITE_LIMIT).await;
    drop(mock);

    // (b) Through vmcp: the same mock over stdio, vmcp's only server.
    let setup = Setup::new("prefix = \"conditional\"", &[mock_server("conformance", &["--conformance"])]);
    let gw = HttpGateway::start(&setup).await;
    wait_until_listed(&gw, "test_simple_text").await;
    let via = peers.run_conformance(&gw.url("/mcp"), &out.path().join("via-vmcp"), SUITE_LIMIT).await;
    gw.stop().await;

    // (c) Compare.
    report(&scenarios, &direct, &via);
    for (name, run) in [("direct", &direct), ("through vmcp", &via)] {
        assert!(
            !run.timed_out,
            "the suite ({name}) did not finish within {SUITE_LIMIT:?}; its last output:\n{}",
            run.log_tail(40)
        );
    }
    let missing: Vec<&String> = scenarios.iter().filter(|s| !direct.scenarios.contains_key(*s)).collect();
    assert!(missing.is_empty(), "no checks.json for {missing:?} (direct); suite output:\n{}", direct.log_tail(40));

    let lost: Vec<&String> = scenarios.iter().filter(|s| direct.passed(s) && !via.passed(s)).collect();
    assert!(lost.is_empty(), "scenarios that pass directly but fail through vmcp: {lost:?} (see the table above)");

    let unexpected: Vec<&String> =
        scenarios.iter().filter(|s| !direct.passed(s) && !KNOWN_DIRECT_FAILURES.iter().any(|(k, _)| k == s)).collect();
    assert!(unexpected.is_empty(), "`vmcp mock --conformance` fails {unexpected:?} directly (see the table above)");
}

/// Waits until vmcp lists the backend's tools: its catalog has the server.
async fn wait_until_listed(gw: &HttpGateway, tool: &str) {
    let mut client = HttpClient::new(gw.url("/mcp"));
    client.initialize(json!({})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let tools = client.call("tools/list", json!({})).await;
        if tool_names(&tools).iter().any(|t| t == tool) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "vmcp did not list {tool} within {WAIT:?}: {tools}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outcome(run: &SuiteRun, scenario: &str) -> &'static str {
    match run.scenarios.get(scenario) {
        None => "not run",
        Some(s) if !s.ok() => "FAIL",
        Some(s) if s.warnings > 0 => "pass (warn)",
        Some(_) => "pass",
    }
}

/// Prints the per-scenario table, the totals, and why each failure failed.
fn report(scenarios: &[String], direct: &SuiteRun, via: &SuiteRun) {
    let width = scenarios.iter().map(String::len).max().unwrap_or(8).max(8);
    let mut table = format!("\n{:<width$}  {:<12}  {:<12}\n", "scenario", "direct", "via vmcp");
    for s in scenarios {
        table.push_str(&format!("{s:<width$}  {:<12}  {:<12}\n", outcome(direct, s), outcome(via, s)));
    }
    let passed = |run: &SuiteRun| scenarios.iter().filter(|s| run.passed(s)).count();
    table.push_str(&format!(
        "{:<width$}  {:<12}  {:<12}\n",
        format!("total ({} scenarios)", scenarios.len()),
        format!("{}/{}", passed(direct), scenarios.len()),
        format!("{}/{}", passed(via), scenarios.len()),
    ));
    table.push_str(&format!(
        "{:<width$}  {:<12}  {:<12}\n",
        "suite time",
        format!("{:.1}s", direct.elapsed.as_secs_f64()),
        format!("{:.1}s", via.elapsed.as_secs_f64()),
    ));
    for (name, run) in [("direct", direct), ("via vmcp", via)] {
        for (scenario, s) in &run.scenarios {
            for f in &s.failures {
                table.push_str(&format!("  {name} {scenario}: {f}\n"));
            }
        }
        for (scenario, why) in KNOWN_DIRECT_FAILURES {
            if name == "direct" && !run.passed(scenario) {
                table.push_str(&format!("  (known) {scenario}: {why}\n"));
            }
        }
    }
    eprintln!("{table}");
}

#[test]
fn scenario_names_from_output_dirs() {
    assert_eq!(scenario_of_dir("server-tools-list-2026-11-26T10-03-41-937Z"), Some("tools-list"));
    assert_eq!(scenario_of_dir("server-ping-2026-11-26T10-03-41-937Z"), Some("ping"));
    assert_eq!(scenario_of_dir("suite.log"), None);
    assert_eq!(scenario_of_dir("server-x"), None);
}
