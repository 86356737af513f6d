//! The kinds of value a configuration key holds: how each is read from the
//! TOML tree (with its position, every error at the value or the part of it
//! that is wrong) and how a later file's value combines with an earlier one's.
//!
//! A key line of `config_table!` names its kind (`Str`, `Dur`, `Globs`,
//! `Keyword<Balance>`, ...); the structural keys (`urls`, `breaker`,
//! `timeouts`, `api_keys`, `jwt`) are kinds of their own here, so the tables
//! stay declarations.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeValue;

use super::auth::JwtLayer;
use super::document::Reader;
use super::layer::{ApiKeyLayer, At, Entries};
use super::server::BreakerLayer;
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
        r.urls(path, value)
    }
}

/// `breaker`: the `[servers.<id>.breaker]` table, merged key by key.
pub(crate) struct Breaker;

impl Kind for Breaker {
    type Value = BreakerLayer;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<BreakerLayer>> {
        let at = value.span().start;
        let place = format!("[{path}]");
        let table = r.table(&place, value)?;
        let mut breaker = BreakerLayer::new();
        breaker.read_keys(r, table, path, &place);
        Some(At { value: breaker, pos: r.pos(at) })
    }
    fn merge(earlier: &mut Option<At<BreakerLayer>>, later: Option<At<BreakerLayer>>) {
        match (earlier.as_mut(), later) {
            (Some(earlier), Some(later)) => earlier.value.merge(later.value),
            (None, later) => *earlier = later,
            (Some(_), None) => {}
        }
    }
}

/// `[auth] api_keys`: `{ name = "...", sha256 = "...", roles = [...] }` each.
pub(crate) struct ApiKeys;

impl Kind for ApiKeys {
    type Value = Vec<ApiKeyLayer>;
    fn read(r: &mut Reader<'_>, path: &str, _: usize, value: Spanned<DeValue<'_>>) -> Option<At<Self::Value>> {
        r.api_keys(path, value)
    }
}

/// `[auth.jwt]`, a table of its own or an inline one, merged key by key and
/// positioned at its key (what errors about the table as a whole point at).
pub(crate) struct Jwt;

impl Kind for Jwt {
    type Value = JwtLayer;
    fn read(r: &mut Reader<'_>, path: &str, key_at: usize, value: Spanned<DeValue<'_>>) -> Option<At<JwtLayer>> {
        let place = format!("[{path}]");
        let table = r.table(&place, value)?;
        let mut jwt = JwtLayer::new();
        jwt.read_keys(r, table, path, &place);
        Some(At { value: jwt, pos: r.pos(key_at) })
    }
    fn merge(earlier: &mut Option<At<JwtLayer>>, later: Option<At<JwtLayer>>) {
        // The position stays the first definition's.
        match (earlier.as_mut(), later) {
            (Some(earlier), Some(later)) => earlier.value.merge(later.value),
            (None, later) => *earlier = later,
            (Some(_), None) => {}
        }
    }
}
