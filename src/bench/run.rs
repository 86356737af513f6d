//! The run: the plan from the arguments, the sessions, the closed loops, the report.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::future::join_all;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::conn::{self, Conn, HttpConn, StdioConn};
use super::kind::Kind;
use super::stats::{Outcome, Recorder, Report, RunInfo};
use crate::protocol::RawObject;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// A streamable HTTP MCP endpoint, e.g. http://127.0.0.1:3000/mcp.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A stdio MCP server to run: one process per session.
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,
    /// An argument of --command (repeat for several).
    #[arg(long = "arg", value_name = "A", allow_hyphen_values = true)]
    pub arg: Vec<String>,
    /// An HTTP header for --url, as "Name: value" (repeat for several).
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,
    /// Concurrent sessions, each with one request outstanding.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub sessions: usize,
    /// How long to measure, after the warm-up (default 10s unless --requests is given).
    #[arg(long, value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub duration: Option<Duration>,
    /// Measure this many requests instead of a duration.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// The tool to call (tools/call).
    #[arg(long, value_name = "NAME")]
    pub tool: Option<String>,
    /// The tool's arguments, a JSON object.
    #[arg(long = "args", value_name = "JSON")]
    pub tool_args: Option<String>,
    /// Rotate among kinds of request: list (tools/list), call (tools/call: --tool, else the
    /// first listed tool), read (resources/read of the first listed resource).
    #[arg(long, value_name = "KINDS", value_delimiter = ',', num_args = 0..=1, default_missing_value = "list,call,read")]
    pub mix: Option<Vec<String>>,
    /// Requests made for this long first are not counted.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::config::parse_duration)]
    pub warmup: Duration,
    /// A request without an answer for this long counts as a transport error.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub timeout: Duration,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The arguments do not describe a run.
    #[error("{0}")]
    Usage(String),
    /// The run could not start: the server is unreachable or failed to initialize.
    #[error("{0}")]
    Setup(String),
}

enum Target {
    Http { url: reqwest::Url, headers: reqwest::header::HeaderMap },
    Stdio { command: String, args: Vec<String> },
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::Http { url, .. } => url.to_string(),
            Target::Stdio { command, args } => {
                std::iter::once(command).chain(args).map(|a| shell_word(a)).collect::<Vec<_>>().join(" ")
            }
        }
    }

    fn transport(&self) -> &'static str {
        match self {
            Target::Http { .. } => "http",
            Target::Stdio { .. } => "stdio",
        }
    }
}

fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

#[derive(Clone, Copy)]
enum Stop {
    After(Duration),
    Count(u64),
}

/// The run the arguments describe.
struct Plan {
    target: Target,
    sessions: usize,
    stop: Stop,
    warmup: Duration,
    timeout: Duration,
    tool: Option<String>,
    tool_args: Box<RawValue>,
    kinds: Vec<Kind>,
    /// `--mix` was given: kinds the server lacks are skipped rather than fatal.
    mix: bool,
}

fn usage(msg: impl Into<String>) -> BenchError {
    BenchError::Usage(msg.into())
}

fn plan(a: &BenchArgs) -> Result<Plan, BenchError> {
    let target = match (&a.url, &a.command) {
        (Some(_), Some(_)) => return Err(usage("give one target, --url or --command, not both")),
        (None, None) => {
            return Err(usage(
                "no target: pass --url URL (a streamable HTTP endpoint) or --command CMD [--arg A]... (a stdio server)",
            ));
        }
        (Some(u), None) => {
            if !a.arg.is_empty() {
                return Err(usage("--arg goes with --command, not --url"));
            }
            let url = reqwest::Url::parse(u).map_err(|e| usage(format!("invalid --url {u:?}: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(usage(format!("invalid --url {u:?}: expected http:// or https://")));
            }
            let headers = conn::parse_headers(&a.header).map_err(usage)?;
            Target::Http { url, headers }
        }
        (None, Some(c)) => {
            if !a.header.is_empty() {
                return Err(usage("--header goes with --url, not --command"));
            }
            if c.trim().is_empty() {
                return Err(usage("--command is empty"));
            }
            Target::Stdio { command: c.clone(), args: a.arg.clone() }
        }
    };
    if a.sessions == 0 {
        return Err(usage("--sessions must be at least 1"));
    }
    let stop = match (a.duration, a.requests) {
        (Some(_), Some(_)) => return Err(usage("give --duration or --requests, not both")),
        (_, Some(0)) => return Err(usage("--requests must be at least 1")),
        (_, Some(n)) => Stop::Count(n),
        (Some(d), None) if d.is_zero() => return Err(usage("--duration must be longer than 0")),
        (Some(d), None) => Stop::After(d),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    if a.timeout.is_zero() {
        return Err(usage("--timeout must be longer than 0"));
    }
    let tool_args = match &a.tool_args {
        None => crate::protocol::jsonrpc::empty_object(),
        Some(text) => match serde_json::from_str::<Box<RawValue>>(text) {
            Ok(raw) if raw.get().trim_start().starts_with('{') => raw,
            Ok(_) => return Err(usage(format!("invalid --args {text:?}: expected a JSON object"))),
            Err(e) => return Err(usage(format!("invalid --args {text:?}: not JSON: {e}"))),
        },
    };
    let (kinds, mix) = match &a.mix {
        Some(given) => {
            let mut kinds = Vec::new();
            for k in given.iter().filter(|k| !k.trim().is_empty()) {
                let kind = Kind::parse(k)
                    .ok_or_else(|| usage(format!("unknown --mix kind {k:?}: expected list, call or read")))?;
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            if kinds.is_empty() {
                return Err(usage("--mix is empty: expected some of list, call, read"));
            }
            (kinds, true)
        }
        None if a.tool.is_some() => (vec![Kind::Call], false),
        None => (vec![Kind::List], false),
    };
    if !kinds.contains(&Kind::Call) {
        if a.tool.is_some() {
            return Err(usage("--tool is given but --mix has no call"));
        }
        if a.tool_args.is_some() {
            return Err(usage("--args goes with --tool (or a --mix with call)"));
        }
    }
    if a.tool.as_deref().is_some_and(|t| t.is_empty()) {
        return Err(usage("--tool is empty"));
    }
    Ok(Plan {
        target,
        sessions: a.sessions,
        stop,
        warmup: a.warmup,
        timeout: a.timeout,
        tool: a.tool.clone(),
        tool_args,
        kinds,
        mix,
    })
}

/// Notes on stderr (above the progress bar, if any), kept for the report.
#[derive(Clone, Default)]
struct Notes {
    all: Arc<Mutex<Vec<String>>>,
    bar: Option<indicatif::ProgressBar>,
}

impl Notes {
    fn add(&self, note: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("note: {note}")),
            None => eprintln!("note: {note}"),
        }
        if let Ok(mut all) = self.all.lock() {
            all.push(note);
        }
    }

    fn take(&self) -> Vec<String> {
        self.all.lock().map(|mut a| std::mem::take(&mut *a)).unwrap_or_default()
    }
}

/// Runs the benchmark the arguments describe.
pub async fn run(args: &BenchArgs) -> Result<Report, BenchError> {
    let plan = plan(args)?;
    let mut notes = Notes::default();
    if args.tool.is_none() && args.mix.is_none() {
        notes.add("neither --tool nor --mix given: measuring tools/list".into());
    }
    let target = plan.target.describe();
    let (mut conns, hello) = connect_all(&plan).await?;
    let probed = match conns.first_mut() {
        Some(probe) => workload(&plan, probe, &hello.capabilities, &notes).await,
        None => Err(BenchError::Setup("no session opened".into())),
    };
    let workload = match probed {
        Ok(w) => w,
        Err(e) => {
            join_all(conns.into_iter().map(Conn::close)).await;
            return Err(e);
        }
    };

    let start = Instant::now();
    let measure_start = start + plan.warmup;
    let shared = Arc::new(Shared {
        measure_start,
        stop: plan.stop,
        deadline: match plan.stop {
            Stop::After(d) => Some(measure_start + d),
            Stop::Count(_) => None,
        },
        timeout: plan.timeout,
        tickets: AtomicU64::new(0),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        warm: AtomicU64::new(0),
        recorder: Mutex::new(Recorder::new().map_err(BenchError::Setup)?),
        cancel: CancellationToken::new(),
        workload: Arc::new(workload),
    });
    let interactive = std::io::stderr().is_terminal();
    let bar = interactive.then(|| progress_bar(&plan));
    notes.bar = bar.clone();
    let ticker = bar.clone().map(|bar| tokio::spawn(tick(bar, shared.clone())));
    let interrupt = {
        let cancel = shared.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };

    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| tokio::spawn(session(i, conn, shared.clone(), notes.clone())))
        .collect();
    let mut last: Option<Instant> = None;
    let mut closing = Vec::new();
    for t in join_all(tasks).await {
        match t {
            Ok((conn, end)) => {
                last = last.max(end);
                closing.push(conn);
            }
            Err(e) => notes.add(format!("a session failed: {e}")),
        }
    }
    let interrupted = shared.cancel.is_cancelled();
    interrupt.abort();
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    join_all(closing.into_iter().map(Conn::close)).await;
    if interrupted {
        notes.add("interrupted: the figures cover the requests made until then".into());
    }
    let warmup_requests = shared.warm.load(Ordering::Relaxed);
    let recorder = {
        let mut guard = shared.recorder.lock().map_err(|_| BenchError::Setup("the figures were lost".into()))?;
        std::mem::replace(&mut *guard, Recorder::new().map_err(BenchError::Setup)?)
    };
    let measured = last.map(|l| l.saturating_duration_since(measure_start)).unwrap_or_default();
    Ok(Report::new(
        recorder,
        RunInfo {
            target,
            transport: plan.target.transport(),
            protocol_version: hello.version,
            sessions: plan.sessions,
            warmup_requests,
            measured,
            notes: notes.take(),
            interrupted,
        },
    ))
}

/// What every session shares.
struct Shared {
    /// Requests started before this are the warm-up.
    measure_start: Instant,
    stop: Stop,
    deadline: Option<Instant>,
    timeout: Duration,
    /// Measured requests started (with `Stop::Count`).
    tickets: AtomicU64,
    /// Measured requests ended, and how many of them failed (for the progress bar).
    done: AtomicU64,
    errors: AtomicU64,
    /// Warm-up requests ended.
    warm: AtomicU64,
    recorder: Mutex<Recorder>,
    cancel: CancellationToken,
    workload: Arc<Vec<(Kind, String)>>,
}

/// Opens every session at once and runs the handshake on each. Any failure ends
/// the run before it starts, with what the server said.
async fn connect_all(plan: &Plan) -> Result<(Vec<Conn>, conn::Hello), BenchError> {
    let client = match &plan.target {
        Target::Http { .. } => Some(conn::http_client().map_err(BenchError::Setup)?),
        Target::Stdio { .. } => None,
    };
    let opening = (0..plan.sessions).map(|_| async {
        let mut c = match (&plan.target, &client) {
            (Target::Http { url, headers }, Some(client)) => {
                Conn::Http(HttpConn::new(client.clone(), url.clone(), headers.clone()))
            }
            (Target::Stdio { command, args }, _) => Conn::Stdio(Box::new(StdioConn::spawn(command, args)?)),
            (Target::Http { .. }, None) => return Err("no HTTP client".to_owned()),
        };
        match tokio::time::timeout(plan.timeout, c.handshake()).await {
            Ok(Ok(hello)) => Ok((c, hello)),
            Ok(Err(why)) => {
                c.close().await;
                Err(why)
            }
            Err(_) => {
                let why = c.explain(&format!("it did not answer initialize within {:?}", plan.timeout));
                c.close().await;
                Err(why)
            }
        }
    });
    let mut conns = Vec::new();
    let mut hello = None;
    let mut failure = None;
    for outcome in join_all(opening).await {
        match outcome {
            Ok((c, h)) => {
                conns.push(c);
                hello.get_or_insert(h);
            }
            Err(why) => {
                failure.get_or_insert(why);
            }
        }
    }
    match (failure, hello) {
        (None, Some(hello)) => Ok((conns, hello)),
        (failure, _) => {
            join_all(conns.into_iter().map(Conn::close)).await;
            let why = failure.unwrap_or_else(|| "no session opened".into());
            // Not reached at all: the reason says it all.
            if why.starts_with(conn::CANNOT_REACH) || why.starts_with(conn::CANNOT_START) {
                return Err(BenchError::Setup(why));
            }
            let what = match &plan.target {
                Target::Http { url, .. } => format!("the server at {url}"),
                Target::Stdio { .. } => format!("the server `{}`", plan.target.describe()),
            };
            Err(BenchError::Setup(format!("{what} failed to initialize: {why}")))
        }
    }
}

/// The requests to rotate among, with their params; with `--mix`, what the
/// server offers decides (a kind it lacks is skipped with a note).
async fn workload(
    plan: &Plan,
    probe: &mut Conn,
    capabilities: &RawObject,
    notes: &Notes,
) -> Result<Vec<(Kind, String)>, BenchError> {
    let call_params = |tool: &str| {
        let name = serde_json::to_string(tool).unwrap_or_else(|_| "\"\"".into());
        format!(r#"{{"name":{name},"arguments":{}}}"#, plan.tool_args.get())
    };
    if !plan.mix {
        return Ok(plan
            .kinds
            .iter()
            .map(|&k| match (k, &plan.tool) {
                (Kind::Call, Some(tool)) => (k, call_params(tool)),
                _ => (k, "{}".to_owned()),
            })
            .collect());
    }
    let mut out = Vec::new();
    let needs_list = plan.kinds.contains(&Kind::List) || (plan.kinds.contains(&Kind::Call) && plan.tool.is_none());
    // (whether tools/list works, the first tool it lists)
    let mut tools = (false, None);
    if needs_list {
        if !capabilities.contains("tools") {
            notes.add("the server announces no tools capability; trying tools/list anyway".into());
        }
        match first_item(probe, Kind::List.method(), "tools", "name", plan.timeout).await {
            Ok(first) => tools = (true, first),
            Err(why) => {
                let skipped = if plan.tool.is_some() { "list" } else { "list and call" };
                notes.add(format!("tools/list failed ({why}): skipping {skipped}"));
            }
        }
    }
    for &k in &plan.kinds {
        match k {
            Kind::List if tools.0 => out.push((k, "{}".to_owned())),
            Kind::List => {}
            Kind::Call => match plan.tool.as_ref().or(tools.1.as_ref()) {
                Some(tool) => out.push((k, call_params(tool))),
                None if tools.0 => notes.add("the server lists no tools: skipping call".into()),
                None => {}
            },
            Kind::Read => {
                if !capabilities.contains("resources") {
                    notes.add("the server announces no resources capability: skipping read".into());
                    continue;
                }
                match first_item(probe, crate::protocol::method::RESOURCES_LIST, "resources", "uri", plan.timeout).await
                {
                    Ok(Some(uri)) => {
                        let uri = serde_json::to_string(&uri).unwrap_or_else(|_| "\"\"".into());
                        out.push((k, format!(r#"{{"uri":{uri}}}"#)));
                    }
                    Ok(None) => notes.add("the server lists no resources: skipping read".into()),
                    Err(why) => notes.add(format!("resources/list failed ({why}): skipping read")),
                }
            }
        }
    }
    if out.is_empty() {
        return Err(BenchError::Setup("nothing to measure: the server offers none of the kinds in --mix".into()));
    }
    Ok(out)
}

/// The `field` of the first item of a list's `key` array (`tools[0].name`).
async fn first_item(
    c: &mut Conn,
    method: &str,
    key: &str,
    field: &str,
    timeout: Duration,
) -> Result<Option<String>, String> {
    let answer = tokio::time::timeout(timeout, c.request(method, "{}"))
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))??;
    let result = answer.map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(result.get()).map_err(|e| e.to_string())?;
    Ok(v.get(key)
        .and_then(|items| items.get(0))
        .and_then(|item| item.get(field))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned))
}

#[derive(serde::Deserialize)]
struct ToolResult {
    #[serde(rename = "isError", default)]
    is_error: Option<bool>,
}

/// One session's closed loop. Returns its connection and when its last measured answer came.
async fn session(index: usize, mut conn: Conn, shared: Arc<Shared>, notes: Notes) -> (Conn, Option<Instant>) {
    let workload = shared.workload.clone();
    let mut turn = index;
    let mut last = None;
    loop {
        let now = Instant::now();
        let measured = now >= shared.measure_start;
        if measured {
            match shared.stop {
                Stop::Count(n) => {
                    if shared.tickets.fetch_add(1, Ordering::Relaxed) >= n {
                        break;
                    }
                }
                Stop::After(_) => {
                    if shared.deadline.is_some_and(|d| now >= d) {
                        break;
                    }
                }
            }
        }
        let Some((kind, params)) = workload.get(turn % workload.len().max(1)) else { break };
        turn += 1;
        let t0 = Instant::now();
        let answer = tokio::select! {
            a = tokio::time::timeout(shared.timeout, conn.request(kind.method(), params)) => a,
            _ = shared.cancel.cancelled() => break,
        };
        let latency = t0.elapsed();
        let outcome = match answer {
            Ok(Ok(Ok(result))) => {
                let tool_error = *kind == Kind::Call
                    && serde_json::from_str::<ToolResult>(result.get()).is_ok_and(|r| r.is_error == Some(true));
                if tool_error { Outcome::Tool } else { Outcome::Ok }
            }
            Ok(Ok(Err(e))) => Outcome::Rpc(e.to_string()),
            Ok(Err(why)) => Outcome::Transport(why),
            Err(_) => Outcome::Transport(format!("no answer within {:?}", shared.timeout)),
        };
        let failed = !matches!(outcome, Outcome::Ok);
        let transport = match &outcome {
            Outcome::Transport(why) => Some(why.clone()),
            _ => None,
        };
        if measured {
            if let Ok(mut r) = shared.recorder.lock() {
                r.record(*kind, outcome, latency);
            }
            shared.done.fetch_add(1, Ordering::Relaxed);
            if failed {
                shared.errors.fetch_add(1, Ordering::Relaxed);
            }
            last = Some(Instant::now());
        } else {
            shared.warm.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(why) = transport {
            if !conn.alive() {
                notes.add(format!("session {index} ended: {why}"));
                break;
            }
            // A failing connection must not turn into a busy loop.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = shared.cancel.cancelled() => break,
            }
        }
    }
    (conn, last)
}

fn progress_bar(plan: &Plan) -> indicatif::ProgressBar {
    let len = match plan.stop {
        Stop::Count(n) => n,
        Stop::After(d) => d.as_millis() as u64,
    };
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// Updates the progress bar ten times a second.
async fn tick(bar: indicatif::ProgressBar, shared: Arc<Shared>) {
    let mut every = tokio::time::interval(Duration::from_millis(100));
    loop {
        every.tick().await;
        let now = Instant::now();
        if now < shared.measure_start {
            bar.set_message(format!("warming up: {} requests", shared.warm.load(Ordering::Relaxed)));
            continue;
        }
        let done = shared.done.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        let secs = now.duration_since(shared.measure_start).as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        match shared.stop {
            Stop::Count(_) => bar.set_position(done),
            Stop::After(_) => bar.set_position(now.duration_since(shared.measure_start).as_millis() as u64),
        }
        bar.set_message(format!("{done} requests, {rate:.0}/s, {errors} errors"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        b: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<Plan, BenchError> {
        let t = T::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).unwrap();
        plan(&t.b)
    }

    fn err(args: &[&str]) -> String {
        match parse(args) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{args:?} should be refused"),
        }
    }

    #[test]
    fn plans_and_refusals() {
        assert!(err(&[]).contains("no target"));
        assert!(err(&["--url", "http://x/mcp", "--command", "y"]).contains("not both"));
        assert!(err(&["--url", "ftp://x"]).contains("http://"));
        assert!(err(&["--command", "x", "--tool", "t", "--args", "{nope"]).contains("not JSON"));
        assert!(err(&["--command", "x", "--tool", "t", "--args", "[1]"]).contains("JSON object"));
        assert!(err(&["--command", "x", "--requests", "5", "--duration", "1s"]).contains("not both"));
        assert!(err(&["--command", "x", "--mix", "list,write"]).contains("unknown --mix kind"));
        assert!(err(&["--command", "x", "--args", "{}"]).contains("--args goes with --tool"));
        assert!(err(&["--command", "x", "--sessions", "0"]).contains("at least 1"));
        let p = parse(&["--command", "x", "--arg", "--flag", "--tool", "echo", "--args", r#"{"text":"x"}"#]).unwrap();
        assert_eq!(p.kinds, vec![Kind::Call]);
        assert!(matches!(p.stop, Stop::After(d) if d == Duration::from_secs(10)));
        assert!(matches!(&p.target, Target::Stdio { args, .. } if args == &["--flag"]));
        let p = parse(&["--url", "http://127.0.0.1:1/mcp", "--mix", "--requests", "3"]).unwrap();
        assert_eq!(p.kinds, vec![Kind::List, Kind::Call, Kind::Read]);
        assert!(p.mix && matches!(p.stop, Stop::Count(3)));
        let p = parse(&["--url", "http://127.0.0.1:1/mcp", "--mix", "read,list,read"]).unwrap();
        assert_eq!(p.kinds, vec![Kind::Read, Kind::List]);
    }

    #[test]
    fn command_lines_are_shown_as_typed() {
        let t = Target::Stdio { command: "/bin/vmcp".into(), args: vec!["mock".into(), "a b".into()] };
        assert_eq!(t.describe(), "/bin/vmcp mock 'a b'");
    }
}
