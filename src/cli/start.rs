//! `vmcp start`: run the gateway in the foreground, over stdio or HTTP, until a
//! signal (or, in stdio mode, the end of stdin); then stop every backend.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use clap::Args;
use tokio::io::BufReader;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Admin};
use crate::auth::Authenticator;
use crate::cluster::{Cluster, Replica};
use crate::config::{self, Config};
use crate::front::auth::{self as layer, Guard};
use crate::front::http::McpHttp;
use crate::front::legacy_sse::LegacySse;
use crate::front::seal::Sealer;
use crate::front::serve::{self, ConnLimits};
use crate::front::shared::HttpOptions;
use crate::front::stdio;
use crate::front::tls::{Tls, TlsFiles};
use crate::front::ws::McpWs;
use crate::gateway::Gateway;
use crate::gateway::reload::Reloader;
use crate::observe::audit::Audit;
use crate::observe::metrics::Metrics;
use crate::registry::{InstanceLock, Registry};

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Configuration file; may repeat (later files override earlier ones).
    #[arg(long = "config", short = 'c', value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// Listen address for the HTTP front end (overrides gateway.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Speak MCP on stdin/stdout instead of HTTP (logs go to stderr).
    #[arg(long)]
    pub stdio: bool,
    /// Detach and run in the background (HTTP mode): returns once the gateway
    /// answers, with its pid in `<state_dir>/vmcp.pid` and its logs in `<state_dir>/vmcp.log`
    /// unless --pid-file / --log-file say otherwise.
    #[arg(long, conflicts_with = "stdio")]
    pub daemon: bool,
    /// Write the process id here (removed on exit).
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Append logs (everything written to stderr) to this file.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// Points this process's stderr at `file` (appending).
pub fn redirect_stderr(file: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let f = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    nix::unistd::dup2_stderr(&f).map_err(std::io::Error::from)?;
    Ok(())
}

/// `--daemon`: starts this same command again, detached (its own session, no
/// terminal), logging to a file, and waits until its admin API answers.
fn daemonize(args: &StartArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    let state_dir = &cfg.gateway.state_dir;
    std::fs::create_dir_all(state_dir).with_context(|| format!("cannot create {}", state_dir.display()))?;
    let log = args.log_file.clone().unwrap_or_else(|| state_dir.join("vmcp.log"));
    let pid_file = args.pid_file.clone().unwrap_or_else(|| state_dir.join("vmcp.pid"));
    let exe = std::env::current_exe().context("cannot find the vmcp executable")?;
    let mut child_args: Vec<std::ffi::OsString> = vec!["start".into()];
    for c in &args.config {
        child_args.push("--config".into());
        child_args.push(c.clone().into());
    }
    if let Some(l) = &args.listen {
        child_args.push("--listen".into());
        child_args.push(l.into());
    }
    child_args.extend(["--pid-file".into(), pid_file.clone().into(), "--log-file".into(), log.clone().into()]);
    let mut cmd = std::process::Command::new(exe);
    cmd.args(&child_args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid(2) is async-signal-safe; it detaches the child from the
    // terminal so its signals (Ctrl-C, hang-up) do not reach the gateway.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    let client = admin::client::AdminClient::new(&admin::socket_path(state_dir));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("runtime")?;
    if let Ok(status) = rt.block_on(client.json("GET", "/admin/v1/status", None)) {
        bail!(
            "a gateway is already running with state_dir {} (pid {}); stop it first with `vmcp stop`",
            state_dir.display(),
            status["pid"]
        );
    }
    let mut child = cmd.spawn().context("cannot start the gateway in the background")?;
    let deadline = std::time::Instant::now() + cfg.gateway.init_timeout + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            bail!("the gateway exited at once ({status}); the end of {}:\n{}", log.display(), tail.join("\n"));
        }
        let answered = rt.block_on(client.json("GET", "/admin/v1/status", None));
        if answered.is_ok_and(|s| s["pid"].as_u64() == Some(u64::from(child.id()))) {
            println!("vmcp started (pid {}); logs: {}; pid file: {}", child.id(), log.display(), pid_file.display());
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "the gateway (pid {}) did not answer on {} in time; see {}",
        child.id(),
        client.socket().display(),
        log.display()
    )
}

/// Writes the pid file, and removes it when dropped.
struct PidFile(Option<PathBuf>);

impl PidFile {
    fn write(path: Option<PathBuf>) -> anyhow::Result<PidFile> {
        if let Some(p) = &path {
            std::fs::write(p, format!("{}\n", std::process::id()))
                .with_context(|| format!("cannot write the pid file {}", p.display()))?;
        }
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub fn run(args: StartArgs) -> anyhow::Result<ExitCode> {
    let paths = super::config_paths(&args.config)?;
    let mut cfg = config::load(&paths).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    if let Some(listen) = &args.listen {
        cfg.gateway.listen = listen.clone();
    }
    if !args.stdio
        && cfg.auth.is_none()
        && !cfg.gateway.allow_unauthenticated
        && !config::is_loopback_listen(&cfg.gateway.listen)
    {
        bail!(
            "{} is reachable from other machines, and there is no [auth]: add [auth] (API keys or JWT), \
             or set gateway.allow_unauthenticated = true to serve anyone who can connect",
            cfg.gateway.listen
        );
    }
    let tls = match (&cfg.gateway.tls_cert, &cfg.gateway.tls_key) {
        (Some(cert), Some(key)) if !args.stdio => {
            let files = TlsFiles { cert: cert.clone(), key: key.clone(), client_ca: cfg.gateway.tls_client_ca.clone() };
            Some(Tls::new(files).map_err(|e| anyhow::anyhow!("gateway.tls_cert: {e}"))?)
        }
        _ => None,
    };
    if args.daemon {
        return daemonize(&args, &cfg);
    }
    let state_dir = cfg.gateway.state_dir.clone();
    // An HTTP gateway owns its state directory (one per state_dir, with the admin
    // socket). Desktop clients may start several `--stdio` gateways on one
    // configuration: those only read the runtime mounts.
    let lock =
        if args.stdio { None } else { Some(InstanceLock::acquire(&state_dir).map_err(|e| anyhow::anyhow!("{e}"))?) };
    let pid_file = PidFile::write(args.pid_file.clone())?;
    let rt = super::runtime_with(cfg.gateway.worker_threads)?;
    let outcome = rt.block_on(async move {
        let stop = CancellationToken::new();
        tokio::spawn(watch_signals(stop.clone()));
        let audit = match &cfg.gateway.audit_log {
            Some(target) => Audit::open(target, cfg.gateway.audit_arguments)
                .with_context(|| format!("cannot open the audit log {target} (gateway.audit_log)"))?,
            None => Audit::disabled(),
        };
        let me = Replica::new(&cfg.cluster, crate::registry::now_unix());
        let registry =
            Arc::new(Registry::open(&cfg.registry, &state_dir, &me.id).await.map_err(|e| anyhow::anyhow!("{e}"))?);
        let gateway = Gateway::start(&cfg, audit, Metrics::new());
        tracing::info!(replica = %me.id, registry = %registry.location(), "registry open");
        let cluster = Cluster::new(gateway.clone(), registry, me);
        // The stored mounts, before any client is served.
        if let Err(e) = cluster.refresh().await {
            tracing::error!("cannot read runtime mounts: {e}");
        }
        let cluster_task = cluster.spawn(stop.clone());
        let reloader = Reloader::new(paths.clone(), gateway.clone(), cfg.clone());
        tokio::spawn(reloader.clone().watch(Duration::from_secs(2), stop.clone()));
        tokio::spawn(reload_on_sighup(reloader.clone(), tls.clone(), stop.clone()));
        let admin_task = if args.stdio {
            None
        } else {
            let admin = Arc::new(Admin {
                gateway: gateway.clone(),
                cluster: cluster.clone(),
                stop: stop.clone(),
                started: std::time::Instant::now(),
                listen: Some(cfg.gateway.listen.clone()),
                state_dir: state_dir.clone(),
                reloader: reloader.clone(),
            });
            let path = admin::socket_path(&state_dir);
            if let (Some(addr), Some(token)) = (&cfg.gateway.admin_listen, &cfg.gateway.admin_token) {
                admin::serve_tcp(admin.clone(), addr, token.clone(), stop.clone())
                    .await
                    .with_context(|| format!("cannot listen on {addr} (gateway.admin_listen)"))?;
            }
            Some(
                admin::serve(admin, stop.clone())
                    .await
                    .with_context(|| format!("cannot open the admin socket {}", path.display()))?,
            )
        };
        let result = if args.stdio {
            serve_stdio(&gateway, &cfg, stop.clone()).await
        } else {
            // With a session key, /mcp session ids carry their handshake, sealed,
            // so that any replica with the key can resume them.
            let sealer = cfg
                .cluster
                .session_key
                .as_ref()
                .map(|key| Arc::new(Sealer::new(key, &cfg.cluster.previous_keys, &cluster.me().id)));
            serve_http(&gateway, &cfg, tls, sealer, stop.clone()).await
        };
        stop.cancel();
        tracing::info!("stopping backends");
        gateway.shutdown().await;
        if let Some(t) = cluster_task {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        if let Some(t) = admin_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        tracing::info!("stopped");
        result
    });
    drop(pid_file);
    drop(lock);
    // Stopped by a signal in stdio mode, a read of stdin may still be blocked in
    // the runtime's blocking pool: do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// SIGHUP: reload the configuration.
async fn reload_on_sighup(reloader: Arc<Reloader>, tls: Option<Arc<Tls>>, stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
    loop {
        tokio::select! {
            got = hup.recv() => if got.is_none() { return },
            _ = stop.cancelled() => return,
        }
        tracing::info!("SIGHUP: reloading the configuration");
        let _ = reloader.reload().await;
        if let Some(t) = &tls
            && let Err(e) = t.reload()
        {
            tracing::error!("TLS certificate not reloaded; the running one stays: {e}");
        }
    }
}

async fn watch_signals(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
    stop.cancel();
}

async fn serve_stdio(gateway: &Arc<Gateway>, cfg: &Config, stop: CancellationToken) -> anyhow::Result<()> {
    tracing::info!(servers = cfg.servers.len(), "serving MCP on stdio");
    let input = BufReader::with_capacity(64 * 1024, crate::front::pipe::stdin());
    // On a signal, requests in flight get shutdown_grace before the session closes.
    let close = CancellationToken::new();
    let (g, grace, c) = (gateway.clone(), cfg.gateway.shutdown_grace, close.clone());
    let drainer = tokio::spawn(async move {
        stop.cancelled().await;
        g.drain(grace).await;
        c.cancel();
    });
    let limits =
        stdio::Limits { max_message_size: cfg.gateway.max_message_size, max_json_depth: cfg.gateway.max_json_depth };
    stdio::serve(gateway, input, crate::front::pipe::stdout(), limits, close).await;
    drainer.abort();
    Ok(())
}

async fn serve_http(
    gateway: &Arc<Gateway>,
    cfg: &Config,
    tls: Option<Arc<Tls>>,
    sealer: Option<Arc<Sealer>>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let addr = &cfg.gateway.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (gateway.listen)"))?;
    let local = listener.local_addr().context("listener address")?;
    let options = HttpOptions {
        max_message_size: cfg.gateway.max_message_size,
        max_json_depth: cfg.gateway.max_json_depth,
        allowed_origins: cfg.gateway.allowed_origins.clone(),
        keepalive: cfg.gateway.keepalive,
        session_idle_timeout: cfg.gateway.session_idle_timeout,
        read_timeout: cfg.gateway.read_timeout,
        write_timeout: cfg.gateway.write_timeout,
        sealer,
    };
    let authenticator = match &cfg.auth {
        Some(a) => Some(Authenticator::new(a).map_err(|e| anyhow::anyhow!("[auth]: {e}"))?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let guard = Arc::new(Guard { authenticator, scheme });
    let service = Arc::new(gateway.clone());
    let mcp = McpHttp::new(service.clone(), options.clone());
    let legacy = LegacySse::new(service.clone(), options.clone());
    let ws = McpWs::new(service, options);
    // Everything that serves MCP, or tells about the servers, needs a credential
    // (when [auth] is configured); liveness, readiness and the metadata do not.
    // Without [auth] there is nothing to check: every request is anonymous,
    // which is what the front ends take a request without a principal for.
    let guarded = Router::new()
        .merge(mcp.router())
        .merge(legacy.router())
        .merge(ws.router())
        .merge(metrics_route(gateway.clone()));
    let guarded = if guard.authenticator.is_some() {
        guarded.layer(axum::middleware::from_fn_with_state(guard.clone(), layer::authenticate))
    } else {
        guarded
    };
    let app = Router::new().merge(guarded).merge(health_routes(gateway.clone())).merge(layer::metadata_routes(guard));
    // Announce the address on stderr in a fixed form, so scripts (and tests) that
    // pass port 0 can find it.
    eprintln!("vmcp: listening on {scheme}://{local}/mcp");
    tracing::info!(%local, servers = cfg.servers.len(), "serving MCP over streamable HTTP at /mcp");
    let grace = cfg.gateway.shutdown_grace;
    let drain = mcp.clone();
    let signal = stop.clone();
    let draining = gateway.clone();
    let graceful = async move {
        signal.cancelled().await;
        // Requests in flight get shutdown_grace to finish; new ones are refused.
        draining.drain(grace).await;
        // Ending the sessions ends their streams, so the drain below can finish.
        drain.close_all();
        legacy.close_all();
        ws.close_all();
        // WebSocket connections left the HTTP server at the upgrade: wait for them here.
        ws.closed().await;
    };
    let limits = ConnLimits {
        max_connections: cfg.gateway.max_connections as usize,
        metrics: gateway.metrics().clone(),
        max_header_size: cfg.gateway.max_header_size,
        read_timeout: cfg.gateway.read_timeout,
        write_timeout: cfg.gateway.write_timeout,
    };
    let server: futures_util::future::BoxFuture<'static, ()> = match tls {
        Some(tls) => {
            let listener = tls.listen(listener).context("TLS listener")?;
            Box::pin(serve::serve(listener, app, limits, graceful))
        }
        None => {
            // Small writes (SSE events) must not wait for delayed ACKs: TCP_NODELAY.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            Box::pin(serve::serve(listener, app, limits, graceful))
        }
    };
    let serving = tokio::spawn(server);
    stop.cancelled().await;
    // The drain's grace, then a little for streams to end.
    match tokio::time::timeout(grace + Duration::from_secs(5), serving).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("HTTP server task: {e}"),
        Err(_) => tracing::warn!("connections still open after {} ms; closing them", grace.as_millis()),
    }
    Ok(())
}

/// `/metrics`: names every server and method, so it sits behind authentication.
fn metrics_route(gateway: Arc<Gateway>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move {
            ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], gateway.metrics().encode())
        }),
    )
}

fn health_routes(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { ([("content-type", "application/json")], r#"{"status":"ok"}"#) }))
        .route(
            "/readyz",
            get(move || {
                let g = gateway.clone();
                async move {
                    match g.is_ready() {
                        Ok(()) => (StatusCode::OK, [("content-type", "application/json")], r#"{"status":"ready"}"#.to_owned()).into_response(),
                        Err(missing) => {
                            let body = serde_json::json!({ "status": "not_ready", "reason": "required servers are not ready", "servers": missing });
                            (StatusCode::SERVICE_UNAVAILABLE, [("content-type", "application/json")], body.to_string()).into_response()
                        }
                    }
                }
            }),
        )
}
