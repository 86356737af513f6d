//! [`Subscriptions`]: who hears about changes.
//!
//! - Resource subscriptions (`resources/subscribe`): each client's own, and a
//!   count per URI across clients, since several share one backend: the
//!   server hears the first subscribe and the last unsubscribe only.
//! - `subscriptions/listen` streams (2026-07-28): how a stateless client hears
//!   about list changes and resource updates. One listen request is one
//!   subscription: its answer is a stream that starts with
//!   `notifications/subscriptions/acknowledged` (what the gateway will send)
//!   and then carries only the notifications asked for, each tagged with
//!   `_meta["io.modelcontextprotocol/subscriptionId"]` (the request's id). It
//!   lasts until the client cancels it or goes away; the resource
//!   subscriptions it holds are then released upstream, as a handshake-era
//!   client's would be.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::client::Client;
use super::error::GatewayError;
use super::router::Router;
use super::supervisor::Supervisor;
use crate::protocol::{Id, Message, Notification, RawObject, jsonrpc, method};
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

pub struct Subscriptions {
    router: Arc<Router>,
    supervisor: Arc<Supervisor>,
    /// Exposed URI → clients subscribed (sessions and listen streams together).
    counts: Mutex<HashMap<String, usize>>,
    /// Every open listen stream.
    listeners: Mutex<Vec<Listener>>,
    next: AtomicU64,
}

impl Subscriptions {
    pub fn new(router: Arc<Router>, supervisor: Arc<Supervisor>) -> Subscriptions {
        Subscriptions {
            router,
            supervisor,
            counts: Mutex::new(HashMap::new()),
            listeners: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
        }
    }

    /// Sends `method` (with `params`) to each listen stream that asked for it.
    pub fn notify(&self, method: &str, params: Option<&RawObject>) {
        let Ok(open) = self.listeners.lock() else { return };
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
        if let Ok(mut open) = self.listeners.lock() {
            open.retain(|l| l.key != key);
        }
    }

    /// Counts one more subscriber of `uri`; true when it is the first.
    fn count_up(&self, uri: &str) -> bool {
        let Ok(mut s) = self.counts.lock() else { return true };
        let n = s.entry(uri.to_owned()).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// Counts one fewer; true when the last subscriber went away.
    fn count_down(&self, uri: &str) -> bool {
        let Ok(mut s) = self.counts.lock() else { return false };
        match s.get_mut(uri) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                s.remove(uri);
                true
            }
            None => false,
        }
    }

    /// `resources/subscribe` (`on`) or `resources/unsubscribe` of `uri` by a
    /// client (the policies and rules have allowed it).
    pub async fn set(
        &self,
        client: &Client,
        uri: &str,
        mut params: RawObject,
        on: bool,
    ) -> Result<Box<RawValue>, GatewayError> {
        let m = if on { method::RESOURCES_SUBSCRIBE } else { method::RESOURCES_UNSUBSCRIBE };
        let (server, original) = self.router.resolve_uri(uri)?;
        params.set("uri", &original);
        let changed = if on { client.subscribe(uri) } else { client.unsubscribe(uri) };
        if !changed {
            // Already (un)subscribed: nothing to tell the server.
            return Ok(jsonrpc::empty_object());
        }
        let forward = if on { self.count_up(uri) } else { self.count_down(uri) };
        if !forward {
            return Ok(jsonrpc::empty_object());
        }
        let result = match self.supervisor.conn_for(&server) {
            Ok(c) => c.call(m, Some(params.to_raw()), None, None).await,
            Err(e) => Err(e),
        };
        if result.is_err() && on {
            client.unsubscribe(uri);
            self.count_down(uri);
        }
        result
    }

    /// Counts one more subscriber for an exposed URI; the owning server hears
    /// `resources/subscribe` for the first one only.
    async fn subscribe_upstream(&self, uri: &str) -> Result<(), GatewayError> {
        let (server, original) = self.router.resolve_uri(uri)?;
        if !self.count_up(uri) {
            return Ok(());
        }
        let p = jsonrpc::to_raw(&serde_json::json!({ "uri": original }));
        let result = match self.supervisor.conn_for(&server) {
            Ok(c) => c.call(method::RESOURCES_SUBSCRIBE, Some(p), None, None).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.count_down(uri);
        }
        result
    }

    /// A subscriber went away (a client closed, a listen stream ended): the
    /// server hears `resources/unsubscribe` when it was the last.
    pub async fn release(&self, uri: &str) {
        if !self.count_down(uri) {
            return;
        }
        if let Ok((server, original)) = self.router.resolve_uri(uri)
            && let Ok(conn) = self.supervisor.conn_for(&server)
        {
            let p = jsonrpc::to_raw(&serde_json::json!({ "uri": original }));
            let _ = conn.call(method::RESOURCES_UNSUBSCRIBE, Some(p), None, None).await;
        }
    }

    /// A client closed: its subscriptions are given up, in the background.
    pub fn release_client(self: &Arc<Self>, client: &Client) {
        let uris = client.take_subscriptions();
        self.release_later(uris);
    }

    fn release_later(self: &Arc<Self>, uris: Vec<String>) {
        if uris.is_empty() {
            return;
        }
        let subs = self.clone();
        tokio::spawn(async move {
            for uri in uris {
                subs.release(&uri).await;
            }
        });
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
    subscriptions: Arc<Subscriptions>,
    key: u64,
    uris: Vec<String>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.subscriptions.remove(self.key);
        let uris = std::mem::take(&mut self.uris);
        self.subscriptions.release_later(uris);
    }
}

impl Subscriptions {
    /// Serves one `subscriptions/listen` request (`id`, `params`):
    /// acknowledges on `sink`, then stays pending (its stream open) until the
    /// request is cancelled or dropped.
    pub async fn listen(
        self: &Arc<Self>,
        id: &Id,
        params: Option<&RawObject>,
        sink: Option<Tx>,
    ) -> Result<Box<RawValue>, GatewayError> {
        let Some(sink) = sink else {
            return Err(GatewayError::InvalidParams(
                "subscriptions/listen needs a stream to answer on (over HTTP, Accept: text/event-stream)".into(),
            ));
        };
        let filters: Filters = params
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
            match self.subscribe_upstream(uri).await {
                Ok(()) => {
                    honoured.resource_subscriptions.push(uri.clone());
                    held.push(uri.clone());
                }
                Err(e) => tracing::info!(uri, "subscriptions/listen: not subscribed: {e}"),
            }
        }
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let _registration = Registration { subscriptions: self.clone(), key, uris: held };
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
        let _ = sink.send(tagged(ACKNOWLEDGED, Some(&ack), id)).await;
        if let Ok(mut open) = self.listeners.lock() {
            open.push(Listener { key, id: id.clone(), filters: honoured, sink: sink.clone() });
        }
        // The stream lasts until the client cancels or leaves (this future is then
        // dropped), or the stream closes.
        sink.closed().await;
        let mut meta = RawObject::new();
        meta.set(META_SUBSCRIPTION_ID, id);
        let mut result = RawObject::new();
        result.set("_meta", &meta);
        Ok(jsonrpc::to_raw(&result))
    }
}
