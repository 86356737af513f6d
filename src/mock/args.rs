//! `vmcp mock`'s options.

use clap::Args;

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
