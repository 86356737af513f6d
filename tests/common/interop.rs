//! Third-party interop peers (server-everything, the Python SDK client, the
//! official conformance suite) for the interop tests. `.ci/run` installs them and
//! exports `VMCP_TEST_*`; without those variables a test is skipped loudly, except
//! under CI (`CI` set), where it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::{WAIT, toml_array, vmcp_bin};

/// Paths of the installed interop peers.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    pub everything: PathBuf,
    pub node: PathBuf,
    pub python: PathBuf,
    pub py_client: PathBuf,
    /// `@modelcontextprotocol/conformance`'s `dist/index.js`.
    pub conformance: PathBuf,
    /// The Node 22+ it needs.
    pub node22: PathBuf,
}

/// Whether this run is CI, where a missing peer is a failure rather than a skip.
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"),
        Err(_) => false,
    }
}

fn lookup(test: &str, vars: &[&str]) -> Option<Vec<PathBuf>> {
    let missing: Vec<&str> =
        vars.iter().copied().filter(|v| std::env::var_os(v).is_none_or(|s| s.is_empty())).collect();
    if !missing.is_empty() {
        let msg = format!("{test}: interop peers not configured: {} unset (run .ci/run)", missing.join(", "));
        if in_ci() {
            panic!("{msg}; CI is set, so this is a failure, not a skip");
        }
        eprintln!("\n==================== SKIPPED: {msg} ====================\n");
        return None;
    }
    let paths: Vec<PathBuf> = vars.iter().map(|v| PathBuf::from(std::env::var_os(v).expect("checked"))).collect();
    for (var, path) in vars.iter().zip(&paths) {
        // Set but wrong is a broken environment, never a reason to skip.
        let ok = path.exists() || (path.components().count() == 1 && which(path).is_some());
        assert!(ok, "{test}: {var}={} does not exist", path.display());
    }
    Some(paths)
}

fn which(name: &std::path::Path) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

impl Peers {
    /// The Python SDK client (`VMCP_TEST_PYTHON`, `VMCP_TEST_PY_CLIENT`).
    pub fn python(test: &str) -> Option<Peers> {
        let p = lookup(test, &["VMCP_TEST_PYTHON", "VMCP_TEST_PY_CLIENT"])?;
        Some(Peers { python: p[0].clone(), py_client: p[1].clone(), ..Peers::default() })
    }

    /// server-everything and node (`VMCP_TEST_EVERYTHING`, `VMCP_TEST_NODE`).
    pub fn everything(test: &str) -> Option<Peers> {
        let p = lookup(test, &["VMCP_TEST_EVERYTHING", "VMCP_TEST_NODE"])?;
        Some(Peers { everything: p[0].clone(), node: p[1].clone(), ..Peers::default() })
    }

    /// Everything: server-everything, node and the Python client.
    pub fn all(test: &str) -> Option<Peers> {
        let p = lookup(test, &["VMCP_TEST_EVERYTHING", "VMCP_TEST_NODE", "VMCP_TEST_PYTHON", "VMCP_TEST_PY_CLIENT"])?;
        Some(Peers {
            everything: p[0].clone(),
            node: p[1].clone(),
            python: p[2].clone(),
            py_client: p[3].clone(),
            ..Peers::default()
        })
    }

    /// The conformance suite and its Node (`VMCP_TEST_CONFORMANCE`, `VMCP_TEST_NODE22`).
    pub fn conformance(test: &str) -> Option<Peers> {
        let p = lookup(test, &["VMCP_TEST_CONFORMANCE", "VMCP_TEST_NODE22"])?;
        Some(Peers { conformance: p[0].clone(), node22: p[1].clone(), ..Peers::default() })
    }

    /// The names of the conformance suite's server scenarios (`list --server`).
    pub async fn conformance_scenarios(&self) -> Vec<String> {
        let out = Command::new(&self.node22)
            .arg(&self.conformance)
            .args(["list", "--server"])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(WAIT, out)
            .await
            .expect("conformance list --server in time")
            .expect("run conformance list --server");
        assert!(out.status.success(), "conformance list --server: {}", String::from_utf8_lossy(&out.stderr));
        // "  - <name>" or "  - <name> [<spec versions>]"
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("  - "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        assert!(!names.is_empty(), "conformance list --server listed nothing");
        names
    }

    /// Runs every server scenario (`server --url URL --suite all -o OUT`), killed
    /// after `limit`. Its output goes to `OUT/suite.log`; results are read from
    /// the `checks.json` it writes per scenario.
    pub async fn run_conformance(&self, url: &str, out: &Path, limit: Duration) -> SuiteRun {
        std::fs::create_dir_all(out).expect("create the conformance output dir");
        let log = out.join("suite.log");
        let file = std::fs::File::create(&log).expect("create suite.log");
        let err = file.try_clone().expect("clone suite.log");
        let started = Instant::now();
        let mut child = Command::new(&self.node22)
            .arg(&self.conformance)
            .args(["server", "--url", url, "--suite", "all", "-o"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the conformance suite");
        let (exit, timed_out) = match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => (status.expect("wait for the conformance suite").code(), false),
            Err(_) => {
                let _ = child.kill().await;
                (None, true)
            }
        };
        let elapsed = started.elapsed();
        SuiteRun { scenarios: read_checks(out), exit, timed_out, elapsed, log }
    }

    pub fn everything_server(&self, id: &str) -> String {
        let args = [self.everything.display().to_string(), "stdio".to_owned()];
        format!("[servers.{id}]\ncommand = {:?}\nargs = {}\n", self.node.display().to_string(), toml_array(&args))
    }

    /// Runs `py_client.py ARGS` (see tests/interop/README.md) and returns what it printed.
    pub async fn py_client(&self, args: &[String]) -> PyRun {
        let mut child = Command::new(&self.python)
            .arg(&self.py_client)
            .args(args)
            // py_client passes its whole environment to a `--stdio` child (vmcp).
            .env("VMCP_LOG", "info,vmcp=debug")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn py_client.py");
        let mut stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let err_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut all = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[py] {line}");
                all.push(line);
            }
            all
        });
        let limit = Duration::from_secs(60);
        let run = async {
            let mut out = String::new();
            stdout.read_to_string(&mut out).await.expect("read py_client stdout");
            let status = child.wait().await.expect("wait py_client");
            (out, status)
        };
        let (out, status) = tokio::time::timeout(limit, run)
            .await
            .unwrap_or_else(|_| panic!("py_client.py did not finish within {limit:?}"));
        let stderr = tokio::time::timeout(WAIT, err_task).await.ok().and_then(Result::ok).unwrap_or_default();
        let json: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("py_client.py printed no JSON ({e}; {status}): {out}"));
        PyRun { out: json, code: status.code(), stderr }
    }
}

/// The outcome of one `py_client.py` run.
#[derive(Debug)]
pub struct PyRun {
    /// The JSON object it printed.
    pub out: Value,
    /// Exit status: 0 = every step worked, 1 = something failed (see `out["errors"]`).
    pub code: Option<i32>,
    /// Its stderr (and, with `--stdio`, the stderr of the server it ran).
    pub stderr: Vec<String>,
}

impl PyRun {
    /// Panics with the reported errors unless every step worked.
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.code, Some(0), "py_client.py failed: errors = {}", self.out["errors"]);
        assert_eq!(self.out["errors"], json!([]), "py_client.py errors");
        &self.out
    }

    /// The stderr line containing `needle`, if any.
    pub fn stderr_line(&self, needle: &str) -> Option<&str> {
        self.stderr.iter().find(|l| l.contains(needle)).map(String::as_str)
    }
}

/// `key=value` from a log line, e.g. `field(line, "protocol")`.
pub fn log_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("{key}=");
    line.split_whitespace().find_map(|w| w.strip_prefix(pat.as_str())).map(|v| v.trim_matches('"'))
}

/// Everything a server lists under `method` (following `nextCursor`), asked
/// directly over stdio, without vmcp in between: the reference to compare with.
pub async fn direct_list(command: &[String], method: &str, key: &str) -> Vec<Value> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let run = async {
        let init = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "vmcp-tests-direct", "version": "0"}});
        rpc(&mut stdin, &mut lines, 0, "initialize", init).await;
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for id in 1..1000 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let page = rpc(&mut stdin, &mut lines, id, method, params).await;
            items.extend(page[key].as_array().cloned().unwrap_or_default());
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
                _ => return items,
            }
        }
        panic!("{method}: more than 1000 pages");
    };
    tokio::time::timeout(WAIT, run).await.unwrap_or_else(|_| panic!("{method} directly: no answer within {WAIT:?}"))
}

/// One request over a child's stdio; everything else the server sends is skipped.
async fn rpc<R: tokio::io::AsyncBufRead + Unpin>(
    stdin: &mut tokio::process::ChildStdin,
    lines: &mut tokio::io::Lines<R>,
    id: i64,
    method: &str,
    params: Value,
) -> Value {
    let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    stdin.write_all(format!("{msg}\n").as_bytes()).await.expect("write");
    stdin.flush().await.expect("flush");
    loop {
        let line = lines.next_line().await.expect("read").expect("server closed stdout");
        let Ok(m) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if m.get("id") == Some(&json!(id)) && m.get("method").is_none() {
            return m.get("result").cloned().unwrap_or_else(|| panic!("{method} failed: {m}"));
        }
    }
}

/// The `vmcp` binary, for `--stdio -- <vmcp> start --stdio --config FILE`.
pub fn vmcp_stdio_command(config: &std::path::Path) -> Vec<String> {
    vec![vmcp_bin().to_owned(), "start".into(), "--stdio".into(), "--config".into(), config.display().to_string()]
}

/// One run of the conformance suite.
#[derive(Debug)]
pub struct SuiteRun {
    /// Per scenario, from its `checks.json`; a scenario that wrote none is absent.
    pub scenarios: BTreeMap<String, Scenario>,
    /// The suite's exit status (1 when any check failed); `None` if it was killed.
    pub exit: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

/// The outcome of one scenario: it passes when none of its checks is a FAILURE
/// (warnings do not fail it, as in the suite's own summary).
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub passed: usize,
    pub warnings: usize,
    /// `check id: error message` of each failed check.
    pub failures: Vec<String>,
}

impl Scenario {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

impl SuiteRun {
    /// Whether `scenario` ran and passed.
    pub fn passed(&self, scenario: &str) -> bool {
        self.scenarios.get(scenario).is_some_and(Scenario::ok)
    }

    /// The last `n` lines of the suite's output.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Reads `OUT/server-<scenario>-<timestamp>/checks.json` for every scenario.
fn read_checks(out: &Path) -> BTreeMap<String, Scenario> {
    let mut scenarios = BTreeMap::new();
    let Ok(dirs) = std::fs::read_dir(out) else { return scenarios };
    for dir in dirs.flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let Some(scenario) = scenario_of_dir(&name) else { continue };
        let Ok(text) = std::fs::read_to_string(dir.path().join("checks.json")) else { continue };
        let checks: Vec<Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}/checks.json is not a JSON array of checks: {e}", dir.path().display()));
        let mut s = Scenario::default();
        for c in &checks {
            match c["status"].as_str() {
                Some("SUCCESS") => s.passed += 1,
                Some("WARNING") => s.warnings += 1,
                Some("FAILURE") => s.failures.push(format!(
                    "{}: {}",
                    c["id"].as_str().unwrap_or("?"),
                    c["errorMessage"].as_str().unwrap_or("(no message)")
                )),
                _ => {}
            }
        }
        scenarios.insert(scenario.to_owned(), s);
    }
    scenarios
}

/// `server-tools-list-2026-01-02T03-04-05-678Z` → `tools-list`.
pub fn scenario_of_dir(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("server-")?;
    // The suffix is "-" and an ISO timestamp with ':' and '.' turned into '-'.
    const STAMP: usize = "-2026-01-02T03-04-05-678Z".len();
    let cut = rest.len().checked_sub(STAMP)?;
    let (scenario, stamp) = (rest.get(..cut)?, rest.get(cut..)?);
    let looks_like_stamp = stamp.ends_with('Z') && stamp.as_bytes().get(11) == Some(&b'T');
    (looks_like_stamp && !scenario.is_empty()).then_some(scenario)
}
