//! Reading one TOML document into a [`Layer`], with every error positioned.
//!
//! The document is parsed into toml's spanned tree and walked by hand rather
//! than handed to one derived `Deserialize`: that way an unknown key is
//! reported at the key with a "did you mean", each key's value is read on its
//! own (one bad value does not hide the next), and `${VAR}` substitution runs
//! on the tree before a value is read, so its errors carry the position of the
//! string (of the `${` itself when the string has no escapes).
//!
//! This module owns the top level (which tables exist, arrays of tables,
//! server ids) and the [`Reader`] the tables' generated `read_keys` and the
//! key kinds (`kinds.rs`) read values with. Which keys a table has is the
//! table's declaration (`gateway.rs`, `server.rs`, `auth.rs`, `route.rs`).

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::auth::{AUTH_KEYS, AuthLayer, JWT_KEYS, PolicyLayer};
use super::env;
use super::error::{ConfigError, Pos};
use super::gateway::GATEWAY_KEYS;
use super::layer::{ApiKeyLayer, At, Entries, Layer};
use super::route::RouteLayer;
use super::server::ServerLayer;
use super::suggest;
use super::values::Endpoint;

/// The top-level tables a configuration may have.
pub const TOP_KEYS: &[&str] = &["gateway", "servers", "route", "auth", "policy"];

/// The keys of a table in `[auth] api_keys`.
pub const API_KEY_KEYS: &[&str] = &["name", "sha256", "roles"];

/// How to write one `api_keys` entry, for messages.
const API_KEY_EXAMPLE: &str = "{ name = \"ci\", sha256 = \"<64 hex characters>\", roles = [\"dev\"] }";

/// The keys of an inline table in `urls`.
const ENDPOINT_KEYS: &[&str] = &["url", "weight"];

/// Whether `id` is a valid server id: `^[a-z][a-z0-9-]{0,31}$`. Server ids
/// prefix tool names and resource URIs, so they are kept short and plain.
pub fn is_valid_server_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 32
        && bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// `"a string"`, `"an integer"`: a TOML type named in a message.
fn a(found: &str) -> String {
    let article = if found.starts_with(['a', 'i']) { "an" } else { "a" };
    format!("{article} {found}")
}

/// `base.key`, with the key quoted when it is not a bare TOML key.
pub(crate) fn key_path(base: &str, key: &str) -> String {
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { format!("{base}.{key}") } else { format!("{base}.{key:?}") }
}

/// Whether `glob` is a valid glob (the `globset` syntax: `*`, `?`, `[...]`, `{a,b}`).
pub(crate) fn glob_problem(glob: &str) -> Result<(), String> {
    globset::Glob::new(glob).map(drop).map_err(|e| format!("invalid glob \"{glob}\": {}", e.kind()))
}

/// Where `route` (top-level only) goes; else "did you mean" among the keys of
/// this table; else, for a key of the other table, where it belongs; else the
/// keys this table accepts.
pub(crate) fn key_hint(key: &str, here: &[&str], elsewhere: &[&str], elsewhere_name: &str) -> String {
    if key == "route" {
        "; `route` is top-level: write [[route]] tables".to_owned()
    } else if suggest::closest(key, here).is_none() && elsewhere.contains(&key) {
        format!("; `{key}` belongs in {elsewhere_name}")
    } else {
        suggest::hint(key, here)
    }
}

/// Reads one document. The layer is `None` when the text is not valid TOML:
/// then only the syntax errors are reported, since anything read from a
/// half-parsed document could be wrong.
pub(crate) fn read(file: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) -> (Option<Layer>, Vec<ConfigError>) {
    let mut reader = Reader { file, text, env, errors: Vec::new() };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        reader.syntax(syntax_errors);
        return (None, reader.finish());
    }
    let layer = reader.document(root.into_inner());
    (Some(layer), reader.finish())
}

pub(crate) struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    pub(crate) fn pos(&self, offset: usize) -> Pos {
        Pos::of(self.file, self.text, offset)
    }

    pub(crate) fn error(&mut self, offset: usize, message: String) {
        let pos = self.pos(offset);
        self.errors.push(ConfigError::at(&pos, message));
    }

    fn finish(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }

    /// Syntax errors, one per line: after the first mistake on a line the
    /// parser's recovery tends to report echoes of it.
    fn syntax(&mut self, mut errors: Vec<toml::de::Error>) {
        errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
        let mut last_line = None;
        for e in errors {
            let message = format!("invalid TOML: {}", e.message().trim_end());
            match e.span() {
                Some(span) => {
                    let pos = self.pos(span.start);
                    if last_line != Some(pos.line) {
                        last_line = Some(pos.line);
                        self.errors.push(ConfigError::at(&pos, message));
                    }
                }
                None => self.errors.push(ConfigError::in_file(self.file, message)),
            }
        }
    }

    fn document(&mut self, root: DeTable<'_>) -> Layer {
        let mut layer = Layer::default();
        for (key, value) in root {
            let key_at = key.span().start;
            match key.get_ref().as_ref() {
                "gateway" => {
                    if let Some(table) = self.table("[gateway]", value) {
                        layer.gateway.read_keys(self, table, "gateway", "[gateway]");
                    }
                }
                "servers" => {
                    if let Some(table) = self.table("[servers]", value) {
                        self.servers(table, &mut layer);
                    }
                }
                "route" => self.routes(value, &mut layer),
                "auth" => layer.auth = Some(self.auth(self.pos(key_at), value)),
                "policy" => self.policies(value, &mut layer),
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
                    self.error(key_at, format!("unknown top-level key `{other}`{hint}"));
                }
            }
        }
        layer
    }

    /// `value` as a table, or an error saying that a table was expected.
    pub(crate) fn table<'i>(&mut self, what: &str, value: Spanned<DeValue<'i>>) -> Option<DeTable<'i>> {
        let at = value.span().start;
        match value.into_inner() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(at, format!("{what} must be a table, found {}", a(other.type_str())));
                None
            }
        }
    }

    fn servers(&mut self, table: DeTable<'_>, layer: &mut Layer) {
        for (key, value) in table {
            let key_at = key.span().start;
            let id = key.get_ref().as_ref();
            let valid = is_valid_server_id(id);
            if !valid {
                self.error(
                    key_at,
                    format!(
                        "invalid server id `{id}`: expected ^[a-z][a-z0-9-]{{0,31}}$ \
                         (a lowercase letter, then at most 31 lowercase letters, digits or `-`)"
                    ),
                );
            }
            let Some(table) = self.table(&format!("[servers.{id}]"), value) else {
                continue;
            };
            let errors_before = self.errors.len();
            let mut server = self.server(id, table, self.pos(key_at));
            server.broken = self.errors.len() > errors_before;
            if valid {
                layer.servers.insert(id.to_owned(), server);
            }
        }
    }

    fn server(&mut self, id: &str, table: DeTable<'_>, defined_at: Pos) -> ServerLayer {
        let mut server = ServerLayer::new(defined_at, false);
        server.read_keys(self, table, &format!("servers.{id}"), &format!("[servers.{id}]"));
        server
    }

    /// `urls`: an array whose items are URLs or `{ url = "...", weight = 2 }`.
    /// `None` when any item could not be read.
    pub(crate) fn urls(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<At<Endpoint>>>> {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(
                    at,
                    format!(
                        "{path}: expected an array of URLs, such as \
                         [\"https://a/mcp\", {{ url = \"https://b/mcp\", weight = 2 }}], found {found}"
                    ),
                );
                return None;
            }
        };
        let mut endpoints = Vec::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{path}[{i}]");
            let span = item.span();
            let endpoint = match item.into_inner() {
                DeValue::Table(table) => self.endpoint(&path, span.start, table),
                DeValue::String(url) => self
                    .value(&path, Spanned::new(span, DeValue::String(url)))
                    .map(|at| at.map(|url| Endpoint { url, weight: 1 })),
                other => {
                    let found = a(other.type_str());
                    self.error(
                        span.start,
                        format!(
                            "{path}: expected a URL or a table such as \
                             {{ url = \"https://host/mcp\", weight = 2 }}, found {found}"
                        ),
                    );
                    None
                }
            };
            match endpoint {
                Some(endpoint) => endpoints.push(endpoint),
                None => ok = false,
            }
        }
        ok.then(|| At { value: endpoints, pos: self.pos(at) })
    }

    /// One `{ url = "...", weight = 2 }` of `urls`, positioned at its URL.
    fn endpoint(&mut self, path: &str, at: usize, table: DeTable<'_>) -> Option<At<Endpoint>> {
        let errors_before = self.errors.len();
        let mut url: Option<At<String>> = None;
        let mut weight: Option<At<u32>> = None;
        for (key, value) in table {
            let key_at = key.span().start;
            match key.get_ref().as_ref() {
                "url" => url = self.value(&format!("{path}.url"), value),
                "weight" => weight = self.value(&format!("{path}.weight"), value),
                other => {
                    let hint = suggest::hint(other, ENDPOINT_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in {path}{hint}"));
                }
            }
        }
        if let Some(w) = &weight
            && w.value == 0
        {
            self.errors.push(ConfigError::at(&w.pos, format!("{path}.weight: expected at least 1")));
        }
        if url.is_none() && self.errors.len() == errors_before {
            self.error(
                at,
                format!("{path}: missing `url`: expected a table such as {{ url = \"https://host/mcp\", weight = 2 }}"),
            );
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let weight = weight.map_or(1, |w| w.value);
        url.map(|url| url.map(|url| Endpoint { url, weight }))
    }

    /// `[[route]]`: an array of tables, appended to the layer's routes.
    fn routes(&mut self, value: Spanned<DeValue<'_>>, layer: &mut Layer) {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(at, format!("`route` must be an array of tables (write [[route]]), found {found}"));
                return;
            }
        };
        for (index, item) in items.into_iter().enumerate() {
            let item_at = item.span().start;
            if let Some(table) = self.table(&format!("route[{index}]"), item) {
                let route = self.route(index, table, self.pos(item_at));
                layer.routes.push(route);
            }
        }
    }

    fn route(&mut self, index: usize, table: DeTable<'_>, at: Pos) -> RouteLayer {
        let mut route = RouteLayer::new(at, index, false);
        let errors_before = self.errors.len();
        route.read_keys(self, table, &format!("route[{index}]"), "[[route]]");
        route.broken = self.errors.len() > errors_before;
        route
    }

    /// `[auth]`, positioned at `at` (its key). A value that is not a table
    /// still counts as an `[auth]` (a broken one): the gateway is not
    /// reported as open to everyone on top of the real mistake.
    fn auth(&mut self, at: Pos, value: Spanned<DeValue<'_>>) -> AuthLayer {
        let mut auth = AuthLayer::new(at, false);
        let errors_before = self.errors.len();
        if let Some(table) = self.table("[auth]", value) {
            auth.read_keys(self, table, "auth", "[auth]");
        }
        auth.broken = self.errors.len() > errors_before;
        auth
    }

    /// `api_keys`: an array of `{ name = "...", sha256 = "...", roles = [...] }`.
    /// `None` when any item could not be read.
    pub(crate) fn api_keys(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<ApiKeyLayer>>> {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(
                    at,
                    format!("{path}: expected an array of tables such as [{API_KEY_EXAMPLE}], found {found}"),
                );
                return None;
            }
        };
        let mut keys = Vec::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{path}[{i}]");
            let span = item.span();
            let key = match item.into_inner() {
                DeValue::Table(table) => self.api_key(&path, span.start, table),
                other => {
                    let found = a(other.type_str());
                    self.error(
                        span.start,
                        format!("{path}: expected a table such as {API_KEY_EXAMPLE}, found {found}"),
                    );
                    None
                }
            };
            match key {
                Some(key) => keys.push(key),
                None => ok = false,
            }
        }
        ok.then(|| At { value: keys, pos: self.pos(at) })
    }

    /// One entry of `api_keys`; `at`: where its table starts.
    fn api_key(&mut self, path: &str, at: usize, table: DeTable<'_>) -> Option<ApiKeyLayer> {
        let errors_before = self.errors.len();
        let mut name: Option<At<String>> = None;
        let mut sha256: Option<At<String>> = None;
        let mut roles: Option<At<Vec<String>>> = None;
        for (key, value) in table {
            let key_at = key.span().start;
            match key.get_ref().as_ref() {
                "name" => name = self.value(&format!("{path}.name"), value),
                "sha256" => sha256 = self.value(&format!("{path}.sha256"), value),
                "roles" => roles = self.value(&format!("{path}.roles"), value),
                other => {
                    let hint = suggest::hint(other, API_KEY_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in {path}{hint}"));
                }
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let missing = match (&name, &sha256) {
            (None, _) => Some("`name`: who the key is, as policies and the audit log name it"),
            (_, None) => Some("`sha256`: the key's SHA-256 in hex (make one with: printf %s \"$KEY\" | sha256sum)"),
            _ => None,
        };
        if let Some(missing) = missing {
            self.error(at, format!("{path}: missing {missing}; expected a table such as {API_KEY_EXAMPLE}"));
        }
        Some(ApiKeyLayer { name: name?, sha256: sha256?, roles: roles.map_or_else(Vec::new, |at| at.value) })
    }

    /// `[[policy]]`: an array of tables, appended to the layer's policies.
    fn policies(&mut self, value: Spanned<DeValue<'_>>, layer: &mut Layer) {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(at, format!("`policy` must be an array of tables (write [[policy]]), found {found}"));
                return;
            }
        };
        for (index, item) in items.into_iter().enumerate() {
            let item_at = item.span().start;
            if let Some(table) = self.table(&format!("policy[{index}]"), item) {
                let policy = self.policy(index, table, self.pos(item_at));
                layer.policies.push(policy);
            }
        }
    }

    fn policy(&mut self, index: usize, table: DeTable<'_>, at: Pos) -> PolicyLayer {
        let mut policy = PolicyLayer::new(at, index, false);
        let errors_before = self.errors.len();
        policy.read_keys(self, table, &format!("policy[{index}]"), "[[policy]]");
        policy.broken = self.errors.len() > errors_before;
        policy
    }

    /// A table whose entries are read one by one by `read(self, name,
    /// path, key offset, value)`; an entry it cannot read is left out.
    pub(crate) fn entries<'i, T>(
        &mut self,
        path: &str,
        value: Spanned<DeValue<'i>>,
        mut read: impl FnMut(&mut Self, &str, &str, usize, Spanned<DeValue<'i>>) -> Option<At<T>>,
    ) -> Option<At<Entries<T>>> {
        let at = value.span().start;
        let table = match value.into_inner() {
            DeValue::Table(table) => table,
            other => {
                self.error(at, format!("{path}: expected a table, found {}", a(other.type_str())));
                return None;
            }
        };
        let mut entries = Entries::new();
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            if let Some(entry) = read(self, name, &key_path(path, name), key.span().start, value) {
                entries.insert(name.to_owned(), entry);
            }
        }
        Some(At { value: entries, pos: self.pos(at) })
    }

    /// A string read through `parse`, whose complaint is reported at the value.
    pub(crate) fn keyword<T>(
        &mut self,
        path: &str,
        value: Spanned<DeValue<'_>>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<At<T>> {
        let text: At<String> = self.value(path, value)?;
        match parse(&text.value) {
            Ok(v) => Some(At { value: v, pos: text.pos }),
            Err(why) => {
                self.errors.push(ConfigError::at(&text.pos, format!("{path}: {why}")));
                None
            }
        }
    }

    /// One glob.
    pub(crate) fn glob(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<String>> {
        self.keyword(path, value, |v| glob_problem(v).map(|()| v.to_owned()))
    }

    /// An array of globs, each one checked at its own position.
    pub(crate) fn globs(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<String>>> {
        let starts: Vec<usize> = match value.get_ref() {
            DeValue::Array(items) => items.iter().map(|item| item.span().start).collect(),
            _ => Vec::new(),
        };
        let globs: At<Vec<String>> = self.value(path, value)?;
        let mut ok = true;
        for (i, glob) in globs.value.iter().enumerate() {
            if let Err(why) = glob_problem(glob) {
                let pos = starts.get(i).map_or_else(|| globs.pos.clone(), |&at| self.pos(at));
                self.errors.push(ConfigError::at(&pos, format!("{path}[{i}]: {why}")));
                ok = false;
            }
        }
        ok.then_some(globs)
    }

    /// An array of strings, each positioned at its own value.
    pub(crate) fn strings(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<At<String>>>> {
        let starts: Vec<usize> = match value.get_ref() {
            DeValue::Array(items) => items.iter().map(|item| item.span().start).collect(),
            _ => Vec::new(),
        };
        let strings: At<Vec<String>> = self.value(path, value)?;
        let pos = strings.pos.clone();
        let items = strings.value.into_iter().enumerate().map(|(i, value)| {
            let pos = starts.get(i).map_or_else(|| pos.clone(), |&at| self.pos(at));
            At { value, pos }
        });
        Some(At { value: items.collect(), pos })
    }
    /// Substitutes `${VAR}`s in `value`, then reads it as a `T`. Errors are
    /// recorded at the value (or the part of it that is wrong).
    pub(crate) fn value<T: DeserializeOwned>(&mut self, path: &str, mut value: Spanned<DeValue<'_>>) -> Option<At<T>> {
        let at = value.span().start;
        if !self.substitute(path, &mut value) {
            return None;
        }
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(At { value: v, pos: self.pos(at) }),
            Err(e) => {
                let offset = e.span().map_or(at, |s| s.start);
                self.error(offset, format!("{path}: {}", e.message()));
                None
            }
        }
    }

    /// Substitutes in every string inside `value`; false if any failed.
    fn substitute(&mut self, path: &str, value: &mut Spanned<DeValue<'_>>) -> bool {
        let span = value.span();
        match value.get_mut() {
            DeValue::String(s) => match env::substitute(s, self.env) {
                Ok(expanded) => {
                    if expanded != **s {
                        *s = Cow::Owned(expanded);
                    }
                    true
                }
                Err(errors) => {
                    for e in errors {
                        let offset = self.offset_in_string(span.clone(), e.index);
                        self.error(offset, format!("{path}: {}", e.message));
                    }
                    false
                }
            },
            DeValue::Array(items) => {
                let mut ok = true;
                for (i, item) in items.iter_mut().enumerate() {
                    ok &= self.substitute(&format!("{path}[{i}]"), item);
                }
                ok
            }
            DeValue::Table(table) => {
                let mut ok = true;
                for (key, item) in table.iter_mut() {
                    ok &= self.substitute(&format!("{path}.{}", key.get_ref()), item);
                }
                ok
            }
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => true,
        }
    }

    /// The source offset of byte `index` of a string's value. Exact for
    /// single-line strings without escapes (the common case); otherwise the
    /// start of the string.
    fn offset_in_string(&self, span: Range<usize>, index: usize) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let exact = !raw.starts_with("\"\"\"")
            && !raw.starts_with("'''")
            && (raw.starts_with('\'') || (raw.starts_with('"') && !raw.contains('\\')));
        if exact { span.start + 1 + index } else { span.start }
    }
}
