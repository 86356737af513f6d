//! [`Config`]: the whole configuration, every table, as the rest of vmcp
//! receives it: loaded, merged and validated.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::auth::{AuthConfig, Policy};
use super::cluster::{ClusterConfig, RegistryConfig};
use super::gateway::GatewayConfig;
use super::server::ServerConfig;
use super::values::RouteRule;

/// A loaded, merged and validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub gateway: GatewayConfig,
    /// By server id, the `[servers.<id>]` table key.
    pub servers: BTreeMap<String, ServerConfig>,
    /// `[[route]]`, in file order (the first match wins).
    pub routes: Vec<RouteRule>,
    /// `[auth]`: who may call the HTTP front ends; `None`: nobody is asked.
    pub auth: Option<AuthConfig>,
    /// `[[policy]]`, in file order.
    pub policies: Vec<Policy>,
    /// `[registry]`: where runtime mounts are stored.
    pub registry: RegistryConfig,
    /// `[cluster]`: this replica among others.
    pub cluster: ClusterConfig,
    /// The files it was read from, in order (later ones override earlier ones).
    pub sources: Vec<PathBuf>,
}
