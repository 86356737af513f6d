//! Authentication on the HTTP front ends, as an axum middleware, and the
//! protected resource metadata endpoint (RFC 9728).
//!
//! Every request to `/mcp`, `/sse`, `/message`, `/ws` and `/metrics` passes
//! through [`authenticate`]: with `[auth]`, it must carry a credential the
//! [`Authenticator`] accepts, or it is answered 401 with a `WWW-Authenticate`
//! challenge that points at the metadata (the MCP authorization
//! specification's discovery step). The principal goes into the request's
//! extensions, where the front ends find it. Without `[auth]` every request is
//! `anonymous`. The client's `Authorization` header is never passed on: each
//! backend has its own credentials, from the configuration.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Authenticator, Principal};
use crate::protocol::code;

/// Where the metadata is served, and the well-known prefix clients derive from
/// the resource URL (RFC 9728 §3.1).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The authentication state of the HTTP front end.
pub struct Guard {
    pub authenticator: Option<Authenticator>,
    /// "https" with TLS on the front end, else "http": for URLs built from `Host`.
    pub scheme: &'static str,
}

impl Guard {
    /// The resource URL a client reached: `[auth] resource` when configured,
    /// else built from the request's `Host`.
    fn resource_url(&self, headers: &HeaderMap) -> String {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        format!("{}://{host}/mcp", self.scheme)
    }

    /// The metadata URL for a resource URL: the well-known prefix inserted
    /// between its origin and its path.
    fn metadata_url(&self, headers: &HeaderMap) -> String {
        let resource = match self.authenticator.as_ref().and_then(|a| a.resource()) {
            Some(r) => r.to_owned(),
            None => self.resource_url(headers),
        };
        match reqwest::Url::parse(&resource) {
            Ok(url) => {
                let path = url.path().trim_end_matches('/');
                format!("{}{METADATA_PATH}{path}", url.origin().ascii_serialization())
            }
            Err(_) => format!("{}://localhost{METADATA_PATH}", self.scheme),
        }
    }
}

/// The middleware: authenticates the request and records its principal.
pub async fn authenticate(State(guard): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    let principal = match &guard.authenticator {
        None => Principal::anonymous(),
        Some(a) => {
            let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            match a.authenticate(header).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::info!(path = %req.uri().path(), "unauthorized: {e}");
                    let challenge = a.challenge(&e, &guard.metadata_url(req.headers()));
                    let mut resp = crate::front::shared::error(
                        StatusCode::UNAUTHORIZED,
                        code::INVALID_REQUEST,
                        format!("Unauthorized: {e}"),
                    );
                    if let Ok(v) = HeaderValue::from_str(&challenge) {
                        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                    }
                    return resp;
                }
            }
        }
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`: the protected resource
/// metadata; 404 without `[auth]` (there is nothing to discover).
pub fn metadata_routes(guard: Arc<Guard>) -> Router {
    async fn serve(State(guard): State<Arc<Guard>>, headers: HeaderMap) -> Response {
        match &guard.authenticator {
            Some(a) => {
                let body = a.metadata(&guard.resource_url(&headers)).to_string();
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    Router::new().route(METADATA_PATH, get(serve)).route(&format!("{METADATA_PATH}/mcp"), get(serve)).with_state(guard)
}
