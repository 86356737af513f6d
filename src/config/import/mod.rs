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
//! `convert`: the import as a whole; `entry`: one server, read with a derived
//! type; `names`: client placeholders and server ids; `write`: the notes and
//! the TOML; `json`: what they share of reading JSON.

mod convert;
mod entry;
mod json;
mod names;
#[cfg(test)]
mod tests;
mod write;

pub use convert::{Imported, import_mcp_json};
