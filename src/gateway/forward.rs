//! Forwarding a request to its server on a client session's behalf, across
//! protocol eras: the progress token is swapped for the gateway's, a stateless
//! client's call may end `input_required` ([`super::mrtr`]), and a 2026-07-28
//! server's `input_required` is put to a handshake-era client as requests.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::Gateway;
use super::backend::{BackendConn, Owner};
use super::error::GatewayError;
use super::mrtr;
use super::session::ClientSession;
use crate::protocol::{RawObject, method};
use crate::transport::Tx;

type Routed = Result<Box<RawValue>, GatewayError>;

impl Gateway {
    /// Sends a request to its server on a session's behalf.
    pub(crate) async fn forward(
        &self,
        session: &Arc<ClientSession>,
        server: &str,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
    ) -> Routed {
        let conn = self.conn_for(server)?;
        crate::protocol::modern::strip_client_meta(&mut params);
        if session.is_modern() && matches!(m, method::TOOLS_CALL | method::PROMPTS_GET | method::RESOURCES_READ) {
            return self.forward_stateless(session, conn, m, params, related).await;
        }
        let progress = self.upstream.rewrite_progress(&mut params, session, related.as_ref());
        let owner =
            Owner { session: Arc::downgrade(session), session_id: session.id, related: related.clone(), inbox: None };
        let activity = progress.as_ref().map(|p| p.activity());
        let mut result = conn.call(m, Some(params.to_raw()), Some(owner.clone()), activity.clone()).await?;
        // A 2026-07-28 backend asks its questions in the result; a client of the
        // handshake era is asked them as requests, and the call is retried with
        // the answers (a few rounds at most).
        for _round in 0..8 {
            let Some(asked) = input_required(&result) else { return Ok(result) };
            let answers = self.ask_for_input(session, related.as_ref(), &asked).await?;
            params.set("inputResponses", &answers);
            match asked.get("requestState") {
                Some(state) => params.set_raw("requestState", state.to_owned()),
                None => {
                    params.remove("requestState");
                }
            }
            result = conn.call(m, Some(params.to_raw()), Some(owner.clone()), activity.clone()).await?;
        }
        Err(GatewayError::BadResult {
            server: server.to_owned(),
            method: m.to_owned(),
            reason: "still input_required after 8 rounds of answers".into(),
        })
    }

    /// Asks a handshake-era client each question of an `input_required` result.
    async fn ask_for_input(
        &self,
        session: &Arc<ClientSession>,
        related: Option<&Tx>,
        asked: &RawObject,
    ) -> Result<RawObject, GatewayError> {
        let requests: RawObject = asked.get_as("inputRequests").unwrap_or_default();
        let mut answers = RawObject::new();
        for (key, request) in requests.iter() {
            let request = RawObject::parse(request)
                .map_err(|e| GatewayError::InvalidParams(format!("inputRequests.{key}: {e}")))?;
            let m = request.get_str("method").unwrap_or_default();
            let capability = match m.as_str() {
                method::SAMPLING_CREATE_MESSAGE => "sampling",
                method::ELICITATION_CREATE => "elicitation",
                method::ROOTS_LIST => "roots",
                other => {
                    return Err(GatewayError::InvalidParams(format!(
                        "the server asked for {other:?}, which vmcp cannot put to a client"
                    )));
                }
            };
            if !session.client_has(capability) {
                return Err(GatewayError::Remote(crate::protocol::ErrorObject::new(
                    crate::protocol::modern::code::MISSING_CAPABILITY,
                    format!(
                        "the server needs the client's '{capability}' capability ({m}), which the client did not announce"
                    ),
                )));
            }
            let id = session.next_request_id();
            let answer = session.ask_client(id, &m, request.get("params").map(|p| p.to_owned()), related).await;
            answers.set_raw(key, answer.map_err(GatewayError::Remote)?);
        }
        Ok(answers)
    }

    /// A stateless client's call that may need its input: the backend call runs
    /// as a task of its own, and server→client requests it causes come back as an
    /// `input_required` result (see [`super::mrtr`]). A retry carrying
    /// `requestState` resumes the waiting call instead of starting another.
    async fn forward_stateless(
        &self,
        session: &Arc<ClientSession>,
        conn: Arc<BackendConn>,
        m: &str,
        mut params: RawObject,
        related: Option<Tx>,
    ) -> Routed {
        // Over stdio there is no per-request stream: progress goes to stdout.
        let related = related.or_else(|| session.outbound().sender());
        if let Some(pending) = mrtr::resume(&self.mrtr, &params, related.clone())? {
            // The retry's progress token replaces the first request's.
            if let (Some(ours), Some(theirs)) = (
                pending.progress_token(),
                params.get_as::<RawObject>("_meta").and_then(|m| m.get("progressToken").map(|t| t.to_owned())),
            ) {
                self.upstream.retarget_progress(&ours, theirs);
            }
            return mrtr::wait(&self.mrtr, pending).await;
        }
        let (inbox, requests) = tokio::sync::mpsc::channel(16);
        let (slot, relay) = mrtr::relay(related);
        let related = Some(relay);
        let owner = Owner {
            session: Arc::downgrade(session),
            session_id: session.id,
            related: related.clone(),
            inbox: Some(inbox),
        };
        let gateway = session.gateway().clone();
        let session = session.clone();
        let m = m.to_owned();
        let token = Arc::new(std::sync::Mutex::new(None));
        let token_slot = token.clone();
        let task = tokio::spawn(async move {
            let progress = gateway.upstream.rewrite_progress(&mut params, &session, related.as_ref());
            if let (Some(p), Ok(mut slot)) = (&progress, token_slot.lock()) {
                *slot = Some(p.token().to_owned());
            }
            let activity = progress.as_ref().map(|p| p.activity());
            conn.call(&m, Some(params.to_raw()), Some(owner), activity).await
        });
        mrtr::wait(&self.mrtr, mrtr::start(task, requests, slot, token)).await
    }
}

/// The result, when it is an `input_required` one.
fn input_required(result: &RawValue) -> Option<RawObject> {
    // Cheap test first: most results are not.
    if !result.get().contains("input_required") {
        return None;
    }
    RawObject::parse(result).ok().filter(|o| o.get_str("resultType").as_deref() == Some("input_required"))
}
