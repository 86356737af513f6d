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
//! first. Keeping positions through the
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
    /// `[auth]`, if any file has it.
    pub auth: Option<AuthLayer>,
    /// `[[policy]]`, in file order (and, merged, in file order of the files).
    pub policies: Vec<PolicyLayer>,
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
    pub allow_unauthenticated: Option<At<bool>>,
    pub audit_log: Option<At<String>>,
    pub audit_arguments: Option<At<bool>>,
    pub max_sessions: Option<At<u32>>,
    pub max_json_depth: Option<At<u32>>,
    pub tls_cert: Option<At<String>>,
    pub tls_key: Option<At<String>>,
    pub tls_client_ca: Option<At<String>>,
    pub max_connections: Option<At<u32>>,
    pub max_header_size: Option<At<usize>>,
    pub read_timeout: Option<At<Duration>>,
    pub write_timeout: Option<At<Duration>>,
    pub keepalive: Option<At<Duration>>,
    pub worker_threads: Option<At<u32>>,
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

/// `[auth]`.
#[derive(Debug, Clone)]
pub(crate) struct AuthLayer {
    /// Where `[auth]` was first written (its key).
    pub at: Pos,
    /// Some key could not be read: the checks that combine keys are skipped.
    pub broken: bool,
    /// Each key positioned at its table.
    pub api_keys: Option<At<Vec<ApiKeyLayer>>>,
    pub jwt: Option<JwtLayer>,
    pub resource: Option<At<String>>,
    /// Each URL positioned at its own value.
    pub authorization_servers: Option<At<Vec<At<String>>>>,
    pub scopes_supported: Option<At<Vec<String>>>,
}

/// One `{ name = "...", sha256 = "...", roles = [...] }` of `[auth] api_keys`.
#[derive(Debug, Clone)]
pub(crate) struct ApiKeyLayer {
    pub name: At<String>,
    pub sha256: At<String>,
    pub roles: Vec<String>,
}

/// `[auth.jwt]`.
#[derive(Debug, Clone)]
pub(crate) struct JwtLayer {
    /// Where `jwt` was first written (its key).
    pub at: Pos,
    /// Each algorithm positioned at its own value.
    pub algorithms: Option<At<Vec<At<String>>>>,
    pub secret: Option<At<String>>,
    pub public_key_file: Option<At<String>>,
    pub jwks_url: Option<At<String>>,
    pub jwks_refresh: Option<At<Duration>>,
    pub issuer: Option<At<String>>,
    pub audience: Option<At<Vec<String>>>,
    pub subject_claim: Option<At<String>>,
    pub roles_claim: Option<At<String>>,
    pub leeway: Option<At<Duration>>,
}

/// One `[[policy]]` table.
#[derive(Debug, Clone)]
pub(crate) struct PolicyLayer {
    /// Where the table starts (its `[[policy]]` header).
    pub at: Pos,
    /// Its place among its file's policies, from 0: errors call it `policy[<index>]`.
    pub index: usize,
    /// Some key could not be read: the checks that combine keys are skipped.
    pub broken: bool,
    pub roles: Option<At<Vec<String>>>,
    pub principals: Option<At<Vec<String>>>,
    pub allow: Option<At<Vec<String>>>,
    pub deny: Option<At<Vec<String>>>,
}

impl AuthLayer {
    pub fn new(at: Pos) -> Self {
        Self {
            at,
            broken: false,
            api_keys: None,
            jwt: None,
            resource: None,
            authorization_servers: None,
            scopes_supported: None,
        }
    }
}

impl JwtLayer {
    pub fn new(at: Pos) -> Self {
        Self {
            at,
            algorithms: None,
            secret: None,
            public_key_file: None,
            jwks_url: None,
            jwks_refresh: None,
            issuer: None,
            audience: None,
            subject_claim: None,
            roles_claim: None,
            leeway: None,
        }
    }
}

impl PolicyLayer {
    pub fn new(at: Pos, index: usize) -> Self {
        Self { at, index, broken: false, roles: None, principals: None, allow: None, deny: None }
    }
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
        match (self.auth.as_mut(), later.auth) {
            (Some(earlier), Some(later)) => earlier.merge(later),
            (None, later) => self.auth = later,
            (Some(_), None) => {}
        }
        self.policies.extend(later.policies);
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
        over(&mut self.allow_unauthenticated, later.allow_unauthenticated);
        over(&mut self.audit_log, later.audit_log);
        over(&mut self.audit_arguments, later.audit_arguments);
        over(&mut self.max_sessions, later.max_sessions);
        over(&mut self.max_json_depth, later.max_json_depth);
        over(&mut self.tls_cert, later.tls_cert);
        over(&mut self.tls_key, later.tls_key);
        over(&mut self.tls_client_ca, later.tls_client_ca);
        over(&mut self.max_connections, later.max_connections);
        over(&mut self.max_header_size, later.max_header_size);
        over(&mut self.read_timeout, later.read_timeout);
        over(&mut self.write_timeout, later.write_timeout);
        over(&mut self.keepalive, later.keepalive);
        over(&mut self.worker_threads, later.worker_threads);
    }
}

impl AuthLayer {
    fn merge(&mut self, later: AuthLayer) {
        // `at` stays the first definition.
        self.broken |= later.broken;
        over(&mut self.api_keys, later.api_keys);
        match (self.jwt.as_mut(), later.jwt) {
            (Some(earlier), Some(later)) => earlier.merge(later),
            (None, later) => self.jwt = later,
            (Some(_), None) => {}
        }
        over(&mut self.resource, later.resource);
        over(&mut self.authorization_servers, later.authorization_servers);
        over(&mut self.scopes_supported, later.scopes_supported);
    }
}

impl JwtLayer {
    fn merge(&mut self, later: JwtLayer) {
        // `at` stays the first definition.
        over(&mut self.algorithms, later.algorithms);
        over(&mut self.secret, later.secret);
        over(&mut self.public_key_file, later.public_key_file);
        over(&mut self.jwks_url, later.jwks_url);
        over(&mut self.jwks_refresh, later.jwks_refresh);
        over(&mut self.issuer, later.issuer);
        over(&mut self.audience, later.audience);
        over(&mut self.subject_claim, later.subject_claim);
        over(&mut self.roles_claim, later.roles_claim);
        over(&mut self.leeway, later.leeway);
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
