//! [`Router`]: which server a request goes to, and under which name.
//!
//! In order: the client's policies (what a principal may not use answers
//! exactly like what does not exist), the routing rules (`[[route]]`, which
//! may send a request elsewhere or deny it), then the catalog for tools and
//! prompts or the `<server>+` prefix for resources. The answer is a
//! [`Target`]: the server, the name it knows the item by, and whether the
//! request is safe to repeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::catalog::{CatalogStore, Kind, Naming};
use super::client::Client;
use super::error::GatewayError;
use super::rules::{Decision, RuleTable, Subject};
use super::supervisor::Supervisor;
use crate::observe::metrics::Metrics;

/// Where a named request goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: Arc<str>,
    /// The name (or URI) the server knows the item by.
    pub original: String,
    /// A tool annotated `readOnlyHint` or `idempotentHint`, or a prompt: safe
    /// to retry on another replica.
    pub safe: bool,
}

/// Why a name did not lead anywhere. `denied`: a policy or a rule refused it
/// (the audit log says "denied"), rather than it not existing or its server
/// being down.
#[derive(Debug)]
pub struct Unresolved {
    pub error: GatewayError,
    pub denied: bool,
}

impl From<Unresolved> for GatewayError {
    fn from(u: Unresolved) -> GatewayError {
        u.error
    }
}

/// Resource URIs seen in lists, by owner, when URIs carry no prefix
/// (`prefix = "never"`). Bounded: it must not grow without end.
const MAX_RESOURCE_OWNERS: usize = 100_000;

pub struct Router {
    naming: Naming,
    catalog: Arc<CatalogStore>,
    supervisor: Arc<Supervisor>,
    /// `[[route]]`, swapped whole on reload.
    rules: RwLock<Arc<RuleTable>>,
    resource_owners: Mutex<HashMap<String, Arc<str>>>,
    metrics: Metrics,
}

impl Router {
    pub fn new(
        naming: Naming,
        rules: RuleTable,
        catalog: Arc<CatalogStore>,
        supervisor: Arc<Supervisor>,
        metrics: Metrics,
    ) -> Router {
        Router {
            naming,
            catalog,
            supervisor,
            rules: RwLock::new(Arc::new(rules)),
            resource_owners: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    pub fn naming(&self) -> &Naming {
        &self.naming
    }

    /// The routing rules now in force.
    pub fn rules(&self) -> Arc<RuleTable> {
        match self.rules.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts new routing rules in force (a reload).
    pub fn set_rules(&self, table: RuleTable) {
        if let Ok(mut r) = self.rules.write() {
            *r = Arc::new(table);
        }
    }

    /// Applies the routing rules to `m`: `Some(server)` when a rule sends the
    /// request there, `None` when the catalog decides, an error when a rule
    /// denies it.
    pub fn check(&self, m: &str, subject: Subject<'_>) -> Result<Option<String>, GatewayError> {
        match self.rules().decide(m, subject) {
            Decision::Catalog => Ok(None),
            Decision::To { server, .. } => Ok(Some(server)),
            Decision::Deny { rule, reason } => {
                let name = subject.tool.or(subject.prompt).or(subject.resource);
                let what = match name {
                    Some(n) => format!("{m} of '{n}'"),
                    None => m.to_owned(),
                };
                let by = match reason {
                    Some(r) => format!("route rule {} ({r})", rule + 1),
                    None => format!("route rule {}", rule + 1),
                };
                let e = GatewayError::Denied { what, by };
                self.metrics.rejected("denied");
                Err(e)
            }
        }
    }

    /// The tool or prompt `name` for `client`, as method `m` (`tools/call`,
    /// `prompts/get`, or `completion/complete` for a prompt).
    pub fn resolve(&self, client: &Client, kind: Kind, m: &str, name: &str) -> Result<Target, Unresolved> {
        if !client.policy.allows(name) {
            return Err(Unresolved { error: unknown(kind, name), denied: true });
        }
        let subject = match kind {
            Kind::Tool => Subject { tool: Some(name), ..Subject::default() },
            Kind::Prompt => Subject { prompt: Some(name), ..Subject::default() },
        };
        let ruled = self.check(m, subject).map_err(|error| Unresolved { error, denied: true })?;
        let found = match ruled {
            Some(to) => Ok(self.redirect(kind, name, &to)),
            None => self.lookup(kind, name),
        };
        found.map_err(|error| Unresolved { error, denied: false })
    }

    /// The resource `uri` for `client`, as method `m`: its server and the URI
    /// the server knows.
    pub fn resolve_resource(&self, client: &Client, m: &str, uri: &str) -> Result<Target, Unresolved> {
        if !client.policy.allows(uri) {
            let error = GatewayError::UnknownResource { uri: uri.to_owned(), reason: "no such resource".into() };
            return Err(Unresolved { error, denied: true });
        }
        let subject = Subject { resource: Some(uri), ..Subject::default() };
        let ruled = self.check(m, subject).map_err(|error| Unresolved { error, denied: true })?;
        let (server, original) = match ruled {
            Some(to) => {
                let original = self
                    .naming
                    .split_uri(uri)
                    .filter(|(server, _)| *server == to)
                    .map_or(uri, |(_, original)| original);
                (Arc::from(to.as_str()), original.to_owned())
            }
            None => self.resolve_uri(uri).map_err(|error| Unresolved { error, denied: false })?,
        };
        Ok(Target { server, original, safe: true })
    }

    /// The server and original name for a tool or prompt a rule sends to `to`.
    fn redirect(&self, kind: Kind, name: &str, to: &str) -> Target {
        let catalog = self.catalog.snapshot();
        if let Some(e) = catalog.listing(kind).lookup(name)
            && &*e.server == to
        {
            return Target { server: e.server.clone(), original: e.original.clone(), safe: e.safe };
        }
        let prefix = format!("{to}{}", self.naming.separator);
        let original = name.strip_prefix(&prefix).unwrap_or(name);
        Target { server: Arc::from(to), original: original.to_owned(), safe: false }
    }

    /// Finds the server and original name behind an exposed tool or prompt name.
    fn lookup(&self, kind: Kind, name: &str) -> Result<Target, GatewayError> {
        let catalog = self.catalog.snapshot();
        if let Some(e) = catalog.listing(kind).lookup(name) {
            return Ok(Target { server: e.server.clone(), original: e.original.clone(), safe: e.safe });
        }
        // Not in the catalog: if the name points at a server that is down, say so
        // rather than "unknown".
        let n = &self.naming;
        if n.prefixed
            && let Some((server, _)) = name.split_once(n.separator.as_str())
            && let Some(s) = self.supervisor.server(server)
            && s.conn().is_none()
        {
            return Err(GatewayError::Unavailable { server: server.to_owned(), reason: s.describe() });
        }
        Err(unknown(kind, name))
    }

    /// Finds the server and original URI behind an exposed resource URI.
    pub fn resolve_uri(&self, uri: &str) -> Result<(Arc<str>, String), GatewayError> {
        let n = &self.naming;
        if n.prefixed {
            let unknown = |reason: String| GatewayError::UnknownResource { uri: uri.to_owned(), reason };
            let (server, original) = n
                .split_uri(uri)
                .ok_or_else(|| unknown("expected <server>+<uri>, as resources/list shows them".into()))?;
            let s = self.supervisor.server(server).ok_or_else(|| unknown(format!("no server '{server}'")))?;
            return Ok((s.id.clone(), original.to_owned()));
        }
        let servers = self.supervisor.servers();
        if let [only] = &servers[..] {
            return Ok((only.id.clone(), uri.to_owned()));
        }
        if let Some(server) = self.resource_owners.lock().ok().and_then(|m| m.get(uri).cloned()) {
            return Ok((server, uri.to_owned()));
        }
        let with_resources: Vec<_> =
            self.supervisor.ready().into_iter().filter(|(_, c)| c.info().is_some_and(|i| i.has("resources"))).collect();
        match &with_resources[..] {
            [(s, _)] => Ok((s.id.clone(), uri.to_owned())),
            _ => Err(GatewayError::UnknownResource {
                uri: uri.to_owned(),
                reason: "several servers offer resources and this URI was not in any list; set gateway.prefix = \"always\" to route by prefix".into(),
            }),
        }
    }

    /// Notes which server listed an unprefixed resource URI, so that a read of
    /// it finds its way (only needed when URIs carry no prefix).
    pub fn saw_resource(&self, uri: &str, server: &Arc<str>) {
        if self.naming.prefixed {
            return;
        }
        if let Ok(mut m) = self.resource_owners.lock() {
            if m.len() >= MAX_RESOURCE_OWNERS {
                m.clear();
            }
            m.insert(uri.to_owned(), server.clone());
        }
    }
}

fn unknown(kind: Kind, name: &str) -> GatewayError {
    match kind {
        Kind::Tool => GatewayError::UnknownTool(name.to_owned()),
        Kind::Prompt => GatewayError::UnknownPrompt(name.to_owned()),
    }
}
