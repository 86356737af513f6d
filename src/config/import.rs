//! `vmcp config import`: the `mcpServers` JSON of desktop and IDE clients,
//! turned into a vmcp configuration.
//!
//! Claude Desktop, Claude Code, Cursor, Windsurf and Cline keep their servers
//! in `{"mcpServers": {"<name>": {...}}}`; VS Code's `mcp.json` uses a
//! top-level `servers` (and its `settings.json` an `mcp.servers`). An entry
//! is a child process (`command`, `args`, `env`, `cwd`) or a remote endpoint
//! (`url`, `headers`), with the transport named by `type` (or `transport`) or
//! inferred: `command` is stdio, a `ws://`/`wss://` URL WebSocket, a URL whose
//! path ends in `/sse` the legacy SSE transport, any other URL streamable HTTP.
//!
//! Names become valid server ids, values are written as given (a client's own
//! placeholders such as VS Code's `${input:id}` are made literal, so vmcp does
//! not read them as `${VAR}`), and everything that needs the user's eye (a
//! renamed server, an ignored key, a value that looks like a secret) comes back
//! as a note. A problem that leaves a server without a meaning in vmcp (no
//! `command` nor `url`, a value of the wrong type, an unknown transport) is an
//! error: the import writes all of the file or nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigErrors, Pos};
use super::{TransportKind, is_valid_server_id};

/// The result of an import: the TOML document, the server ids it defines, and
/// notes for the user (renames, ignored keys, secrets written in clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// A complete vmcp configuration.
    pub toml: String,
    /// The server ids written, in the order of the input.
    pub ids: Vec<String>,
    /// One line each, meant for stderr.
    pub notes: Vec<String>,
}

/// Converts the client configuration `text` (read from `origin`, which names
/// it in errors and in the header comment) into a vmcp configuration. Fails
/// with every problem found, each naming the file and, where known, the line
/// and column.
pub fn import_mcp_json(origin: &str, text: &str) -> Result<Imported, ConfigErrors> {
    let document: Value = serde_json::from_str(text).map_err(|e| json_error(origin, &e))?;
    let Value::Object(top) = &document else {
        return Err(ConfigError::in_file(
            origin,
            format!("expected a JSON object with `mcpServers` (or `servers`), found {}", kind(&document)),
        )
        .into());
    };
    let sections: Sections<'_> = serde_json::from_str(text).map_err(|e| json_error(origin, &e))?;
    let mut notes = Vec::new();
    let (section, raw) = pick_section(origin, top, &sections, &mut notes)?;
    let section_value: Value = serde_json::from_str(raw.get()).map_err(|e| json_error(origin, &e))?;
    if !section_value.is_object() {
        return Err(ConfigError::at(
            &position(origin, text, raw),
            format!(
                "`{section}` must be an object mapping server names to their settings, found {}",
                kind(&section_value)
            ),
        )
        .into());
    }
    let entries: Ordered<'_> = serde_json::from_str(raw.get()).map_err(|e| json_error(origin, &e))?;

    let mut errors = Vec::new();
    let mut servers = Vec::new();
    for (name, raw) in &entries.0 {
        let mut server_notes = Vec::new();
        match read_server(name, raw, &mut server_notes) {
            Ok(server) => servers.push(server),
            Err(why) => errors.push(ConfigError::at(&position(origin, text, raw), format!("server {name:?}: {why}"))),
        }
        notes.extend(server_notes.into_iter().map(|n| format!("server {name:?}: {n}")));
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let ids = assign_ids(&names);
    let renamed: Vec<String> = names
        .iter()
        .zip(&ids)
        .filter(|(name, id)| **name != id.as_str())
        .map(|(n, id)| format!("{n:?} -> {id}"))
        .collect();
    if !renamed.is_empty() {
        notes.push(format!(
            "renamed to valid server ids (a lowercase letter, then up to 31 lowercase letters, digits or `-`): {}",
            renamed.join(", ")
        ));
    }
    notes.extend(summary_notes(&servers, &ids));
    if servers.is_empty() {
        notes.push(format!("`{section}` is empty: the configuration has no servers"));
    }
    let toml = write_document(origin, &servers, &ids).map_err(|e| {
        ConfigErrors(vec![ConfigError::in_file(origin, format!("cannot write the configuration as TOML: {e}"))])
    })?;
    Ok(Imported { toml, ids, notes })
}

/// The places a client keeps its servers, borrowed from the text so that
/// entries keep their order and their positions.
#[derive(Deserialize)]
struct Sections<'a> {
    #[serde(rename = "mcpServers", borrow, default)]
    mcp_servers: Option<&'a RawValue>,
    #[serde(borrow, default)]
    servers: Option<&'a RawValue>,
    #[serde(borrow, default)]
    mcp: Option<&'a RawValue>,
}

/// VS Code's `settings.json`: `{"mcp": {"servers": {...}}}`.
#[derive(Deserialize)]
struct McpSection<'a> {
    #[serde(borrow, default)]
    servers: Option<&'a RawValue>,
}

/// A JSON object's entries in the order written.
struct Ordered<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Ordered<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Ordered<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<'de>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// Which section holds the servers: `mcpServers`, else `servers`, else
/// `mcp.servers`. A second one present is ignored, with a note.
fn pick_section<'a>(
    origin: &str,
    top: &Map<String, Value>,
    sections: &Sections<'a>,
    notes: &mut Vec<String>,
) -> Result<(&'static str, &'a RawValue), ConfigErrors> {
    let nested = match sections.mcp {
        Some(raw) => serde_json::from_str::<McpSection<'a>>(raw.get()).ok().and_then(|m| m.servers),
        None => None,
    };
    let found: Vec<(&'static str, &'a RawValue)> =
        [("mcpServers", sections.mcp_servers), ("servers", sections.servers), ("mcp.servers", nested)]
            .into_iter()
            .filter_map(|(name, raw)| raw.filter(|r| r.get() != "null").map(|r| (name, r)))
            .collect();
    let Some(&(section, raw)) = found.first() else {
        let looks_like_servers = !top.is_empty()
            && top
                .values()
                .all(|v| v.get("command").is_some() || v.get("url").is_some() || v.get("serverUrl").is_some());
        let hint = if looks_like_servers {
            "; this looks like the servers themselves: wrap them as {\"mcpServers\": {...}}"
        } else {
            ""
        };
        return Err(ConfigError::in_file(
            origin,
            format!(
                "no `mcpServers` object (nor VS Code's `servers`): expected \
                 {{\"mcpServers\": {{\"<name>\": {{\"command\": \"...\"}}}}}}{hint}"
            ),
        )
        .into());
    };
    for (other, _) in found.iter().skip(1) {
        notes.push(format!("imported `{section}` only; `{other}` is ignored (import it from a file of its own)"));
    }
    Ok((section, raw))
}

/// One server as read from the client's file, values already converted.
#[derive(Debug)]
struct Server {
    name: String,
    transport: TransportKind,
    command: Option<String>,
    args: Vec<String>,
    env: BTreeMap<String, Text>,
    cwd: Option<String>,
    url: Option<String>,
    headers: BTreeMap<String, Text>,
    request_timeout: Option<String>,
    enabled: bool,
    description: Option<String>,
    /// Environment variables its values read.
    vars: BTreeSet<String>,
}

/// A converted string value and whether it reads an environment variable.
#[derive(Debug)]
struct Text {
    value: String,
    substitutes: bool,
}

/// Keys an entry may have; anything else is ignored with a note.
const KNOWN_KEYS: &[&str] = &[
    "type",
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "disabled",
    "enabled",
    "timeout",
    "description",
];

fn read_server(name: &str, raw: &RawValue, notes: &mut Vec<String>) -> Result<Server, String> {
    let value: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    let Value::Object(entry) = value else {
        return Err(format!("expected an object with `command` or `url`, found {}", kind(&value)));
    };
    let mut vars = BTreeSet::new();
    let mut convert = |what: &str, s: String, notes: &mut Vec<String>| {
        let text = placeholders(what, &s, notes);
        let substitutes = !text.vars.is_empty();
        vars.extend(text.vars);
        Text { value: text.value, substitutes }
    };

    let declared = declared_transport(&entry)?;
    let command = string(&entry, "command")?;
    let url = string(&entry, "url")?;
    if url.is_none() && entry.contains_key("serverUrl") {
        return Err("`serverUrl` is not read: rename it to `url`".to_owned());
    }
    let transport = match (declared, &command, &url) {
        (Some(TransportKind::Stdio), None, _) => {
            return Err("its type is \"stdio\" but it has no `command`, the program to run".to_owned());
        }
        (Some(t), _, None) if t != TransportKind::Stdio => {
            return Err(format!("its type is \"{t}\" but it has no `url`"));
        }
        (Some(t), _, _) => t,
        (None, Some(_), Some(_)) => {
            return Err("it has both `command` and `url`: add \"type\": \"stdio\" or \"http\" to choose".to_owned());
        }
        (None, Some(_), None) => TransportKind::Stdio,
        (None, None, Some(url)) => infer_transport(url),
        (None, None, None) => {
            return Err("it has neither `command` (a program to run) nor `url` (a remote server)".to_owned());
        }
    };
    let stdio = transport == TransportKind::Stdio;

    let mut server = Server {
        name: name.to_owned(),
        transport,
        command: None,
        args: Vec::new(),
        env: BTreeMap::new(),
        cwd: None,
        url: None,
        headers: BTreeMap::new(),
        request_timeout: None,
        enabled: true,
        description: None,
        vars: BTreeSet::new(),
    };
    let mut ignored = Vec::new();
    if stdio {
        let Some(command) = command else {
            return Err("it has no `command`".to_owned());
        };
        if command.trim().is_empty() {
            return Err("`command` is empty: expected the program to run".to_owned());
        }
        server.command = Some(convert("command", command, notes).value);
        server.args = string_list(&entry, "args")?
            .into_iter()
            .enumerate()
            .map(|(i, a)| convert(&format!("args[{i}]"), a, notes).value)
            .collect();
        for (key, value) in string_map(&entry, "env")? {
            let text = convert(&format!("env.{key}"), value, notes);
            server.env.insert(key, text);
        }
        server.cwd = string(&entry, "cwd")?.map(|c| convert("cwd", c, notes).value);
        ignored.extend(["url", "headers"].into_iter().filter(|k| present(&entry, k)));
    } else {
        let Some(url) = url else {
            return Err("it has no `url`".to_owned());
        };
        let url = convert("url", url, notes);
        if !url.substitutes {
            check_url(transport, &url.value)?;
        }
        server.url = Some(url.value);
        for (key, value) in string_map(&entry, "headers")? {
            let text = convert(&format!("headers.{key}"), value, notes);
            server.headers.insert(key, text);
        }
        ignored.extend(["command", "args", "env", "cwd"].into_iter().filter(|k| present(&entry, k)));
    }
    if !ignored.is_empty() {
        let keys = ignored.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        notes.push(format!("ignored {keys}: not used by its transport, \"{transport}\""));
    }

    let disabled = boolean(&entry, "disabled")?;
    let enabled = boolean(&entry, "enabled")?;
    server.enabled = disabled != Some(true) && enabled != Some(false);
    server.request_timeout = timeout(&entry, notes);
    server.description = string(&entry, "description")?.map(|d| convert("description", d, notes).value);

    let unknown: Vec<String> =
        entry.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())).map(|k| format!("`{k}`")).collect();
    if !unknown.is_empty() {
        notes.push(format!("ignored {}: vmcp has no equivalent", unknown.join(", ")));
    }
    server.vars = vars;
    Ok(server)
}

/// `type`, or its synonym `transport`.
fn declared_transport(entry: &Map<String, Value>) -> Result<Option<TransportKind>, String> {
    let ty = string(entry, "type")?;
    let transport = string(entry, "transport")?;
    let (key, name) = match (ty, transport) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(&b) => {
            return Err(format!("`type` ({a:?}) and `transport` ({b:?}) disagree: keep one"));
        }
        (Some(a), _) => ("type", a),
        (None, Some(b)) => ("transport", b),
        (None, None) => return Ok(None),
    };
    let kind = match name.to_ascii_lowercase().as_str() {
        "stdio" => TransportKind::Stdio,
        "http" | "streamable-http" | "streamablehttp" | "streamable_http" => TransportKind::Http,
        "sse" => TransportKind::Sse,
        "ws" | "websocket" => TransportKind::Websocket,
        _ => {
            return Err(format!(
                "unknown `{key}` {name:?}: expected \"stdio\", \"http\" (or \"streamable-http\", \
                 \"streamableHttp\"), \"sse\", or \"ws\" (\"websocket\")"
            ));
        }
    };
    Ok(Some(kind))
}

/// The transport of a URL given without a type.
fn infer_transport(url: &str) -> TransportKind {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("ws://") || lower.starts_with("wss://") {
        return TransportKind::Websocket;
    }
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    if path.trim_end_matches('/').ends_with("/sse") { TransportKind::Sse } else { TransportKind::Http }
}

/// The URL rules of vmcp's configuration, checked here so that the error
/// names the server in the client's file.
fn check_url(transport: TransportKind, url: &str) -> Result<(), String> {
    let (plain, secure) = match transport {
        TransportKind::Websocket => ("ws://", "wss://"),
        _ => ("http://", "https://"),
    };
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with(plain) {
        Some(&url[plain.len()..])
    } else if lower.starts_with(secure) {
        Some(&url[secure.len()..])
    } else {
        None
    };
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        Some(_) => Err(format!("`url` {url:?} has no host")),
        None => Err(format!(
            "`url` {url:?} is not a {transport} URL: expected one starting with {plain} or {secure}{}",
            if transport == TransportKind::Stdio { "" } else { " (or set `type` to the transport it speaks)" }
        )),
    }
}

/// `timeout`, in milliseconds, as a `request_timeout`.
fn timeout(entry: &Map<String, Value>, notes: &mut Vec<String>) -> Option<String> {
    let value = entry.get("timeout")?;
    let Some(ms) = value.as_f64() else {
        notes.push(format!("ignored `timeout`: expected a number of milliseconds, found {}", kind(value)));
        return None;
    };
    let ms = ms.round();
    if ms < 1.0 || !ms.is_finite() {
        notes.push(format!("ignored `timeout` {value}: expected a number of milliseconds greater than zero"));
        return None;
    }
    // Saturates at u64::MAX, which no one means anyway.
    let ms = ms as u64;
    let written = if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") };
    if ms < 1000 {
        notes.push(format!(
            "`timeout` {value} read as milliseconds: request_timeout = \"{written}\"; \
             if your client meant seconds (Cline does), write request_timeout = \"{value}s\""
        ));
    }
    Some(written)
}

fn present(entry: &Map<String, Value>, key: &str) -> bool {
    entry.get(key).is_some_and(|v| !v.is_null())
}

/// An optional string; `null` counts as absent.
fn string(entry: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("`{key}` must be a string, found {}", kind(other))),
    }
}

/// An optional boolean; `null` counts as absent.
fn boolean(entry: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("`{key}` must be true or false, found {}", kind(other))),
    }
}

/// A string, number or boolean as the text a process would see.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(entry: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item).ok_or_else(|| format!("`{key}[{i}]` must be a string, found {}", kind(item))))
            .collect(),
        Some(other) => Err(format!("`{key}` must be an array of strings, found {}", kind(other))),
    }
}

fn string_map(entry: &Map<String, Value>, key: &str) -> Result<Vec<(String, String)>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                scalar(v)
                    .map(|s| (k.clone(), s))
                    .ok_or_else(|| format!("`{key}.{k}` must be a string, found {}", kind(v)))
            })
            .collect(),
        Some(other) => Err(format!("`{key}` must be an object of strings, found {}", kind(other))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string with the client's placeholders made fit for vmcp.
struct Converted {
    value: String,
    /// Variables left for vmcp to substitute.
    vars: Vec<String>,
}

/// VS Code's predefined variables: they name editor state vmcp does not have.
const EDITOR_VARIABLES: &[&str] = &[
    "workspaceFolder",
    "workspaceFolderBasename",
    "workspaceRoot",
    "cwd",
    "pathSeparator",
    "execPath",
    "file",
    "fileBasename",
    "fileBasenameNoExtension",
    "fileDirname",
    "fileDirnameBasename",
    "fileExtname",
    "fileWorkspaceFolder",
    "relativeFile",
    "relativeFileDirname",
    "lineNumber",
    "selectedText",
    "defaultBuildTask",
];

/// Rewrites `${...}` for vmcp, which substitutes `${VAR}` and
/// `${VAR:-default}` from its environment in every string:
/// - `${VAR}` and `${VAR:-default}` stay (Claude Code and Cursor mean the
///   same by them); `${env:VAR}` (VS Code, Cursor) becomes `${VAR}`, and
///   `${userHome}` becomes `${HOME}`;
/// - anything else (`${input:id}`, `${workspaceFolder}`, an unclosed `${`)
///   has no meaning to vmcp and is written literally (`$${`), with a note.
fn placeholders(what: &str, s: &str, notes: &mut Vec<String>) -> Converted {
    let mut value = String::with_capacity(s.len());
    let mut vars = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        value.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let close = after.find('}');
        let inner = close.map(|c| &after[..c]);
        // `$${` reads as a literal `${` in vmcp, so a `$` just before a
        // substitution cannot be written: keep such text literal too.
        let dollar_before = value.ends_with('$');
        let var = inner.and_then(|inner| {
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let name = name.strip_prefix("env:").unwrap_or(name);
            let name = if name == "userHome" { "HOME" } else { name };
            (is_variable_name(name) && !EDITOR_VARIABLES.contains(&name)).then_some((name, default))
        });
        match (var, close, inner) {
            (Some((name, default)), Some(close), Some(inner)) if !dollar_before => {
                value.push_str("${");
                value.push_str(name);
                if let Some(default) = default {
                    value.push_str(":-");
                    value.push_str(default);
                }
                value.push('}');
                vars.push(name.to_owned());
                if inner.split_once(":-").map_or(inner, |(n, _)| n) != name {
                    notes.push(format!("{what}: `${{{inner}}}` written as `${{{name}}}`, vmcp's form"));
                }
                rest = &after[close + 1..];
            }
            _ => {
                value.push_str("$${");
                let shown = inner.map_or_else(|| "${".to_owned(), |i| format!("${{{i}}}"));
                notes.push(format!(
                    "{what}: `{shown}` means nothing to vmcp and is kept as literal text; \
                     replace it with the value, or with `${{VAR}}` to read an environment variable"
                ));
                rest = after;
            }
        }
    }
    value.push_str(rest);
    Converted { value, vars }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name as a server id: lowercase; `_`, whitespace and `.` become `-`;
/// other characters are dropped; `s-` in front unless it starts with a
/// letter; at most 32 characters.
fn sanitize(name: &str) -> String {
    let mut id: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            '_' | '.' => Some('-'),
            c if c.is_whitespace() => Some('-'),
            'a'..='z' | '0'..='9' | '-' => Some(c),
            _ => None,
        })
        .collect();
    if id.is_empty() {
        id = "server".to_owned();
    } else if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "s-");
    }
    id.truncate(32); // ASCII only by now
    id
}

/// Server ids for `names`, in order: a name that is already a valid id keeps
/// it; the others are sanitized, and a clash gets `-2`, `-3`, ...
fn assign_ids(names: &[&str]) -> Vec<String> {
    let mut taken = BTreeSet::new();
    let mut ids: Vec<Option<String>> = names
        .iter()
        .map(|name| (is_valid_server_id(name) && taken.insert((*name).to_owned())).then(|| (*name).to_owned()))
        .collect();
    for (id, name) in ids.iter_mut().zip(names) {
        if id.is_some() {
            continue;
        }
        let base = sanitize(name);
        let mut candidate = base.clone();
        let mut n = 2u32;
        while taken.contains(&candidate) {
            let suffix = format!("-{n}");
            let mut stem = base.clone();
            stem.truncate(32 - suffix.len());
            candidate = format!("{stem}{suffix}");
            n += 1;
        }
        taken.insert(candidate.clone());
        *id = Some(candidate);
    }
    ids.into_iter().map(Option::unwrap_or_default).collect()
}

/// Words that mark an env or header key as a likely secret.
const SECRET_WORDS: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH"];

/// Notes about the whole result: secrets in clear, variables to set.
fn summary_notes(servers: &[Server], ids: &[String]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut secrets = Vec::new();
    let mut vars = BTreeSet::new();
    for (server, id) in servers.iter().zip(ids) {
        for (table, map) in [("env", &server.env), ("headers", &server.headers)] {
            for (key, text) in map {
                let upper = key.to_ascii_uppercase();
                // A value with `${` is a substitution, or a client placeholder noted already.
                if !text.value.contains("${")
                    && !text.value.is_empty()
                    && SECRET_WORDS.iter().any(|w| upper.contains(w))
                {
                    secrets.push(format!("servers.{id}.{table}.{key}"));
                }
            }
        }
        vars.extend(server.vars.iter().cloned());
    }
    if !secrets.is_empty() {
        notes.push(format!(
            "these look like secrets and are written in clear: {}; consider `${{VAR}}` instead \
             (such as KEY = \"${{MY_KEY}}\", with MY_KEY set where vmcp runs) and keep the file private",
            secrets.join(", ")
        ));
    }
    if !vars.is_empty() {
        notes.push(format!(
            "vmcp reads these environment variables when it loads the configuration: {} \
             (each must be set, or write `${{VAR:-default}}`)",
            vars.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    notes
}

/// The TOML document. Values and keys are written by the toml crate.
fn write_document(origin: &str, servers: &[Server], ids: &[String]) -> Result<String, toml::ser::Error> {
    let mut out = String::new();
    let _ = writeln!(out, "# vmcp configuration imported from {} by `vmcp config import`.", comment_text(origin));
    out.push_str(
        "# Check it with `vmcp config validate FILE`; run it with `vmcp start --config FILE`.\n\
         # Any string may use ${VAR} (an error when VAR is unset), ${VAR:-default},\n\
         # and $${ for a literal ${.\n\n\
         [gateway]\n\
         # Every setting keeps its default; `vmcp config init --output -` lists them all.\n\
         # listen = \"127.0.0.1:3000\"\n",
    );
    for (server, id) in servers.iter().zip(ids) {
        let _ = write!(out, "\n[servers.{id}]\n");
        if server.name != *id {
            let _ = writeln!(out, "# imported as {}", comment_text(&format!("{:?}", server.name)));
        }
        out.push_str(&entry("transport", server.transport.as_str())?);
        if let Some(command) = &server.command {
            out.push_str(&entry("command", command)?);
        }
        if !server.args.is_empty() {
            out.push_str(&entry("args", &server.args)?);
        }
        if let Some(cwd) = &server.cwd {
            out.push_str(&entry("cwd", cwd)?);
        }
        if let Some(url) = &server.url {
            out.push_str(&entry("url", url)?);
        }
        if let Some(timeout) = &server.request_timeout {
            out.push_str(&entry("request_timeout", timeout)?);
        }
        if !server.enabled {
            out.push_str(&entry("enabled", &false)?);
        }
        if let Some(description) = &server.description {
            out.push_str(&entry("description", description)?);
        }
        for (table, map) in [("env", &server.env), ("headers", &server.headers)] {
            if map.is_empty() {
                continue;
            }
            let _ = write!(out, "\n[servers.{id}.{table}]\n");
            let values: BTreeMap<&str, &str> = map.iter().map(|(k, t)| (k.as_str(), t.value.as_str())).collect();
            out.push_str(&toml::to_string(&values)?);
        }
    }
    Ok(out)
}

/// One `key = value` line.
fn entry<T: serde::Serialize + ?Sized>(key: &str, value: &T) -> Result<String, toml::ser::Error> {
    toml::to_string(&BTreeMap::from([(key, value)]))
}

/// Text safe inside a `#` comment: no line breaks or other control characters.
fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Where `raw`, a part of `text`, starts.
fn position(origin: &str, text: &str, raw: &RawValue) -> Pos {
    let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    Pos::of(origin, text, offset)
}

/// A JSON error with serde_json's line and column, in vmcp's error form.
fn json_error(origin: &str, e: &serde_json::Error) -> ConfigErrors {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    let error = if e.line() == 0 {
        ConfigError::in_file(origin, format!("not valid JSON: {message}"))
    } else {
        ConfigError {
            file: origin.to_owned(),
            line: Some(e.line()),
            column: Some(e.column().max(1)),
            message: format!("not valid JSON: {message}"),
        }
    };
    error.into()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::{Config, ServerConfig, parse_str};

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/u".into()),
            "GITHUB_TOKEN" => Some("from-env".into()),
            _ => None,
        }
    }

    /// Imports `json`, checks that vmcp reads the result, and returns both.
    fn import(json: &str) -> (Imported, Config) {
        let imported = match import_mcp_json("in.json", json) {
            Ok(imported) => imported,
            Err(errors) => panic!("unexpected errors:\n{errors}"),
        };
        match parse_str("out.toml", &imported.toml, &env) {
            Ok(config) => {
                assert_eq!(
                    config.servers.keys().cloned().collect::<BTreeSet<_>>(),
                    imported.ids.iter().cloned().collect()
                );
                (imported, config)
            }
            Err(errors) => panic!("vmcp cannot read the result:\n{errors}\n---\n{}", imported.toml),
        }
    }

    fn errors(json: &str) -> Vec<String> {
        match import_mcp_json("in.json", json) {
            Ok(imported) => panic!("expected errors, got\n{}", imported.toml),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    fn notes(imported: &Imported) -> String {
        imported.notes.join("\n")
    }

    #[test]
    fn claude_desktop_stdio_with_env() {
        let json = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop", "C:\\Users\\me"],
      "cwd": "~/work"
    },
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abc\"quoted\"", "LOG_LEVEL": "debug", "PORT": 8080 }
    }
  },
  "globalShortcut": "Ctrl+Space"
}"#;
        let (imported, config) = import(json);
        assert_eq!(imported.ids, vec!["filesystem", "github"]);
        let fs = &config.servers["filesystem"];
        assert_eq!(fs.transport, TransportKind::Stdio);
        assert_eq!(fs.command.as_deref(), Some("npx"));
        assert_eq!(fs.args[3], "C:\\Users\\me");
        assert_eq!(fs.cwd, Some(PathBuf::from("/home/u/work")));
        let gh = &config.servers["github"];
        assert_eq!(gh.env["GITHUB_PERSONAL_ACCESS_TOKEN"], "ghp_abc\"quoted\"");
        assert_eq!(gh.env["PORT"], "8080");
        assert!(gh.enabled);
        assert!(imported.toml.starts_with("# vmcp configuration imported from in.json"), "{}", imported.toml);
        assert!(imported.toml.contains("\n[gateway]\n"), "{}", imported.toml);
        let notes = notes(&imported);
        assert!(notes.contains("servers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN"), "{notes}");
        assert!(!notes.contains("LOG_LEVEL"), "{notes}");
        assert!(!notes.contains("renamed"), "{notes}");
    }

    #[test]
    fn remote_http_sse_and_websocket() {
        let json = r#"{"mcpServers": {
            "search": {"url": "https://search.example/mcp", "headers": {"Authorization": "Bearer abc", "X-Team": "core"}},
            "legacy": {"url": "https://old.example/sse/?x=1"},
            "typed": {"type": "streamableHttp", "url": "http://127.0.0.1:8000/sse"},
            "socket": {"url": "wss://ws.example/mcp"},
            "named-ws": {"transport": "websocket", "url": "ws://localhost:9000"},
            "legacy2": {"type": "sse", "url": "https://x.example/events"}
        }}"#;
        let (imported, config) = import(json);
        let transport = |id: &str| config.servers[id].transport;
        assert_eq!(transport("search"), TransportKind::Http);
        assert_eq!(transport("legacy"), TransportKind::Sse);
        assert_eq!(transport("typed"), TransportKind::Http);
        assert_eq!(transport("socket"), TransportKind::Websocket);
        assert_eq!(transport("named-ws"), TransportKind::Websocket);
        assert_eq!(transport("legacy2"), TransportKind::Sse);
        let search = &config.servers["search"];
        assert_eq!(search.url.as_deref(), Some("https://search.example/mcp"));
        assert_eq!(search.headers["X-Team"], "core");
        assert_eq!(search.command, None);
        // The input's order is kept.
        assert_eq!(imported.ids, vec!["search", "legacy", "typed", "socket", "named-ws", "legacy2"]);
        assert!(notes(&imported).contains("servers.search.headers.Authorization"), "{}", notes(&imported));
    }

    #[test]
    fn vs_code_servers_and_placeholders() {
        let json = r#"{
  "inputs": [{"type": "promptString", "id": "token", "password": true}],
  "servers": {
    "github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${input:token}"}},
    "local": {"type": "stdio", "command": "${workspaceFolder}/bin/server", "args": ["--home", "${userHome}"],
              "env": {"GITHUB_TOKEN": "${env:GITHUB_TOKEN}", "MODE": "${MODE:-dev}"}, "envFile": "${workspaceFolder}/.env"}
  }
}"#;
        let (imported, config) = import(json);
        let github = &config.servers["github"];
        // Written literally: vmcp reads back exactly the text of the input.
        assert_eq!(github.headers["Authorization"], "Bearer ${input:token}");
        let local = &config.servers["local"];
        assert_eq!(local.command.as_deref(), Some("${workspaceFolder}/bin/server"));
        assert_eq!(local.args, vec!["--home", "/home/u"]);
        assert_eq!(local.env["GITHUB_TOKEN"], "from-env");
        assert_eq!(local.env["MODE"], "dev");
        let notes = notes(&imported);
        assert!(notes.contains("headers.Authorization: `${input:token}` means nothing to vmcp"), "{notes}");
        assert!(notes.contains("`${env:GITHUB_TOKEN}` written as `${GITHUB_TOKEN}`"), "{notes}");
        assert!(notes.contains("ignored `envFile`"), "{notes}");
        assert!(notes.contains("environment variables when it loads the configuration: GITHUB_TOKEN, HOME, MODE"));
        // Neither is in clear: one is a placeholder, the other substituted.
        assert!(!notes.contains("look like secrets"), "{notes}");
        // VS Code's settings.json nests them under `mcp`.
        let (imported, _) = import(r#"{"editor.fontSize": 12, "mcp": {"servers": {"a": {"command": "x"}}}}"#);
        assert_eq!(imported.ids, vec!["a"]);
    }

    #[test]
    fn literal_dollars_survive() {
        let json = r#"{"mcpServers": {"a": {"command": "x", "args": ["$${HOME}", "cost: $5", "${unclosed", "$$", "${1BAD}"]}}}"#;
        let (_, config) = import(json);
        assert_eq!(config.servers["a"].args, vec!["$${HOME}", "cost: $5", "${unclosed", "$$", "${1BAD}"]);
    }

    #[test]
    fn names_are_sanitized_and_deduplicated() {
        let json = r#"{"mcpServers": {
            "GitHub Server": {"command": "a"},
            "github_server": {"command": "b"},
            "github-server": {"command": "c"},
            "my.tool@2!": {"command": "d"},
            "42things": {"command": "e"},
            "ÜberTool": {"command": "f"},
            "日本": {"command": "g"},
            "A-very-long-server-name-that-goes-on-and-on": {"command": "h"},
            "a-very-long-server-name-that-goes-on-and-on-too": {"command": "i"}
        }}"#;
        let (imported, config) = import(json);
        assert_eq!(
            imported.ids,
            vec![
                "github-server-2",
                "github-server-3",
                "github-server", // already valid: keeps its name
                "my-tool2",
                "s-42things",
                "bertool",
                "server",
                "a-very-long-server-name-that-goe",
                "a-very-long-server-name-that-g-2",
            ]
        );
        assert_eq!(config.servers["github-server"].command.as_deref(), Some("c"));
        assert_eq!(config.servers["github-server-2"].command.as_deref(), Some("a"));
        let notes = notes(&imported);
        assert!(notes.contains("\"GitHub Server\" -> github-server-2"), "{notes}");
        assert!(notes.contains("\"42things\" -> s-42things"), "{notes}");
        assert!(!notes.contains("\"github-server\" ->"), "{notes}");
        assert!(imported.toml.contains("[servers.my-tool2]\n# imported as \"my.tool@2!\"\n"), "{}", imported.toml);
    }

    #[test]
    fn disabled_timeout_and_ignored_keys() {
        let json = r#"{"mcpServers": {
            "off": {"command": "x", "disabled": true, "autoApprove": ["read"], "alwaysAllow": []},
            "on": {"command": "x", "disabled": false, "timeout": 30000},
            "fast": {"url": "https://h/mcp", "timeout": 1500, "description": "quick \"one\""},
            "tiny": {"command": "x", "timeout": 60},
            "odd": {"command": "x", "timeout": "soon"}
        }}"#;
        let (imported, config) = import(json);
        assert!(!config.servers["off"].enabled);
        assert!(config.servers["on"].enabled);
        assert_eq!(config.servers["on"].request_timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.servers["fast"].request_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(config.servers["fast"].description.as_deref(), Some("quick \"one\""));
        assert_eq!(config.servers["tiny"].request_timeout, Some(Duration::from_millis(60)));
        assert_eq!(config.servers["odd"].request_timeout, None);
        let expected = ServerConfig { command: Some("x".into()), enabled: false, ..ServerConfig::default() };
        assert_eq!(config.servers["off"], expected);
        let notes = notes(&imported);
        assert!(
            notes.contains("server \"off\": ignored `alwaysAllow`, `autoApprove`: vmcp has no equivalent"),
            "{notes}"
        );
        assert!(notes.contains("server \"tiny\": `timeout` 60 read as milliseconds"), "{notes}");
        assert!(notes.contains("server \"odd\": ignored `timeout`: expected a number of milliseconds, found a string"));
    }

    #[test]
    fn keys_of_the_other_transport_are_ignored() {
        let json = r#"{"mcpServers": {"both": {"type": "stdio", "command": "x", "url": "https://h/mcp", "headers": {"A": "b"}},
                                        "r": {"url": "https://h/mcp", "env": {"A": "b"}, "args": []}}}"#;
        let (imported, config) = import(json);
        assert_eq!(config.servers["both"].url, None);
        assert_eq!(config.servers["r"].env.len(), 0);
        let notes = notes(&imported);
        assert!(notes.contains("server \"both\": ignored `url`, `headers`: not used by its transport, \"stdio\""));
        assert!(notes.contains("server \"r\": ignored `args`, `env`: not used by its transport, \"http\""), "{notes}");
    }

    #[test]
    fn awkward_keys_and_values_are_escaped() {
        let json = r#"{"mcpServers": {"a": {"command": "x", "args": ["line\nbreak", "'single'", "tab\there", "\u0001"],
                                        "env": {"weird key": "v", "quote\"key": "w", "": "empty"}}}}"#;
        let (_, config) = import(json);
        let a = &config.servers["a"];
        assert_eq!(a.args, vec!["line\nbreak", "'single'", "tab\there", "\u{1}"]);
        assert_eq!(a.env["weird key"], "v");
        assert_eq!(a.env["quote\"key"], "w");
        assert_eq!(a.env[""], "empty");
    }

    #[test]
    fn an_empty_section_gives_an_empty_configuration() {
        let (imported, config) = import(r#"{"mcpServers": {}}"#);
        assert!(config.servers.is_empty());
        assert!(notes(&imported).contains("`mcpServers` is empty"));
        // Both sections: the first is used, the other is named.
        let (imported, _) = import(r#"{"mcpServers": {"a": {"command": "x"}}, "servers": {"b": {"command": "y"}}}"#);
        assert_eq!(imported.ids, vec!["a"]);
        assert!(notes(&imported).contains("`servers` is ignored"));
    }

    #[test]
    fn invalid_entries_fail_with_name_and_position() {
        let json = "{\"mcpServers\": {\n  \"ok\": {\"command\": \"x\"},\n  \"empty\": {},\n  \"both\": {\"command\": \"x\", \"url\": \"https://h\"}\n}}";
        let all = errors(json);
        assert_eq!(
            all,
            vec![
                "in.json:3:12: server \"empty\": it has neither `command` (a program to run) nor `url` (a remote server)",
                "in.json:4:11: server \"both\": it has both `command` and `url`: add \"type\": \"stdio\" or \"http\" to choose",
            ]
        );
        let one = |entry: &str| {
            let all = errors(&format!("{{\"mcpServers\": {{\"s\": {entry}}}}}"));
            assert_eq!(all.len(), 1, "{all:?}");
            all[0].clone()
        };
        assert!(one("\"npx\"").ends_with("server \"s\": expected an object with `command` or `url`, found a string"));
        assert!(one(r#"{"command": ["npx"]}"#).ends_with("`command` must be a string, found an array"));
        assert!(
            one(r#"{"command": "x", "args": "-y"}"#).ends_with("`args` must be an array of strings, found a string")
        );
        assert!(one(r#"{"command": "x", "args": [null]}"#).ends_with("`args[0]` must be a string, found null"));
        assert!(one(r#"{"command": "x", "env": {"A": {}}}"#).ends_with("`env.A` must be a string, found an object"));
        assert!(one(r#"{"command": " "}"#).ends_with("`command` is empty: expected the program to run"));
        assert!(one(r#"{"type": "grpc", "url": "https://h"}"#).contains("unknown `type` \"grpc\": expected \"stdio\""));
        assert!(one(r#"{"type": "sse", "command": "x"}"#).ends_with("its type is \"sse\" but it has no `url`"));
        assert!(one(r#"{"type": "stdio", "url": "https://h"}"#).contains("type is \"stdio\" but it has no `command`"));
        assert!(one(r#"{"type": "http", "transport": "sse", "url": "https://h"}"#).contains("disagree"));
        assert!(
            one(r#"{"url": "localhost:3000/mcp"}"#).contains("is not a http URL: expected one starting with http://")
        );
        assert!(one(r#"{"type": "http", "url": "wss://h/mcp"}"#).contains("is not a http URL"));
        assert!(one(r#"{"url": "https:///mcp"}"#).contains("has no host"));
        assert!(
            one(r#"{"command": "x", "disabled": "yes"}"#).ends_with("`disabled` must be true or false, found a string")
        );
        assert!(one(r#"{"serverUrl": "https://h/mcp"}"#).contains("rename it to `url`"));
    }

    #[test]
    fn bad_documents_say_where_and_what() {
        let all = errors("{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}");
        assert_eq!(all.len(), 1);
        assert!(all[0].starts_with("in.json:3:"), "{all:?}");
        assert!(all[0].contains("not valid JSON: trailing comma"), "{all:?}");
        assert_eq!(errors("")[0], "in.json:1:1: not valid JSON: EOF while parsing a value");
        assert_eq!(
            errors("[1]")[0],
            "in.json: expected a JSON object with `mcpServers` (or `servers`), found an array"
        );
        let e = &errors(r#"{"other": 1}"#)[0];
        assert!(e.starts_with("in.json: no `mcpServers` object (nor VS Code's `servers`)"), "{e}");
        let e = &errors(r#"{"a": {"command": "x"}}"#)[0];
        assert!(e.ends_with("wrap them as {\"mcpServers\": {...}}"), "{e}");
        let e = &errors("{\"mcpServers\":\n  [1]}")[0];
        assert_eq!(
            e,
            "in.json:2:3: `mcpServers` must be an object mapping server names to their settings, found an array"
        );
    }

    #[test]
    fn sanitize_rules() {
        assert_eq!(sanitize("My Server"), "my-server");
        assert_eq!(sanitize("a_b.c d"), "a-b-c-d");
        assert_eq!(sanitize("-x"), "s--x");
        assert_eq!(sanitize("@@@"), "server");
        assert_eq!(sanitize(&"x".repeat(40)).len(), 32);
        for name in ["My Server", "-x", "@@@", "9", &"Y".repeat(50)] {
            assert!(is_valid_server_id(&sanitize(name)), "{name}");
        }
        assert_eq!(assign_ids(&["a", "A", "a_", "a-"]), vec!["a", "a-2", "a--2", "a-"]);
    }
}
