//! `vmcp mock`: a configurable MCP server for tests, benchmarks and experiments.
//!
//! It speaks MCP over stdio, or with `--listen` over HTTP (streamable HTTP at
//! `/mcp`, legacy HTTP+SSE at `/sse`, WebSocket at `/ws`), through the same
//! transports as the gateway. It offers N generated tools, resources,
//! templates and prompts (paginated with `--page-size`), plus tools that exercise
//! everything a gateway must carry: progress, sampling, elicitation, roots,
//! list changes, resource updates, logging, slow calls, errors and crashes.
//! With `--conformance` it offers instead the fixtures the official conformance
//! suite's server scenarios expect (see `conformance.rs`).
//! It is a test backend: nothing in the gateway depends on it.

mod catalog;
mod conformance;
mod session;

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::io::BufReader;
use tokio_util::sync::CancellationToken;

use crate::front::http::McpHttp;
use crate::front::legacy_sse::LegacySse;
use crate::front::shared::HttpOptions;
use crate::front::ws::McpWs;

#[derive(Args, Debug, Clone)]
pub struct MockArgs {
    /// serverInfo.name to announce.
    #[arg(long, default_value = "vmcp-mock")]
    pub name: String,
    /// Number of generated tools (tool_0 … tool_{N-1}), besides the built-in ones.
    #[arg(long, default_value_t = 3)]
    pub tools: usize,
    /// Number of resources (mock://resource/0 …).
    #[arg(long, default_value_t = 3)]
    pub resources: usize,
    /// Number of resource templates (mock://template/0/{id} …).
    #[arg(long, default_value_t = 1)]
    pub templates: usize,
    /// Number of prompts (prompt_0 …).
    #[arg(long, default_value_t = 2)]
    pub prompts: usize,
    /// Items per page in every list (0: everything in one page).
    #[arg(long, default_value_t = 0)]
    pub page_size: usize,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0 to 1) that a tool call fails with a JSON-RPC error.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Exit (status 3) upon receiving the Nth request.
    #[arg(long)]
    pub crash_after: Option<u64>,
    /// Stop answering anything (but stay alive) from the Nth request on, to test hung servers.
    #[arg(long)]
    pub hang_after: Option<u64>,
    /// Exit (status 4) before answering initialize, to test start-up failures.
    #[arg(long)]
    pub fail_start: bool,
    /// Apply the fault options above (latency, error rate, crash, hang, failed
    /// start) only in the replica with this number (vmcp sets `VMCP_REPLICA` in
    /// each replica's environment); the other replicas behave.
    #[arg(long, value_name = "N")]
    pub faults_on_replica: Option<usize>,
    /// Leave this capability (tools, resources, prompts, logging, completions)
    /// out of what initialize announces; may repeat.
    #[arg(long, value_name = "CAPABILITY")]
    pub omit_capability: Vec<String>,
    /// Instructions to announce in initialize.
    #[arg(long)]
    pub instructions: Option<String>,
    /// Leave out the built-in tools (echo, add, progress, …): only generated ones.
    #[arg(long)]
    pub no_builtins: bool,
    /// Offer exactly the fixtures of the official conformance suite
    /// (@modelcontextprotocol/conformance) instead of generated items and built-in tools.
    #[arg(long, conflicts_with_all = ["tools", "resources", "templates", "prompts", "no_builtins"])]
    pub conformance: bool,
    /// Serve HTTP on this address (e.g. 127.0.0.1:0) instead of stdio: /mcp, /sse and /ws.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

pub async fn run(mut args: MockArgs) -> anyhow::Result<()> {
    if let Some(n) = args.faults_on_replica {
        let mine = std::env::var("VMCP_REPLICA").ok().and_then(|r| r.parse::<usize>().ok());
        if mine != Some(n) {
            args.latency_ms = 0;
            args.error_rate = 0.0;
            args.crash_after = None;
            args.hang_after = None;
            args.fail_start = false;
        }
    }
    let service = Arc::new(session::MockService::new(args.clone()));
    let stop = CancellationToken::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
    }
    match &args.listen {
        None => {
            let input = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
            crate::front::stdio::serve(service.as_ref(), input, tokio::io::stdout(), 64 * 1024 * 1024, stop).await;
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!("vmcp mock: listening on http://{}/mcp", listener.local_addr()?);
            let options = HttpOptions {
                max_message_size: 64 * 1024 * 1024,
                allowed_origins: Vec::new(),
                keepalive: Duration::from_secs(15),
                session_idle_timeout: Duration::from_secs(30 * 60),
                read_timeout: Duration::from_secs(30),
                write_timeout: Duration::from_secs(30),
            };
            let http = McpHttp::new(service.clone(), options.clone());
            let legacy = LegacySse::new(service.clone(), options.clone());
            let ws = McpWs::new(service, options);
            let app = http.router().merge(legacy.router()).merge(ws.router());
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    stop.cancelled().await;
                    http.close_all();
                    legacy.close_all();
                    ws.close_all();
                    ws.closed().await;
                })
                .await?;
        }
    }
    Ok(())
}
