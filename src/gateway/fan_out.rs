//! `resources/list` and `resources/templates/list`: fanned out live to every
//! ready server that announced `resources` (resource lists can be large and
//! change without notice, so they are not kept in the catalog). One page from
//! each server is merged; the composite cursor ([`super::cursor`]) records
//! each server's own `nextCursor`, so the next page asks only the servers that
//! have more. A server that fails is left out of that page (fail open) and
//! logged.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::value::RawValue;

use super::backend::BackendConn;
use super::call::ResourceList;
use super::client::Client;
use super::cursor::Composite;
use super::error::GatewayError;
use super::router::Router;
use super::supervisor::Supervisor;
use crate::protocol::RawObject;
use crate::protocol::stateless::{self, CacheHints};

/// One page of the merged list. `only`: a routing rule sends this list to
/// one server.
pub async fn list(
    supervisor: &Supervisor,
    router: &Router,
    client: &Client,
    which: ResourceList,
    params: RawObject,
    only: Option<&str>,
) -> Result<Box<RawValue>, GatewayError> {
    let m = which.method();
    let (key, uri_key) = which.keys();
    let targets: Vec<(Arc<str>, Arc<BackendConn>, Option<String>)> = match params.get_str("cursor") {
        Some(c) => {
            let composite = Composite::decode(&c).map_err(|e| GatewayError::InvalidParams(format!("{m}: {e}")))?;
            composite
                .servers()
                .filter_map(|(server, cursor)| {
                    let conn = supervisor.server(server)?.conn()?;
                    Some((conn.server.clone(), conn, Some(cursor.to_owned())))
                })
                .collect()
        }
        None => supervisor
            .ready()
            .into_iter()
            .filter(|(s, _)| only.is_none_or(|o| *s.id == *o))
            .filter(|(_, c)| c.info().is_some_and(|i| i.has("resources")))
            .map(|(s, c)| (s.id.clone(), c, None))
            .collect(),
    };
    let mut params = params;
    stateless::strip_client_meta(&mut params);
    let calls = targets.into_iter().map(|(server, conn, cursor)| {
        let mut p = params.clone();
        match &cursor {
            Some(c) => p.set("cursor", c),
            None => {
                p.remove("cursor");
            }
        }
        async move { (server, conn.call(m, Some(p.to_raw()), None, None).await) }
    });
    let naming = router.naming();
    let mut items: Vec<RawObject> = Vec::new();
    let mut next = Composite::new();
    let mut hints = CacheHints::default();
    for (server, result) in join_all(calls).await {
        let page = match result.and_then(|r| RawObject::parse(&r).map_err(|e| bad(&server, m, e.to_string()))) {
            Ok(page) => page,
            Err(e) => {
                // Fail open: one broken server must not hide everyone else's resources.
                tracing::warn!(server = %server, "{m} failed: {e}");
                continue;
            }
        };
        let list: Vec<RawObject> = match page.get(key) {
            Some(raw) => match serde_json::from_str(raw.get()) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(server = %server, "{m}: bad \"{key}\": {e}");
                    continue;
                }
            },
            None => Vec::new(),
        };
        for mut item in list {
            if let Some(uri) = item.get_str(uri_key) {
                router.saw_resource(&uri, &server);
                let exposed = naming.expose_uri(&server, &uri);
                if !client.policy.allows(&exposed) {
                    continue;
                }
                item.set(uri_key, &exposed);
            }
            items.push(item);
        }
        if let Some(c) = page.get_str("nextCursor") {
            next.insert(&server, c);
        }
        hints.add(&page);
    }
    let mut result = RawObject::new();
    result.set(key, &items);
    if !next.is_empty() {
        result.set("nextCursor", &next.encode());
    }
    hints.apply(&mut result);
    Ok(result.to_raw())
}

fn bad(server: &str, m: &str, reason: String) -> GatewayError {
    GatewayError::BadResult { server: server.to_owned(), method: m.to_owned(), reason }
}
