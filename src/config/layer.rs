//! What one configuration file says, before defaults, and how files combine.
//!
//! Each file becomes a [`Layer`]: every key it sets, with the position where it
//! set it, and nothing it left out. Layers merge in command-line order, later
//! over earlier: `[gateway]` key by key, each `[servers.<id>]` key by key (and
//! its `[servers.<id>.breaker]` key by key), the tables `env`, `headers`,
//! `rename_tools`, `timeouts` and `tool_rate_limits` entry by entry, arrays
//! (`args`, `urls`, `allow_tools`, ...) replaced whole. `[auth]` merges key by
//! key (and its `[auth.jwt]` key by key; `api_keys` is an array, replaced
//! whole). `[[route]]` and `[[policy]]` tables are not merged: a later file's
//! are appended after an earlier one's, so the earlier file's rules are tried
//! first. Keeping positions through the merge lets validation of the merged
//! result point at the file and line that set the offending value.
//!
//! The tables' layer structs and their key-by-key merges are generated from
//! the tables' declarations (`config_table!`); how a key's value merges is its
//! kind's (`kinds.rs`). This module holds the whole document's layer and its
//! merge; a value with its position, `At`, is `at.rs`'s.

use std::collections::BTreeMap;

use super::auth::{AuthLayer, PolicyLayer};
use super::cluster::{ClusterLayer, RegistryLayer};
use super::gateway::GatewayLayer;
use super::route::RouteLayer;
use super::server::ServerLayer;

/// One file's configuration, or several merged: every table's layer.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub gateway: GatewayLayer,
    pub servers: BTreeMap<String, ServerLayer>,
    /// `[auth]`, if any file has it.
    pub auth: Option<AuthLayer>,
    /// `[[policy]]`, in file order (and, merged, in file order of the files).
    pub policies: Vec<PolicyLayer>,
    /// `[[route]]`, in file order (and, merged, in file order of the files).
    pub routes: Vec<RouteLayer>,
    pub registry: RegistryLayer,
    pub cluster: ClusterLayer,
}

impl Default for Layer {
    fn default() -> Self {
        Self {
            gateway: GatewayLayer::new(),
            servers: BTreeMap::new(),
            auth: None,
            policies: Vec::new(),
            routes: Vec::new(),
            registry: RegistryLayer::new(),
            cluster: ClusterLayer::new(),
        }
    }
}

impl Layer {
    /// Lays `later` over `self`.
    pub fn merge(&mut self, later: Layer) {
        self.gateway.merge(later.gateway);
        for (id, server) in later.servers {
            match self.servers.get_mut(&id) {
                Some(earlier) => earlier.merge(server),
                None => {
                    self.servers.insert(id, server);
                }
            }
        }
        match (self.auth.as_mut(), later.auth) {
            (Some(earlier), Some(later)) => earlier.merge(later),
            (None, later) => self.auth = later,
            (Some(_), None) => {}
        }
        self.policies.extend(later.policies);
        self.routes.extend(later.routes);
        self.registry.merge(later.registry);
        self.cluster.merge(later.cluster);
    }
}

impl ServerLayer {
    fn merge(&mut self, later: ServerLayer) {
        // `defined_at` stays the first definition.
        self.broken |= later.broken;
        self.merge_keys(later);
    }
}

impl AuthLayer {
    fn merge(&mut self, later: AuthLayer) {
        // `at` stays the first definition.
        self.broken |= later.broken;
        self.merge_keys(later);
    }
}
