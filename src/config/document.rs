//! One TOML document into a [`Layer`]: which tables a configuration has.
//!
//! This module owns the top level of a file: the tables that exist
//! (`[gateway]`, `[servers.<id>]`, `[[route]]`, `[auth]`, `[[policy]]`,
//! `[registry]`, `[cluster]`),
//! arrays of tables, server ids, and where a key written in the wrong table
//! belongs (it knows every table, so the unknown-key hints that name another
//! table are given here). Reading values is the [`Reader`]'s (`reader.rs`);
//! which keys a table has is the table's declaration (`gateway.rs`,
//! `server.rs`, `auth.rs`, `route.rs`).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::auth::{AUTH_KEYS, AuthLayer, JWT_KEYS, POLICY_KEYS, PolicyLayer};
use super::cluster::{CLUSTER_KEYS, REGISTRY_KEYS};
use super::error::{ConfigError, Pos};
use super::gateway::GATEWAY_KEYS;
use super::layer::Layer;
use super::reader::{Reader, article, key_hint};
use super::route::{ROUTE_KEYS, RouteLayer};
use super::server::{SERVER_KEYS, ServerLayer};
use super::suggest;

/// The top-level tables a configuration may have.
pub const TOP_KEYS: &[&str] = &["gateway", "servers", "route", "auth", "policy", "registry", "cluster"];

/// Whether `id` is a valid server id: `^[a-z][a-z0-9-]{0,31}$`. Server ids
/// prefix tool names and resource URIs, so they are kept short and plain.
pub fn is_valid_server_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 32
        && bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// Reads one document. The layer is `None` when the text is not valid TOML:
/// then only the syntax errors are reported, since anything read from a
/// half-parsed document could be wrong.
pub(crate) fn read(file: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) -> (Option<Layer>, Vec<ConfigError>) {
    let mut reader = Reader::new(file, text, env);
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        reader.syntax(syntax_errors);
        return (None, reader.finish());
    }
    let layer = document(&mut reader, root.into_inner());
    (Some(layer), reader.finish())
}

/// An unknown key in `[gateway]`: perhaps a server's.
fn gateway_hint(key: &str) -> String {
    key_hint(key, GATEWAY_KEYS, SERVER_KEYS, "a [servers.<id>] table")
}

/// An unknown key in `[servers.<id>]`: perhaps the gateway's.
fn server_hint(key: &str) -> String {
    key_hint(key, SERVER_KEYS, GATEWAY_KEYS, "[gateway]")
}

/// An unknown key in `[auth]`: perhaps `[auth.jwt]`'s.
fn auth_hint(key: &str) -> String {
    key_hint(key, AUTH_KEYS, JWT_KEYS, "[auth.jwt]")
}

fn route_hint(key: &str) -> String {
    suggest::hint(key, ROUTE_KEYS)
}

fn policy_hint(key: &str) -> String {
    suggest::hint(key, POLICY_KEYS)
}

fn document(r: &mut Reader<'_>, root: DeTable<'_>) -> Layer {
    let mut layer = Layer::default();
    for (key, value) in root {
        let key_at = key.span().start;
        match key.get_ref().as_ref() {
            "gateway" => {
                if let Some(table) = r.table("[gateway]", value) {
                    layer.gateway.read_keys(r, table, "gateway", "[gateway]", gateway_hint);
                }
            }
            "servers" => {
                if let Some(table) = r.table("[servers]", value) {
                    servers(r, table, &mut layer);
                }
            }
            "route" => routes(r, value, &mut layer),
            "auth" => {
                let at = r.pos(key_at);
                layer.auth = Some(auth(r, at, value));
            }
            "policy" => policies(r, value, &mut layer),
            "registry" => {
                if let Some(table) = r.table("[registry]", value) {
                    layer.registry.read_keys(r, table, "registry", "[registry]", |k| suggest::hint(k, REGISTRY_KEYS));
                }
            }
            "cluster" => {
                if let Some(table) = r.table("[cluster]", value) {
                    layer.cluster.read_keys(r, table, "cluster", "[cluster]", |k| suggest::hint(k, CLUSTER_KEYS));
                }
            }
            other => {
                let hint = if GATEWAY_KEYS.contains(&other) {
                    format!("; `{other}` belongs in [gateway]")
                } else if AUTH_KEYS.contains(&other) {
                    format!("; `{other}` belongs in [auth]")
                } else if JWT_KEYS.contains(&other) {
                    format!("; `{other}` belongs in [auth.jwt]")
                } else {
                    suggest::hint(other, TOP_KEYS)
                };
                r.error(key_at, format!("unknown top-level key `{other}`{hint}"));
            }
        }
    }
    layer
}

fn servers(r: &mut Reader<'_>, table: DeTable<'_>, layer: &mut Layer) {
    for (key, value) in table {
        let key_at = key.span().start;
        let id = key.get_ref().as_ref();
        let valid = is_valid_server_id(id);
        if !valid {
            r.error(
                key_at,
                format!(
                    "invalid server id `{id}`: expected ^[a-z][a-z0-9-]{{0,31}}$ \
                     (a lowercase letter, then at most 31 lowercase letters, digits or `-`)"
                ),
            );
        }
        let Some(table) = r.table(&format!("[servers.{id}]"), value) else {
            continue;
        };
        let errors_before = r.error_count();
        let defined_at = r.pos(key_at);
        let mut server = server(r, id, table, defined_at);
        server.broken = r.error_count() > errors_before;
        if valid {
            layer.servers.insert(id.to_owned(), server);
        }
    }
}

fn server(r: &mut Reader<'_>, id: &str, table: DeTable<'_>, defined_at: Pos) -> ServerLayer {
    let mut server = ServerLayer::new(defined_at, false);
    server.read_keys(r, table, &format!("servers.{id}"), &format!("[servers.{id}]"), server_hint);
    server
}

/// `[[route]]`: an array of tables, appended to the layer's routes.
fn routes(r: &mut Reader<'_>, value: Spanned<DeValue<'_>>, layer: &mut Layer) {
    let at = value.span().start;
    let items = match value.into_inner() {
        DeValue::Array(items) => items,
        other => {
            let found = article(other.type_str());
            r.error(at, format!("`route` must be an array of tables (write [[route]]), found {found}"));
            return;
        }
    };
    for (index, item) in items.into_iter().enumerate() {
        let item_at = item.span().start;
        if let Some(table) = r.table(&format!("route[{index}]"), item) {
            let at = r.pos(item_at);
            let route = route(r, index, table, at);
            layer.routes.push(route);
        }
    }
}

fn route(r: &mut Reader<'_>, index: usize, table: DeTable<'_>, at: Pos) -> RouteLayer {
    let mut route = RouteLayer::new(at, index, false);
    let errors_before = r.error_count();
    route.read_keys(r, table, &format!("route[{index}]"), "[[route]]", route_hint);
    route.broken = r.error_count() > errors_before;
    route
}

/// `[auth]`, positioned at `at` (its key). A value that is not a table
/// still counts as an `[auth]` (a broken one): the gateway is not
/// reported as open to everyone on top of the real mistake.
fn auth(r: &mut Reader<'_>, at: Pos, value: Spanned<DeValue<'_>>) -> AuthLayer {
    let mut auth = AuthLayer::new(at, false);
    let errors_before = r.error_count();
    if let Some(table) = r.table("[auth]", value) {
        auth.read_keys(r, table, "auth", "[auth]", auth_hint);
    }
    auth.broken = r.error_count() > errors_before;
    auth
}

/// `[[policy]]`: an array of tables, appended to the layer's policies.
fn policies(r: &mut Reader<'_>, value: Spanned<DeValue<'_>>, layer: &mut Layer) {
    let at = value.span().start;
    let items = match value.into_inner() {
        DeValue::Array(items) => items,
        other => {
            let found = article(other.type_str());
            r.error(at, format!("`policy` must be an array of tables (write [[policy]]), found {found}"));
            return;
        }
    };
    for (index, item) in items.into_iter().enumerate() {
        let item_at = item.span().start;
        if let Some(table) = r.table(&format!("policy[{index}]"), item) {
            let at = r.pos(item_at);
            let policy = policy(r, index, table, at);
            layer.policies.push(policy);
        }
    }
}

fn policy(r: &mut Reader<'_>, index: usize, table: DeTable<'_>, at: Pos) -> PolicyLayer {
    let mut policy = PolicyLayer::new(at, index, false);
    let errors_before = r.error_count();
    policy.read_keys(r, table, &format!("policy[{index}]"), "[[policy]]", policy_hint);
    policy.broken = r.error_count() > errors_before;
    policy
}
