//! One backend server's life: start, initialize, fetch its lists, serve, and
//! when it fails, restart with exponential backoff, until the gateway stops.
//!
//! While a server is down its tools and prompts leave the catalog (clients are
//! told with `list_changed`) and requests for it fail at once with an error that
//! says why; every other server goes on serving.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Gateway;
use super::backend::{BackendConn, InitInfo};
use crate::config::{ServerConfig, TransportKind};
use crate::observe::metrics::Metrics;
use crate::protocol::{RawObject, method};
use crate::transport::child::{self, ChildSpec};
use crate::transport::http_client::{self, HttpSpec};
use crate::transport::link::Link;
use crate::transport::{sse_client, ws_client};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Starting,
    Ready,
    Down,
    Stopped,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Ready => "ready",
            Status::Down => "down",
            Status::Stopped => "stopped",
            Status::Disabled => "disabled",
        }
    }
}

/// Where a server was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `[servers.<id>]` table of the configuration.
    Config,
    /// `vmcp mount` (persisted in the registry).
    Mounted,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Mounted => "mounted",
        }
    }
}

/// A running supervisor's handles: `stop` ends it, `done` says it has ended.
struct Run {
    stop: CancellationToken,
    done: CancellationToken,
}

/// A server's tools and prompts, as it last listed them.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    pub tools: Arc<Vec<RawObject>>,
    pub prompts: Arc<Vec<RawObject>>,
}

struct State {
    status: Status,
    conn: Option<Arc<BackendConn>>,
    lists: Lists,
    last_error: Option<String>,
    restarts: u32,
    pid: Option<u32>,
}

pub struct Server {
    pub id: Arc<str>,
    pub config: ServerConfig,
    pub source: Source,
    state: Mutex<State>,
    run: Mutex<Option<Run>>,
    /// Cancelled once the first start attempt has finished, either way.
    settled: CancellationToken,
}

impl Server {
    pub fn new(id: &str, config: ServerConfig, source: Source) -> Arc<Server> {
        let status = if config.enabled { Status::Starting } else { Status::Disabled };
        let settled = CancellationToken::new();
        if !config.enabled {
            settled.cancel();
        }
        Arc::new(Server {
            id: id.into(),
            config,
            source,
            run: Mutex::new(None),
            state: Mutex::new(State {
                status,
                conn: None,
                lists: Lists::default(),
                last_error: None,
                restarts: 0,
                pid: None,
            }),
            settled,
        })
    }

    /// Records the supervisor now running this server.
    pub(crate) fn set_run(&self, stop: CancellationToken, done: CancellationToken) {
        if let Ok(mut r) = self.run.lock() {
            *r = Some(Run { stop, done });
        }
    }

    /// Stops the supervisor, if one runs, and waits until it has stopped the server.
    pub(crate) async fn stop_run(&self) {
        let run = self.run.lock().ok().and_then(|mut r| r.take());
        if let Some(run) = run {
            run.stop.cancel();
            run.done.cancelled().await;
        }
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.with(|s| s.status = status);
        self.publish();
    }

    /// Shows the current state in the metrics.
    fn publish(&self) {
        Metrics::global().server_state(&self.id, self.status().as_str());
    }

    /// How the server last answered `initialize` or `server/discover`.
    pub fn protocol(&self) -> Option<String> {
        self.with(|s| s.conn.as_ref().and_then(|c| c.info().map(|i| i.revision.as_str().to_owned())))
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub fn status(&self) -> Status {
        self.with(|s| s.status)
    }

    /// The live connection, when ready.
    pub fn conn(&self) -> Option<Arc<BackendConn>> {
        self.with(|s| if s.status == Status::Ready { s.conn.clone() } else { None })
    }

    pub fn lists(&self) -> Lists {
        self.with(|s| if s.status == Status::Ready { s.lists.clone() } else { Lists::default() })
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

    /// A one-line account of the state, for errors and status output.
    pub fn describe(&self) -> String {
        self.with(|s| match (&s.status, &s.last_error) {
            (Status::Ready, _) => "ready".to_owned(),
            (Status::Starting, None) => "starting".to_owned(),
            (st, Some(e)) => format!("{} ({e})", st.as_str()),
            (st, None) => st.as_str().to_owned(),
        })
    }

    pub async fn settled(&self) {
        self.settled.cancelled().await
    }

    pub(crate) fn set_lists(&self, lists: Lists) {
        self.with(|s| s.lists = lists);
    }

    fn set_down(&self, error: String) {
        tracing::warn!(server = %self.id, "server down: {error}");
        self.with(|s| {
            s.status = Status::Down;
            s.conn = None;
            s.pid = None;
            s.last_error = Some(error);
        });
        self.publish();
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the backoff: the server was healthy, the crash is news.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// Runs `server` until `stop` is cancelled.
pub async fn supervise(gw: Weak<Gateway>, server: Arc<Server>, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let started_at = Instant::now();
        let outcome = run_once(&gw, &server, &stop).await;
        server.settled.cancel();
        match outcome {
            RunEnd::Stopped => break,
            RunEnd::Failed(error) => {
                server.set_down(error);
                if let Some(g) = gw.upgrade() {
                    g.rebuild_catalog();
                }
            }
        }
        if started_at.elapsed() >= STABLE_AFTER {
            backoff = BACKOFF_MIN;
        }
        tracing::info!(server = %server.id, "restarting in {} ms", backoff.as_millis());
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        server.with(|s| {
            s.restarts += 1;
            s.status = Status::Starting;
        });
        Metrics::global().restart(&server.id);
        server.publish();
    }
    server.with(|s| {
        s.status = Status::Stopped;
        s.conn = None;
        s.pid = None;
    });
    server.publish();
    if let Some(g) = gw.upgrade()
        && !g.is_shutting_down()
    {
        g.rebuild_catalog();
    }
}

enum RunEnd {
    Stopped,
    Failed(String),
}

/// Pings the server on schedule; resolves (with the reason) once it has missed
/// `failures` pings in a row, or its requests have failed (timed out, lost
/// their connection) `failures` times in a row, either of which restarts it. A
/// 2026-07-28 server has no `ping`: it is asked `server/discover` instead.
async fn health_checks(conn: &BackendConn, health: super::Health) -> String {
    let probe = if conn.is_modern() { method::SERVER_DISCOVER } else { method::PING };
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

/// Opens the server's transport.
fn connect(server: &Server, max_message_size: usize) -> Result<Link, String> {
    let cfg = &server.config;
    let missing = |what: &str| format!("no {what} configured");
    match cfg.transport {
        TransportKind::Stdio => {
            let command = cfg.command.clone().ok_or_else(|| missing("command"))?;
            let spec = ChildSpec {
                server: server.id.to_string(),
                command: resolve_command(command),
                args: cfg.args.clone(),
                env: cfg.env.clone(),
                cwd: cfg.cwd.clone(),
                max_message_size,
            };
            child::spawn(&spec).map_err(|e| e.to_string())
        }
        remote => {
            let spec = HttpSpec {
                server: server.id.to_string(),
                url: cfg.url.clone().ok_or_else(|| missing("url"))?,
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

/// One life of the server's connection: from connecting (or spawning) until it
/// ends by itself or the gateway stops it.
async fn run_once(gw: &Weak<Gateway>, server: &Arc<Server>, stop: &CancellationToken) -> RunEnd {
    let Some(g) = gw.upgrade() else { return RunEnd::Stopped };
    let settings = g.settings.clone();
    let handler = super::upstream::handler(Arc::downgrade(&g));
    drop(g);
    let cfg = &server.config;
    let Link { outgoing, incoming, mut lifetime } = match connect(server, settings.max_message_size) {
        Ok(link) => link,
        Err(e) => return RunEnd::Failed(e),
    };
    let pid = lifetime.pid();
    server.with(|s| s.pid = pid);
    tracing::info!(server = %server.id, pid, transport = cfg.transport.as_str(), "connecting");
    let timeout = cfg.request_timeout.unwrap_or(settings.request_timeout);
    let conn = BackendConn::new(server.id.clone(), outgoing, timeout);
    tokio::spawn(conn.clone().run(incoming, handler));

    let ready = async {
        let info = conn.connect().await?;
        let lists = fetch_lists(&conn, &info).await?;
        Ok::<_, super::GatewayError>((info, lists))
    };
    let grace = settings.shutdown_grace;
    let init = tokio::select! {
        r = tokio::time::timeout(settings.init_timeout, ready) => r,
        why = lifetime.ended() => {
            lifetime.stop(grace).await;
            conn.close();
            return RunEnd::Failed(format!("ended during start-up: {why}"));
        }
        _ = stop.cancelled() => {
            lifetime.stop(grace).await;
            conn.close();
            return RunEnd::Stopped;
        }
    };
    let (info, lists) = match init {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            lifetime.stop(grace).await;
            conn.close();
            return RunEnd::Failed(format!("initialize failed: {e}"));
        }
        Err(_) => {
            lifetime.stop(grace).await;
            conn.close();
            return RunEnd::Failed(format!(
                "no answer to initialize within {} ms (gateway.init_timeout)",
                settings.init_timeout.as_millis()
            ));
        }
    };
    tracing::info!(
        server = %server.id,
        protocol = %info.revision,
        tools = lists.tools.len(),
        prompts = lists.prompts.len(),
        "ready"
    );
    server.with(|s| {
        s.status = Status::Ready;
        s.conn = Some(conn.clone());
        s.lists = lists;
        s.last_error = None;
    });
    server.publish();
    if conn.is_modern() {
        // A 2026-07-28 server says what changed only on a listen stream.
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
    if let Some(g) = gw.upgrade() {
        g.rebuild_catalog();
        g.broadcast(method::RESOURCES_LIST_CHANGED);
    }
    // Settled only now: a client's initialize waits for this, and its first list
    // must already show this server's tools.
    server.settled.cancel();

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
    // Take the server out of service before the link is gone, so no new request
    // is sent to it, then fail what was in flight.
    server.with(|s| {
        s.conn = None;
        if let RunEnd::Stopped = end {
            s.status = Status::Stopped;
        }
    });
    conn.close();
    lifetime.stop(grace).await;
    if let (RunEnd::Failed(_), Some(g)) = (&end, gw.upgrade()) {
        g.broadcast(method::RESOURCES_LIST_CHANGED);
    }
    end
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

/// Fetches the lists the catalog keeps, for the capabilities the server announced.
pub(crate) async fn fetch_lists(conn: &BackendConn, info: &InitInfo) -> Result<Lists, super::GatewayError> {
    let tools = if info.has("tools") { conn.list_all(method::TOOLS_LIST, "tools").await? } else { Vec::new() };
    let prompts = if info.has("prompts") { conn.list_all(method::PROMPTS_LIST, "prompts").await? } else { Vec::new() };
    Ok(Lists { tools: Arc::new(tools), prompts: Arc::new(prompts) })
}
