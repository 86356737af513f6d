//! Helpers of the cluster tests: replicas sharing a test PostgreSQL, and the
//! CLI and admin API of each.

use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::postgres::Postgres;
use super::{Setup, mock_server, vmcp_bin};

/// Runs `vmcp <args> --config <config>`; returns exit code, stdout, stderr.
pub fn cli(setup: &Setup, args: &[&str]) -> (i32, String, String) {
    let out = StdCommand::new(vmcp_bin()).args(args).arg("--config").arg(&setup.config).output().expect("run vmcp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn cli_json(setup: &Setup, args: &[&str]) -> Value {
    let (code, out, err) = cli(setup, args);
    assert_eq!(code, 0, "vmcp {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("vmcp {args:?} --json printed no JSON ({e}): {out}"))
}

/// POSTs to a replica's admin API (enable and disable have no CLI command).
pub async fn admin(setup: &Setup, path: &str) -> Value {
    let client = vmcp::admin::AdminClient::new(&setup.path().join("state").join("admin.sock"));
    client.json("POST", path, None).await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// A replica's configuration: one configured mock, the shared registry, and
/// `extra` lines for `[cluster]`.
pub fn replica_with(pg: &Postgres, id: &str, extra: &str) -> Setup {
    Setup::new(
        "",
        &[
            mock_server("alpha", &[]),
            format!("[registry]\nurl = \"{}\"\n", pg.url()),
            format!("[cluster]\nreplica_id = \"{id}\"\nadvertise = \"http://127.0.0.1:1/{id}\"\n{extra}"),
        ],
    )
}

pub fn server_ids(setup: &Setup) -> Vec<String> {
    let list = cli_json(setup, &["list", "--json"]);
    list.as_array().expect("list").iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect()
}

pub fn state_of(setup: &Setup, id: &str) -> Option<String> {
    let list = cli_json(setup, &["list", "--json"]);
    list.as_array()?.iter().find(|s| s["id"] == id).and_then(|s| s["state"].as_str().map(str::to_owned))
}

/// Polls `check` every 20 ms until it holds; how long that took, or `None`
/// after `within`.
pub async fn until(within: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// A replica's configuration: one configured mock and the shared registry.
pub fn replica(pg: &Postgres, id: &str) -> Setup {
    replica_with(pg, id, "")
}
