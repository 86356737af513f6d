//! What the HTTP front ends share: their options, error answers, the checks
//! every request passes (origin, body size and type), who the client is, and
//! the dispatch of a front that carries everything on one stream (legacy SSE,
//! WebSocket).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures_util::future::{Either, join_all};
use tokio_util::task::TaskTracker;

use crate::auth::Principal;
use crate::protocol::{ErrorObject, Frame, Id, Message, Response, code, jsonrpc};
use crate::service::{Refused, Session, Tx};

/// Front-end limits and policy.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub max_message_size: usize,
    /// Deepest JSON nesting accepted in a client's message.
    pub max_json_depth: u32,
    pub allowed_origins: Vec<String>,
    pub keepalive: Duration,
    /// A session with no request and no open GET stream for this long is closed.
    pub session_idle_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub read_timeout: Duration,
    /// How long a write to a WebSocket client may stay blocked.
    pub write_timeout: Duration,
    /// Seals handshake-era session ids of `/mcp` so that other replicas can
    /// resume them (`[cluster] session_key`); `None`: random ids, this
    /// process's own.
    pub sealer: Option<std::sync::Arc<super::seal::Sealer>>,
}

/// Reads a POSTed JSON-RPC body: the content type must be JSON (when given), the
/// body at most `max_message_size` bytes (which is all that is ever buffered),
/// and all of it sent within `read_timeout`.
pub async fn json_body(headers: &HeaderMap, body: Body, options: &HttpOptions) -> Result<Bytes, HttpResponse> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.trim_start().to_ascii_lowercase().starts_with("application/json") {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::INVALID_REQUEST,
                format!("Unsupported Media Type: Content-Type must be application/json, not {ct:?}"),
            ));
        }
    }
    let limit = options.max_message_size;
    match tokio::time::timeout(options.read_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::INVALID_REQUEST,
            format!("Invalid request: body exceeds gateway.max_message_size ({limit} bytes)"),
        )),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            code::INVALID_REQUEST,
            format!(
                "Request Timeout: the body did not arrive within {} ms (gateway.read_timeout)",
                options.read_timeout.as_millis()
            ),
        )),
    }
}

/// The service takes no more sessions (`gateway.max_sessions`).
pub fn refused(e: Refused) -> HttpResponse {
    error(StatusCode::SERVICE_UNAVAILABLE, code::OVERLOADED, format!("Service Unavailable: {e}"))
}

/// An HTTP error whose body is a JSON-RPC error response with a null id.
pub fn error(status: StatusCode, code: i64, message: impl Into<String>) -> HttpResponse {
    let body = Message::Response(Response::err(Id::Null, ErrorObject::new(code, message))).to_json();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Origin validation. Non-browser clients send no Origin and are allowed.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1") || host.ends_with(".localhost")
}

/// The 403 for a disallowed `Origin` (DNS-rebinding protection), as `/mcp` sends it.
pub fn forbidden_origin(headers: &HeaderMap, options: &HttpOptions) -> Option<HttpResponse> {
    if origin_allowed(headers, &options.allowed_origins) {
        return None;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("?");
    Some(error(
        StatusCode::FORBIDDEN,
        code::INVALID_REQUEST,
        format!("Forbidden: Origin {origin} is not allowed (see gateway.allowed_origins)"),
    ))
}

/// Hands one frame from the client to `session`, on a front where everything for
/// the client travels on one stream, `tx`. Each request runs as its own task on
/// `tasks`; a batch's responses go out together, as one array.
pub fn dispatch<S: Session>(session: &Arc<S>, frame: Frame, tx: &Tx, tasks: &TaskTracker) {
    let items = match frame {
        Frame::Single(Ok(Message::Request(r))) => {
            // Called here, not in the task: the session registers the request now,
            // so a cancellation right behind it finds it.
            let fut = session.clone().request(r, None);
            let tx = tx.clone();
            tasks.spawn(async move {
                let _ = tx.send(fut.await.into_json()).await;
            });
            return;
        }
        Frame::Single(Ok(Message::Notification(n))) => return session.notification(n),
        Frame::Single(Ok(Message::Response(r))) => return session.response(r),
        Frame::Single(Err(e)) => {
            let tx = tx.clone();
            tasks.spawn(async move { tx.send(Message::Response(e.to_response()).to_json()).await });
            return;
        }
        Frame::Batch(items) => items,
    };
    let mut futures = Vec::new();
    for item in items {
        match item {
            Ok(Message::Request(r)) => futures.push(Either::Left(session.clone().request(r, None))),
            Ok(Message::Notification(n)) => session.notification(n),
            Ok(Message::Response(r)) => session.response(r),
            Err(e) => futures.push(Either::Right(std::future::ready(e.to_response()))),
        }
    }
    if !futures.is_empty() {
        let tx = tx.clone();
        tasks.spawn(async move {
            let responses: Vec<Message> = join_all(futures).await.into_iter().map(Message::Response).collect();
            let _ = tx.send(jsonrpc::to_raw(&responses).get().to_owned()).await;
        });
    }
}

/// The principal an HTTP request was authenticated as (put in the request's
/// extensions by the authentication layer); anonymous when there is none.
pub fn principal_of(ext: Option<Extension<Principal>>) -> Principal {
    ext.map(|Extension(p)| p).unwrap_or_else(Principal::anonymous)
}

/// Empties a front end's session map (shutdown), returning what it held.
pub fn drain_sessions<E>(sessions: &Mutex<HashMap<String, Arc<E>>>) -> Vec<Arc<E>> {
    match sessions.lock() {
        Ok(mut s) => s.drain().map(|(_, e)| e).collect(),
        Err(_) => Vec::new(),
    }
}

/// A fresh session id: 128 random bits in hex, unguessable.
pub fn new_session_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_origin(o: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        h
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(&HeaderMap::new(), &[]));
        for ok in ["http://localhost:5173", "http://127.0.0.1", "https://[::1]:8080", "http://app.localhost"] {
            assert!(origin_allowed(&with_origin(ok), &[]), "{ok}");
        }
        for bad in ["http://evil.example", "null", "http://localhost.evil.example", "http://127.0.0.1.evil.example"] {
            assert!(!origin_allowed(&with_origin(bad), &[]), "{bad}");
        }
        assert!(origin_allowed(&with_origin("https://app.example"), &["https://app.example".into()]));
    }
}
