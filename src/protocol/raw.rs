//! [`RawObject`]: a JSON object whose members stay raw, in their original order.
//!
//! The gateway must rewrite a few members (a tool's `name`, a resource's `uri`, a
//! list's `nextCursor`, a `progressToken`) and leave every other byte alone,
//! including members it does not know. Parsing into `serde_json::Value` would
//! re-format numbers and reorder nothing, but still costs a full tree; this type
//! parses one level and keeps each member's value as the bytes the peer sent.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

#[derive(Debug, Clone, Default)]
pub struct RawObject {
    members: Vec<(String, Box<RawValue>)>,
}

impl RawObject {
    pub fn new() -> Self {
        RawObject::default()
    }

    /// Parses raw JSON that must be an object.
    pub fn parse(raw: &RawValue) -> Result<RawObject, serde_json::Error> {
        serde_json::from_str(raw.get())
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// A member that is a JSON string, decoded.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }

    /// A member decoded as `T`, `None` when missing or of another type.
    pub fn get_as<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get(key).and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Sets a member to raw JSON, keeping its position when it exists.
    pub fn set_raw(&mut self, key: &str, value: Box<RawValue>) {
        match self.members.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.members.push((key.to_owned(), value)),
        }
    }

    /// Sets a member to a serializable value.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        if let Ok(raw) = serde_json::value::to_raw_value(value) {
            self.set_raw(key, raw);
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let pos = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(pos).1)
    }

    /// Members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.members.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k == key)
    }

    /// Back to raw JSON.
    pub fn to_raw(&self) -> Box<RawValue> {
        super::jsonrpc::to_raw(self)
    }
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.members.len()))?;
        for (k, v) in &self.members {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push((k, v));
                }
                Ok(RawObject { members })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_one_member_and_keeps_the_rest() {
        let raw = RawValue::from_string(
            r#"{"name":"echo","inputSchema":{"type":"object"},"x-unknown":1.000,"_meta":{"k":[1,2]}}"#.into(),
        )
        .unwrap();
        let mut obj = RawObject::parse(&raw).unwrap();
        assert_eq!(obj.get_str("name").as_deref(), Some("echo"));
        obj.set("name", "srv__echo");
        assert_eq!(
            obj.to_raw().get(),
            r#"{"name":"srv__echo","inputSchema":{"type":"object"},"x-unknown":1.000,"_meta":{"k":[1,2]}}"#
        );
    }

    #[test]
    fn set_appends_and_remove_deletes() {
        let mut obj = RawObject::new();
        obj.set("a", &1);
        obj.set("b", "two");
        assert_eq!(obj.remove("a").unwrap().get(), "1");
        assert_eq!(obj.to_raw().get(), r#"{"b":"two"}"#);
        assert!(!obj.contains("a"));
    }

    #[test]
    fn non_objects_are_rejected() {
        let raw = RawValue::from_string("[1]".into()).unwrap();
        assert!(RawObject::parse(&raw).is_err());
    }
}
