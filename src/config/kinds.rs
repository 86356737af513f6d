//! The kinds of value a configuration key holds: how each is read from the
//! TOML tree (with its position, every error at the value or the part of it
//! that is wrong) and how a later file's value combines with an earlier one's.
//!
//! A key line of `config_table!` names its kind (`Str`, `Dur`, `Globs`,
//! `Keyword<Balance>`, ...); the structural keys (`urls`, `timeouts`, the
//! tables of entries) are kinds of their own here, so the tables stay
//! declarations. The kinds that are a table's own sub-table (`breaker`,
//! `jwt`, `api_keys`) are declared beside that table (`server.rs`, `auth.rs`).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::at::{At, Entries};
use super::reader::{Reader, article};
use super::suggest;
use super::units::{DurationValue, PercentValue, RateValue, SizeValue};
use super::values::{
    AFFINITIES, Affinity, BALANCE_STRATEGIES, Balance, Endpoint, HashKey, ISOLATIONS, Isolation, REQUEST_METHODS,
    RateLimit,
};

/// How one key's value is read, and merged across files.
pub(crate) trait Kind {
    /// What a layer keeps of it (with its position, in an [`At`]).
    type Value;

    /// Reads `value`, the value of the key at `key_at`; `path` names it in
    /// errors ("servers.time.replicas"). `None` when it could not be read
    /// (the error is recorded).
    fn read(r: &mut Reader<'_>, path: &str, key_at: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>>;

    /// A later file's value replaces an earlier one's, unless the kind says
    /// otherwise.
    fn merge(earlier: &mut Option<At<Self::Value>>, later: Option<At<Self::Value>>) {
        if later.is_some() {
            *earlier = later;
        }
    }
}

/// Any value serde reads from TOML as it is.
pub(crate) struct Plain<T>(PhantomData<T>);

impl<T: DeserializeOwned> Kind for Plain<T> {
    type Value = T;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<T>> {
        r.value(path, value)
    }
}

pub(crate) type Str = Plain<String>;
pub(crate) type Bool = Plain<bool>;
pub(crate) type U32 = Plain<u32>;
pub(crate) type Usize = Plain<usize>;
/// An array of strings, replaced whole by a later file.
pub(crate) type Strings = Plain<Vec<String>>;

/// A value written for humans, read through one of the `units` newtypes.
pub(crate) struct Unit<W>(PhantomData<W>);

/// A `units` newtype and what it holds.
pub(crate) trait Newtype: DeserializeOwned {
    type Inner;
    fn inner(self) -> Self::Inner;
}

impl Newtype for DurationValue {
    type Inner = Duration;
    fn inner(self) -> Duration {
        self.0
    }
}

impl Newtype for SizeValue {
    type Inner = usize;
    fn inner(self) -> usize {
        self.0
    }
}

impl Newtype for PercentValue {
    type Inner = u32;
    fn inner(self) -> u32 {
        self.0
    }
}

impl Newtype for RateValue {
    type Inner = RateLimit;
    fn inner(self) -> RateLimit {
        self.0
    }
}

impl<W: Newtype> Kind for Unit<W> {
    type Value = W::Inner;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<W::Inner>> {
        r.value::<W>(path, value).map(|at| at.map(Newtype::inner))
    }
}

/// `"30s"`, `"1m30s"`.
pub(crate) type Dur = Unit<DurationValue>;
/// `1048576`, `"16MiB"`.
pub(crate) type Size = Unit<SizeValue>;
/// `"20%"`.
pub(crate) type Percent = Unit<PercentValue>;
/// `"100/s"`.
pub(crate) type Rate = Unit<RateValue>;

/// One glob, checked where it is written.
pub(crate) struct Glob;

impl Kind for Glob {
    type Value = String;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<String>> {
        r.glob(path, value)
    }
}

/// An array of globs, each checked at its own position.
pub(crate) struct Globs;

impl Kind for Globs {
    type Value = Vec<String>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Vec<String>>> {
        r.globs(path, value)
    }
}

/// An array of strings, each keeping its own position for later checks.
pub(crate) struct EachString;

impl Kind for EachString {
    type Value = Vec<At<String>>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        r.strings(path, value)
    }
}

/// A table of plain values, merged entry by entry (`env`, `headers`).
pub(crate) struct Map<T>(PhantomData<T>);

impl<T: DeserializeOwned> Kind for Map<T> {
    type Value = BTreeMap<String, T>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        r.value(path, value)
    }
    fn merge(earlier: &mut Option<At<Self::Value>>, later: Option<At<Self::Value>>) {
        over_map(earlier, later);
    }
}

/// A table whose entries are each read as `K` and keep their own positions,
/// merged entry by entry (`rename_tools`, `tool_rate_limits`).
pub(crate) struct EntriesOf<K>(PhantomData<K>);

impl<K: Kind> Kind for EntriesOf<K> {
    type Value = Entries<K::Value>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        r.entries(path, value, |r, _, entry_path, key_at, value| K::read(r, entry_path, key_at, value))
    }
    fn merge(earlier: &mut Option<At<Self::Value>>, later: Option<At<Self::Value>>) {
        over_map(earlier, later);
    }
}

/// `timeouts`: a duration per request method, the methods checked.
pub(crate) struct Timeouts;

impl Kind for Timeouts {
    type Value = Entries<Duration>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        r.entries(path, value, |r, method, entry_path, key_at, value| {
            if REQUEST_METHODS.contains(&method) {
                Dur::read(r, entry_path, key_at, value)
            } else {
                let hint = suggest::hint(method, REQUEST_METHODS);
                r.error(key_at, format!("unknown method `{method}` in {path}{hint}"));
                None
            }
        })
    }
    fn merge(earlier: &mut Option<At<Self::Value>>, later: Option<At<Self::Value>>) {
        over_map(earlier, later);
    }
}

/// Tables merge entry by entry; the position becomes the later one's.
fn over_map<V>(earlier: &mut Option<At<BTreeMap<String, V>>>, later: Option<At<BTreeMap<String, V>>>) {
    match (earlier.as_mut(), later) {
        (Some(earlier), Some(later)) => {
            earlier.value.extend(later.value);
            earlier.pos = later.pos;
        }
        (None, later) => *earlier = later,
        (Some(_), None) => {}
    }
}

/// A string naming one of a fixed set of values.
pub(crate) struct Keyword<T>(PhantomData<T>);

/// A value written as a keyword; the error says what was expected.
pub(crate) trait ParseKeyword: Sized {
    fn parse_keyword(s: &str) -> Result<Self, String>;
}

impl<T: ParseKeyword> Kind for Keyword<T> {
    type Value = T;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<T>> {
        r.keyword(path, value, T::parse_keyword)
    }
}

impl ParseKeyword for Balance {
    fn parse_keyword(v: &str) -> Result<Self, String> {
        Balance::parse(v).ok_or_else(|| format!("unknown strategy \"{v}\"{}", suggest::hint(v, BALANCE_STRATEGIES)))
    }
}

impl ParseKeyword for Affinity {
    fn parse_keyword(v: &str) -> Result<Self, String> {
        Affinity::parse(v).ok_or_else(|| format!("unknown affinity \"{v}\"{}", suggest::hint(v, AFFINITIES)))
    }
}

impl ParseKeyword for Isolation {
    fn parse_keyword(v: &str) -> Result<Self, String> {
        Isolation::parse(v).ok_or_else(|| format!("unknown isolation \"{v}\"{}", suggest::hint(v, ISOLATIONS)))
    }
}

/// What `hash_key` accepts, as written in messages.
const HASH_KEY_FORMS: &[&str] = &["session", "client", "name", "arg:<name>"];

impl ParseKeyword for HashKey {
    fn parse_keyword(v: &str) -> Result<Self, String> {
        match HashKey::parse(v) {
            Some(key) => Ok(key),
            None if v == "arg:" => {
                Err("\"arg:\" names no argument: expected arg:<name>, such as \"arg:user_id\"".to_owned())
            }
            None => Err(format!("unknown hash key \"{v}\"{}", suggest::hint(v, HASH_KEY_FORMS))),
        }
    }
}

/// `urls`: URLs or `{ url = "...", weight = 2 }`, each positioned at its URL.
pub(crate) struct Urls;

impl Kind for Urls {
    type Value = Vec<At<Endpoint>>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        urls(r, path, value)
    }
}

/// The keys of an inline table in `urls`.
const ENDPOINT_KEYS: &[&str] = &["url", "weight"];

/// `urls`: an array whose items are URLs or `{ url = "...", weight = 2 }`.
/// `None` when any item could not be read.
fn urls(r: &mut Reader<'_>, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<At<Endpoint>>>> {
    let at = value.span().start;
    let items = match value.into_inner() {
        DeValue::Array(items) => items,
        other => {
            let found = article(other.type_str());
            r.error(
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
            DeValue::Table(table) => endpoint(r, &path, span.start, table),
            DeValue::String(url) => r
                .value(&path, Spanned::new(span, DeValue::String(url)))
                .map(|at| at.map(|url| Endpoint { url, weight: 1 })),
            other => {
                let found = article(other.type_str());
                r.error(
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
    ok.then(|| At { value: endpoints, pos: r.pos(at) })
}

/// One `{ url = "...", weight = 2 }` of `urls`, positioned at its URL.
fn endpoint(r: &mut Reader<'_>, path: &str, at: usize, table: DeTable<'_>) -> Option<At<Endpoint>> {
    let errors_before = r.error_count();
    let mut url: Option<At<String>> = None;
    let mut weight: Option<At<u32>> = None;
    for (key, value) in table {
        let key_at = key.span().start;
        match key.get_ref().as_ref() {
            "url" => url = r.value(&format!("{path}.url"), value),
            "weight" => weight = r.value(&format!("{path}.weight"), value),
            other => {
                let hint = suggest::hint(other, ENDPOINT_KEYS);
                r.error(key_at, format!("unknown key `{other}` in {path}{hint}"));
            }
        }
    }
    if let Some(w) = &weight
        && w.value == 0
    {
        r.error_at(&w.pos, format!("{path}.weight: expected at least 1"));
    }
    if url.is_none() && r.error_count() == errors_before {
        r.error(
            at,
            format!("{path}: missing `url`: expected a table such as {{ url = \"https://host/mcp\", weight = 2 }}"),
        );
    }
    if r.error_count() > errors_before {
        return None;
    }
    let weight = weight.map_or(1, |w| w.value);
    url.map(|url| url.map(|url| Endpoint { url, weight }))
}
