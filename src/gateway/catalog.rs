//! The merged catalog of tools and prompts: what clients list, and how an
//! exposed name finds its server and original name.
//!
//! Rebuilt from every ready server's lists whenever one of them changes (a
//! server starts, stops, or says `list_changed`), then swapped in whole, so a
//! reader never sees half a rebuild. The list result each client receives is
//! serialized once per rebuild, not once per request.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::names::Naming;
use crate::protocol::{RawObject, jsonrpc};

/// Where an exposed name leads.
#[derive(Debug, Clone)]
pub struct Entry {
    pub server: Arc<str>,
    pub original: String,
}

/// One kind of item (tools or prompts), merged across servers.
#[derive(Debug)]
pub struct Listing {
    by_name: HashMap<String, Entry>,
    /// `{"tools":[...]}` (or `prompts`), ready to send.
    result: Box<RawValue>,
    /// Human-readable reports of names two servers both wanted.
    pub clashes: Vec<String>,
    pub len: usize,
}

impl Listing {
    /// `servers` in the order their items should appear.
    pub fn build(key: &str, naming: &Naming, servers: &[(Arc<str>, &[RawObject])]) -> Listing {
        let mut by_name: HashMap<String, Entry> = HashMap::new();
        let mut items: Vec<RawObject> = Vec::new();
        let mut clashes = Vec::new();
        for (server, list) in servers {
            for item in list.iter() {
                let Some(original) = item.get_str("name") else {
                    tracing::warn!(server = %server, "a {key} entry without a string \"name\" was left out");
                    continue;
                };
                let exposed = naming.expose(server, &original);
                if let Some(first) = by_name.get(&exposed) {
                    let msg = format!(
                        "{key}: server '{server}' offers '{original}', exposed as '{exposed}', which server '{}' already exposes ('{}'); '{server}''s one is hidden",
                        first.server, first.original
                    );
                    tracing::warn!("name clash: {msg}");
                    clashes.push(msg);
                    continue;
                }
                let mut item = item.clone();
                item.set("name", &exposed);
                items.push(item);
                by_name.insert(exposed, Entry { server: server.clone(), original });
            }
        }
        let len = items.len();
        let mut result = RawObject::new();
        result.set(key, &items);
        Listing { by_name, result: jsonrpc::to_raw(&result), clashes, len }
    }

    /// Every exposed name and where it leads.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.by_name.iter()
    }

    pub fn lookup(&self, exposed: &str) -> Option<&Entry> {
        self.by_name.get(exposed)
    }

    pub fn result(&self) -> Box<RawValue> {
        self.result.clone()
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub tools: Listing,
    pub prompts: Listing,
}

impl Catalog {
    pub fn empty(naming: &Naming) -> Catalog {
        Catalog { tools: Listing::build("tools", naming, &[]), prompts: Listing::build("prompts", naming, &[]) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PrefixMode;

    fn objs(json: &str) -> Vec<RawObject> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn merges_rewrites_names_and_keeps_other_fields() {
        let naming = Naming::new("__", 64, PrefixMode::Always, 2);
        let a = objs(r#"[{"name":"now","description":"d","x-extra":{"k":1}}]"#);
        let b = objs(r#"[{"name":"now"},{"name":"later"}]"#);
        let l = Listing::build("tools", &naming, &[("time".into(), &a), ("clock".into(), &b)]);
        assert_eq!(l.len, 3);
        assert_eq!(
            l.result().get(),
            r#"{"tools":[{"name":"time__now","description":"d","x-extra":{"k":1}},{"name":"clock__now"},{"name":"clock__later"}]}"#
        );
        let e = l.lookup("clock__later").unwrap();
        assert_eq!((&*e.server, e.original.as_str()), ("clock", "later"));
        assert!(l.lookup("later").is_none());
    }

    #[test]
    fn clashes_are_reported_not_resolved_silently() {
        let naming = Naming::new("__", 64, PrefixMode::Never, 2);
        let a = objs(r#"[{"name":"now"}]"#);
        let b = objs(r#"[{"name":"now"},{"no-name":1}]"#);
        let l = Listing::build("tools", &naming, &[("a".into(), &a), ("b".into(), &b)]);
        assert_eq!(l.len, 1);
        assert_eq!(&*l.lookup("now").unwrap().server, "a");
        assert_eq!(l.clashes.len(), 1);
        assert!(l.clashes[0].contains("'b'"), "{}", l.clashes[0]);
    }
}
