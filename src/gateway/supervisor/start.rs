//! Starting a backend: the link opened from the server's configuration (a
//! child process or a URL), the MCP session on it, and whatever else must
//! succeed before it serves, all within `gateway.init_timeout`. Shared by the
//! supervised replicas (`run.rs`) and the per-session processes
//! (`isolation.rs`), so both fail start-up the same way and say why alike.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::replica::Target;
use crate::config::{ServerConfig, TransportKind};
use crate::gateway::backend::{BackendConn, InitInfo, handshake};
use crate::gateway::error::GatewayError;
use crate::link::child::{self, ChildSpec};
use crate::link::{self, Inbox, Lifetime, Link, RemoteSpec};

/// Which server a start is for: its id and configuration.
#[derive(Clone, Copy)]
pub struct Where<'a> {
    pub id: &'a Arc<str>,
    pub config: &'a ServerConfig,
}

/// A backend connected and past its start-up (`initialize`, and whatever else
/// the caller waits for).
pub struct Started<T> {
    pub conn: Arc<BackendConn>,
    pub lifetime: Lifetime,
    pub ready: T,
}

/// Connects to the server `at` (`target` as replica `index`, logged as `label`, its
/// pid handed to `spawned`) and waits for `ready`, run on the new connection,
/// within `gateway.init_timeout`. On any failure the process or link is
/// stopped and the error says why: `Err(None)` when `stop` was cancelled,
/// `Err(Some(why))` otherwise. Shared by the supervised replicas and the
/// per-session processes, so both fail start-up the same way.
pub async fn start<T, Fut>(
    cx: &Context,
    at: Where<'_>,
    (target, index, label, spawned): (&Target, usize, String, impl FnOnce(Option<u32>)),
    stop: &CancellationToken,
    ready: impl FnOnce(Arc<BackendConn>) -> Fut,
) -> Result<Started<T>, Option<String>>
where
    Fut: Future<Output = Result<T, GatewayError>>,
{
    let settings = &cx.settings;
    let timeout = at.config.request_timeout.unwrap_or(settings.request_timeout);
    let conn = BackendConn::new(at.id.clone(), timeout, cx.metrics.clone(), cx.handler());
    let Link { outgoing, mut lifetime } = connect(at, target, index, settings.max_message_size, conn.inbox())?;
    conn.attach(outgoing);
    let (pid, transport) = (lifetime.pid(), at.config.transport.as_str());
    spawned(pid);
    tracing::info!(server = %at.id, replica = %label, pid, transport, "connecting");
    let grace = settings.shutdown_grace;
    let init = tokio::select! {
        // A link that ended says why (refused, TLS, HTTP status): that reason
        // beats the "connection closed" the pending initialize gets at the same time.
        biased;
        why = lifetime.ended() => {
            lifetime.stop(grace).await;
            conn.close();
            return Err(Some(format!("ended during start-up: {why}")));
        }
        _ = stop.cancelled() => {
            lifetime.stop(grace).await;
            conn.close();
            return Err(None);
        }
        r = tokio::time::timeout(settings.init_timeout, ready(conn.clone())) => r,
    };
    let why = match init {
        Ok(Ok(ready)) => return Ok(Started { conn, lifetime, ready }),
        Ok(Err(e)) => {
            // The connection closed under initialize (or before it could be
            // sent): its own reason may be a moment behind; wait for it
            // briefly, it says more.
            let ended = if matches!(e, GatewayError::Gone { .. }) || conn.is_closed() {
                tokio::time::timeout(Duration::from_millis(500), lifetime.ended()).await.ok()
            } else {
                None
            };
            match ended {
                Some(why) => format!("ended during start-up: {why}"),
                None => format!("initialize failed: {e}"),
            }
        }
        Err(_) => {
            format!("no answer to initialize within {} ms (gateway.init_timeout)", settings.init_timeout.as_millis())
        }
    };
    lifetime.stop(grace).await;
    conn.close();
    Err(Some(why))
}

/// Connects and initializes a process of its own for one client session
/// (`isolation = "per_session"`); the caller owns its lifetime.
pub async fn spawn_private(cx: &Context, at: Where<'_>) -> Result<Started<InitInfo>, String> {
    // Never cancelled: the caller stops the process through the lifetime it gets.
    let stop = CancellationToken::new();
    let started = start(cx, at, (&Target::Process, 0, "per-session".into(), |_| {}), &stop, |conn| async move {
        handshake(&conn).await
    })
    .await;
    started.map_err(|why| why.unwrap_or_else(|| "stopped during start-up".into()))
}

/// Opens the replica's transport.
fn connect(
    at: Where<'_>,
    target: &Target,
    index: usize,
    max_message_size: usize,
    inbox: Arc<dyn Inbox>,
) -> Result<Link, String> {
    let cfg = at.config;
    let missing = |what: &str| format!("no {what} configured");
    match (cfg.transport, target) {
        (TransportKind::Stdio, _) => {
            let command = cfg.command.clone().ok_or_else(|| missing("command"))?;
            let mut env = cfg.env.clone();
            env.insert("VMCP_REPLICA".into(), index.to_string());
            let spec = ChildSpec {
                server: at.id.to_string(),
                command: resolve_command(command),
                args: cfg.args.clone(),
                env,
                cwd: cfg.cwd.clone(),
                max_message_size,
            };
            child::spawn(&spec, inbox).map_err(|e| e.to_string())
        }
        (remote, target) => {
            let url = match target {
                Target::Url(u) => u.clone(),
                Target::Process => cfg.url.clone().ok_or_else(|| missing("url"))?,
            };
            let spec = RemoteSpec {
                server: at.id.to_string(),
                url,
                headers: cfg.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                max_message_size,
                ca_file: cfg.ca_file.clone(),
            };
            let link = match remote {
                TransportKind::Sse => link::sse::connect(spec, inbox),
                TransportKind::Websocket => link::ws::connect(spec, inbox),
                _ => link::http::connect(spec, inbox),
            };
            link.map_err(|e| e.to_string())
        }
    }
}

/// `command = "vmcp"` means this very executable, so that `vmcp mock` backends
/// work whether or not vmcp is on the PATH (and always match the gateway's version).
fn resolve_command(command: String) -> String {
    if command == "vmcp"
        && let Ok(exe) = std::env::current_exe()
    {
        return exe.to_string_lossy().into_owned();
    }
    command
}
