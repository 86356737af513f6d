//! Running the mock: on stdio, or on HTTP with every front end.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::BufReader;
use tokio_util::sync::CancellationToken;

use crate::front::http::McpHttp;
use crate::front::legacy_sse::LegacySse;
use crate::front::shared::HttpOptions;
use crate::front::ws::McpWs;

use super::args::MockArgs;
use super::session;

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
            let input = BufReader::with_capacity(64 * 1024, crate::front::pipe::stdin());
            let limits = crate::front::stdio::Limits {
                max_message_size: 64 * 1024 * 1024,
                max_json_depth: crate::config::DEFAULT_MAX_JSON_DEPTH,
            };
            crate::front::stdio::serve(service.as_ref(), input, crate::front::pipe::stdout(), limits, stop).await;
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!("vmcp mock: listening on http://{}/mcp", listener.local_addr()?);
            let options = HttpOptions {
                max_message_size: 64 * 1024 * 1024,
                max_json_depth: crate::config::DEFAULT_MAX_JSON_DEPTH,
                allowed_origins: Vec::new(),
                keepalive: Duration::from_secs(15),
                session_idle_timeout: Duration::from_secs(30 * 60),
                read_timeout: Duration::from_secs(30),
                write_timeout: Duration::from_secs(30),
                sealer: None,
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
