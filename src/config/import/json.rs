//! The client's JSON as the importer reads it: objects in the order written,
//! the type of a value named in a message, where a value starts, and
//! serde_json's errors in vmcp's form.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::error::{ConfigError, ConfigErrors, Pos};

/// A JSON object's entries in the order written.
pub(super) struct Ordered<'a>(pub(super) Vec<(String, &'a RawValue)>);

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

/// "a string", "an object": a JSON type named in a message.
pub(super) fn kind(value: &Value) -> &'static str {
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
pub(super) fn position(origin: &str, text: &str, raw: &RawValue) -> Pos {
    let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    Pos::of(origin, text, offset)
}

/// A JSON error with serde_json's line and column, in vmcp's error form.
pub(super) fn json_error(origin: &str, e: &serde_json::Error) -> ConfigErrors {
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
