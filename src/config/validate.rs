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

use super::error::{ConfigError, Pos};
use super::layer::{At, GatewayLayer, Layer, ServerLayer};
use super::suggest;
use super::unsupported::unsupported_yet;
use super::{
    BALANCE_STRATEGIES, Config, DEFAULT_HEALTH_FAILURES, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT,
    DEFAULT_INIT_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_NAME_LENGTH, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SEPARATOR, DEFAULT_SERVER_NAME, DEFAULT_SESSION_IDLE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, DEFAULT_STATE_DIR,
    GatewayConfig, MIN_MAX_NAME_LENGTH, PrefixMode, ServerConfig, TransportKind,
};

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
    let gateway = check.gateway(layer.gateway);
    let servers = layer
        .servers
        .into_iter()
        .map(|(id, server)| {
            let server = check.server(&id, server, &gateway.separator);
            (id, server)
        })
        .collect();
    errors.extend(check.errors);
    errors.extend(not_yet);
    Config { gateway, servers, sources }
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
        }
        self.expect(&s.replicas, &p("replicas"), |&v| positive(v == 0, "at least 1"));
        self.expect(&s.request_timeout, &p("request_timeout"), |v| non_zero(*v));
        self.expect(&s.health_timeout, &p("health_timeout"), |v| non_zero(*v));
        self.expect(&s.health_failures, &p("health_failures"), |&v| {
            if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) }
        });
        self.expect(&s.balance, &p("balance"), |v| {
            if BALANCE_STRATEGIES.contains(&v.as_str()) {
                Ok(())
            } else {
                let hint = suggest::hint(v, BALANCE_STRATEGIES);
                Err(format!("unknown strategy \"{v}\"{hint}"))
            }
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
            balance: s.balance.map(|at| at.value),
            description: s.description.map(|at| at.value),
        }
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
            let misplaced = [("url", pos_of(&s.url)), ("headers", pos_of(&s.headers)), ("ca_file", pos_of(&s.ca_file))];
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
            if s.url.is_none() {
                let example = if transport == TransportKind::Websocket { "wss://host/mcp" } else { "https://host/mcp" };
                self.fail(
                    &where_,
                    format!(
                        "server `{id}`: transport \"{transport}\" needs `url` (such as url = \"{example}\"){merged}"
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
