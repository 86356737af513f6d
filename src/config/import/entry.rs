//! One `mcpServers` entry: read with a derived [`Entry`], then turned into a
//! [`Server`] vmcp can run (its transport decided, its values converted).
//!
//! Every known key is a [`Typed`] field: serde reads the entry's shape, and a
//! value of the wrong type does not fail the whole entry with serde's
//! "invalid type ... at line 1 column 12" but is kept as what was found, so
//! the error names the key (`args[0]`, `env.TOKEN`) and what it should be.
//! Keys vmcp does not know are collected by `#[serde(flatten)]` and noted.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::json::kind;
use super::names::{Converted, placeholders};
use crate::config::values::TransportKind;

/// One server as its client writes it. `null` counts as absent everywhere
/// but in `timeout`, whose notes say what was found.
#[derive(Deserialize)]
struct Entry {
    #[serde(default, rename = "type")]
    kind: Option<Typed<String>>,
    /// A synonym of `type`.
    #[serde(default)]
    transport: Option<Typed<String>>,
    #[serde(default)]
    command: Option<Typed<String>>,
    #[serde(default)]
    args: Option<Typed<Vec<Typed<Scalar>>>>,
    #[serde(default)]
    env: Option<Typed<BTreeMap<String, Typed<Scalar>>>>,
    #[serde(default)]
    cwd: Option<Typed<String>>,
    #[serde(default)]
    url: Option<Typed<String>>,
    #[serde(default)]
    headers: Option<Typed<BTreeMap<String, Typed<Scalar>>>>,
    #[serde(default)]
    disabled: Option<Typed<bool>>,
    #[serde(default)]
    enabled: Option<Typed<bool>>,
    /// Milliseconds; anything else is noted and ignored, `null` included.
    #[serde(default, deserialize_with = "null_is_a_value")]
    timeout: Option<Value>,
    #[serde(default)]
    description: Option<Typed<String>>,
    /// Every other key, by name: ignored with a note (`serverUrl` gets a hint).
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// A value of the type `T` expects, or what was found instead ("a number").
enum Typed<T> {
    Valid(T),
    Found(&'static str),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Typed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let found = kind(&value);
        Ok(T::deserialize(value).map_or(Typed::Found(found), Typed::Valid))
    }
}

/// A string, number or boolean, as the text a process would see.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Scalar(s)),
            Value::Number(n) => Ok(Scalar(n.to_string())),
            Value::Bool(b) => Ok(Scalar(b.to_string())),
            other => Err(serde::de::Error::custom(format!("expected a string, found {}", kind(&other)))),
        }
    }
}

fn null_is_a_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `field`'s value, or the error "`key` must be `expected`, found ...".
fn valid<T>(field: Option<Typed<T>>, key: &str, expected: &str) -> Result<Option<T>, String> {
    match field {
        None => Ok(None),
        Some(Typed::Valid(value)) => Ok(Some(value)),
        Some(Typed::Found(found)) => Err(format!("`{key}` must be {expected}, found {found}")),
    }
}

/// One string of a list or object (a number or boolean as its text).
fn item(value: Typed<Scalar>, key: &str) -> Result<String, String> {
    match value {
        Typed::Valid(Scalar(s)) => Ok(s),
        Typed::Found(found) => Err(format!("`{key}` must be a string, found {found}")),
    }
}

/// An array of strings.
fn string_list(field: Option<Typed<Vec<Typed<Scalar>>>>, key: &str) -> Result<Vec<String>, String> {
    let items = valid(field, key, "an array of strings")?.unwrap_or_default();
    items.into_iter().enumerate().map(|(i, value)| item(value, &format!("{key}[{i}]"))).collect()
}

/// An object of strings (numbers and booleans as their text), in key order.
fn string_map(
    field: Option<Typed<BTreeMap<String, Typed<Scalar>>>>,
    key: &str,
) -> Result<Vec<(String, String)>, String> {
    let entries = valid(field, key, "an object of strings")?.unwrap_or_default();
    entries
        .into_iter()
        .map(|(name, value)| {
            let value = item(value, &format!("{key}.{name}"))?;
            Ok((name, value))
        })
        .collect()
}

/// One server as read from the client's file, values already converted.
#[derive(Debug)]
pub(super) struct Server {
    pub name: String,
    pub transport: TransportKind,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, Text>,
    pub cwd: Option<String>,
    pub url: Option<String>,
    pub headers: BTreeMap<String, Text>,
    pub request_timeout: Option<String>,
    pub enabled: bool,
    pub description: Option<String>,
    /// Environment variables its values read.
    pub vars: BTreeSet<String>,
}

/// A converted string value and whether it reads an environment variable.
#[derive(Debug)]
pub(super) struct Text {
    pub value: String,
    pub substitutes: bool,
}

/// Reads the entry `name`, at `raw`; its notes are added to `notes`. The error
/// is one line about the first problem.
pub(super) fn read_server(name: &str, raw: &RawValue, notes: &mut Vec<String>) -> Result<Server, String> {
    // Through a `Value` first: an entry that is not an object gets its own
    // message, and a key written twice keeps its last value, as in JSON's
    // usual reading, instead of failing the derive.
    let value: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err(format!("expected an object with `command` or `url`, found {}", kind(&value)));
    }
    let entry: Entry = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let mut vars = BTreeSet::new();
    let mut convert = |what: &str, s: String, notes: &mut Vec<String>| {
        let Converted { value, vars: used } = placeholders(what, &s, notes);
        let substitutes = !used.is_empty();
        vars.extend(used);
        Text { value, substitutes }
    };

    let declared =
        declared_transport(valid(entry.kind, "type", "a string")?, valid(entry.transport, "transport", "a string")?)?;
    let command = valid(entry.command, "command", "a string")?;
    let url = valid(entry.url, "url", "a string")?;
    if url.is_none() && entry.other.contains_key("serverUrl") {
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
    // The keys of the other kind of transport, which are ignored.
    let ignored: Vec<&str> = if transport == TransportKind::Stdio {
        let Some(command) = command else {
            return Err("it has no `command`".to_owned());
        };
        if command.trim().is_empty() {
            return Err("`command` is empty: expected the program to run".to_owned());
        }
        server.command = Some(convert("command", command, notes).value);
        let args = string_list(entry.args, "args")?;
        server.args =
            args.into_iter().enumerate().map(|(i, a)| convert(&format!("args[{i}]"), a, notes).value).collect();
        for (key, value) in string_map(entry.env, "env")? {
            let text = convert(&format!("env.{key}"), value, notes);
            server.env.insert(key, text);
        }
        server.cwd = valid(entry.cwd, "cwd", "a string")?.map(|c| convert("cwd", c, notes).value);
        [("url", url.is_some()), ("headers", entry.headers.is_some())]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect()
    } else {
        let Some(url) = url else {
            return Err("it has no `url`".to_owned());
        };
        let url = convert("url", url, notes);
        if !url.substitutes {
            check_url(transport, &url.value)?;
        }
        server.url = Some(url.value);
        for (key, value) in string_map(entry.headers, "headers")? {
            let text = convert(&format!("headers.{key}"), value, notes);
            server.headers.insert(key, text);
        }
        [
            ("command", command.is_some()),
            ("args", entry.args.is_some()),
            ("env", entry.env.is_some()),
            ("cwd", entry.cwd.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    };
    if !ignored.is_empty() {
        let keys = ignored.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        notes.push(format!("ignored {keys}: not used by its transport, \"{transport}\""));
    }

    let disabled = valid(entry.disabled, "disabled", "true or false")?;
    let enabled = valid(entry.enabled, "enabled", "true or false")?;
    server.enabled = disabled != Some(true) && enabled != Some(false);
    server.request_timeout = entry.timeout.and_then(|value| timeout(&value, notes));
    server.description =
        valid(entry.description, "description", "a string")?.map(|d| convert("description", d, notes).value);

    if !entry.other.is_empty() {
        let unknown: Vec<String> = entry.other.keys().map(|k| format!("`{k}`")).collect();
        notes.push(format!("ignored {}: vmcp has no equivalent", unknown.join(", ")));
    }
    server.vars = vars;
    Ok(server)
}

/// `type`, or its synonym `transport`.
fn declared_transport(ty: Option<String>, transport: Option<String>) -> Result<Option<TransportKind>, String> {
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
fn timeout(value: &Value, notes: &mut Vec<String>) -> Option<String> {
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
