//! What backends send without being asked, and how it finds its client.
//!
//! - Progress: the gateway replaces each client's `progressToken` with one of its
//!   own (two clients may both use token `1` on one shared server) and maps
//!   reports back to the client, on the request's own stream when it has one.
//! - Server→client requests (`sampling/createMessage`, `elicitation/create`,
//!   `roots/list`): on a shared stdio process nothing on the wire says which
//!   client caused them. They go to the one session with requests in flight on
//!   that server; with none in flight, to the only session there is; otherwise
//!   the server gets an error rather than a guess.
//! - `notifications/resources/updated` goes to the sessions subscribed to the URI,
//!   under the URI clients know; list changes refresh the catalog; log messages
//!   go to every session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde_json::value::RawValue;
use tokio::sync::Notify;

use super::Gateway;
use super::backend::{BackendConn, Handler};
use super::session::ClientSession;
use crate::protocol::{ErrorObject, Id, Message, Notification, RawObject, Request, code, jsonrpc, method};
use crate::service::{self, Tx};

struct ProgressRoute {
    session: Weak<ClientSession>,
    token: Box<RawValue>,
    related: Option<Tx>,
    activity: Arc<Notify>,
}

/// Where a server→client request goes.
enum Target {
    /// A session that receives requests (handshake era), and the request's stream.
    Session(Arc<ClientSession>, Option<Tx>),
    /// A stateless client's call, collecting requests for `input_required`.
    Inbox(super::mrtr::Inbox, Option<Arc<ClientSession>>),
}

/// A server's request, by server id and the server's request id.
type UpstreamKey = (Arc<str>, String);

/// The gateway's routing tables for traffic that flows back from servers.
#[derive(Default)]
pub struct Routes {
    progress: Mutex<HashMap<String, ProgressRoute>>,
    next_token: AtomicU64,
    /// (server, the server's request id) → (session, the id the client saw).
    to_client: Mutex<HashMap<UpstreamKey, (Weak<ClientSession>, i64)>>,
    subscriptions: Mutex<HashMap<String, usize>>,
    resource_owners: Mutex<HashMap<String, Arc<str>>>,
}

/// Removes a progress route when its request ends.
pub struct ProgressGuard<'a> {
    routes: &'a Routes,
    token: String,
    activity: Arc<Notify>,
}

impl ProgressGuard<'_> {
    pub fn activity(&self) -> Arc<Notify> {
        self.activity.clone()
    }

    /// The gateway's token standing for the client's.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for ProgressGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.routes.progress.lock() {
            p.remove(&self.token);
        }
    }
}

impl Routes {
    /// Replaces `_meta.progressToken` in `params`, if present, with a gateway token.
    pub fn rewrite_progress(
        &self,
        params: &mut RawObject,
        session: &Arc<ClientSession>,
        related: Option<&Tx>,
    ) -> Option<ProgressGuard<'_>> {
        let mut meta: RawObject = params.get_as("_meta")?;
        let token = meta.get("progressToken")?.to_owned();
        let ours = format!("vmcp-{}", self.next_token.fetch_add(1, Ordering::Relaxed));
        meta.set("progressToken", &ours);
        params.set("_meta", &meta);
        let activity = Arc::new(Notify::new());
        let route = ProgressRoute {
            session: Arc::downgrade(session),
            token,
            related: related.cloned(),
            activity: activity.clone(),
        };
        if let Ok(mut p) = self.progress.lock() {
            p.insert(ours.clone(), route);
        }
        Some(ProgressGuard { routes: self, token: ours, activity })
    }

    /// Points a progress route at a new client token: a stateless client's retry
    /// of an `input_required` call carries a token of its own.
    pub fn retarget_progress(&self, ours: &str, client_token: Box<RawValue>) {
        if let Ok(mut p) = self.progress.lock()
            && let Some(route) = p.get_mut(ours)
        {
            route.token = client_token;
        }
    }

    /// Counts a session's subscription; true when it is the first for this URI.
    pub fn subscribe(&self, uri: &str) -> bool {
        let Ok(mut s) = self.subscriptions.lock() else { return true };
        let n = s.entry(uri.to_owned()).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// True when the last subscription for this URI went away.
    pub fn unsubscribe(&self, uri: &str) -> bool {
        let Ok(mut s) = self.subscriptions.lock() else { return false };
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

    pub fn remember_resource_owner(&self, uri: &str, server: &Arc<str>) {
        if let Ok(mut m) = self.resource_owners.lock() {
            // Bounded: this map only serves `prefix = "never"`, and must not grow without end.
            if m.len() >= 100_000 {
                m.clear();
            }
            m.insert(uri.to_owned(), server.clone());
        }
    }

    pub fn resource_owner(&self, uri: &str) -> Option<Arc<str>> {
        self.resource_owners.lock().ok().and_then(|m| m.get(uri).cloned())
    }
}

/// The callback a backend connection's reader calls for each message that is not
/// a response.
pub fn handler(gw: Weak<Gateway>) -> Handler {
    Arc::new(move |conn: &Arc<BackendConn>, msg: Message| {
        let Some(g) = gw.upgrade() else { return };
        match msg {
            Message::Notification(n) => g.on_notification(conn, n),
            Message::Request(r) => g.on_request(conn, r),
            Message::Response(_) => {}
        }
    })
}

impl Gateway {
    fn on_notification(self: &Arc<Self>, conn: &Arc<BackendConn>, n: Notification) {
        let server = conn.server.clone();
        match n.method.as_str() {
            method::PROGRESS => self.on_progress(n),
            method::TOOLS_LIST_CHANGED | method::PROMPTS_LIST_CHANGED => {
                let g = self.clone();
                let conn = conn.clone();
                tokio::spawn(async move { g.refresh(&conn).await });
            }
            method::RESOURCES_LIST_CHANGED => self.broadcast(method::RESOURCES_LIST_CHANGED),
            method::RESOURCES_UPDATED => {
                let Some(mut params) = n.params.as_deref().and_then(|p| RawObject::parse(p).ok()) else { return };
                let Some(uri) = params.get_str("uri") else { return };
                let exposed = self.settings.naming.expose_uri(&server, &uri);
                params.set("uri", &exposed);
                let msg =
                    Message::Notification(Notification { method: n.method, params: Some(params.to_raw()) }).to_json();
                for s in self.live_sessions() {
                    let subscribed = s.subscriptions.lock().map(|subs| subs.contains(&exposed)).unwrap_or(false);
                    if subscribed {
                        s.send_outbound(msg.clone());
                    }
                }
                self.listeners.notify(method::RESOURCES_UPDATED, Some(&params));
            }
            method::MESSAGE => {
                let msg = Message::Notification(n).to_json();
                for s in self.live_sessions() {
                    s.send_outbound(msg.clone());
                }
            }
            method::CANCELLED => {
                // The server gave up on a request it sent to a client.
                let Some(params) = n.params.as_deref().and_then(|p| RawObject::parse(p).ok()) else { return };
                let Some(id) = params.get("requestId").and_then(Id::from_raw) else { return };
                let entry = self.upstream.to_client.lock().ok().and_then(|mut m| m.remove(&(server, id.to_string())));
                if let Some((session, client_id)) = entry
                    && let Some(s) = session.upgrade()
                {
                    s.cancel_to_client(client_id, params.get_str("reason"));
                }
            }
            other => tracing::debug!(server = %server, method = other, "notification from the server ignored"),
        }
    }

    fn on_progress(&self, n: Notification) {
        let Some(mut params) = n.params.as_deref().and_then(|p| RawObject::parse(p).ok()) else { return };
        let Some(token) = params.get_str("progressToken") else { return };
        let route = self.upstream.progress.lock().ok().and_then(|p| {
            p.get(&token).map(|r| (r.session.clone(), r.token.clone(), r.related.clone(), r.activity.clone()))
        });
        let Some((session, client_token, related, activity)) = route else {
            tracing::debug!(token, "progress for a request no longer in flight");
            return;
        };
        activity.notify_one();
        let Some(session) = session.upgrade() else { return };
        params.set_raw("progressToken", client_token);
        let msg = Message::Notification(Notification { method: n.method, params: Some(params.to_raw()) }).to_json();
        session.send_related(related.as_ref(), msg);
    }

    /// Re-reads a server's tools and prompts after it said they changed.
    async fn refresh(&self, conn: &Arc<BackendConn>) {
        let Some(server) = self.server(&conn.server) else { return };
        let Some(info) = conn.info() else { return };
        match super::server::fetch_lists(conn, info).await {
            Ok(lists) => {
                server.set_lists(lists);
                self.rebuild_catalog();
            }
            Err(e) => tracing::warn!(server = %conn.server, "refreshing lists after list_changed failed: {e}"),
        }
    }

    fn on_request(self: &Arc<Self>, conn: &Arc<BackendConn>, r: Request) {
        let m = r.method.as_str();
        let capability = match m {
            method::PING => {
                conn.respond(r.id, Ok(jsonrpc::empty_object()));
                return;
            }
            method::SAMPLING_CREATE_MESSAGE => "sampling",
            method::ELICITATION_CREATE => "elicitation",
            method::ROOTS_LIST => "roots",
            _ => {
                let e = ErrorObject::new(
                    code::METHOD_NOT_FOUND,
                    format!("Method not found: {m} (vmcp does not forward it to clients)"),
                );
                conn.respond(r.id, Err(e));
                return;
            }
        };
        let target = match self.owner_of(conn, m) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(server = %conn.server, "{}", e.message);
                conn.respond(r.id, Err(e));
                return;
            }
        };
        let (session, related) = match target {
            Target::Session(s, related) => (s, related),
            Target::Inbox(inbox, session) => return self.ask_stateless(conn, r, capability, inbox, session),
        };
        if !session.client_has(capability) {
            let e = ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!("the client did not announce the '{capability}' capability, so vmcp cannot forward {m}"),
            );
            conn.respond(r.id, Err(e));
            return;
        }
        let conn = conn.clone();
        let g = self.clone();
        tokio::spawn(async move {
            let client_id = session.next_request_id();
            let key = (conn.server.clone(), r.id.to_string());
            if let Ok(mut m) = g.upstream.to_client.lock() {
                m.insert(key.clone(), (Arc::downgrade(&session), client_id));
            }
            let outcome = session.ask_client(client_id, &r.method, r.params, related.as_ref()).await;
            let still_wanted = g.upstream.to_client.lock().ok().and_then(|mut m| m.remove(&key)).is_some();
            if still_wanted {
                conn.respond(r.id, outcome);
            }
        });
    }

    /// A stateless client's call collects the request for its `input_required`
    /// result; the answer comes with the client's retry.
    fn ask_stateless(
        &self,
        conn: &Arc<BackendConn>,
        r: Request,
        capability: &str,
        inbox: super::mrtr::Inbox,
        session: Option<Arc<ClientSession>>,
    ) {
        if let Some(s) = &session
            && !s.client_has(capability)
        {
            let e = ErrorObject::new(
                crate::protocol::stateless::code::MISSING_CAPABILITY,
                format!(
                    "the client did not declare the '{capability}' capability, so vmcp cannot ask it for {}",
                    r.method
                ),
            );
            conn.respond(r.id, Err(e));
            return;
        }
        let conn = conn.clone();
        tokio::spawn(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let req = super::mrtr::InputRequest { method: r.method.clone(), params: r.params, reply };
            if inbox.send(req).await.is_err() {
                let e = ErrorObject::new(code::INTERNAL_ERROR, format!("the call that caused {} has ended", r.method));
                conn.respond(r.id, Err(e));
                return;
            }
            let outcome = answer.await.unwrap_or_else(|_| {
                Err(ErrorObject::new(
                    code::INTERNAL_ERROR,
                    format!("the client never answered {} (it did not retry within the time allowed)", r.method),
                ))
            });
            conn.respond(r.id, outcome);
        });
    }

    /// The session a server→client request belongs to (see the module comment).
    fn owner_of(&self, conn: &BackendConn, m: &str) -> Result<Target, ErrorObject> {
        let owners = conn.owners();
        match &owners[..] {
            [super::backend::Owner { inbox: Some(inbox), session, .. }] => {
                Ok(Target::Inbox(inbox.clone(), session.upgrade()))
            }
            [one] => match one.session.upgrade() {
                Some(s) => Ok(Target::Session(s, one.related.clone())),
                None => {
                    Err(ErrorObject::new(code::INTERNAL_ERROR, format!("the client session that caused {m} is gone")))
                }
            },
            [] => {
                let sessions = self.live_sessions();
                match &sessions[..] {
                    [only] => Ok(Target::Session(only.clone(), None)),
                    [] => Err(ErrorObject::new(
                        code::INTERNAL_ERROR,
                        format!("no client is connected to vmcp to answer {m}"),
                    )),
                    many => Err(ErrorObject::new(
                        code::INTERNAL_ERROR,
                        format!(
                            "vmcp cannot tell which of {} client sessions should answer {m}: none has a request in flight on server '{}'",
                            many.len(),
                            conn.server
                        ),
                    )),
                }
            }
            many => Err(ErrorObject::new(
                code::INTERNAL_ERROR,
                format!(
                    "vmcp cannot tell which of {} client sessions with requests in flight on server '{}' caused {m} (a shared stdio process); refused rather than guessed",
                    many.len(),
                    conn.server
                ),
            )),
        }
    }
}

impl ClientSession {
    pub(crate) fn send_related(&self, related: Option<&Tx>, msg: String) -> bool {
        service::send_related(related, self.outbound(), msg)
    }
}
