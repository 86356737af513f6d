//! One server's table on its own: what `vmcp mount --file` reads.
//!
//! A snippet is either the body of a `[servers.<id>]` table (its keys only) or
//! a whole document holding exactly that one table. Either way it goes through
//! the same reading and validation as a server in a configuration file: the
//! same unknown-key errors, `${VAR}` substitution, per-transport checks and id
//! rules, with errors naming the snippet's origin and its own lines.
//!
//! A body is read by putting a `[servers.<id>]` line in front of it, and every
//! error is then moved back up by that line. An error about the server as a
//! whole (such as a missing `command`) would point at that invented line; it
//! is reported without a position instead.

use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

use super::at::At;
use super::document::{self, TOP_KEYS, is_valid_server_id};
use super::error::{ConfigError, ConfigErrors, Pos};
use super::server::ServerConfig;
use super::validate;

/// Parses and validates one server, `id`, from `text`: either the keys of its
/// `[servers.<id>]` table (`command = "uvx"\nargs = ["x"]`), or a document
/// holding exactly one table, `[servers.<id>]`, whose key must be `id`.
/// `origin` names the text in errors (a file name, or something like
/// `<command line>`); `env` provides `${VAR}` values and `HOME`.
///
/// The server is checked exactly as in a configuration file, except against
/// the gateway's defaults: a caller whose `[gateway] separator` is not the
/// default checks that `id` does not contain it.
pub fn parse_server_snippet(
    id: &str,
    origin: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigErrors> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // Only the syntax errors, at their places in the text as written.
        let (_, errors) = document::read(origin, text, env);
        return Err(ConfigErrors(errors));
    }
    let root = root.into_inner();
    if root.iter().any(|(key, _)| TOP_KEYS.contains(&key.get_ref().as_ref())) {
        whole_document(id, origin, text, &root, env)
    } else {
        body(id, origin, text, env)
    }
}

/// The `[servers.<id>]` form: one table, the right one, and nothing else.
fn whole_document(
    id: &str,
    origin: &str,
    text: &str,
    root: &DeTable<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut matched = false;
    let mut servers_is_table = false;
    for (key, value) in root.iter() {
        let name = key.get_ref().as_ref();
        let pos = Pos::of(origin, text, key.span().start);
        if name != "servers" {
            errors.push(ConfigError::at(
                &pos,
                format!("unexpected `{name}`: a server snippet holds one [servers.{id}] table and nothing else"),
            ));
            continue;
        }
        let DeValue::Table(servers) = value.get_ref() else {
            continue; // reading the document says what it should be
        };
        servers_is_table = true;
        for (key, _) in servers.iter() {
            let found = key.get_ref().as_ref();
            if found == id {
                matched = true;
            } else {
                let pos = Pos::of(origin, text, key.span().start);
                errors.push(ConfigError::at(
                    &pos,
                    format!(
                        "unexpected [servers.{found}]: this snippet is mounted as server `{id}`, so it may hold \
                         only [servers.{id}] (rename the table, or mount it as `{found}`)"
                    ),
                ));
            }
        }
    }
    if servers_is_table && !matched && errors.is_empty() {
        errors.push(ConfigError::in_file(origin, format!("the snippet has no [servers.{id}] table")));
    }
    if !errors.is_empty() {
        if !matched && !is_valid_server_id(id) {
            errors.push(invalid_id(origin, id));
        }
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(ConfigErrors(errors));
    }
    read_server(id, origin, text, env)
}

/// The body form: the keys of the table, read under an added header line.
fn body(
    id: &str,
    origin: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigErrors> {
    if !is_valid_server_id(id) {
        return Err(invalid_id(origin, id).into());
    }
    let wrapped = format!("[servers.{id}]\n{text}");
    // A table header in the body would open a top-level table of its own.
    let (root, _) = DeTable::parse_recoverable(&wrapped);
    let mut errors = Vec::new();
    for (key, _) in root.get_ref().iter() {
        let name = key.get_ref().as_ref();
        if name != "servers" {
            let pos = Pos::of(origin, &wrapped, key.span().start);
            errors.push(ConfigError::at(
                &pos,
                format!(
                    "table header [{name}] in a server snippet: write `{name} = {{ ... }}` on one line, \
                     or use the whole-document form with [servers.{id}] and [servers.{id}.{name}]"
                ),
            ));
        }
    }
    let result = if errors.is_empty() { read_server(id, origin, &wrapped, env) } else { Err(ConfigErrors(errors)) };
    result.map_err(|ConfigErrors(errors)| ConfigErrors(errors.into_iter().map(unwrap_line).collect()))
}

/// Moves an error in the wrapped body up past the added header line; one on
/// the header itself is about the server as a whole and loses its position.
fn unwrap_line(mut error: ConfigError) -> ConfigError {
    match error.line {
        Some(line) if line > 1 => error.line = Some(line - 1),
        Some(_) => {
            error.line = None;
            error.column = None;
        }
        None => {}
    }
    error
}

/// Reads and validates a document whose only table is `[servers.<id>]`.
fn read_server(
    id: &str,
    origin: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig, ConfigErrors> {
    let (layer, mut errors) = document::read(origin, text, env);
    let Some(mut layer) = layer else {
        return Err(ConfigErrors(errors));
    };
    // The gateway's settings are not the snippet's business: an absolute
    // state_dir keeps its default from needing HOME.
    layer.gateway.state_dir = Some(At { value: "/".to_owned(), pos: Pos::of(origin, "", 0) });
    let mut config = validate::finish(layer, vec![PathBuf::from(origin)], env, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    config
        .servers
        .remove(id)
        .ok_or_else(|| ConfigError::in_file(origin, format!("the snippet has no [servers.{id}] table")).into())
}

/// The error for an id that is not `^[a-z][a-z0-9-]{0,31}$`, worded as for a
/// table key in a configuration file.
fn invalid_id(origin: &str, id: &str) -> ConfigError {
    ConfigError::in_file(
        origin,
        format!(
            "invalid server id `{id}`: expected ^[a-z][a-z0-9-]{{0,31}}$ \
             (a lowercase letter, then at most 31 lowercase letters, digits or `-`)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::values::TransportKind;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/u".into()),
            "TOKEN" => Some("s3cret".into()),
            _ => None,
        }
    }

    fn ok(id: &str, text: &str) -> ServerConfig {
        match parse_server_snippet(id, "snip.toml", text, &env) {
            Ok(server) => server,
            Err(errors) => panic!("unexpected errors:\n{errors}"),
        }
    }

    fn errors(id: &str, text: &str) -> Vec<String> {
        match parse_server_snippet(id, "snip.toml", text, &env) {
            Ok(server) => panic!("expected errors, got {server:?}"),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    fn error(id: &str, text: &str) -> String {
        let all = errors(id, text);
        assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
        all[0].clone()
    }

    #[test]
    fn good_stdio_body() {
        let server = ok("time", "command = \"uvx\"\nargs = [\"mcp-server-time\"]\nenv = { TZ = \"${TZ:-UTC}\" }\n");
        assert_eq!(server.transport, TransportKind::Stdio);
        assert_eq!(server.command.as_deref(), Some("uvx"));
        assert_eq!(server.args, vec!["mcp-server-time".to_owned()]);
        assert_eq!(server.env.get("TZ").map(String::as_str), Some("UTC"));
        assert!(server.enabled);
        // `~` is expanded from the given HOME, as in a file.
        let server = ok("time", "command = \"x\"\ncwd = \"~/work\"");
        assert_eq!(server.cwd, Some(PathBuf::from("/home/u/work")));
    }

    #[test]
    fn good_http_body() {
        let text = "transport = \"http\"\nurl = \"https://search.internal/mcp\"\n\
                    headers = { Authorization = \"Bearer ${TOKEN}\" }\nrequest_timeout = \"30s\"\n";
        let server = ok("search", text);
        assert_eq!(server.transport, TransportKind::Http);
        assert_eq!(server.url.as_deref(), Some("https://search.internal/mcp"));
        assert_eq!(server.headers.get("Authorization").map(String::as_str), Some("Bearer s3cret"));
        assert_eq!(server.request_timeout, Some(Duration::from_secs(30)));
        assert_eq!(server.command, None);
    }

    #[test]
    fn unknown_key_has_suggestion_and_snippet_position() {
        let e = error("time", "command = \"uvx\"\n  comand = \"x\"\n");
        assert_eq!(e, "snip.toml:2:3: unknown key `comand` in [servers.time]; did you mean `command`?");
    }

    #[test]
    fn value_and_transport_errors_are_positioned_in_the_body() {
        // ${VAR} unset: at the `${` on line 1 of the body.
        let e = error("search", "url = \"https://x/${NOPE}\"\ntransport = \"http\"\n");
        assert!(e.starts_with("snip.toml:1:18: servers.search.url: "), "{e}");
        assert!(e.contains("NOPE"), "{e}");
        // A key of the wrong transport: at the key's value.
        let e = error("time", "command = \"uvx\"\nurl = \"https://x/mcp\"\n");
        assert!(e.starts_with("snip.toml:2:7: servers.time.url: `url` is for http"), "{e}");
        // Missing `command`, with no transport key: about the whole snippet.
        let e = error("time", "args = [\"x\"]\n");
        assert!(e.starts_with("snip.toml: server `time`: transport \"stdio\" needs `command`"), "{e}");
        // Syntax errors keep their places in the text as written.
        let e = error("time", "command = \"uvx\"\nargs = [\n");
        assert!(e.starts_with("snip.toml:2:") || e.starts_with("snip.toml:3:"), "{e}");
        assert!(e.contains("invalid TOML"), "{e}");
    }

    #[test]
    fn table_header_in_body_is_refused() {
        let e = error("time", "command = \"uvx\"\n[env]\nTZ = \"UTC\"\n");
        assert!(e.starts_with("snip.toml:2:2: table header [env] in a server snippet"), "{e}");
    }

    #[test]
    fn bad_id() {
        for id in ["Time", "1x", "a_b", "", "a.b", &"x".repeat(33)] {
            let e = error(id, "command = \"uvx\"\n");
            assert_eq!(
                e,
                format!(
                    "snip.toml: invalid server id `{id}`: expected ^[a-z][a-z0-9-]{{0,31}}$ \
                     (a lowercase letter, then at most 31 lowercase letters, digits or `-`)"
                )
            );
        }
        // The same in the whole-document form, at the table key.
        let e = error("Time", "[servers.Time]\ncommand = \"uvx\"\n");
        assert!(e.starts_with("snip.toml:1:10: invalid server id `Time`"), "{e}");
    }

    #[test]
    fn whole_document_form() {
        let server = ok("time", "# a comment\n[servers.time]\ncommand = \"uvx\"\nargs = [\"a\"]\n");
        assert_eq!(server.command.as_deref(), Some("uvx"));
        assert_eq!(server.args, vec!["a".to_owned()]);
        // Sub-tables of the one server are fine in this form.
        let server = ok("time", "[servers.time]\ncommand = \"uvx\"\n[servers.time.env]\nTZ = \"UTC\"\n");
        assert_eq!(server.env.get("TZ").map(String::as_str), Some("UTC"));
        // Positions are the document's own.
        let e = error("time", "[servers.time]\ncommand = \"uvx\"\nreplica = 2\n");
        assert_eq!(e, "snip.toml:3:1: unknown key `replica` in [servers.time]; did you mean `replicas`?");
    }

    #[test]
    fn group_and_traffic_keys() {
        use crate::config::server::BreakerConfig;
        use crate::config::values::{Balance, RateLimit};
        let text = "command = \"uvx\"\nreplicas = 2\nbalance = \"random\"\nbreaker = { failures = 1 }\n\
                    allow_tools = [\"a*\"]\ntimeouts = { \"tools/call\" = \"1m\" }\nrate_limit = \"3/s\"\n";
        let server = ok("time", text);
        assert_eq!((server.replicas, server.balance), (2, Balance::Random));
        assert_eq!(server.breaker, BreakerConfig { failures: 1, ..BreakerConfig::default() });
        assert_eq!(server.allow_tools, ["a*"]);
        assert_eq!(server.timeouts["tools/call"], Duration::from_secs(60));
        assert_eq!(server.rate_limit, Some(RateLimit { count: 3, per: Duration::from_secs(1) }));
        let text = "[servers.api]\ntransport = \"http\"\nurls = [\"https://a/mcp\", { url = \"https://b/mcp\", weight = 2 }]\n\
                    [servers.api.breaker]\nwindow = \"1m\"\n";
        let server = ok("api", text);
        assert_eq!(server.urls.len(), 2);
        assert_eq!(server.breaker.window, Duration::from_secs(60));
        // Their errors are positioned in the body too.
        let e = error("time", "command = \"uvx\"\nhash_key = \"client\"\n");
        assert!(e.starts_with("snip.toml:2:12: servers.time.hash_key: hash_key only applies to balance"), "{e}");
        let e = error("time", "command = \"uvx\"\nbreaker = { falures = 1 }\n");
        assert_eq!(e, "snip.toml:2:13: unknown key `falures` in [servers.time.breaker]; did you mean `failures`?");
        // Routes are not a server's: a snippet cannot hold one.
        let e = error("time", "[servers.time]\ncommand = \"a\"\n[[route]]\ntool = \"*\"\ndeny = true\n");
        assert!(
            e.starts_with("snip.toml:3:3: unexpected `route`: a server snippet holds one [servers.time] table"),
            "{e}"
        );
    }

    #[test]
    fn whole_document_with_another_id_or_more_is_refused() {
        let e = error("time", "[servers.clock]\ncommand = \"uvx\"\n");
        assert!(e.starts_with("snip.toml:1:10: unexpected [servers.clock]: this snippet is mounted as server `time`"));
        let all = errors("time", "[servers.time]\ncommand = \"a\"\n[servers.other]\ncommand = \"b\"\n");
        assert_eq!(all.len(), 1, "{all:#?}");
        assert!(all[0].starts_with("snip.toml:3:10: unexpected [servers.other]"), "{}", all[0]);
        let e = error("time", "[gateway]\nlisten = \"127.0.0.1:1\"\n[servers.time]\ncommand = \"a\"\n");
        assert!(e.starts_with("snip.toml:1:2: unexpected `gateway`: a server snippet holds one [servers.time]"));
        let e = error("time", "[servers]\n");
        assert_eq!(e, "snip.toml: the snippet has no [servers.time] table");
    }
}
