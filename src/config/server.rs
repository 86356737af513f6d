//! `[servers.<id>]`: one backend MCP server, and its `[servers.<id>.breaker]`.
//!
//! Both tables are declared once below (see `table.rs`): each key's field,
//! kind, default and own check. The structural keys (`urls`, `timeouts`, the
//! per-entry tables) are kinds of their own (`kinds.rs`); `breaker`, a table
//! of the server's own, is the [`Breaker`] kind below. What combines keys
//! (which keys a transport needs or cannot use, the keys of server groups,
//! renamed tools, the separator in the id) is said by hand in
//! [`Check::server`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use super::at::At;
use super::check::{Check, check_url, non_zero, pos_of, positive, separator_problem, unpositioned, values};
use super::error::Pos;
use super::kinds::{
    Bool, Dur, EntriesOf, Globs, Keyword, Kind, Map, Percent, Plain, Rate, Str, Strings, Timeouts, U32, Urls,
};
use super::reader::{Reader, key_path};
use super::suggest;
use super::table::config_table;
use super::values::{
    Affinity, Balance, DEFAULT_MAX_PROCESSES, DEFAULT_PROCESS_IDLE_TIMEOUT, DEFAULT_RETRIES, Endpoint, HashKey,
    Isolation, RateLimit, TransportKind,
};

/// The most `retries` a server may have.
const MAX_RETRIES: u32 = 10;

config_table! {
    /// `[servers.<id>]`: one backend MCP server.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ServerConfig;
    layer ServerLayer {
        // Where the server's id was first written.
        defined_at: Pos,
        // Some key of this server could not be read; checks that combine keys
        // are skipped for it, since a missing key may only be an unreadable one.
        broken: bool,
    }
    /// The keys of `[servers.<id>]`.
    keys SERVER_KEYS;
    merge merge_keys;
    table {
        transport: TransportKind = Plain<TransportKind>, default TransportKind::Stdio;
        /// stdio: the program to run.
        command: Option<String> = Str, default None,
            check |v| positive(v.trim().is_empty(), "the program to run, such as \"uvx\"");
        /// stdio: its arguments.
        args: Vec<String> = Strings, default Vec::new();
        /// stdio: extra environment variables.
        env: BTreeMap<String, String> = Map<String>, default BTreeMap::new();
        /// stdio: working directory; `~` expanded.
        cwd: Option<PathBuf> = Str, default None,
            build |c, at, path| at.map(|at| c.expand_home(&at.value, Some(&at.pos), path));
        /// http, sse, websocket: the endpoint.
        url: Option<String> = Str, default None;
        /// http, sse, websocket: extra request headers.
        headers: BTreeMap<String, String> = Map<String>, default BTreeMap::new();
        /// Remote transports: a PEM file of CA certificates trusted besides the system's.
        ca_file: Option<PathBuf> = Str, default None,
            build |c, at, path| at.map(|at| c.expand_home(&at.value, Some(&at.pos), path));
        /// Overrides `[gateway] request_timeout` for this server.
        request_timeout: Option<Duration> = Dur, default None, check |v| non_zero(*v);
        /// Overrides of the gateway's health-check settings for this server.
        health_interval: Option<Duration> = Dur, default None;
        health_timeout: Option<Duration> = Dur, default None, check |v| non_zero(*v);
        health_failures: Option<u32> = U32, default None,
            check |&v| if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) };
        enabled: bool = Bool, default true;
        /// Readiness (`/readyz`) waits for required servers.
        required: bool = Bool, default false;
        /// stdio: how many processes to run (each one a replica).
        replicas: u32 = U32, default 1, check |&v| positive(v == 0, "at least 1");
        /// http, sse, websocket: several endpoints, each one a replica (instead of
        /// `url`). Empty when `url` is given: that is one endpoint of weight 1.
        urls: Vec<Endpoint> = Urls, default Vec::new(),
            build |_, at, _| at.map(|urls| unpositioned(urls.value)).unwrap_or_default();
        /// How a request picks a replica.
        balance: Balance = Keyword<Balance>, default Balance::default();
        /// Whether a client session keeps to the replica it first used.
        affinity: Affinity = Keyword<Affinity>, default Affinity::default();
        /// What `consistent_hash` hashes.
        hash_key: HashKey = Keyword<HashKey>, default HashKey::default();
        /// stdio: one process for every client session, or one each.
        isolation: Isolation = Keyword<Isolation>, default Isolation::default();
        /// `isolation = "per_session"`: at most this many processes at once.
        max_processes: u32 = U32, default DEFAULT_MAX_PROCESSES, check |&v| positive(v == 0, "at least 1");
        /// `isolation = "per_session"`: a process unused this long is stopped.
        process_idle_timeout: Duration = Dur, default DEFAULT_PROCESS_IDLE_TIMEOUT, check |v| non_zero(*v);
        /// Globs over the server's own tool names: only these are exposed (empty: all).
        allow_tools: Vec<String> = Globs, default Vec::new();
        /// Globs over the server's own tool names: these are hidden (after `allow_tools`).
        deny_tools: Vec<String> = Globs, default Vec::new();
        /// The server's tool name -> the name exposed instead (before the prefix).
        rename_tools: BTreeMap<String, String> = EntriesOf<Str>, default BTreeMap::new(), build |_, at, _| values(at);
        /// Timeouts by request method (such as "tools/call"), over `request_timeout`.
        timeouts: BTreeMap<String, Duration> = Timeouts, default BTreeMap::new(), build |_, at, _| values(at);
        /// Overrides `[gateway] max_request_time` for this server.
        max_request_time: Option<Duration> = Dur, default None, check |v| non_zero(*v);
        /// How many times a request that is safe to repeat is retried on another replica.
        retries: u32 = U32, default DEFAULT_RETRIES,
            check |&v| {
                if v > MAX_RETRIES { Err(format!("{v} is too many: expected at most {MAX_RETRIES}")) } else { Ok(()) }
            };
        /// The circuit breaker each replica has.
        breaker: BreakerConfig = Breaker, default BreakerConfig::default(),
            build |c, at, path| {
                let breaker = at.map_or_else(BreakerLayer::new, |at| at.value);
                breaker.check_keys(c, path);
                breaker.build(c, path)
            };
        /// Requests in flight to this server at once (0: no limit).
        max_concurrency: u32 = U32, default 0;
        /// Requests per unit of time to this server, all clients together.
        rate_limit: Option<RateLimit> = Rate, default None;
        /// Per tool (the server's own name), all clients together.
        tool_rate_limits: BTreeMap<String, RateLimit> = EntriesOf<Rate>, default BTreeMap::new(),
            build |_, at, _| values(at);
        description: Option<String> = Str, default None;
    }
}

config_table! {
    /// `[servers.<id>.breaker]`: when a replica's circuit opens.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BreakerConfig;
    layer BreakerLayer {}
    /// The keys of `[servers.<id>.breaker]`.
    keys BREAKER_KEYS;
    merge merge;
    table {
        /// Opens after this many failures in a row (0: never on this rule).
        failures: u32 = U32, default 5;
        /// Opens when at least this percentage of the requests in `window` failed
        /// (0: never on this rule) ...
        failure_rate: u32 = Percent, default 50;
        /// ... and there were at least `min_requests` of them.
        min_requests: u32 = U32, default 20, check |&v| positive(v == 0, "at least 1");
        window: Duration = Dur, default Duration::from_secs(30), check |v| non_zero(*v);
        /// How long it stays open before a probe request is let through (half-open).
        open_for: Duration = Dur, default Duration::from_secs(10), check |v| non_zero(*v);
    }
}

/// `breaker`: the `[servers.<id>.breaker]` table, merged key by key.
pub(crate) struct Breaker;

impl Kind for Breaker {
    type Value = BreakerLayer;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<BreakerLayer>> {
        let at = value.span().start;
        let place = format!("[{path}]");
        let table = r.table(&place, value)?;
        let mut breaker = BreakerLayer::new();
        breaker.read_keys(r, table, path, &place, |key| suggest::hint(key, BREAKER_KEYS));
        Some(At { value: breaker, pos: r.pos(at) })
    }
    fn merge(earlier: &mut Option<At<BreakerLayer>>, later: Option<At<BreakerLayer>>) {
        match (earlier.as_mut(), later) {
            (Some(earlier), Some(later)) => earlier.value.merge(later.value),
            (None, later) => *earlier = later,
            (Some(_), None) => {}
        }
    }
}

impl Check<'_> {
    /// One `[servers.<id>]`, checked and built; `separator`: the gateway's.
    pub(crate) fn server(&mut self, id: &str, s: ServerLayer, separator: &str) -> ServerConfig {
        let base = format!("servers.{id}");
        let transport = s.transport.as_ref().map_or(TransportKind::Stdio, |t| t.value);
        s.check_keys(self, &base);
        if transport != TransportKind::Stdio {
            self.expect(&s.url, &format!("{base}.url"), |v| check_url(transport, v));
            for (i, endpoint) in s.urls.iter().flat_map(|urls| urls.value.iter().enumerate()) {
                if let Err(why) = check_url(transport, &endpoint.value.url) {
                    self.fail(&endpoint.pos, format!("{base}.urls[{i}]: {why}"));
                }
            }
        }
        for (method, timeout) in s.timeouts.iter().flat_map(|timeouts| &timeouts.value) {
            if let Err(why) = non_zero(timeout.value) {
                self.fail(&timeout.pos, format!("{}: {why}", key_path(&format!("{base}.timeouts"), method)));
            }
        }
        self.renames(id, &s, separator);
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
        s.build(self, &base)
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
