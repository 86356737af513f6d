//! Changes at runtime: mounting and unmounting servers, enabling, disabling and
//! restarting them. Each change takes effect at once for every session: the
//! catalog is rebuilt and clients are told with `list_changed`.
//!
//! Names keep the shape they had at start: with `prefix = "conditional"`, whether
//! names carry a prefix was decided from the configured servers, so mounting a
//! second server does not rename the first one's tools under its clients.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Gateway;
use super::names::valid_server_id;
use super::server::{Server, Source, Status};
use crate::config::ServerConfig;

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

impl Gateway {
    /// Starts a supervisor for `server`.
    pub(crate) fn start_server(self: &Arc<Self>, server: &Arc<Server>) {
        let stop = self.shutdown.child_token();
        let done = CancellationToken::new();
        server.set_run(stop.clone(), done.clone());
        let replicas = server.spawn_replicas(Arc::downgrade(self), stop);
        self.supervisors.spawn(async move {
            replicas.await;
            done.cancel();
        });
    }

    fn existing(&self, id: &str) -> Result<Arc<Server>, OpError> {
        self.server(id).ok_or_else(|| OpError::Unknown(id.to_owned()))
    }

    /// Adds a server and starts it (when enabled).
    pub fn mount(self: &Arc<Self>, id: &str, config: ServerConfig) -> Result<Arc<Server>, OpError> {
        if self.is_shutting_down() {
            return Err(OpError::ShuttingDown);
        }
        if !valid_server_id(id) {
            return Err(OpError::InvalidId(id.to_owned()));
        }
        let server = Server::new(id, config, Source::Mounted);
        {
            let Ok(mut servers) = self.servers.write() else { return Err(OpError::ShuttingDown) };
            if servers.contains_key(id) {
                return Err(OpError::Duplicate(id.to_owned()));
            }
            servers.insert(id.to_owned(), server.clone());
        }
        if server.config.enabled {
            self.start_server(&server);
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
        if let Ok(mut servers) = self.servers.write() {
            servers.remove(id);
        }
        server.stop_run().await;
        crate::observe::metrics::Metrics::global().server_removed(id);
        self.rebuild_catalog();
        tracing::info!(server = id, "unmounted");
        Ok(())
    }

    /// Starts a disabled server, or stops and disables a running one.
    pub async fn set_enabled(self: &Arc<Self>, id: &str, enabled: bool) -> Result<(), OpError> {
        let server = self.existing(id)?;
        if enabled {
            if server.status() == Status::Disabled {
                server.set_status(Status::Starting);
                self.start_server(&server);
            }
        } else {
            server.stop_run().await;
            server.set_status(Status::Disabled);
            self.rebuild_catalog();
        }
        Ok(())
    }

    /// Stops a server and starts it again (its process, its connection).
    pub async fn restart(self: &Arc<Self>, id: &str) -> Result<(), OpError> {
        let server = self.existing(id)?;
        if server.status() == Status::Disabled {
            return self.set_enabled(id, true).await;
        }
        server.stop_run().await;
        server.set_status(Status::Starting);
        self.start_server(&server);
        Ok(())
    }
}
