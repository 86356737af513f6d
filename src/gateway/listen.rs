//! `subscriptions/listen` (2026-07-28): how a stateless client hears about list
//! changes and resource updates.
//!
//! One listen request is one subscription: its answer is a stream that starts
//! with `notifications/subscriptions/acknowledged` (what the gateway will send)
//! and then carries only the notifications asked for, each tagged with
//! `_meta["io.modelcontextprotocol/subscriptionId"]` (the request's id). It lasts
//! until the client cancels it or goes away; resource subscriptions it holds are
//! then released upstream, as a handshake-era session's would be.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Gateway;
use super::error::GatewayError;
use crate::protocol::{Id, Message, Notification, RawObject, Request, jsonrpc, method};
use crate::service::Tx;

pub const ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// What a listen request asks for.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters {
    #[serde(default)]
    tools_list_changed: bool,
    #[serde(default)]
    prompts_list_changed: bool,
    #[serde(default)]
    resources_list_changed: bool,
    #[serde(default)]
    resource_subscriptions: Vec<String>,
}

struct Listener {
    key: u64,
    id: Id,
    filters: Filters,
    sink: Tx,
}

/// Every open listen stream.
#[derive(Default)]
pub struct Listeners {
    open: Mutex<Vec<Listener>>,
    next: AtomicU64,
}

impl Listeners {
    /// Sends `method` (with `params`) to each listener that asked for it.
    pub(crate) fn notify(&self, method: &str, params: Option<&RawObject>) {
        let Ok(open) = self.open.lock() else { return };
        for l in open.iter() {
            let wanted = match method {
                method::TOOLS_LIST_CHANGED => l.filters.tools_list_changed,
                method::PROMPTS_LIST_CHANGED => l.filters.prompts_list_changed,
                method::RESOURCES_LIST_CHANGED => l.filters.resources_list_changed,
                method::RESOURCES_UPDATED => params
                    .and_then(|p| p.get_str("uri"))
                    .is_some_and(|uri| l.filters.resource_subscriptions.contains(&uri)),
                _ => false,
            };
            if wanted {
                let _ = l.sink.try_send(tagged(method, params, &l.id));
            }
        }
    }

    fn remove(&self, key: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.retain(|l| l.key != key);
        }
    }
}

/// A notification carrying the subscription id in `_meta`.
fn tagged(method: &str, params: Option<&RawObject>, id: &Id) -> String {
    let mut p = params.cloned().unwrap_or_default();
    let mut meta: RawObject = p.get_as("_meta").unwrap_or_default();
    meta.set(META_SUBSCRIPTION_ID, id);
    p.set("_meta", &meta);
    Message::Notification(Notification { method: method.to_owned(), params: Some(p.to_raw()) }).to_json()
}

/// Unregisters a listener and releases its resource subscriptions when its
/// request ends, however it ends.
struct Registration {
    gateway: Arc<Gateway>,
    key: u64,
    uris: Vec<String>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.gateway.listeners.remove(self.key);
        let uris = std::mem::take(&mut self.uris);
        if uris.is_empty() {
            return;
        }
        let g = self.gateway.clone();
        tokio::spawn(async move {
            for uri in uris {
                g.release_subscription(&uri).await;
            }
        });
    }
}

/// Serves one `subscriptions/listen` request: acknowledges on `sink`, then
/// stays pending (its stream open) until the request is cancelled or dropped.
pub(crate) async fn serve(
    gateway: &Arc<Gateway>,
    req: &Request,
    sink: Option<Tx>,
) -> Result<Box<RawValue>, GatewayError> {
    let Some(sink) = sink else {
        return Err(GatewayError::InvalidParams(
            "subscriptions/listen needs a stream to answer on (over HTTP, Accept: text/event-stream)".into(),
        ));
    };
    let params = req
        .params
        .as_deref()
        .map(RawObject::parse)
        .transpose()
        .map_err(|e| GatewayError::InvalidParams(e.to_string()))?;
    let filters: Filters = params
        .as_ref()
        .and_then(|p| p.get("notifications"))
        .map(|n| serde_json::from_str(n.get()))
        .transpose()
        .map_err(|e| GatewayError::InvalidParams(format!("subscriptions/listen: notifications: {e}")))?
        .unwrap_or_default();
    // Subscribe upstream to each resource it names that a server can route.
    let mut honoured = filters.clone();
    honoured.resource_subscriptions.clear();
    let mut held = Vec::new();
    for uri in &filters.resource_subscriptions {
        match gateway.subscribe_upstream(uri).await {
            Ok(()) => {
                honoured.resource_subscriptions.push(uri.clone());
                held.push(uri.clone());
            }
            Err(e) => tracing::info!(uri, "subscriptions/listen: not subscribed: {e}"),
        }
    }
    let key = gateway.listeners.next.fetch_add(1, Ordering::Relaxed);
    let _registration = Registration { gateway: gateway.clone(), key, uris: held };
    let mut ack = RawObject::new();
    ack.set(
        "notifications",
        &serde_json::json!({
            "toolsListChanged": honoured.tools_list_changed,
            "promptsListChanged": honoured.prompts_list_changed,
            "resourcesListChanged": honoured.resources_list_changed,
            "resourceSubscriptions": honoured.resource_subscriptions,
        }),
    );
    // Acknowledge before registering, so the acknowledgement comes first.
    let _ = sink.send(tagged(ACKNOWLEDGED, Some(&ack), &req.id)).await;
    if let Ok(mut open) = gateway.listeners.open.lock() {
        open.push(Listener { key, id: req.id.clone(), filters: honoured, sink: sink.clone() });
    }
    // The stream lasts until the client cancels or leaves (this future is then
    // dropped), or the stream closes.
    sink.closed().await;
    let mut meta = RawObject::new();
    meta.set(META_SUBSCRIPTION_ID, &req.id);
    let mut result = RawObject::new();
    result.set("_meta", &meta);
    Ok(jsonrpc::to_raw(&result))
}
