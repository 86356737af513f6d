//! [`Relay`]: the way back from a server to the client a message belongs to.
//!
//! - Progress: the gateway replaces each client's `progressToken` with one of
//!   its own (two clients may both use token `1` on one shared server) and maps
//!   reports back to the client, on the request's own stream when it has one.
//!   Each report also restarts the request's idle timeout.
//! - Server→client requests (`sampling/createMessage`, `elicitation/create`,
//!   `roots/list`): on a shared stdio process nothing on the wire says which
//!   client caused them. They go to the one client with requests in flight on
//!   that server; with none in flight, to the only client there is; otherwise
//!   the server gets an error rather than a guess. A stateless client's call
//!   collects them for its `input_required` result instead.
//! - `notifications/cancelled` from a server withdraws a request it sent.
//!
//! What belongs to no client in particular (list changes, resource updates,
//! log messages) is the gateway's to broadcast (`core.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde_json::value::RawValue;
use tokio::sync::Notify;

use super::backend::BackendConn;
use super::client::{Caller, Client};
use super::input_required::{Inbox, InputRequest};
use super::sessions::Sessions;
use crate::protocol::stateless;
use crate::protocol::{ErrorObject, Id, Message, Notification, RawObject, Request, code, jsonrpc, method};
use crate::service::Tx;

struct ProgressRoute {
    client: Weak<Client>,
    token: Box<RawValue>,
    related: Option<Tx>,
    activity: Arc<Notify>,
}

/// Where a server→client request goes.
enum Target {
    /// A client that receives requests (handshake era), and the request's stream.
    Client(Arc<Client>, Option<Tx>),
    /// A stateless client's call, collecting requests for `input_required`.
    Inbox(Inbox, Option<Arc<Client>>),
}

/// A server's request, by server id and the server's request id.
type ServerRequest = (Arc<str>, String);

pub struct Relay {
    sessions: Arc<Sessions>,
    progress: Mutex<HashMap<String, ProgressRoute>>,
    next_token: AtomicU64,
    /// (server, the server's request id) → (client, the id the client saw).
    to_client: Mutex<HashMap<ServerRequest, (Weak<Client>, i64)>>,
}

/// Removes a progress route when its request ends.
pub struct ProgressGuard<'a> {
    relay: &'a Relay,
    token: String,
    activity: Arc<Notify>,
}

impl ProgressGuard<'_> {
    /// Notified by each progress report: restarts the request's idle timeout.
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
        if let Ok(mut p) = self.relay.progress.lock() {
            p.remove(&self.token);
        }
    }
}

impl Relay {
    pub fn new(sessions: Arc<Sessions>) -> Relay {
        Relay {
            sessions,
            progress: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            to_client: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces `_meta.progressToken` in `params`, if present, with a gateway token.
    pub fn rewrite_progress(
        &self,
        params: &mut RawObject,
        client: &Arc<Client>,
        related: Option<&Tx>,
    ) -> Option<ProgressGuard<'_>> {
        let mut meta: RawObject = params.get_as("_meta")?;
        let token = meta.get("progressToken")?.to_owned();
        let ours = format!("vmcp-{}", self.next_token.fetch_add(1, Ordering::Relaxed));
        meta.set("progressToken", &ours);
        params.set("_meta", &meta);
        let activity = Arc::new(Notify::new());
        let route = ProgressRoute {
            client: Arc::downgrade(client),
            token,
            related: related.cloned(),
            activity: activity.clone(),
        };
        if let Ok(mut p) = self.progress.lock() {
            p.insert(ours.clone(), route);
        }
        Some(ProgressGuard { relay: self, token: ours, activity })
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

    /// A server's `notifications/progress`: to the client whose request it is,
    /// under the client's own token.
    pub fn progress(&self, n: Notification) {
        let Some(mut params) = n.params.as_deref().and_then(|p| RawObject::parse(p).ok()) else { return };
        let Some(token) = params.get_str("progressToken") else { return };
        let route = self.progress.lock().ok().and_then(|p| {
            p.get(&token).map(|r| (r.client.clone(), r.token.clone(), r.related.clone(), r.activity.clone()))
        });
        let Some((client, client_token, related, activity)) = route else {
            tracing::debug!(token, "progress for a request no longer in flight");
            return;
        };
        activity.notify_one();
        let Some(client) = client.upgrade() else { return };
        params.set_raw("progressToken", client_token);
        let msg = Message::Notification(Notification { method: n.method, params: Some(params.to_raw()) }).to_json();
        client.send_related(related.as_ref(), msg);
    }

    /// A server's `notifications/cancelled`: it gave up on a request it sent a client.
    pub fn cancelled(&self, conn: &BackendConn, n: &Notification) {
        let Some(params) = n.params.as_deref().and_then(|p| RawObject::parse(p).ok()) else { return };
        let Some(id) = params.get("requestId").and_then(Id::from_raw) else { return };
        let key = (conn.server.clone(), id.to_string());
        let entry = self.to_client.lock().ok().and_then(|mut m| m.remove(&key));
        if let Some((client, client_id)) = entry
            && let Some(c) = client.upgrade()
        {
            c.cancel_request(client_id, params.get_str("reason"));
        }
    }

    /// A request the server sent: answered here (`ping`), refused, or carried
    /// to the client it belongs to, whose answer goes back to the server.
    pub fn request(self: &Arc<Self>, conn: &Arc<BackendConn>, r: Request) {
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
        let (client, related) = match target {
            Target::Client(c, related) => (c, related),
            Target::Inbox(inbox, client) => return ask_stateless(conn, r, capability, inbox, client),
        };
        if !client.has(capability) {
            let e = ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!("the client did not announce the '{capability}' capability, so vmcp cannot forward {m}"),
            );
            conn.respond(r.id, Err(e));
            return;
        }
        let conn = conn.clone();
        let relay = self.clone();
        tokio::spawn(async move {
            let client_id = client.next_request_id();
            let key = (conn.server.clone(), r.id.to_string());
            if let Ok(mut m) = relay.to_client.lock() {
                m.insert(key.clone(), (Arc::downgrade(&client), client_id));
            }
            let outcome = client.ask(client_id, &r.method, r.params, related.as_ref()).await;
            let still_wanted = relay.to_client.lock().ok().and_then(|mut m| m.remove(&key)).is_some();
            if still_wanted {
                conn.respond(r.id, outcome);
            }
        });
    }

    /// The client a server→client request belongs to (see the module comment).
    fn owner_of(&self, conn: &BackendConn, m: &str) -> Result<Target, ErrorObject> {
        let callers = conn.callers();
        match &callers[..] {
            [Caller { inbox: Some(inbox), client, .. }] => Ok(Target::Inbox(inbox.clone(), client.upgrade())),
            [one] => match one.client.upgrade() {
                Some(c) => Ok(Target::Client(c, one.related.clone())),
                None => {
                    Err(ErrorObject::new(code::INTERNAL_ERROR, format!("the client session that caused {m} is gone")))
                }
            },
            [] => {
                let clients = self.sessions.live();
                match &clients[..] {
                    [only] => Ok(Target::Client(only.clone(), None)),
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

/// A stateless client's call collects the request for its `input_required`
/// result; the answer comes with the client's retry.
fn ask_stateless(conn: &Arc<BackendConn>, r: Request, capability: &str, inbox: Inbox, client: Option<Arc<Client>>) {
    if let Some(c) = &client
        && !c.has(capability)
    {
        let e = ErrorObject::new(
            stateless::code::MISSING_CAPABILITY,
            format!("the client did not declare the '{capability}' capability, so vmcp cannot ask it for {}", r.method),
        );
        conn.respond(r.id, Err(e));
        return;
    }
    let conn = conn.clone();
    tokio::spawn(async move {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let req = InputRequest { method: r.method.clone(), params: r.params, reply };
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
