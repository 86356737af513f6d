//! One replica of a server: one process (stdio) or one endpoint (remote), its
//! life, and the numbers balancing needs.
//!
//! A server with `replicas = 1` and one `url` has one replica, so everything
//! here is also how a plain server lives: start, initialize, fetch its lists,
//! serve, and when it fails, restart with exponential backoff until the
//! gateway stops it. Each replica has its own connection, its own health
//! checks and its own circuit breaker ([`super::breaker`]); the group
//! ([`super::server::Server`]) is ready while any replica is.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Gateway;
use super::backend::{BackendConn, InitInfo};
use super::breaker::{self, Breaker};
use super::server::{Server, Status};
use crate::config::TransportKind;
use crate::link::RemoteSpec;
use crate::link::child::{self, ChildSpec};
use crate::link::{Lifetime, Link};
use crate::link::{http as http_client, sse as sse_client, ws as ws_client};
use crate::observe::metrics::Metrics;
use crate::protocol::method;

/// Where a replica is reached.
#[derive(Debug, Clone)]
pub enum Target {
    /// The server's command; the replica's number is in `VMCP_REPLICA`.
    Process,
    Url(String),
}

pub struct Replica {
    pub index: usize,
    pub weight: u32,
    pub target: Target,
    pub breaker: Arc<Breaker>,
    /// Client requests in flight here (for `least_connections` and `adaptive`).
    in_flight: AtomicU32,
    state: Mutex<State>,
}

struct State {
    status: Status,
    conn: Option<Arc<BackendConn>>,
    last_error: Option<String>,
    restarts: u32,
    pid: Option<u32>,
}

/// Counts a request in flight on a replica while it lives.
pub struct InFlight(Arc<Replica>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Replica {
    pub fn new(index: usize, weight: u32, target: Target, breaker: Arc<Breaker>, status: Status) -> Arc<Replica> {
        Arc::new(Replica {
            index,
            weight,
            target,
            breaker,
            in_flight: AtomicU32::new(0),
            state: Mutex::new(State { status, conn: None, last_error: None, restarts: 0, pid: None }),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// A short name for logs and status: `#2`, or the URL.
    pub fn label(&self) -> String {
        match &self.target {
            Target::Process => format!("#{}", self.index),
            Target::Url(u) => u.clone(),
        }
    }

    pub fn status(&self) -> Status {
        self.with(|s| s.status)
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.with(|s| s.status = status);
    }

    /// The live connection, when ready.
    pub fn conn(&self) -> Option<Arc<BackendConn>> {
        self.with(|s| if s.status == Status::Ready { s.conn.clone() } else { None })
    }

    pub fn last_error(&self) -> Option<String> {
        self.with(|s| s.last_error.clone())
    }

    pub fn restarts(&self) -> u32 {
        self.with(|s| s.restarts)
    }

    pub fn pid(&self) -> Option<u32> {
        self.with(|s| s.pid)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn set_down(&self, server: &str, error: String) {
        tracing::warn!(server = %server, replica = %self.label(), "server down: {error}");
        self.with(|s| {
            s.status = Status::Down;
            s.conn = None;
            s.pid = None;
            s.last_error = Some(error);
        });
    }
}

/// Logs a breaker's change of state and shows it in the metrics.
pub(crate) fn breaker_moved(server: &str, replica: &Replica, state: Option<breaker::State>) {
    let Some(state) = state else { return };
    match state {
        breaker::State::Open => {
            tracing::warn!(server = %server, replica = %replica.label(), "circuit open: too many failures; out of balancing")
        }
        other => tracing::info!(server = %server, replica = %replica.label(), "circuit {}", other.as_str()),
    }
    Metrics::global().breaker_state(server, &replica.index.to_string(), state.as_str());
}

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the backoff: the replica was healthy, the crash is news.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// Runs one replica of `server` until `stop` is cancelled.
pub(crate) async fn supervise(gw: Weak<Gateway>, server: Arc<Server>, replica: Arc<Replica>, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let started_at = Instant::now();
        let outcome = run_once(&gw, &server, &replica, &stop).await;
        server.replica_settled(replica.index);
        match outcome {
            RunEnd::Stopped => break,
            RunEnd::Failed(error) => {
                replica.set_down(&server.id, error);
                server.publish();
                if let Some(g) = gw.upgrade() {
                    g.rebuild_catalog();
                }
            }
        }
        if started_at.elapsed() >= STABLE_AFTER {
            backoff = BACKOFF_MIN;
        }
        tracing::info!(server = %server.id, replica = %replica.label(), "restarting in {} ms", backoff.as_millis());
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        replica.with(|s| {
            s.restarts += 1;
            s.status = Status::Starting;
        });
        Metrics::global().restart(&server.id);
        server.publish();
    }
    replica.with(|s| {
        s.status = Status::Stopped;
        s.conn = None;
        s.pid = None;
    });
    server.publish();
}

enum RunEnd {
    Stopped,
    Failed(String),
}

/// Pings the replica on schedule; resolves (with the reason) once it has missed
/// `failures` pings in a row, or its requests have failed (timed out, lost
/// their connection) `failures` times in a row, either of which restarts it. A
/// 2026-07-28 server has no `ping`: it is asked `server/discover` instead.
async fn health_checks(conn: &BackendConn, health: super::Health) -> String {
    let probe = if conn.is_stateless() { method::SERVER_DISCOVER } else { method::PING };
    let mut missed = 0u32;
    loop {
        let tick = async {
            if health.interval.is_zero() {
                std::future::pending().await
            } else {
                tokio::time::sleep(health.interval).await
            }
        };
        tokio::select! {
            _ = tick => {}
            n = conn.failing() => {
                if n >= health.failures {
                    return format!("{n} requests in a row failed (timed out or lost the connection)");
                }
                continue;
            }
        }
        match conn.call_with(probe, None, None, None, Some(health.timeout)).await {
            Ok(_) => missed = 0,
            // A server that answers, even with an error, is alive.
            Err(super::GatewayError::Remote(_)) => missed = 0,
            Err(e) => {
                missed += 1;
                tracing::warn!(server = %conn.server, missed, "health check failed: {e}");
                if missed >= health.failures {
                    return format!("health check failed {missed} times in a row (last: {e})");
                }
            }
        }
    }
}

/// Opens the replica's transport.
pub(crate) fn connect(server: &Server, target: &Target, index: usize, max_message_size: usize) -> Result<Link, String> {
    let cfg = &server.config;
    let missing = |what: &str| format!("no {what} configured");
    match (cfg.transport, target) {
        (TransportKind::Stdio, _) => {
            let command = cfg.command.clone().ok_or_else(|| missing("command"))?;
            let mut env = cfg.env.clone();
            env.insert("VMCP_REPLICA".into(), index.to_string());
            let spec = ChildSpec {
                server: server.id.to_string(),
                command: resolve_command(command),
                args: cfg.args.clone(),
                env,
                cwd: cfg.cwd.clone(),
                max_message_size,
            };
            child::spawn(&spec).map_err(|e| e.to_string())
        }
        (remote, target) => {
            let url = match target {
                Target::Url(u) => u.clone(),
                Target::Process => cfg.url.clone().ok_or_else(|| missing("url"))?,
            };
            let spec = RemoteSpec {
                server: server.id.to_string(),
                url,
                headers: cfg.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                max_message_size,
                ca_file: cfg.ca_file.clone(),
            };
            let link = match remote {
                TransportKind::Sse => sse_client::connect(spec),
                TransportKind::Websocket => ws_client::connect(spec),
                _ => http_client::connect(spec),
            };
            link.map_err(|e| e.to_string())
        }
    }
}

/// One life of the replica's connection: from connecting (or spawning) until
/// it ends by itself or the gateway stops it.
async fn run_once(
    gw: &Weak<Gateway>,
    server: &Arc<Server>,
    replica: &Arc<Replica>,
    stop: &CancellationToken,
) -> RunEnd {
    let Some(g) = gw.upgrade() else { return RunEnd::Stopped };
    let settings = g.settings.clone();
    let handler = super::upstream::handler(Arc::downgrade(&g));
    drop(g);
    let cfg = &server.config;
    // The pid shows in `vmcp info` from the start, so a process stuck in
    // start-up can be found.
    let at = (&replica.target, replica.index, replica.label(), |pid| replica.with(|s| s.pid = pid));
    let started = start(server, at, &settings, handler, stop, |conn| async move {
        let info = conn.connect().await?;
        let lists = super::server::fetch_lists(&conn, &info).await?;
        Ok((info, lists))
    })
    .await;
    let Started { conn, mut lifetime, ready: (info, lists) } = match started {
        Ok(s) => s,
        Err(None) => return RunEnd::Stopped,
        Err(Some(why)) => return RunEnd::Failed(why),
    };
    tracing::info!(
        server = %server.id,
        replica = %replica.label(),
        protocol = %info.revision,
        tools = lists.tools.len(),
        prompts = lists.prompts.len(),
        "ready"
    );
    server.set_lists(lists);
    replica.with(|s| {
        s.status = Status::Ready;
        s.conn = Some(conn.clone());
        s.last_error = None;
    });
    server.publish();
    if conn.is_stateless() {
        listen_for_changes(&conn);
    }
    if let Some(g) = gw.upgrade() {
        g.rebuild_catalog();
        g.broadcast(method::RESOURCES_LIST_CHANGED);
    }
    // Settled only now: a client's initialize waits for this, and its first list
    // must already show this server's tools.
    server.replica_settled(replica.index);

    let health = super::Health {
        interval: cfg.health_interval.unwrap_or(settings.health.interval),
        timeout: cfg.health_timeout.unwrap_or(settings.health.timeout),
        failures: cfg.health_failures.unwrap_or(settings.health.failures),
    };
    let end = tokio::select! {
        why = lifetime.ended() => RunEnd::Failed(why),
        _ = conn.closed() => RunEnd::Failed("closed its connection".into()),
        why = health_checks(&conn, health) => RunEnd::Failed(why),
        _ = stop.cancelled() => RunEnd::Stopped,
    };
    // Take the replica out of service before the link is gone, so no new request
    // is sent to it, then fail what was in flight.
    replica.with(|s| {
        s.conn = None;
        s.status = match end {
            RunEnd::Stopped => Status::Stopped,
            RunEnd::Failed(_) => Status::Down,
        };
    });
    conn.close();
    lifetime.stop(settings.shutdown_grace).await;
    if let (RunEnd::Failed(_), Some(g)) = (&end, gw.upgrade()) {
        g.broadcast(method::RESOURCES_LIST_CHANGED);
    }
    end
}

/// A 2026-07-28 server says what changed only on a listen stream.
fn listen_for_changes(conn: &Arc<BackendConn>) {
    let c = conn.clone();
    tokio::spawn(async move {
        let p = serde_json::json!({ "notifications": { "toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": true } });
        let r = c
            .call_with(method::SUBSCRIPTIONS_LISTEN, Some(crate::protocol::jsonrpc::to_raw(&p)), None, None, None)
            .await;
        if let Err(e) = r {
            tracing::debug!(server = %c.server, "subscriptions/listen ended: {e}");
        }
    });
}

/// `command = "vmcp"` means this very executable, so that `vmcp mock` backends
/// work whether or not vmcp is on the PATH (and always match the gateway's version).
pub(crate) fn resolve_command(command: String) -> String {
    if command == "vmcp"
        && let Ok(exe) = std::env::current_exe()
    {
        return exe.to_string_lossy().into_owned();
    }
    command
}

/// Connects and initializes a process of its own for one client session
/// (`isolation = "per_session"`); the caller owns its lifetime.
pub(crate) async fn spawn_private(
    gw: &Arc<Gateway>,
    server: &Server,
) -> Result<(Arc<BackendConn>, crate::link::Lifetime, InitInfo), String> {
    let handler = super::upstream::handler(Arc::downgrade(gw));
    // Never cancelled: the caller stops the process through the lifetime it gets.
    let stop = CancellationToken::new();
    let started = start(
        server,
        (&Target::Process, 0, "per-session".into(), |_| {}),
        &gw.settings,
        handler,
        &stop,
        |conn| async move { conn.connect().await },
    )
    .await;
    match started {
        Ok(Started { conn, lifetime, ready }) => Ok((conn, lifetime, ready)),
        Err(why) => Err(why.unwrap_or_else(|| "stopped during start-up".into())),
    }
}

/// A backend connected and past its start-up (`initialize`, and whatever else
/// the caller waits for).
struct Started<T> {
    conn: Arc<BackendConn>,
    lifetime: Lifetime,
    ready: T,
}

/// Connects to `server` (`target` as replica `index`, logged as `label`, its
/// pid handed to `spawned`) and waits for `ready`, run on the new connection,
/// within `gateway.init_timeout`. On any failure the process or link is
/// stopped and the error says why: `Err(None)` when `stop` was cancelled,
/// `Err(Some(why))` otherwise. Shared by the supervised replicas and the
/// per-session processes, so both fail start-up the same way.
async fn start<T, Fut>(
    server: &Server,
    (target, index, label, spawned): (&Target, usize, String, impl FnOnce(Option<u32>)),
    settings: &super::Settings,
    handler: super::backend::Handler,
    stop: &CancellationToken,
    ready: impl FnOnce(Arc<BackendConn>) -> Fut,
) -> Result<Started<T>, Option<String>>
where
    Fut: Future<Output = Result<T, super::GatewayError>>,
{
    let Link { outgoing, incoming, mut lifetime } = connect(server, target, index, settings.max_message_size)?;
    let (pid, transport) = (lifetime.pid(), server.config.transport.as_str());
    spawned(pid);
    tracing::info!(server = %server.id, replica = %label, pid, transport, "connecting");
    let timeout = server.config.request_timeout.unwrap_or(settings.request_timeout);
    let conn = BackendConn::new(server.id.clone(), outgoing, timeout);
    tokio::spawn(conn.clone().run(incoming, handler));
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
            // The connection closed under initialize: its own reason may be a
            // moment behind; wait for it briefly, it says more.
            let ended = match e {
                super::GatewayError::Gone { .. } => {
                    tokio::time::timeout(Duration::from_millis(500), lifetime.ended()).await.ok()
                }
                _ => None,
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
