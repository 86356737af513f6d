//! The contract between a front end and what it serves: a [`Service`] opens a
//! [`Session`] per client, and the front end hands it what the client sends.

use std::future::Future;
use std::sync::Arc;

use super::outbound::{Outbound, Tx};
use crate::auth::Principal;
use crate::protocol::{Notification, Request, Response};

/// Something that serves MCP sessions: the gateway, or the mock server.
pub trait Service: Send + Sync + 'static {
    type Session: Session;
    /// Opens a session for a new client, who is `principal` (the front end
    /// authenticated it, or it is the built-in local or anonymous one). `outbound`
    /// is where the session sends messages that belong to no particular request.
    /// Refused (with the reason) when the service takes no more sessions.
    fn open(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
    ) -> Result<Arc<Self::Session>, Refused>;

    /// Opens a session for a client that made its handshake elsewhere (another
    /// replica, or this one before a restart), from what that handshake
    /// settled. The session counts as initialized. Services that cannot
    /// resume sessions refuse.
    fn resume(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
        state: &Handshake,
    ) -> Result<Arc<Self::Session>, Refused> {
        let _ = (front, outbound, principal, state);
        Err(Refused("sessions cannot be resumed here".into()))
    }
}

/// What a handshake settled and a session needs to go on elsewhere: the
/// negotiated revision and the client's capabilities (raw JSON, as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub revision: String,
    pub capabilities: String,
}

/// Why a service would not open a session.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// One client's session, as a transport sees it.
pub trait Session: Send + Sync + 'static {
    /// Handles a request and produces its response. Messages related to the
    /// request (progress, server→client requests it caused) go to `related` when
    /// the transport has a per-request stream, or to the outbound stream otherwise.
    fn request(self: Arc<Self>, req: Request, related: Option<Tx>) -> impl Future<Output = Response> + Send + 'static;
    fn notification(&self, n: Notification);
    /// A client's answer to a request the session sent it.
    fn response(&self, r: Response);
    /// The client is gone: cancel what is in flight, release what is held.
    fn close(&self);
    /// The name of the principal the session belongs to: a request for it from
    /// anyone else is refused, so a session id alone is not a credential.
    fn owner(&self) -> &str;
    /// What its handshake settled, once it has (for a session id another
    /// replica can resume); `None` before, or for services that cannot resume.
    fn handshake(&self) -> Option<Handshake> {
        None
    }
}
