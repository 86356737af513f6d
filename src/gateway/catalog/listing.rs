//! [`Listing`]: one kind of item (tools or prompts) merged across servers:
//! what clients list, and how an exposed name finds its server and original
//! name. The list result each client receives is serialized once per build,
//! not once per request; a principal's filtered list once per set of policies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use super::filter::ToolFilter;
use super::names::Naming;
use crate::auth::PolicyView;
use crate::protocol::{RawObject, jsonrpc};

/// Where an exposed name leads.
#[derive(Debug, Clone)]
pub struct Entry {
    pub server: Arc<str>,
    pub original: String,
    /// A tool annotated `readOnlyHint` or `idempotentHint`: safe to retry.
    pub safe: bool,
}

/// A list as one set of policies lets it be seen, with the view that keeps
/// those policies (and so the cache key) alive.
type FilteredList = (PolicyView, Box<RawValue>);

/// One kind of item (tools or prompts), merged across servers.
#[derive(Debug)]
pub struct Listing {
    by_name: HashMap<String, Entry>,
    /// `{"tools":[...]}` (or `prompts`), ready to send.
    result: Box<RawValue>,
    key: String,
    /// Each item as sent, with its exposed name, in list order: what a
    /// principal's filtered list is assembled from.
    items: Vec<(String, Box<RawValue>)>,
    /// Filtered lists by the set of policies that applied (see
    /// [`PolicyView::cache_key`]); emptied with the catalog on each rebuild.
    views: Mutex<HashMap<Vec<usize>, FilteredList>>,
    /// Human-readable reports of names two servers both wanted.
    pub clashes: Vec<String>,
    pub len: usize,
}

impl Listing {
    /// `servers` in the order their items should appear.
    pub fn build(key: &str, naming: &Naming, servers: &[(Arc<str>, &[RawObject])]) -> Listing {
        let with: Vec<_> = servers.iter().map(|(s, l)| (s.clone(), *l, None)).collect();
        Listing::build_filtered(key, naming, &with)
    }

    /// Like [`Listing::build`], each server's items passed through its filter
    /// (hidden ones left out, renamed ones exposed under their new name).
    pub fn build_filtered(
        key: &str,
        naming: &Naming,
        servers: &[(Arc<str>, &[RawObject], Option<&ToolFilter>)],
    ) -> Listing {
        let mut by_name: HashMap<String, Entry> = HashMap::new();
        let mut items: Vec<RawObject> = Vec::new();
        let mut clashes = Vec::new();
        let mut serialized = Vec::new();
        for (server, list, filter) in servers {
            for item in list.iter() {
                let Some(original) = item.get_str("name") else {
                    tracing::warn!(server = %server, "a {key} entry without a string \"name\" was left out");
                    continue;
                };
                let local = match filter {
                    Some(f) => match f.local_name(&original) {
                        Some(local) => local.to_owned(),
                        None => continue,
                    },
                    None => original.clone(),
                };
                let exposed = naming.expose(server, &local);
                if let Some(first) = by_name.get(&exposed) {
                    let msg = format!(
                        "{key}: server '{server}' offers '{original}', exposed as '{exposed}', which server '{}' already exposes ('{}'); '{server}''s one is hidden",
                        first.server, first.original
                    );
                    tracing::warn!("name clash: {msg}");
                    clashes.push(msg);
                    continue;
                }
                let safe = is_safe(item);
                let mut item = item.clone();
                item.set("name", &exposed);
                serialized.push((exposed.clone(), item.to_raw()));
                items.push(item);
                by_name.insert(exposed, Entry { server: server.clone(), original, safe });
            }
        }
        let len = items.len();
        let mut result = RawObject::new();
        result.set(key, &items);
        Listing {
            by_name,
            result: jsonrpc::to_raw(&result),
            key: key.to_owned(),
            items: serialized,
            views: Mutex::new(HashMap::new()),
            clashes,
            len,
        }
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

    /// The list as `view` lets its principal see it: only allowed names.
    /// Assembled from the serialized items once per set of policies, then cached.
    pub fn result_for(&self, view: &PolicyView) -> Box<RawValue> {
        if view.is_unrestricted() {
            return self.result();
        }
        let key = view.cache_key();
        if let Ok(views) = self.views.lock()
            && let Some((_, hit)) = views.get(&key)
        {
            return hit.clone();
        }
        let mut text = format!("{{\"{}\":[", self.key);
        let mut first = true;
        for (name, item) in &self.items {
            if view.allows(name) {
                if !first {
                    text.push(',');
                }
                text.push_str(item.get());
                first = false;
            }
        }
        text.push_str("]}");
        let raw = RawValue::from_string(text).unwrap_or_else(|_| jsonrpc::empty_object());
        if let Ok(mut views) = self.views.lock() {
            // Sets of policies are few; a bound all the same.
            if views.len() >= 256 {
                views.clear();
            }
            views.insert(key, (view.clone(), raw.clone()));
        }
        raw
    }
}

/// Whether a tool's annotations say a call can be repeated without harm.
fn is_safe(tool: &RawObject) -> bool {
    let Some(annotations) = tool.get_as::<RawObject>("annotations") else { return false };
    ["readOnlyHint", "idempotentHint"].iter().any(|k| annotations.get(k).is_some_and(|v| v.get() == "true"))
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
    fn filters_hide_and_rename_and_annotations_mark_safe_tools() {
        let naming = Naming::new("__", 64, PrefixMode::Always, 2);
        let config = crate::config::ServerConfig {
            deny_tools: vec!["rm*".into()],
            rename_tools: [("ls".to_owned(), "list".to_owned())].into(),
            ..Default::default()
        };
        let filter = ToolFilter::new(&config);
        let a = objs(
            r#"[{"name":"ls","annotations":{"readOnlyHint":true}},{"name":"rm"},{"name":"put","annotations":{"idempotentHint":false}}]"#,
        );
        let l = Listing::build_filtered("tools", &naming, &[("fs".into(), &a, Some(&filter))]);
        assert_eq!(l.len, 2);
        let ls = l.lookup("fs__list").unwrap();
        assert_eq!((ls.original.as_str(), ls.safe), ("ls", true));
        assert!(l.lookup("fs__rm").is_none() && l.lookup("fs__ls").is_none());
        assert!(!l.lookup("fs__put").unwrap().safe);
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
