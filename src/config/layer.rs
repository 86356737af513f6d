//! What one configuration file says, before defaults, and how files combine.
//!
//! Each file becomes a [`Layer`]: every key it sets, with the position where it
//! set it, and nothing it left out. Layers merge in command-line order, later
//! over earlier: `[gateway]` key by key, each `[servers.<id>]` key by key (and
//! its `[servers.<id>.breaker]` key by key), the tables `env`, `headers`,
//! `rename_tools`, `timeouts` and `tool_rate_limits` entry by entry, arrays
//! (`args`, `urls`, `allow_tools`, ...) replaced whole. `[[route]]` tables are
//! not merged: a later file's routes are appended after an earlier one's, so
//! the earlier file's rules are tried first. Keeping positions through the
//! merge lets validation of the merged result point at the file and line that
//! set the offending value.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::Pos;
use super::{Affinity, Balance, Endpoint, HashKey, Isolation, PrefixMode, RateLimit, TransportKind};

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

/// A table's entries, each with the position of its value.
pub(crate) type Entries<T> = BTreeMap<String, At<T>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    pub gateway: GatewayLayer,
    pub servers: BTreeMap<String, ServerLayer>,
    /// Where `[auth]` was written, if it was.
    pub auth: Option<Pos>,
    /// Where `[[policy]]` was written, if it was.
    pub policy: Option<Pos>,
    /// `[[route]]`, in file order (and, merged, in file order of the files).
    pub routes: Vec<RouteLayer>,
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
    pub max_concurrency: Option<At<u32>>,
    pub rate_limit: Option<At<RateLimit>>,
    pub max_request_time: Option<At<Duration>>,
    /// `retry_budget`, in percent.
    pub retry_budget: Option<At<u32>>,
    pub route_cache_ttl: Option<At<Duration>>,
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
    /// Each endpoint is positioned at its URL.
    pub urls: Option<At<Vec<At<Endpoint>>>>,
    pub balance: Option<At<Balance>>,
    pub affinity: Option<At<Affinity>>,
    pub hash_key: Option<At<HashKey>>,
    pub isolation: Option<At<Isolation>>,
    pub max_processes: Option<At<u32>>,
    pub process_idle_timeout: Option<At<Duration>>,
    pub allow_tools: Option<At<Vec<String>>>,
    pub deny_tools: Option<At<Vec<String>>>,
    pub rename_tools: Option<At<Entries<String>>>,
    pub timeouts: Option<At<Entries<Duration>>>,
    pub max_request_time: Option<At<Duration>>,
    pub retries: Option<At<u32>>,
    pub breaker: BreakerLayer,
    pub max_concurrency: Option<At<u32>>,
    pub rate_limit: Option<At<RateLimit>>,
    pub tool_rate_limits: Option<At<Entries<RateLimit>>>,
    pub description: Option<At<String>>,
}

/// `[servers.<id>.breaker]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct BreakerLayer {
    pub failures: Option<At<u32>>,
    /// In percent.
    pub failure_rate: Option<At<u32>>,
    pub min_requests: Option<At<u32>>,
    pub window: Option<At<Duration>>,
    pub open_for: Option<At<Duration>>,
}

/// One `[[route]]` table.
#[derive(Debug, Clone)]
pub(crate) struct RouteLayer {
    /// Where the table starts (its `[[route]]` header).
    pub at: Pos,
    /// Its place among its file's routes, from 0: errors call it `route[<index>]`.
    pub index: usize,
    /// Some key could not be read: the checks that combine keys are skipped.
    pub broken: bool,
    pub method: Option<At<String>>,
    pub tool: Option<At<String>>,
    pub prompt: Option<At<String>>,
    pub resource: Option<At<String>>,
    pub to: Option<At<String>>,
    pub deny: Option<At<bool>>,
    pub reason: Option<At<String>>,
}

impl RouteLayer {
    pub fn new(at: Pos, index: usize) -> Self {
        Self {
            at,
            index,
            broken: false,
            method: None,
            tool: None,
            prompt: None,
            resource: None,
            to: None,
            deny: None,
            reason: None,
        }
    }
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
            urls: None,
            balance: None,
            affinity: None,
            hash_key: None,
            isolation: None,
            max_processes: None,
            process_idle_timeout: None,
            allow_tools: None,
            deny_tools: None,
            rename_tools: None,
            timeouts: None,
            max_request_time: None,
            retries: None,
            breaker: BreakerLayer::default(),
            max_concurrency: None,
            rate_limit: None,
            tool_rate_limits: None,
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
fn over_map<V>(earlier: &mut Option<At<BTreeMap<String, V>>>, later: Option<At<BTreeMap<String, V>>>) {
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
        self.routes.extend(later.routes);
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
        over(&mut self.max_concurrency, later.max_concurrency);
        over(&mut self.rate_limit, later.rate_limit);
        over(&mut self.max_request_time, later.max_request_time);
        over(&mut self.retry_budget, later.retry_budget);
        over(&mut self.route_cache_ttl, later.route_cache_ttl);
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
        over(&mut self.urls, later.urls);
        over(&mut self.balance, later.balance);
        over(&mut self.affinity, later.affinity);
        over(&mut self.hash_key, later.hash_key);
        over(&mut self.isolation, later.isolation);
        over(&mut self.max_processes, later.max_processes);
        over(&mut self.process_idle_timeout, later.process_idle_timeout);
        over(&mut self.allow_tools, later.allow_tools);
        over(&mut self.deny_tools, later.deny_tools);
        over_map(&mut self.rename_tools, later.rename_tools);
        over_map(&mut self.timeouts, later.timeouts);
        over(&mut self.max_request_time, later.max_request_time);
        over(&mut self.retries, later.retries);
        self.breaker.merge(later.breaker);
        over(&mut self.max_concurrency, later.max_concurrency);
        over(&mut self.rate_limit, later.rate_limit);
        over_map(&mut self.tool_rate_limits, later.tool_rate_limits);
        over(&mut self.description, later.description);
    }
}

impl BreakerLayer {
    fn merge(&mut self, later: BreakerLayer) {
        over(&mut self.failures, later.failures);
        over(&mut self.failure_rate, later.failure_rate);
        over(&mut self.min_requests, later.min_requests);
        over(&mut self.window, later.window);
        over(&mut self.open_for, later.open_for);
    }
}
