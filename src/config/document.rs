//! Reading one TOML document into a [`Layer`], with every error positioned.
//!
//! The document is parsed into toml's spanned tree and walked by hand rather
//! than handed to one derived `Deserialize`: that way an unknown key is
//! reported at the key with a "did you mean", each key's value is read on its
//! own (one bad value does not hide the next), and `${VAR}` substitution runs
//! on the tree before a value is read, so its errors carry the position of the
//! string (of the `${` itself when the string has no escapes).

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::env;
use super::error::{ConfigError, Pos};
use super::layer::{At, GatewayLayer, Layer, ServerLayer};
use super::suggest;
use super::units::{DurationValue, SizeValue};

/// The top-level tables a configuration may have.
pub(crate) const TOP_KEYS: &[&str] = &["gateway", "servers", "auth", "policy"];

/// The keys of `[gateway]`.
pub(crate) const GATEWAY_KEYS: &[&str] = &[
    "listen",
    "separator",
    "prefix",
    "state_dir",
    "max_message_size",
    "max_name_length",
    "server_name",
    "allowed_origins",
    "request_timeout",
    "init_timeout",
    "shutdown_grace",
    "session_idle_timeout",
    "health_interval",
    "health_timeout",
    "health_failures",
    "admin_listen",
    "admin_token",
];

/// The keys of `[servers.<id>]`.
pub(crate) const SERVER_KEYS: &[&str] = &[
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "ca_file",
    "request_timeout",
    "health_interval",
    "health_timeout",
    "health_failures",
    "enabled",
    "required",
    "replicas",
    "balance",
    "description",
];

/// Whether `id` is a valid server id: `^[a-z][a-z0-9-]{0,31}$`. Server ids
/// prefix tool names and resource URIs, so they are kept short and plain.
pub fn is_valid_server_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 32
        && bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// "Did you mean" among the keys of this table; else, for a key of the
/// other table, where it belongs; else the keys this table accepts.
fn key_hint(key: &str, here: &[&str], elsewhere: &[&str], elsewhere_name: &str) -> String {
    if suggest::closest(key, here).is_none() && elsewhere.contains(&key) {
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

struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn pos(&self, offset: usize) -> Pos {
        Pos::of(self.file, self.text, offset)
    }

    fn error(&mut self, offset: usize, message: String) {
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
                        layer.gateway = self.gateway(table);
                    }
                }
                "servers" => {
                    if let Some(table) = self.table("[servers]", value) {
                        self.servers(table, &mut layer);
                    }
                }
                "auth" => layer.auth = Some(self.pos(key_at)),
                "policy" => layer.policy = Some(self.pos(key_at)),
                other => {
                    let hint = if GATEWAY_KEYS.contains(&other) {
                        format!("; `{other}` belongs in [gateway]")
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
    fn table<'i>(&mut self, what: &str, value: Spanned<DeValue<'i>>) -> Option<DeTable<'i>> {
        let at = value.span().start;
        match value.into_inner() {
            DeValue::Table(table) => Some(table),
            other => {
                let found = other.type_str();
                let article = if found.starts_with(['a', 'i']) { "an" } else { "a" };
                self.error(at, format!("{what} must be a table, found {article} {found}"));
                None
            }
        }
    }

    fn gateway(&mut self, table: DeTable<'_>) -> GatewayLayer {
        let mut g = GatewayLayer::default();
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("gateway.{name}");
            match name {
                "listen" => g.listen = self.value(&path, value),
                "separator" => g.separator = self.value(&path, value),
                "prefix" => g.prefix = self.value(&path, value),
                "state_dir" => g.state_dir = self.value(&path, value),
                "max_message_size" => {
                    g.max_message_size = self.value(&path, value).map(|v| v.map(|SizeValue(n)| n));
                }
                "max_name_length" => g.max_name_length = self.value(&path, value),
                "server_name" => g.server_name = self.value(&path, value),
                "allowed_origins" => g.allowed_origins = self.value(&path, value),
                "request_timeout" => g.request_timeout = self.duration(&path, value),
                "init_timeout" => g.init_timeout = self.duration(&path, value),
                "shutdown_grace" => g.shutdown_grace = self.duration(&path, value),
                "session_idle_timeout" => g.session_idle_timeout = self.duration(&path, value),
                "health_interval" => g.health_interval = self.duration(&path, value),
                "health_timeout" => g.health_timeout = self.duration(&path, value),
                "health_failures" => g.health_failures = self.value(&path, value),
                "admin_listen" => g.admin_listen = self.value(&path, value),
                "admin_token" => g.admin_token = self.value(&path, value),
                other => {
                    let hint = key_hint(other, GATEWAY_KEYS, SERVER_KEYS, "a [servers.<id>] table");
                    self.error(key_at, format!("unknown key `{other}` in [gateway]{hint}"));
                }
            }
        }
        g
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
        let mut s = ServerLayer::new(defined_at);
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("servers.{id}.{name}");
            match name {
                "transport" => s.transport = self.value(&path, value),
                "command" => s.command = self.value(&path, value),
                "args" => s.args = self.value(&path, value),
                "env" => s.env = self.value(&path, value),
                "cwd" => s.cwd = self.value(&path, value),
                "url" => s.url = self.value(&path, value),
                "headers" => s.headers = self.value(&path, value),
                "ca_file" => s.ca_file = self.value(&path, value),
                "request_timeout" => s.request_timeout = self.duration(&path, value),
                "health_interval" => s.health_interval = self.duration(&path, value),
                "health_timeout" => s.health_timeout = self.duration(&path, value),
                "health_failures" => s.health_failures = self.value(&path, value),
                "enabled" => s.enabled = self.value(&path, value),
                "required" => s.required = self.value(&path, value),
                "replicas" => s.replicas = self.value(&path, value),
                "balance" => s.balance = self.value(&path, value),
                "description" => s.description = self.value(&path, value),
                other => {
                    let hint = key_hint(other, SERVER_KEYS, GATEWAY_KEYS, "[gateway]");
                    self.error(key_at, format!("unknown key `{other}` in [servers.{id}]{hint}"));
                }
            }
        }
        s
    }

    fn duration(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<std::time::Duration>> {
        self.value(path, value).map(|v| v.map(|DurationValue(d)| d))
    }

    /// Substitutes `${VAR}`s in `value`, then reads it as a `T`. Errors are
    /// recorded at the value (or the part of it that is wrong).
    fn value<T: DeserializeOwned>(&mut self, path: &str, mut value: Spanned<DeValue<'_>>) -> Option<At<T>> {
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
