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
//!
//! `entry`: one server, read with a derived type; `names`: client
//! placeholders and server ids; `write`: the notes and the TOML.

mod entry;
mod names;
#[cfg(test)]
mod tests;
mod write;

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigErrors, Pos};
use entry::read_server;
use names::assign_ids;
use write::{summary_notes, write_document};

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

/// "a string", "an object": a JSON type named in a message.
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
