//! The admin API's routes and what each does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::status::{MemberView, StatusView};
use crate::cluster::Cluster;
use crate::gateway::Gateway;
use crate::gateway::supervisor::Status;
use crate::gateway::supervisor::{OpError, Source};
use crate::gateway::views;
use crate::gateway::views::ServerView;
use crate::registry::RegistryError;

/// What the admin routes act on.
pub struct Admin {
    pub gateway: Arc<Gateway>,
    /// The registry of runtime mounts, and this replica among others.
    pub cluster: Arc<Cluster>,
    /// Cancelled by `POST /admin/v1/shutdown`.
    pub stop: CancellationToken,
    pub started: Instant,
    pub listen: Option<String>,
    pub state_dir: PathBuf,
    pub reloader: Arc<crate::gateway::reload::Reloader>,
}

/// Where the admin socket of a state directory lives.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("admin.sock")
}

/// Binds the socket (replacing a stale one: the instance lock says no other
/// gateway owns this state directory) and serves until `shutdown`.
pub async fn serve(admin: Arc<Admin>, shutdown: CancellationToken) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(&admin.state_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let app = router(admin);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
        if let Err(e) = served {
            tracing::warn!("admin API: {e}");
        }
        let _ = std::fs::remove_file(&path);
    }))
}

/// Serves the admin API on a loopback TCP address as well, behind a bearer token
/// (`gateway.admin_listen`, `gateway.admin_token`; the config refuses one without the other).
pub async fn serve_tcp(
    admin: Arc<Admin>,
    addr: &str,
    token: String,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %addr, "admin API on TCP (token required)");
    let expected: Arc<str> = format!("Bearer {token}").into();
    let app = router(admin).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let expected = expected.clone();
            async move {
                let given =
                    req.headers().get(axum::http::header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
                if constant_time_eq(given, expected.as_bytes()) {
                    next.run(req).await
                } else {
                    fail(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "the admin API needs Authorization: Bearer <gateway.admin_token>",
                    )
                }
            }
        },
    ));
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
        if let Err(e) = served {
            tracing::warn!("admin API (TCP): {e}");
        }
    }))
}

/// Compares without leaking, through timing, how much of a token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/admin/v1/status", get(status))
        .route("/admin/v1/servers", get(list).post(mount))
        .route("/admin/v1/servers/{id}", get(info).delete(unmount))
        .route("/admin/v1/servers/{id}/enable", post(enable))
        .route("/admin/v1/servers/{id}/disable", post(disable))
        .route("/admin/v1/servers/{id}/restart", post(restart))
        .route("/admin/v1/metrics", get(metrics))
        .route("/admin/v1/shutdown", post(shutdown))
        .route("/admin/v1/reload", post(reload))
        .with_state(admin)
}

/// An error answer: `{"error": {"code": …, "message": …}}`.
fn fail(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message.into() } }))).into_response()
}

fn op_error(e: OpError) -> Response {
    let (status, code) = match &e {
        OpError::InvalidId(_) => (StatusCode::BAD_REQUEST, "invalid_id"),
        OpError::Duplicate(_) => (StatusCode::CONFLICT, "duplicate"),
        OpError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown"),
        OpError::FromConfig(_) => (StatusCode::CONFLICT, "from_config"),
        OpError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
    };
    fail(status, code, e.to_string())
}

fn registry_error(e: RegistryError) -> Response {
    let (status, code) = match &e {
        RegistryError::Duplicate(_) => (StatusCode::CONFLICT, "duplicate"),
        RegistryError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown"),
        RegistryError::InvalidId(_) => (StatusCode::BAD_REQUEST, "invalid_id"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "registry"),
    };
    fail(status, code, e.to_string())
}

async fn status(State(a): State<Arc<Admin>>) -> Response {
    Json(status_view(&a).await).into_response()
}

async fn list(State(a): State<Arc<Admin>>) -> Response {
    let servers: Vec<ServerView> = a.gateway.supervisor().servers().iter().map(views::server).collect();
    Json(servers).into_response()
}

async fn info(State(a): State<Arc<Admin>>, UrlPath(id): UrlPath<String>) -> Response {
    match a.gateway.supervisor().server(&id) {
        Some(s) => Json(views::server_detail(&a.gateway.settings().naming, &s)).into_response(),
        None => op_error(OpError::Unknown(id)),
    }
}

#[derive(Deserialize)]
struct MountBody {
    id: String,
    /// The server's TOML: the keys of its `[servers.<id>]` table.
    snippet: String,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

async fn mount(
    State(a): State<Arc<Admin>>,
    body: Result<Json<MountBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return fail(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    };
    if a.gateway.supervisor().server(&body.id).is_some() {
        return op_error(OpError::Duplicate(body.id));
    }
    let env = |k: &str| std::env::var(k).ok();
    let mut config =
        match crate::config::parse_server_snippet(&body.id, &format!("mount:{}", body.id), &body.snippet, &env) {
            Ok(c) => c,
            Err(errors) => {
                return fail(StatusCode::BAD_REQUEST, "invalid_config", errors.to_string());
            }
        };
    config.enabled = body.enabled && config.enabled;
    // Stored first, then applied from the store, as every replica applies it:
    // once acknowledged, the mount survives a crash and is the same everywhere.
    if let Err(e) = a.cluster.registry().insert(&body.id, &body.snippet, config.enabled).await {
        return registry_error(e);
    }
    if let Err(e) = a.cluster.refresh().await {
        return registry_error(e);
    }
    match a.gateway.supervisor().server(&body.id) {
        Some(server) => (StatusCode::CREATED, Json(views::server(&server))).into_response(),
        None => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "not_applied",
            format!("server `{}` is stored but could not be mounted here; see the gateway's log", body.id),
        ),
    }
}

async fn unmount(State(a): State<Arc<Admin>>, UrlPath(id): UrlPath<String>) -> Response {
    match a.gateway.supervisor().server(&id) {
        Some(s) if s.source == Source::Config => return op_error(OpError::FromConfig(id)),
        _ => {}
    }
    match a.cluster.registry().remove(&id).await {
        Ok(_) => {}
        Err(RegistryError::Unknown(_)) => return op_error(OpError::Unknown(id)),
        Err(e) => return registry_error(e),
    }
    if let Err(e) = a.cluster.refresh().await {
        return registry_error(e);
    }
    Json(json!({ "unmounted": id })).into_response()
}

async fn set_enabled(a: Arc<Admin>, id: String, enabled: bool) -> Response {
    let Some(server) = a.gateway.supervisor().server(&id) else { return op_error(OpError::Unknown(id)) };
    if server.source == Source::Mounted {
        // Stored, then applied from the store (here and on every replica).
        if let Err(e) = a.cluster.registry().set_enabled(&id, enabled).await {
            return registry_error(e);
        }
        if let Err(e) = a.cluster.refresh().await {
            return registry_error(e);
        }
    } else if let Err(e) = a.gateway.supervisor().set_enabled(&id, enabled).await {
        return op_error(e);
    }
    match a.gateway.supervisor().server(&id) {
        Some(s) => Json(views::server(&s)).into_response(),
        None => op_error(OpError::Unknown(id)),
    }
}

async fn enable(State(a): State<Arc<Admin>>, UrlPath(id): UrlPath<String>) -> Response {
    set_enabled(a, id, true).await
}

async fn disable(State(a): State<Arc<Admin>>, UrlPath(id): UrlPath<String>) -> Response {
    set_enabled(a, id, false).await
}

async fn restart(State(a): State<Arc<Admin>>, UrlPath(id): UrlPath<String>) -> Response {
    match a.gateway.supervisor().restart(&id).await {
        Ok(()) => Json(json!({ "restarted": id })).into_response(),
        Err(e) => op_error(e),
    }
}

/// The metrics as a JSON [`Summary`](crate::observe::metrics::Summary), like the
/// rest of this API: `vmcp metrics show` prints it as it comes, with nothing to
/// parse back. The Prometheus text stays where scrapers look for it, `/metrics`
/// on the data plane (and the `vmcp/metrics` method).
async fn metrics(State(a): State<Arc<Admin>>) -> Response {
    let mut summary = a.gateway.metrics().summary();
    summary.replica = Some(a.cluster.me().id.clone());
    summary.members = a.cluster.members().await.ok().map(|m| m.len());
    Json(summary).into_response()
}

async fn reload(State(a): State<Arc<Admin>>) -> Response {
    match a.reloader.reload().await {
        Ok(report) => Json(report).into_response(),
        Err(errors) => fail(StatusCode::BAD_REQUEST, "invalid_config", errors.to_string()),
    }
}

async fn shutdown(State(a): State<Arc<Admin>>) -> Response {
    tracing::info!("shutdown requested through the admin API");
    a.stop.cancel();
    (StatusCode::ACCEPTED, Json(json!({ "stopping": true, "pid": std::process::id() }))).into_response()
}

pub async fn status_view(a: &Admin) -> StatusView {
    let servers = a.gateway.supervisor().servers();
    let not_ready = a.gateway.is_ready().err().unwrap_or_default();
    let (members, members_error) = match a.cluster.members().await {
        Ok(members) => (members, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let members = members
        .into_iter()
        .map(|m| MemberView {
            id: m.id,
            advertise: m.advertise,
            version: m.version,
            started_at: m.started_at,
            seen_ago_seconds: (m.seen_ago.as_secs_f64() * 10.0).round() / 10.0,
        })
        .collect();
    StatusView {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: std::process::id(),
        uptime_seconds: a.started.elapsed().as_secs(),
        listen: a.listen.clone(),
        state_dir: a.state_dir.display().to_string(),
        servers: servers.len(),
        ready: servers.iter().filter(|s| s.status() == Status::Ready).count(),
        down: servers.iter().filter(|s| s.status() == Status::Down).count(),
        sessions: a.gateway.session_count(),
        ready_for_traffic: not_ready.is_empty(),
        not_ready,
        replica: a.cluster.me().id.clone(),
        registry: a.cluster.registry().location(),
        registry_revision: a.cluster.revision().await,
        members,
        members_error,
    }
}
