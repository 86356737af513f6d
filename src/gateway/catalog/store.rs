//! [`CatalogStore`]: the merged catalog of tools and prompts, rebuilt from every
//! ready server's lists whenever one of them changes (a server starts, stops,
//! or says `list_changed`), then swapped in whole, so a reader never sees half
//! a rebuild.

use std::sync::{Arc, Mutex, RwLock};

use super::filter::ToolFilter;
use super::listing::Listing;
use super::names::Naming;
use crate::observe::metrics::Metrics;
use crate::protocol::RawObject;

/// The two kinds of item the catalog keeps, found by exposed name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Prompt,
}

/// A server's tools and prompts, as it last listed them.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    pub tools: Arc<Vec<RawObject>>,
    pub prompts: Arc<Vec<RawObject>>,
}

/// One server's contribution to a rebuild: its id, its lists, and the filter
/// its configuration puts on its tools.
pub struct Source {
    pub server: Arc<str>,
    pub lists: Lists,
    pub filter: Option<Arc<ToolFilter>>,
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

    pub fn listing(&self, kind: Kind) -> &Listing {
        match kind {
            Kind::Tool => &self.tools,
            Kind::Prompt => &self.prompts,
        }
    }
}

/// What a rebuild changed, so that only the clients of a changed list hear of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Changed {
    pub tools: bool,
    pub prompts: bool,
}

pub struct CatalogStore {
    naming: Naming,
    current: RwLock<Arc<Catalog>>,
    /// Serializes rebuilds: two racing could otherwise swap in an older
    /// snapshot after a newer one.
    rebuilding: Mutex<()>,
    metrics: Metrics,
}

impl CatalogStore {
    pub fn new(naming: Naming, metrics: Metrics) -> CatalogStore {
        let empty = Arc::new(Catalog::empty(&naming));
        CatalogStore { naming, current: RwLock::new(empty), rebuilding: Mutex::new(()), metrics }
    }

    pub fn naming(&self) -> &Naming {
        &self.naming
    }

    /// The catalog now in force (a snapshot: later rebuilds do not change it).
    pub fn snapshot(&self) -> Arc<Catalog> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Rebuilds from what `sources` reads (each server, in the order its items
    /// should appear) and says which lists changed. The sources are read under
    /// the rebuild's lock: a rebuild that read them earlier could otherwise
    /// finish later and swap in lists older than the ones in force.
    pub fn rebuild(&self, sources: impl FnOnce() -> Vec<Source>) -> Changed {
        let _serial = self.rebuilding.lock().unwrap_or_else(|p| p.into_inner());
        let sources = sources();
        let tools: Vec<_> =
            sources.iter().map(|s| (s.server.clone(), &s.lists.tools[..], s.filter.as_deref())).collect();
        let prompts: Vec<_> = sources.iter().map(|s| (s.server.clone(), &s.lists.prompts[..])).collect();
        let new = Catalog {
            tools: Listing::build_filtered("tools", &self.naming, &tools),
            prompts: Listing::build("prompts", &self.naming, &prompts),
        };
        self.metrics.catalog_size("tools", new.tools.len);
        self.metrics.catalog_size("prompts", new.prompts.len);
        let old = self.snapshot();
        let changed = Changed {
            tools: old.tools.result().get() != new.tools.result().get(),
            prompts: old.prompts.result().get() != new.prompts.result().get(),
        };
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(new);
        }
        changed
    }
}
