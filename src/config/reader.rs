//! The [`Reader`]: one TOML document's values, read with their positions.
//!
//! The document is parsed into toml's spanned tree and walked by hand rather
//! than handed to one derived `Deserialize`: that way an unknown key is
//! reported at the key with a "did you mean", each key's value is read on its
//! own (one bad value does not hide the next), and `${VAR}` substitution runs
//! on the tree before a value is read, so its errors carry the position of the
//! string (of the `${` itself when the string has no escapes).
//!
//! This module owns the reading of values of any table: the [`Reader`], which
//! collects a document's errors, and its helpers (plain values after `${VAR}`
//! substitution, keywords, globs, arrays and tables of entries), with the
//! wording shared by messages about keys. How each kind of key uses them is
//! `kinds.rs`; which tables a document has is `document.rs`.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::at::{At, Entries};
use super::env;
use super::error::{ConfigError, Pos};
use super::suggest;

/// `"a string"`, `"an integer"`: a TOML type named in a message.
pub(crate) fn article(found: &str) -> String {
    let word = if found.starts_with(['a', 'i']) { "an" } else { "a" };
    format!("{word} {found}")
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

/// Reads the values of one document, and collects its errors.
pub(crate) struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    /// A reader of `text`, named `file` in errors; `env` gives `${VAR}` values.
    pub(crate) fn new(file: &'a str, text: &'a str, env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Reader { file, text, env, errors: Vec::new() }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        Pos::of(self.file, self.text, offset)
    }

    pub(crate) fn error(&mut self, offset: usize, message: String) {
        let pos = self.pos(offset);
        self.errors.push(ConfigError::at(&pos, message));
    }

    /// An error at a position already known (a value read earlier).
    pub(crate) fn error_at(&mut self, pos: &Pos, message: String) {
        self.errors.push(ConfigError::at(pos, message));
    }

    /// How many errors so far: a reader of a table compares counts to learn
    /// whether something in it could not be read.
    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The errors, in source order.
    pub(crate) fn finish(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }

    /// Syntax errors, one per line: after the first mistake on a line the
    /// parser's recovery tends to report echoes of it.
    pub(crate) fn syntax(&mut self, mut errors: Vec<toml::de::Error>) {
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

    /// `value` as a table, or an error saying that a table was expected.
    pub(crate) fn table<'i>(&mut self, what: &str, value: Spanned<DeValue<'i>>) -> Option<DeTable<'i>> {
        let at = value.span().start;
        match value.into_inner() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(at, format!("{what} must be a table, found {}", article(other.type_str())));
                None
            }
        }
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
                self.error(at, format!("{path}: expected a table, found {}", article(other.type_str())));
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
                self.error_at(&text.pos, format!("{path}: {why}"));
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
                self.error_at(&pos, format!("{path}[{i}]: {why}"));
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
