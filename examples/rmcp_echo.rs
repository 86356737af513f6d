//! An echo MCP server written with the official Rust SDK (`rmcp`), as a backend
//! for the benchmarks that compare a call direct and through vmcp with a
//! server that is not vmcp's own (`benches/overhead.sh`, `benches/cpu.sh`).
//!
//!   cargo build --release --example rmcp_echo
//!   target/release/examples/rmcp_echo                    # stdio
//!   target/release/examples/rmcp_echo --listen 127.0.0.1:0   # streamable HTTP at /mcp
//!
//! One tool, `echo` (`{"text": string}`), answered at once. Over HTTP it says
//! `rmcp-echo: listening on http://ADDR/mcp` on stderr, as `vmcp mock` does.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("rmcp-echo", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
        let Value::Object(schema) = schema else { return Err(ErrorData::internal_error("schema", None)) };
        Ok(ListToolsResult::with_all_items(vec![Tool::new("echo", "Returns its text", Arc::new(schema))]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        match request.name.as_ref() {
            "echo" => {
                let text = request.arguments.as_ref().and_then(|a| a.get("text")).and_then(Value::as_str);
                Ok(CallToolResult::success(vec![ContentBlock::text(text.unwrap_or_default())]).into())
            }
            other => Err(ErrorData::invalid_params(format!("no tool {other:?}"), None)),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().position(|a| a == "--listen").and_then(|i| args.get(i + 1)) {
        None => {
            let running = Echo.serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
        }
        Some(addr) => {
            let config = StreamableHttpServerConfig::default().with_sse_keep_alive(None);
            let service: StreamableHttpService<Echo, LocalSessionManager> =
                StreamableHttpService::new(|| Ok(Echo), Default::default(), config);
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
            eprintln!("rmcp-echo: listening on http://{}/mcp", listener.local_addr()?);
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
    }
    Ok(())
}
