//! The commands that talk to a running gateway through its admin API: `status`,
//! `list`, `info`, `mount`, `unmount`, `stop`, `health check`, `metrics show`.
//! Each finds the gateway from the same configuration `vmcp start` used (its
//! `state_dir`), and says where it looked when nothing answers there.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::admin::client::AdminClient;
use crate::admin::{ServerView, StatusView};

#[derive(Args, Debug)]
pub struct Target {
    /// Configuration file of the gateway (to find its state_dir); may repeat.
    #[arg(long = "config", short = 'c', value_name = "FILE")]
    pub config: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReadArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print JSON (a stable shape) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The server (default: every server).
    pub server: Option<String>,
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["file", "command", "url"])))]
pub struct MountArgs {
    /// The new server's id.
    pub server: String,
    /// A TOML file with the server's keys (as in a [servers.<id>] table).
    #[arg(long, value_name = "SNIPPET.toml")]
    pub file: Option<PathBuf>,
    /// A stdio server: the program to run.
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,
    /// An argument of --command (repeat for several).
    #[arg(long = "arg", value_name = "A", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// A remote server's URL (ws:// or wss:// → websocket; …/sse → the legacy SSE transport; else streamable HTTP).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The transport of --url, when the URL does not say.
    #[arg(long, value_parser = ["http", "sse", "websocket"])]
    pub transport: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Args, Debug)]
pub struct IdArgs {
    pub server: String,
    #[command(flatten)]
    pub target: Target,
}

fn client(target: &Target) -> anyhow::Result<AdminClient> {
    let paths = super::config_paths(&target.config)?;
    let state_dir = match crate::config::load(&paths) {
        Ok(cfg) => cfg.gateway.state_dir,
        // A file being edited may be broken while the gateway runs on the last
        // good one: find the gateway anyway, from its state_dir alone.
        Err(errors) => match lenient_state_dir(&paths) {
            Some(dir) => {
                eprintln!("warning: the configuration has errors (the gateway keeps its last good one):\n{errors}");
                dir
            }
            None => anyhow::bail!("invalid configuration:\n{errors}"),
        },
    };
    Ok(AdminClient::new(&crate::admin::socket_path(&state_dir)))
}

/// `gateway.state_dir` read from files that may not validate (later files win).
fn lenient_state_dir(paths: &[PathBuf]) -> Option<PathBuf> {
    let mut found = None;
    for p in paths {
        let table: toml::Table = std::fs::read_to_string(p).ok()?.parse().ok()?;
        if let Some(dir) = table.get("gateway").and_then(|g| g.get("state_dir")).and_then(|d| d.as_str()) {
            found = Some(dir.to_owned());
        }
    }
    let dir = found.unwrap_or_else(|| crate::config::DEFAULT_STATE_DIR.to_owned());
    Some(match (dir.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    })
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A plain aligned table.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_uppercase()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

pub async fn status(args: ReadArgs) -> anyhow::Result<ExitCode> {
    let c = client(&args.target)?;
    let v: StatusView = serde_json::from_value(c.json("GET", "/admin/v1/status", None).await?)?;
    if args.json {
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("vmcp {} running (pid {}, up {} s)", v.version, v.pid, v.uptime_seconds);
    if let Some(l) = &v.listen {
        println!("listening on http://{l}/mcp");
    }
    println!("servers: {} ({} ready, {} down); sessions: {}", v.servers, v.ready, v.down, v.sessions);
    if v.ready_for_traffic {
        println!("ready: yes");
    } else {
        println!("ready: no ({})", v.not_ready.join("; "));
    }
    if !v.replica.is_empty() {
        let revision = v.registry_revision.map(|r| format!(", revision {r}")).unwrap_or_default();
        println!("replica: {} (registry {}{revision})", v.replica, v.registry);
    }
    if let Some(e) = &v.members_error {
        println!("members: unknown ({e})");
    } else if v.members.len() > 1 || v.members.first().is_some_and(|m| m.id != v.replica) {
        println!("members: {}", v.members.len());
        let rows: Vec<Vec<String>> = v
            .members
            .iter()
            .map(|m| {
                vec![
                    m.id.clone(),
                    m.advertise.clone().unwrap_or_else(|| "-".into()),
                    m.version.clone(),
                    format!("{:.1} s ago", m.seen_ago_seconds),
                ]
            })
            .collect();
        println!("{}", table(&["replica", "advertise", "version", "seen"], &rows));
    }
    Ok(ExitCode::SUCCESS)
}

async fn servers(c: &AdminClient) -> anyhow::Result<Vec<ServerView>> {
    Ok(serde_json::from_value(c.json("GET", "/admin/v1/servers", None).await?)?)
}

pub async fn list(args: ReadArgs) -> anyhow::Result<ExitCode> {
    let c = client(&args.target)?;
    let servers = servers(&c).await?;
    if args.json {
        print_json(&servers)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.transport.clone(),
                s.state.clone(),
                s.protocol.clone().unwrap_or_else(|| "-".into()),
                s.tools.to_string(),
                s.prompts.to_string(),
                s.restarts.to_string(),
                s.latency_avg_ms.map(|ms| format!("{ms:.1} ms")).unwrap_or_else(|| "-".into()),
                s.source.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["id", "transport", "state", "protocol", "tools", "prompts", "restarts", "latency", "source"], &rows)
    );
    // Which replica answered, when there are several.
    if let Ok(status) = c.json("GET", "/admin/v1/status", None).await
        && let Ok(v) = serde_json::from_value::<StatusView>(status)
        && v.members.len() > 1
    {
        let ids: Vec<&str> = v.members.iter().map(|m| m.id.as_str()).collect();
        println!("replica {} of {} ({})", v.replica, ids.len(), ids.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn info(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let c = client(&args.target)?;
    let views: Vec<ServerView> = match &args.server {
        Some(id) => vec![serde_json::from_value(c.json("GET", &format!("/admin/v1/servers/{id}"), None).await?)?],
        None => {
            let mut all = Vec::new();
            for s in servers(&c).await? {
                all.push(serde_json::from_value(c.json("GET", &format!("/admin/v1/servers/{}", s.id), None).await?)?);
            }
            all
        }
    };
    if args.json {
        match (&args.server, views.as_slice()) {
            (Some(_), [one]) => print_json(one)?,
            _ => print_json(&views)?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    for v in views {
        println!("{} ({}, {})", v.id, v.transport, v.source);
        println!("  state:     {}{}", v.state, v.last_error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default());
        if let Some(t) = &v.target {
            println!("  target:    {t}");
        }
        println!("  protocol:  {}", v.protocol.as_deref().unwrap_or("-"));
        println!("  pid:       {}", v.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()));
        println!("  restarts:  {}", v.restarts);
        if let (Some(last), Some(avg)) = (v.latency_ms, v.latency_avg_ms) {
            println!("  latency:   {avg:.1} ms average, {last:.1} ms last");
        }
        println!("  capabilities: {}", v.capabilities.join(", "));
        println!("  required:  {}", if v.required { "yes" } else { "no" });
        if v.replicas.len() > 1 || v.isolation == "per_session" {
            println!("  balance:   {} ({} replicas, isolation {})", v.balance, v.replicas.len(), v.isolation);
        }
        if v.isolation == "per_session" {
            println!("  session processes: {}", v.session_processes);
        }
        for r in &v.replicas {
            println!(
                "  replica {}: {}, circuit {}{}, {} in flight, pid {}, {} restarts{}{}",
                r.target,
                r.state,
                r.breaker,
                if r.breaker_opened > 0 { format!(" (opened {}x)", r.breaker_opened) } else { String::new() },
                r.in_flight,
                r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                r.restarts,
                r.latency_avg_ms.map(|ms| format!(", {ms:.1} ms avg")).unwrap_or_default(),
                r.last_error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default(),
            );
        }
        println!("  tools ({}): {}", v.tools, v.tool_names.join(", "));
        println!("  prompts ({}): {}", v.prompts, v.prompt_names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// The TOML snippet `vmcp mount` sends.
fn snippet(args: &MountArgs) -> anyhow::Result<String> {
    if let Some(file) = &args.file {
        return std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()));
    }
    let mut t = toml::Table::new();
    if let Some(cmd) = &args.command {
        t.insert("command".into(), cmd.clone().into());
        if !args.args.is_empty() {
            t.insert("args".into(), toml::Value::Array(args.args.iter().cloned().map(Into::into).collect()));
        }
    } else if let Some(url) = &args.url {
        let transport = args.transport.clone().unwrap_or_else(|| {
            if url.starts_with("ws://") || url.starts_with("wss://") {
                "websocket".into()
            } else if url.trim_end_matches('/').ends_with("/sse") {
                "sse".into()
            } else {
                "http".into()
            }
        });
        t.insert("transport".into(), transport.into());
        t.insert("url".into(), url.clone().into());
    }
    Ok(toml::to_string(&t)?)
}

pub async fn mount(args: MountArgs) -> anyhow::Result<ExitCode> {
    if !args.args.is_empty() && args.command.is_none() {
        bail!("--arg goes with --command");
    }
    let c = client(&args.target)?;
    let body = json!({ "id": args.server, "snippet": snippet(&args)? });
    let v: ServerView = serde_json::from_value(c.json("POST", "/admin/v1/servers", Some(&body)).await?)?;
    println!("mounted {} ({}, {})", v.id, v.transport, v.state);
    Ok(ExitCode::SUCCESS)
}

pub async fn unmount(args: IdArgs) -> anyhow::Result<ExitCode> {
    let c = client(&args.target)?;
    c.json("DELETE", &format!("/admin/v1/servers/{}", args.server), None).await?;
    println!("unmounted {}", args.server);
    Ok(ExitCode::SUCCESS)
}

pub async fn stop(args: Target) -> anyhow::Result<ExitCode> {
    let c = client(&args)?;
    let v: Value = c.json("POST", "/admin/v1/shutdown", None).await?;
    let pid = v["pid"].as_u64().unwrap_or(0) as i32;
    // Graceful: returns once the process is gone.
    for _ in 0..1200 {
        if pid == 0 || !running(pid) {
            println!("stopped (pid {pid})");
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the gateway (pid {pid}) is still running after 60 s")
}

/// Whether a process still runs: it exists and is not a zombie waiting for its
/// parent to collect it.
fn running(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// Exit 0 healthy, 1 degraded, 2 down or unreachable.
pub async fn health(args: Target) -> anyhow::Result<ExitCode> {
    let c = client(&args)?;
    let servers = match servers(&c).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("down: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let enabled: Vec<&ServerView> = servers.iter().filter(|s| s.enabled).collect();
    let bad: Vec<String> = enabled
        .iter()
        .filter(|s| s.state != "ready")
        .map(|s| {
            format!("{} {}{}", s.id, s.state, s.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())
        })
        .collect();
    let ready = enabled.len() - bad.len();
    let required_down = enabled.iter().any(|s| s.required && s.state != "ready");
    if bad.is_empty() {
        println!("healthy: {ready} of {} servers ready", enabled.len());
        Ok(ExitCode::SUCCESS)
    } else if ready == 0 || required_down {
        println!("down: {}", bad.join("; "));
        Ok(ExitCode::from(2))
    } else {
        println!("degraded: {ready} of {} servers ready; {}", enabled.len(), bad.join("; "));
        Ok(ExitCode::from(1))
    }
}

pub async fn metrics(args: ReadArgs) -> anyhow::Result<ExitCode> {
    let c = client(&args.target)?;
    let value = match c.json("GET", "/admin/v1/metrics", None).await {
        Ok(v) => v,
        // Gateways before the JSON summary answered with Prometheus text.
        Err(crate::admin::client::ClientError::Garbled(body)) if body.contains("# TYPE vmcp_") => bail!(
            "the gateway answers /admin/v1/metrics in an older format (it runs an older vmcp): \
             restart it with this version, or read its /metrics endpoint"
        ),
        Err(e) => return Err(e.into()),
    };
    let summary: crate::observe::metrics::Summary =
        serde_json::from_value(value).context("the gateway's metrics summary has an unexpected shape")?;
    if args.json {
        print_json(&summary)?;
    } else {
        print!("{}", summary.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
