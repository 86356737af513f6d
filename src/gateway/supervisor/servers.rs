//! [`Supervisor`]: every server the gateway knows, and their lives.
//!
//! It starts each enabled server's replicas, and changes the set at runtime:
//! mount, unmount, enable, disable, restart, and the difference a reload
//! brings. Each change takes effect at once for every client: the gateway is
//! told (`events.rs`) and rebuilds its catalog.
//!
//! Names keep the shape they had at start: with `prefix = "conditional"`,
//! whether names carry a prefix was decided from the configured servers, so
//! mounting a second server does not rename the first one's tools under its
//! clients.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::context::Context;
use super::replica::Status;
use super::run::supervise;
use super::server::{Server, Source, fetch_lists};
use crate::config::{Config, ServerConfig};
use crate::gateway::backend::BackendConn;
use crate::gateway::catalog::valid_server_id;
use crate::gateway::error::GatewayError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum OpError {
    #[error("invalid server id {0:?}: expected a lowercase letter, then up to 31 lowercase letters, digits or '-'")]
    InvalidId(String),
    #[error("server '{0}' already exists")]
    Duplicate(String),
    #[error("no server '{0}'")]
    Unknown(String),
    #[error("server '{0}' comes from the configuration file: remove it there, or disable it")]
    FromConfig(String),
    #[error("the gateway is shutting down")]
    ShuttingDown,
}

/// What a reload did to the servers.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

pub struct Supervisor {
    cx: Arc<Context>,
    servers: RwLock<BTreeMap<String, Arc<Server>>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Supervisor {
    /// The configured servers, not yet started (see [`Supervisor::start_all`]).
    pub fn new(config: &Config, cx: Context) -> Supervisor {
        let cx = Arc::new(cx);
        let servers = config
            .servers
            .iter()
            .map(|(id, cfg)| (id.clone(), Server::new(id, cfg.clone(), Source::Config, cx.metrics.clone())))
            .collect();
        Supervisor { cx, servers: RwLock::new(servers), shutdown: CancellationToken::new(), tasks: TaskTracker::new() }
    }

    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Starts every enabled server, in parallel; returns at once.
    pub fn start_all(&self) {
        for server in self.servers() {
            if server.config.enabled {
                self.start(&server);
            }
        }
    }

    pub fn servers(&self) -> Vec<Arc<Server>> {
        self.servers.read().map(|s| s.values().cloned().collect()).unwrap_or_default()
    }

    pub fn server(&self, id: &str) -> Option<Arc<Server>> {
        self.servers.read().ok().and_then(|s| s.get(id).cloned())
    }

    /// Ready servers and a connection of each, in id order.
    pub fn ready(&self) -> Vec<(Arc<Server>, Arc<BackendConn>)> {
        self.servers().into_iter().filter_map(|s| s.conn().map(|c| (s, c))).collect()
    }

    /// A ready connection of `server`, or why there is none.
    pub fn conn_for(&self, server: &str) -> Result<Arc<BackendConn>, GatewayError> {
        let s = self
            .server(server)
            .ok_or_else(|| GatewayError::Unavailable { server: server.to_owned(), reason: "not mounted".into() })?;
        s.conn().ok_or_else(|| GatewayError::Unavailable { server: server.to_owned(), reason: s.describe() })
    }

    /// Ok once every server marked `required` is ready; else each one that is not, with why.
    pub fn is_ready(&self) -> Result<(), Vec<String>> {
        let missing: Vec<String> = self
            .servers()
            .iter()
            .filter(|s| s.config.required && s.status() != Status::Ready)
            .map(|s| format!("{}: {}", s.id, s.describe()))
            .collect();
        if missing.is_empty() { Ok(()) } else { Err(missing) }
    }

    /// Waits until every server has finished its first start attempt (ready or
    /// failed), at most `init_timeout`. A client that connects while backends are
    /// starting then sees their tools in its first list rather than an empty one.
    pub async fn wait_started(&self) {
        let waits = self.servers().into_iter().map(|s| async move { s.settled().await });
        let _ = tokio::time::timeout(self.cx.settings.init_timeout, futures_util::future::join_all(waits)).await;
    }

    /// Starts every replica's run of `server`.
    fn start(&self, server: &Arc<Server>) {
        let stop = self.shutdown.child_token();
        let done = CancellationToken::new();
        server.set_run(stop.clone(), done.clone());
        let runs: Vec<_> = server
            .replicas
            .iter()
            .map(|r| tokio::spawn(supervise(self.cx.clone(), server.clone(), r.clone(), stop.clone())))
            .collect();
        let cx = self.cx.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            futures_util::future::join_all(runs).await;
            if !shutdown.is_cancelled() {
                cx.tell(|e| e.lists_changed());
            }
            done.cancel();
        });
    }

    fn existing(&self, id: &str) -> Result<Arc<Server>, OpError> {
        self.server(id).ok_or_else(|| OpError::Unknown(id.to_owned()))
    }

    /// Adds a server and starts it (when enabled).
    pub fn mount(&self, id: &str, config: ServerConfig) -> Result<Arc<Server>, OpError> {
        if self.shutdown.is_cancelled() {
            return Err(OpError::ShuttingDown);
        }
        if !valid_server_id(id) {
            return Err(OpError::InvalidId(id.to_owned()));
        }
        let server = Server::new(id, config, Source::Mounted, self.cx.metrics.clone());
        {
            let Ok(mut servers) = self.servers.write() else { return Err(OpError::ShuttingDown) };
            if servers.contains_key(id) {
                return Err(OpError::Duplicate(id.to_owned()));
            }
            servers.insert(id.to_owned(), server.clone());
        }
        if server.config.enabled {
            self.start(&server);
        }
        tracing::info!(server = id, "mounted");
        Ok(server)
    }

    /// Stops and removes a mounted server.
    pub async fn unmount(&self, id: &str) -> Result<(), OpError> {
        let server = self.existing(id)?;
        if server.source == Source::Config {
            return Err(OpError::FromConfig(id.to_owned()));
        }
        self.remove(&server).await;
        self.cx.tell(|e| e.lists_changed());
        tracing::info!(server = id, "unmounted");
        Ok(())
    }

    /// Starts a disabled server, or stops and disables a running one.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), OpError> {
        let server = self.existing(id)?;
        if enabled {
            if server.status() == Status::Disabled {
                server.set_status(Status::Starting);
                self.start(&server);
            }
        } else {
            server.stop_run().await;
            server.set_status(Status::Disabled);
            self.cx.tell(|e| e.lists_changed());
        }
        Ok(())
    }

    /// Stops a server and starts it again (its process, its connection).
    pub async fn restart(&self, id: &str) -> Result<(), OpError> {
        let server = self.existing(id)?;
        if server.status() == Status::Disabled {
            return self.set_enabled(id, true).await;
        }
        server.stop_run().await;
        server.set_status(Status::Starting);
        self.start(&server);
        Ok(())
    }

    /// Re-reads a server's tools and prompts after it said they changed.
    pub async fn refresh(&self, conn: &BackendConn) {
        let Some(server) = self.server(&conn.server) else { return };
        let Some(info) = conn.info() else { return };
        match fetch_lists(conn, info).await {
            Ok(lists) => {
                server.set_lists(lists);
                self.cx.tell(|e| e.lists_changed());
            }
            Err(e) => tracing::warn!(server = %conn.server, "refreshing lists after list_changed failed: {e}"),
        }
    }

    /// Applies the difference between two configurations' servers: added ones
    /// are started, removed ones stopped, changed ones restarted with their new
    /// settings; every other server is left alone.
    pub async fn apply(&self, old: &Config, new: &Config) -> Applied {
        let mut applied = Applied::default();
        for id in old.servers.keys().filter(|id| !new.servers.contains_key(*id)) {
            if self.remove_configured(id).await {
                applied.removed.push(id.clone());
            }
        }
        for (id, cfg) in &new.servers {
            match old.servers.get(id) {
                Some(before) if before == cfg => {}
                Some(_) => {
                    self.remove_configured(id).await;
                    self.add_configured(id, cfg);
                    applied.changed.push(id.clone());
                }
                None => {
                    if self.server(id).is_some_and(|s| s.source == Source::Mounted) {
                        tracing::warn!(server = %id, "the configuration now defines a server mounted at runtime; unmount it to use the configured one");
                        continue;
                    }
                    self.add_configured(id, cfg);
                    applied.added.push(id.clone());
                }
            }
        }
        if !applied.removed.is_empty() || !applied.changed.is_empty() {
            self.cx.tell(|e| e.lists_changed());
        }
        applied
    }

    async fn remove_configured(&self, id: &str) -> bool {
        let Some(server) = self.server(id).filter(|s| s.source == Source::Config) else { return false };
        self.remove(&server).await;
        true
    }

    fn add_configured(&self, id: &str, cfg: &ServerConfig) {
        let server = Server::new(id, cfg.clone(), Source::Config, self.cx.metrics.clone());
        if let Ok(mut servers) = self.servers.write() {
            servers.insert(id.to_owned(), server.clone());
        }
        if server.config.enabled {
            self.start(&server);
        }
    }

    /// Takes a server out of the set and stops it.
    async fn remove(&self, server: &Server) {
        if let Ok(mut servers) = self.servers.write() {
            servers.remove(&*server.id);
        }
        server.stop_run().await;
        self.cx.metrics.server_removed(&server.id);
    }

    /// A client session closed: the processes it had of its own are stopped.
    pub fn release_session(&self, session: u64) {
        for server in self.servers() {
            if server.per_session() {
                server.processes.release(session);
            }
        }
    }

    /// Stops every server (each process group is terminated) and returns once
    /// all are gone.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        let private = self.servers().into_iter().map(|s| async move { s.processes.stop_all().await });
        futures_util::future::join_all(private).await;
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}
