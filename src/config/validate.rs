//! Checks on the merged configuration, and the step from layers to [`Config`].
//!
//! Per-file reading has already checked syntax, keys and value types; what is
//! left needs the merged view (a later file may supply what an earlier one
//! lacks) or a value's meaning: addresses, names, ranges, and which keys go
//! with which transport. Each error points at the value that set it, so it
//! names the right file even after a merge.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::document::key_path;
use super::error::{ConfigError, Pos};
use super::layer::{At, BreakerLayer, Entries, GatewayLayer, Layer, RouteLayer, ServerLayer};
use super::suggest;
use super::unsupported::unsupported_yet;
use super::{
    Affinity, Balance, BreakerConfig, Config, DEFAULT_HEALTH_FAILURES, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT,
    DEFAULT_INIT_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_NAME_LENGTH, DEFAULT_MAX_PROCESSES,
    DEFAULT_MAX_REQUEST_TIME, DEFAULT_PROCESS_IDLE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET_PERCENT, DEFAULT_ROUTE_CACHE_TTL, DEFAULT_SEPARATOR, DEFAULT_SERVER_NAME,
    DEFAULT_SESSION_IDLE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, DEFAULT_STATE_DIR, GatewayConfig, HashKey, Isolation,
    MIN_MAX_NAME_LENGTH, PrefixMode, RouteAction, RouteRule, ServerConfig, TransportKind,
};

/// The most `retries` a server may have.
const MAX_RETRIES: u32 = 10;

/// Validates `layer` and fills in defaults. Problems are appended to `errors`;
/// the returned `Config` is only meaningful when none were.
pub(crate) fn finish(
    layer: Layer,
    sources: Vec<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Config {
    let not_yet = unsupported_yet(&layer);
    let mut check = Check {
        errors: Vec::new(),
        env,
        merged: sources.len() > 1,
        fallback_file: sources.first().map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string()),
    };
    let server_ids: Vec<String> = layer.servers.keys().cloned().collect();
    let gateway = check.gateway(layer.gateway);
    let servers = layer
        .servers
        .into_iter()
        .map(|(id, server)| {
            let server = check.server(&id, server, &gateway.separator);
            (id, server)
        })
        .collect();
    let ids: Vec<&str> = server_ids.iter().map(String::as_str).collect();
    let routes = layer.routes.into_iter().filter_map(|route| check.route(route, &ids)).collect();
    errors.extend(check.errors);
    errors.extend(not_yet);
    Config { gateway, servers, routes, sources }
}

struct Check<'a> {
    errors: Vec<ConfigError>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// More than one file: say so where an error is about the combination.
    merged: bool,
    /// Named by errors about defaults, which have no position.
    fallback_file: String,
}

/// The value, or `default` when no file set it.
fn or<T>(value: Option<At<T>>, default: T) -> T {
    value.map_or(default, |at| at.value)
}

/// A table's entries without their positions (empty when no file set it).
fn values<T>(entries: Option<At<Entries<T>>>) -> BTreeMap<String, T> {
    entries.map(|at| at.value.into_iter().map(|(k, v)| (k, v.value)).collect()).unwrap_or_default()
}

impl Check<'_> {
    fn fail(&mut self, pos: &Pos, message: String) {
        self.errors.push(ConfigError::at(pos, message));
    }

    /// Runs `test` on the value, if set, and records its complaint.
    fn expect<T>(&mut self, at: &Option<At<T>>, path: &str, test: impl FnOnce(&T) -> Result<(), String>) {
        if let Some(at) = at
            && let Err(why) = test(&at.value)
        {
            self.fail(&at.pos, format!("{path}: {why}"));
        }
    }

    fn in_merged(&self) -> &'static str {
        if self.merged { " (in the merged configuration)" } else { "" }
    }

    fn gateway(&mut self, g: GatewayLayer) -> GatewayConfig {
        self.expect(&g.listen, "gateway.listen", |v| {
            v.parse::<SocketAddr>().map(drop).map_err(|_| {
                format!(
                    "\"{v}\" is not a socket address: expected an IP address and port such as \
                     \"127.0.0.1:3000\" or \"[::1]:3000\" (host names are not accepted)"
                )
            })
        });
        self.expect(&g.separator, "gateway.separator", |v| separator_problem(v));
        self.expect(&g.max_message_size, "gateway.max_message_size", |&v| {
            positive(v == 0, "a size of at least 1 byte, such as \"16MiB\"")
        });
        self.expect(&g.max_name_length, "gateway.max_name_length", |&v| {
            if v < MIN_MAX_NAME_LENGTH {
                Err(format!("{v} is too small: expected at least {MIN_MAX_NAME_LENGTH} (room for a short hash)"))
            } else {
                Ok(())
            }
        });
        self.expect(&g.server_name, "gateway.server_name", |v| {
            positive(v.trim().is_empty(), "a non-empty name such as \"vmcp\"")
        });
        if let Some(origins) = &g.allowed_origins {
            for (i, origin) in origins.value.iter().enumerate() {
                if let Err(why) = check_origin(origin) {
                    let pos = origins.pos.clone();
                    self.fail(&pos, format!("gateway.allowed_origins[{i}]: {why}"));
                }
            }
        }
        self.expect(&g.request_timeout, "gateway.request_timeout", |v| non_zero(*v));
        self.expect(&g.init_timeout, "gateway.init_timeout", |v| non_zero(*v));
        self.expect(&g.session_idle_timeout, "gateway.session_idle_timeout", |v| non_zero(*v));
        self.expect(&g.health_timeout, "gateway.health_timeout", |v| non_zero(*v));
        self.expect(&g.admin_listen, "gateway.admin_listen", |v| match v.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => Ok(()),
            Ok(a) => Err(format!("{a} is not a loopback address: the admin API never listens beyond this machine")),
            Err(_) => Err(format!("expected an address such as \"127.0.0.1:3001\", not {v:?}")),
        });
        self.expect(&g.admin_token, "gateway.admin_token", |v| {
            if v.len() < 16 {
                Err("must be at least 16 characters (use ${VAR} to keep it out of the file)".to_owned())
            } else {
                Ok(())
            }
        });
        if let (Some(at), None) = (&g.admin_listen, &g.admin_token) {
            self.fail(
                &at.pos,
                "gateway.admin_listen needs gateway.admin_token: the admin API is never reachable over TCP without one"
                    .to_owned(),
            );
        }
        self.expect(&g.health_failures, "gateway.health_failures", |&v| {
            if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) }
        });
        self.expect(&g.max_request_time, "gateway.max_request_time", |v| non_zero(*v));
        let state_dir = match g.state_dir {
            Some(at) if at.value.is_empty() => {
                self.fail(&at.pos, "gateway.state_dir: must not be empty: expected a directory".to_owned());
                PathBuf::new()
            }
            Some(at) => self.expand_home(&at.value, Some(&at.pos), "gateway.state_dir"),
            None => self.expand_home(DEFAULT_STATE_DIR, None, "gateway.state_dir"),
        };
        GatewayConfig {
            listen: or(g.listen, DEFAULT_LISTEN.to_owned()),
            separator: or(g.separator, DEFAULT_SEPARATOR.to_owned()),
            prefix: or(g.prefix, PrefixMode::default()),
            state_dir,
            max_message_size: or(g.max_message_size, DEFAULT_MAX_MESSAGE_SIZE),
            max_name_length: or(g.max_name_length, DEFAULT_MAX_NAME_LENGTH),
            server_name: or(g.server_name, DEFAULT_SERVER_NAME.to_owned()),
            allowed_origins: or(g.allowed_origins, Vec::new()),
            request_timeout: or(g.request_timeout, DEFAULT_REQUEST_TIMEOUT),
            init_timeout: or(g.init_timeout, DEFAULT_INIT_TIMEOUT),
            shutdown_grace: or(g.shutdown_grace, DEFAULT_SHUTDOWN_GRACE),
            session_idle_timeout: or(g.session_idle_timeout, DEFAULT_SESSION_IDLE_TIMEOUT),
            health_interval: or(g.health_interval, DEFAULT_HEALTH_INTERVAL),
            health_timeout: or(g.health_timeout, DEFAULT_HEALTH_TIMEOUT),
            health_failures: or(g.health_failures, DEFAULT_HEALTH_FAILURES),
            admin_listen: g.admin_listen.map(|at| at.value),
            admin_token: g.admin_token.map(|at| at.value),
            max_concurrency: or(g.max_concurrency, 0),
            rate_limit: g.rate_limit.map(|at| at.value),
            max_request_time: or(g.max_request_time, DEFAULT_MAX_REQUEST_TIME),
            retry_budget_percent: or(g.retry_budget, DEFAULT_RETRY_BUDGET_PERCENT),
            route_cache_ttl: or(g.route_cache_ttl, DEFAULT_ROUTE_CACHE_TTL),
        }
    }

    /// Expands a leading `~` or `~/` with `$HOME`.
    fn expand_home(&mut self, path: &str, pos: Option<&Pos>, what: &str) -> PathBuf {
        let rest = match path.strip_prefix('~') {
            Some("") => "",
            Some(rest) if rest.starts_with('/') => &rest[1..],
            _ => return PathBuf::from(path),
        };
        match (self.env)("HOME").filter(|home| !home.is_empty()) {
            Some(home) => PathBuf::from(home).join(rest),
            None => {
                let message = format!(
                    "{what}: cannot expand `~` in \"{path}\": HOME is not set; set HOME or use an absolute path"
                );
                match pos {
                    Some(pos) => self.fail(pos, message),
                    None => self.errors.push(ConfigError::in_file(
                        self.fallback_file.clone(),
                        format!("{message} (this is the default)"),
                    )),
                }
                PathBuf::from(path)
            }
        }
    }

    fn server(&mut self, id: &str, s: ServerLayer, separator: &str) -> ServerConfig {
        let p = |key: &str| format!("servers.{id}.{key}");
        let transport = s.transport.as_ref().map_or(TransportKind::Stdio, |t| t.value);
        let network = transport != TransportKind::Stdio;

        self.expect(&s.command, &p("command"), |v| {
            positive(v.trim().is_empty(), "the program to run, such as \"uvx\"")
        });
        if network {
            self.expect(&s.url, &p("url"), |v| check_url(transport, v));
            for (i, endpoint) in s.urls.iter().flat_map(|urls| urls.value.iter().enumerate()) {
                if let Err(why) = check_url(transport, &endpoint.value.url) {
                    self.fail(&endpoint.pos, format!("{}[{i}]: {why}", p("urls")));
                }
            }
        }
        self.expect(&s.replicas, &p("replicas"), |&v| positive(v == 0, "at least 1"));
        self.expect(&s.max_processes, &p("max_processes"), |&v| positive(v == 0, "at least 1"));
        self.expect(&s.process_idle_timeout, &p("process_idle_timeout"), |v| non_zero(*v));
        self.expect(&s.max_request_time, &p("max_request_time"), |v| non_zero(*v));
        self.expect(&s.retries, &p("retries"), |&v| {
            if v > MAX_RETRIES { Err(format!("{v} is too many: expected at most {MAX_RETRIES}")) } else { Ok(()) }
        });
        for (method, timeout) in s.timeouts.iter().flat_map(|timeouts| &timeouts.value) {
            if let Err(why) = non_zero(timeout.value) {
                self.fail(&timeout.pos, format!("{}: {why}", key_path(&p("timeouts"), method)));
            }
        }
        self.renames(id, &s, separator);
        self.breaker(id, &s.breaker);
        self.expect(&s.request_timeout, &p("request_timeout"), |v| non_zero(*v));
        self.expect(&s.health_timeout, &p("health_timeout"), |v| non_zero(*v));
        self.expect(&s.health_failures, &p("health_failures"), |&v| {
            if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) }
        });
        if separator_problem(separator).is_ok() && id.contains(separator) {
            let pos = s.defined_at.clone();
            self.fail(
                &pos,
                format!(
                    "server id `{id}` contains the separator \"{separator}\": names like \
                     \"{id}{separator}tool\" would be ambiguous; rename the server or change gateway.separator"
                ),
            );
        }
        if !s.broken {
            self.transport_keys(id, transport, &s);
            self.group_keys(id, &s);
        }

        let cwd = s.cwd.map(|at| self.expand_home(&at.value, Some(&at.pos), &p("cwd")));
        let ca_file = s.ca_file.map(|at| self.expand_home(&at.value, Some(&at.pos), &p("ca_file")));
        ServerConfig {
            transport,
            command: s.command.map(|at| at.value),
            args: or(s.args, Vec::new()),
            env: or(s.env, BTreeMap::new()),
            cwd,
            ca_file,
            url: s.url.map(|at| at.value),
            headers: or(s.headers, BTreeMap::new()),
            request_timeout: s.request_timeout.map(|at| at.value),
            health_interval: s.health_interval.map(|at| at.value),
            health_timeout: s.health_timeout.map(|at| at.value),
            health_failures: s.health_failures.map(|at| at.value),
            enabled: or(s.enabled, true),
            required: or(s.required, false),
            replicas: or(s.replicas, 1),
            urls: s.urls.map(|at| at.value.into_iter().map(|endpoint| endpoint.value).collect()).unwrap_or_default(),
            balance: or(s.balance, Balance::default()),
            affinity: or(s.affinity, Affinity::default()),
            hash_key: or(s.hash_key, HashKey::default()),
            isolation: or(s.isolation, Isolation::default()),
            max_processes: or(s.max_processes, DEFAULT_MAX_PROCESSES),
            process_idle_timeout: or(s.process_idle_timeout, DEFAULT_PROCESS_IDLE_TIMEOUT),
            allow_tools: or(s.allow_tools, Vec::new()),
            deny_tools: or(s.deny_tools, Vec::new()),
            rename_tools: values(s.rename_tools),
            timeouts: values(s.timeouts),
            max_request_time: s.max_request_time.map(|at| at.value),
            retries: or(s.retries, DEFAULT_RETRIES),
            breaker: breaker_config(s.breaker),
            max_concurrency: or(s.max_concurrency, 0),
            rate_limit: s.rate_limit.map(|at| at.value),
            tool_rate_limits: values(s.tool_rate_limits),
            description: s.description.map(|at| at.value),
        }
    }

    /// `rename_tools`: every new name non-empty, free of the separator, and
    /// given to one tool only.
    fn renames(&mut self, id: &str, s: &ServerLayer, separator: &str) {
        let Some(renames) = &s.rename_tools else {
            return;
        };
        let base = format!("servers.{id}.rename_tools");
        let mut taken: BTreeMap<&str, &str> = BTreeMap::new();
        for (old, new) in &renames.value {
            let path = key_path(&base, old);
            let name = new.value.as_str();
            if name.is_empty() {
                self.fail(&new.pos, format!("{path}: expected a non-empty new name"));
            } else if separator_problem(separator).is_ok() && name.contains(separator) {
                self.fail(
                    &new.pos,
                    format!(
                        "{path}: \"{name}\" contains the separator \"{separator}\": exposed names like \
                         \"{id}{separator}{name}\" would be ambiguous"
                    ),
                );
            } else if let Some(first) = taken.get(name) {
                let message =
                    format!("{path}: \"{name}\" is already the new name of `{first}`: two tools cannot share a name");
                self.fail(&new.pos, message);
            } else {
                taken.insert(name, old);
            }
        }
    }

    fn breaker(&mut self, id: &str, b: &BreakerLayer) {
        let p = |key: &str| format!("servers.{id}.breaker.{key}");
        self.expect(&b.min_requests, &p("min_requests"), |&v| positive(v == 0, "at least 1"));
        self.expect(&b.window, &p("window"), |v| non_zero(*v));
        self.expect(&b.open_for, &p("open_for"), |v| non_zero(*v));
    }

    /// The keys of server groups that only go with certain others.
    fn group_keys(&mut self, id: &str, s: &ServerLayer) {
        let merged = self.in_merged();
        if let Some(hash_key) = &s.hash_key {
            let balance = s.balance.as_ref().map_or(Balance::default(), |at| at.value);
            if balance != Balance::ConsistentHash {
                self.fail(
                    &hash_key.pos,
                    format!(
                        "servers.{id}.hash_key: hash_key only applies to balance = \"consistent_hash\" \
                         (this server's balance is \"{}\"){merged}",
                        balance.as_str()
                    ),
                );
            }
        }
        if let (Some(replicas), Some(_)) = (&s.replicas, &s.urls)
            && replicas.value > 1
        {
            self.fail(
                &replicas.pos,
                format!(
                    "servers.{id}.replicas: replicas > 1 cannot go with `urls`: the replicas are the urls \
                     (one per endpoint){merged}"
                ),
            );
        }
    }

    /// One `[[route]]`, checked and built; `None` when it has a problem.
    fn route(&mut self, r: RouteLayer, servers: &[&str]) -> Option<RouteRule> {
        if r.broken {
            return None;
        }
        let errors_before = self.errors.len();
        let name = format!("route[{}]", r.index);
        let deny = r.deny.as_ref().is_some_and(|at| at.value);
        match (&r.to, deny) {
            (Some(_), true) => self.fail(&r.at, format!("{name}: give either `to` or `deny = true`, not both")),
            (None, false) => {
                self.fail(
                    &r.at,
                    format!("{name}: needs `to = \"<server id>\"` or `deny = true`: what to do with a match"),
                );
            }
            _ => {}
        }
        if r.method.is_none() && r.tool.is_none() && r.prompt.is_none() && r.resource.is_none() {
            self.fail(
                &r.at,
                format!(
                    "{name}: needs at least one of `method`, `tool`, `prompt`, `resource`: \
                     which requests it matches (method = \"*\" matches all)"
                ),
            );
        }
        if let Some(reason) = &r.reason
            && !deny
        {
            self.fail(&reason.pos, format!("{name}.reason: `reason` only goes with `deny = true`"));
        }
        if let Some(to) = &r.to
            && !servers.contains(&to.value.as_str())
        {
            let hint = if servers.is_empty() {
                "; no servers are configured".to_owned()
            } else {
                suggest::hint(&to.value, servers)
            };
            let merged = self.in_merged();
            self.fail(&to.pos, format!("{name}.to: no server `{}` is configured{merged}{hint}", to.value));
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let action = match r.to {
            Some(to) if !deny => RouteAction::To(to.value),
            _ => RouteAction::Deny(r.reason.map(|at| at.value)),
        };
        Some(RouteRule {
            method: r.method.map(|at| at.value),
            tool: r.tool.map(|at| at.value),
            prompt: r.prompt.map(|at| at.value),
            resource: r.resource.map(|at| at.value),
            action,
        })
    }

    /// Which keys a transport needs and which it cannot use.
    fn transport_keys(&mut self, id: &str, transport: TransportKind, s: &ServerLayer) {
        let where_ = s.transport.as_ref().map_or(&s.defined_at, |t| &t.pos).clone();
        let merged = self.in_merged();
        if transport == TransportKind::Stdio {
            if s.command.is_none() {
                self.fail(
                    &where_,
                    format!(
                        "server `{id}`: transport \"stdio\" needs `command`, the program to run \
                         (such as command = \"uvx\"){merged}"
                    ),
                );
            }
            let misplaced = [
                ("url", pos_of(&s.url)),
                ("urls", pos_of(&s.urls)),
                ("headers", pos_of(&s.headers)),
                ("ca_file", pos_of(&s.ca_file)),
            ];
            for (key, pos) in misplaced {
                if let Some(pos) = pos {
                    self.fail(
                        &pos,
                        format!(
                            "servers.{id}.{key}: `{key}` is for http, sse and websocket servers, \
                             but this server's transport is \"stdio\" (set transport = \"http\" to reach it by URL)"
                        ),
                    );
                }
            }
        } else {
            match (&s.url, &s.urls) {
                (None, None) => {
                    let example =
                        if transport == TransportKind::Websocket { "wss://host/mcp" } else { "https://host/mcp" };
                    self.fail(
                        &where_,
                        format!(
                            "server `{id}`: transport \"{transport}\" needs `url` (such as url = \"{example}\") \
                             or `urls`{merged}"
                        ),
                    );
                }
                (Some(_), Some(urls)) => {
                    self.fail(&urls.pos, format!("servers.{id}.urls: give either `url` or `urls`, not both{merged}"));
                }
                (None, Some(urls)) if urls.value.is_empty() => {
                    self.fail(
                        &urls.pos,
                        format!("servers.{id}.urls: expected at least one URL, such as [\"https://host/mcp\"]"),
                    );
                }
                _ => {}
            }
            if let Some(isolation) = &s.isolation
                && isolation.value == Isolation::PerSession
            {
                self.fail(
                    &isolation.pos,
                    format!(
                        "servers.{id}.isolation: \"per_session\" (a process for each client session) is for stdio \
                         servers, but this server's transport is \"{transport}\"{merged}"
                    ),
                );
            }
            let misplaced = [
                ("command", pos_of(&s.command)),
                ("args", pos_of(&s.args)),
                ("env", pos_of(&s.env)),
                ("cwd", pos_of(&s.cwd)),
            ];
            for (key, pos) in misplaced {
                if let Some(pos) = pos {
                    self.fail(
                        &pos,
                        format!(
                            "servers.{id}.{key}: `{key}` is for stdio servers, but this server's \
                             transport is \"{transport}\" (it is reached at `url`)"
                        ),
                    );
                }
            }
        }
    }
}

/// The breaker's settings over its defaults.
fn breaker_config(b: BreakerLayer) -> BreakerConfig {
    let d = BreakerConfig::default();
    BreakerConfig {
        failures: or(b.failures, d.failures),
        failure_rate: or(b.failure_rate, d.failure_rate),
        min_requests: or(b.min_requests, d.min_requests),
        window: or(b.window, d.window),
        open_for: or(b.open_for, d.open_for),
    }
}

fn separator_problem(v: &str) -> Result<(), String> {
    if v.is_empty() {
        Err("must not be empty: expected 1 to 8 characters such as \"__\"".to_owned())
    } else if v.chars().count() > 8 {
        Err(format!("\"{v}\" is too long: expected at most 8 characters"))
    } else if v.chars().any(char::is_whitespace) {
        Err(format!("\"{v}\" contains whitespace: expected visible characters such as \"__\""))
    } else {
        Ok(())
    }
}

fn pos_of<T>(at: &Option<At<T>>) -> Option<Pos> {
    at.as_ref().map(|at| at.pos.clone())
}

fn positive(bad: bool, expected: &str) -> Result<(), String> {
    if bad { Err(format!("expected {expected}")) } else { Ok(()) }
}

fn non_zero(d: Duration) -> Result<(), String> {
    positive(d.is_zero(), "a duration greater than zero, such as \"30s\"")
}

/// A URL of the scheme the transport speaks, with something after the scheme.
fn check_url(transport: TransportKind, url: &str) -> Result<(), String> {
    let (plain, secure) = match transport {
        TransportKind::Websocket => ("ws://", "wss://"),
        _ => ("http://", "https://"),
    };
    let rest = url.strip_prefix(plain).or_else(|| url.strip_prefix(secure));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        Some(_) => Err(format!("\"{url}\" has no host: expected a URL such as \"{secure}host/mcp\"")),
        None => Err(format!("\"{url}\" is not a {transport} URL: expected one starting with {plain} or {secure}")),
    }
}

/// An Origin header value: `scheme://host[:port]`, nothing after.
fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => Ok(()),
        _ => Err(format!(
            "\"{origin}\" is not an origin: expected scheme://host[:port] with no path, \
             such as \"https://app.example.com\""
        )),
    }
}
