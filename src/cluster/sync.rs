//! A snapshot of the registry's mounts applied to the running gateway: after
//! it, the supervisor's mounted servers are exactly the snapshot's.
//!
//! Idempotent, so it can run after every notification, every write of our own
//! and every reconnect without knowing what changed: a mount missing here is
//! mounted, one no longer stored is unmounted, one whose configuration changed
//! (unmounted and mounted again elsewhere, between two notifications) is
//! replaced, and one whose enabled flag changed is started or stopped. Servers
//! of the configuration files are never touched; a mount with the id of one
//! is left out, as at start.

use std::collections::BTreeMap;

use crate::config::{ServerConfig, parse_server_snippet};
use crate::gateway::Gateway;
use crate::gateway::supervisor::{Source, Status};
use crate::registry::Mount;

/// What applying a snapshot did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub mounted: Vec<String>,
    pub unmounted: Vec<String>,
    pub replaced: Vec<String>,
    pub enabled: Vec<String>,
    pub disabled: Vec<String>,
}

impl Applied {
    pub fn is_empty(&self) -> bool {
        *self == Applied::default()
    }
}

/// Makes the gateway's mounted servers those of `mounts`.
pub(crate) async fn apply(gateway: &Gateway, mounts: &[Mount]) -> Applied {
    let env = |k: &str| std::env::var(k).ok();
    let mut applied = Applied::default();
    let supervisor = gateway.supervisor();
    let mut wanted: BTreeMap<&str, (ServerConfig, bool)> = BTreeMap::new();
    for m in mounts {
        match parse_server_snippet(&m.id, &format!("registry:{}", m.id), &m.snippet, &env) {
            Ok(config) => {
                let enabled = config.enabled && m.enabled;
                wanted.insert(&m.id, (config, enabled));
            }
            Err(e) => tracing::error!(server = %m.id, "stored mount not valid here, left out:\n{e}"),
        }
    }
    for server in supervisor.servers() {
        if server.source == Source::Mounted && !wanted.contains_key(&*server.id) {
            if let Err(e) = supervisor.unmount(&server.id).await {
                tracing::warn!(server = %server.id, "cannot unmount: {e}");
            } else {
                applied.unmounted.push(server.id.to_string());
            }
        }
    }
    for (id, (config, enabled)) in wanted {
        match supervisor.server(id) {
            Some(server) if server.source == Source::Config => {
                tracing::warn!(server = id, "a mounted server has the id of a configured one; the configuration wins");
            }
            Some(server) => {
                if !same_server(&server.config, &config) {
                    if let Err(e) = supervisor.unmount(id).await {
                        tracing::warn!(server = id, "cannot replace: {e}");
                        continue;
                    }
                    mount(gateway, id, config, enabled);
                    applied.replaced.push(id.to_owned());
                } else if enabled != (server.status() != Status::Disabled) {
                    if let Err(e) = supervisor.set_enabled(id, enabled).await {
                        tracing::warn!(server = id, "cannot {}: {e}", if enabled { "enable" } else { "disable" });
                    } else if enabled {
                        applied.enabled.push(id.to_owned());
                    } else {
                        applied.disabled.push(id.to_owned());
                    }
                }
            }
            None => {
                if mount(gateway, id, config, enabled) {
                    applied.mounted.push(id.to_owned());
                }
            }
        }
    }
    applied
}

fn mount(gateway: &Gateway, id: &str, mut config: ServerConfig, enabled: bool) -> bool {
    config.enabled = enabled;
    match gateway.supervisor().mount(id, config) {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(server = id, "cannot mount: {e}");
            false
        }
    }
}

/// The same server but for whether it is enabled (a flag of its own).
fn same_server(running: &ServerConfig, stored: &ServerConfig) -> bool {
    let mut running = running.clone();
    running.enabled = stored.enabled;
    running == *stored
}
