//! The import as a whole: which part of the client's file holds the servers,
//! each entry read, ids assigned, notes gathered and the TOML written.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::entry::read_server;
use super::json::{Ordered, json_error, kind, position};
use super::names::assign_ids;
use super::write::{summary_notes, write_document};
use crate::config::error::{ConfigError, ConfigErrors};

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
