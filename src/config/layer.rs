//! What one configuration file says, before defaults, and how files combine.
//!
//! Each file becomes a [`Layer`]: every key it sets, with the position where it
//! set it, and nothing it left out. Layers merge in command-line order, later
//! over earlier: `[gateway]` key by key, each `[servers.<id>]` key by key,
//! `env` and `headers` entry by entry, arrays replaced whole. Keeping positions
//! through the merge lets validation of the merged result point at the file and
//! line that set the offending value.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::Pos;
use super::{PrefixMode, TransportKind};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> At<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> At<U> {
        At { value: f(self.value), pos: self.pos }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    pub gateway: GatewayLayer,
    pub servers: BTreeMap<String, ServerLayer>,
    /// Where `[auth]` was written, if it was.
    pub auth: Option<Pos>,
    /// Where `[[policy]]` was written, if it was.
    pub policy: Option<Pos>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct GatewayLayer {
    pub listen: Option<At<String>>,
    pub separator: Option<At<String>>,
    pub prefix: Option<At<PrefixMode>>,
    pub state_dir: Option<At<String>>,
    pub max_message_size: Option<At<usize>>,
    pub max_name_length: Option<At<usize>>,
    pub server_name: Option<At<String>>,
    pub allowed_origins: Option<At<Vec<String>>>,
    pub request_timeout: Option<At<Duration>>,
    pub init_timeout: Option<At<Duration>>,
    pub shutdown_grace: Option<At<Duration>>,
    pub session_idle_timeout: Option<At<Duration>>,
    pub health_interval: Option<At<Duration>>,
    pub health_timeout: Option<At<Duration>>,
    pub health_failures: Option<At<u32>>,
    pub admin_listen: Option<At<String>>,
    pub admin_token: Option<At<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct ServerLayer {
    /// Where the server's id was first written.
    pub defined_at: Pos,
    /// Some key of this server could not be read; checks that combine keys
    /// are skipped for it, since a missing key may only be an unreadable one.
    pub broken: bool,
    pub transport: Option<At<TransportKind>>,
    pub command: Option<At<String>>,
    pub args: Option<At<Vec<String>>>,
    pub env: Option<At<BTreeMap<String, String>>>,
    pub cwd: Option<At<String>>,
    pub url: Option<At<String>>,
    pub headers: Option<At<BTreeMap<String, String>>>,
    pub ca_file: Option<At<String>>,
    pub request_timeout: Option<At<Duration>>,
    pub health_interval: Option<At<Duration>>,
    pub health_timeout: Option<At<Duration>>,
    pub health_failures: Option<At<u32>>,
    pub enabled: Option<At<bool>>,
    pub required: Option<At<bool>>,
    pub replicas: Option<At<u32>>,
    pub balance: Option<At<String>>,
    pub description: Option<At<String>>,
}

impl ServerLayer {
    pub fn new(defined_at: Pos) -> Self {
        Self {
            defined_at,
            broken: false,
            transport: None,
            command: None,
            args: None,
            env: None,
            cwd: None,
            url: None,
            headers: None,
            ca_file: None,
            request_timeout: None,
            health_interval: None,
            health_timeout: None,
            health_failures: None,
            enabled: None,
            required: None,
            replicas: None,
            balance: None,
            description: None,
        }
    }
}

/// `later` wins where it says something.
fn over<T>(earlier: &mut Option<T>, later: Option<T>) {
    if later.is_some() {
        *earlier = later;
    }
}

/// Tables merge entry by entry; the position becomes the later one's.
fn over_map(earlier: &mut Option<At<BTreeMap<String, String>>>, later: Option<At<BTreeMap<String, String>>>) {
    match (earlier.as_mut(), later) {
        (Some(earlier), Some(later)) => {
            earlier.value.extend(later.value);
            earlier.pos = later.pos;
        }
        (None, later) => *earlier = later,
        (Some(_), None) => {}
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
        over(&mut self.auth, later.auth);
        over(&mut self.policy, later.policy);
    }
}

impl GatewayLayer {
    fn merge(&mut self, later: GatewayLayer) {
        over(&mut self.listen, later.listen);
        over(&mut self.separator, later.separator);
        over(&mut self.prefix, later.prefix);
        over(&mut self.state_dir, later.state_dir);
        over(&mut self.max_message_size, later.max_message_size);
        over(&mut self.max_name_length, later.max_name_length);
        over(&mut self.server_name, later.server_name);
        over(&mut self.allowed_origins, later.allowed_origins);
        over(&mut self.request_timeout, later.request_timeout);
        over(&mut self.init_timeout, later.init_timeout);
        over(&mut self.shutdown_grace, later.shutdown_grace);
        over(&mut self.session_idle_timeout, later.session_idle_timeout);
        over(&mut self.health_interval, later.health_interval);
        over(&mut self.health_timeout, later.health_timeout);
        over(&mut self.health_failures, later.health_failures);
        over(&mut self.admin_listen, later.admin_listen);
        over(&mut self.admin_token, later.admin_token);
    }
}

impl ServerLayer {
    fn merge(&mut self, later: ServerLayer) {
        // `defined_at` stays the first definition.
        self.broken |= later.broken;
        over(&mut self.transport, later.transport);
        over(&mut self.command, later.command);
        over(&mut self.args, later.args);
        over_map(&mut self.env, later.env);
        over(&mut self.cwd, later.cwd);
        over(&mut self.url, later.url);
        over_map(&mut self.headers, later.headers);
        over(&mut self.ca_file, later.ca_file);
        over(&mut self.request_timeout, later.request_timeout);
        over(&mut self.health_interval, later.health_interval);
        over(&mut self.health_timeout, later.health_timeout);
        over(&mut self.health_failures, later.health_failures);
        over(&mut self.enabled, later.enabled);
        over(&mut self.required, later.required);
        over(&mut self.replicas, later.replicas);
        over(&mut self.balance, later.balance);
        over(&mut self.description, later.description);
    }
}
