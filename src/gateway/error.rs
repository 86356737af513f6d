//! Every error the gateway itself answers with, and its JSON-RPC form.
//!
//! Errors a backend returns are passed through untouched ([`GatewayError::Remote`]);
//! every other error names the server involved (in the message and in
//! `error.data.server`) and says why.

use serde::Serialize;

use crate::protocol::{ErrorObject, code};

#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The backend answered with a JSON-RPC error: passed through as is.
    #[error("{0}")]
    Remote(ErrorObject),
    #[error("server '{server}' is unavailable: {reason}")]
    Unavailable { server: String, reason: String },
    #[error("server '{server}' did not answer {method} within {timeout_ms} ms")]
    Timeout { server: String, method: String, timeout_ms: u128 },
    #[error("server '{server}' closed its connection while {method} was in flight")]
    Gone { server: String, method: String },
    #[error("server '{server}' sent a message larger than gateway.max_message_size in answer to {method}")]
    TooLarge { server: String, method: String },
    #[error("server '{server}' answered {method} with an invalid result: {reason}")]
    BadResult { server: String, method: String, reason: String },
    #[error("Unknown tool: {0}")]
    UnknownTool(String),
    #[error("Unknown prompt: {0}")]
    UnknownPrompt(String),
    #[error("Unknown resource: {uri} ({reason})")]
    UnknownResource { uri: String, reason: String },
    #[error("Method not found: {0}")]
    MethodNotFound(String),
    #[error("Invalid params: {0}")]
    InvalidParams(String),
    #[error("Request cancelled")]
    Cancelled,
    #[error("the gateway is shutting down")]
    ShuttingDown,
    #[error("server '{server}': every replica's circuit is open (too many failures); next probe in {retry_in_ms} ms")]
    CircuitOpen { server: String, retry_in_ms: u128 },
    #[error("{scope} is at its limit of {limit} requests in flight; try again shortly")]
    Overloaded { server: Option<String>, scope: String, limit: u32 },
    #[error("{scope} is over its rate limit; retry in {retry_after_ms} ms")]
    RateLimited { server: Option<String>, scope: String, retry_after_ms: u128 },
    #[error("{what} is denied by {by}")]
    Denied { what: String, by: String },
    #[error("server '{server}' does not offer {method}: it did not announce the '{capability}' capability")]
    NoCapability { server: String, method: String, capability: String },
}

#[derive(Serialize)]
struct Data<'a> {
    server: &'a str,
    reason: &'static str,
}

impl GatewayError {
    /// Whether this failure counts against a replica's circuit breaker and
    /// passive health: the transport failed, the server was silent, or it
    /// reported an internal error. A tool's own `isError` result is a success
    /// here, and so is any other JSON-RPC error (the server is working).
    pub fn is_replica_failure(&self) -> bool {
        match self {
            GatewayError::Remote(e) => e.code == code::INTERNAL_ERROR,
            GatewayError::Timeout { .. } | GatewayError::Gone { .. } | GatewayError::Unavailable { .. } => true,
            _ => false,
        }
    }

    /// Whether another replica could answer where this one failed (for requests
    /// that are safe to repeat).
    pub fn is_retryable(&self) -> bool {
        self.is_replica_failure() || matches!(self, GatewayError::CircuitOpen { .. })
    }

    /// When the gateway itself refused the request (a limit, an open circuit,
    /// a rule), the reason it is counted under in `vmcp_rejected_total`.
    pub fn rejection(&self) -> Option<&'static str> {
        Some(match self {
            GatewayError::Overloaded { .. } => "overloaded",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::CircuitOpen { .. } => "circuit_open",
            GatewayError::Denied { .. } => "denied",
            _ => return None,
        })
    }

    pub fn to_error_object(&self) -> ErrorObject {
        let with = |code: i64, server: &str, reason: &'static str| {
            ErrorObject::new(code, self.to_string()).with_data(&Data { server, reason })
        };
        match self {
            GatewayError::Remote(e) => e.clone(),
            GatewayError::Unavailable { server, .. } => with(code::SERVER_UNAVAILABLE, server, "unavailable"),
            GatewayError::Timeout { server, .. } => with(code::SERVER_TIMEOUT, server, "timeout"),
            GatewayError::Gone { server, .. } => with(code::SERVER_GONE, server, "connection_lost"),
            GatewayError::TooLarge { server, .. } => with(code::MESSAGE_TOO_LARGE, server, "message_too_large"),
            GatewayError::BadResult { server, .. } => with(code::INTERNAL_ERROR, server, "invalid_result"),
            GatewayError::UnknownTool(_) | GatewayError::UnknownPrompt(_) | GatewayError::InvalidParams(_) => {
                ErrorObject::new(code::INVALID_PARAMS, self.to_string())
            }
            GatewayError::UnknownResource { .. } => ErrorObject::new(code::RESOURCE_NOT_FOUND, self.to_string()),
            GatewayError::MethodNotFound(_) => ErrorObject::new(code::METHOD_NOT_FOUND, self.to_string()),
            GatewayError::Cancelled => ErrorObject::new(code::REQUEST_CANCELLED, self.to_string()),
            GatewayError::ShuttingDown => ErrorObject::new(code::SHUTTING_DOWN, self.to_string()),
            GatewayError::CircuitOpen { server, retry_in_ms } => ErrorObject::new(code::CIRCUIT_OPEN, self.to_string())
                .with_data(
                    &serde_json::json!({ "server": server, "reason": "circuit_open", "retryAfterMs": retry_in_ms }),
                ),
            GatewayError::Overloaded { server, .. } => ErrorObject::new(code::OVERLOADED, self.to_string())
                .with_data(&serde_json::json!({ "server": server, "reason": "overloaded" })),
            GatewayError::RateLimited { server, retry_after_ms, .. } => {
                ErrorObject::new(code::RATE_LIMITED, self.to_string()).with_data(
                    &serde_json::json!({ "server": server, "reason": "rate_limited", "retryAfterMs": retry_after_ms }),
                )
            }
            GatewayError::Denied { .. } => {
                ErrorObject::new(code::DENIED, self.to_string()).with_data(&serde_json::json!({ "reason": "denied" }))
            }
            GatewayError::NoCapability { server, .. } => with(code::METHOD_NOT_FOUND, server, "no_capability"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_name_the_server() {
        let e = GatewayError::Timeout { server: "time".into(), method: "tools/call".into(), timeout_ms: 500 };
        let o = e.to_error_object();
        assert_eq!(o.code, code::SERVER_TIMEOUT);
        assert!(o.message.contains("'time'"), "{}", o.message);
        assert_eq!(o.data.unwrap().get(), r#"{"server":"time","reason":"timeout"}"#);
    }

    #[test]
    fn remote_errors_pass_through() {
        let remote = ErrorObject::new(-32099, "backend says no");
        let o = GatewayError::Remote(remote).to_error_object();
        assert_eq!((o.code, o.message.as_str()), (-32099, "backend says no"));
        assert!(o.data.is_none());
    }
}
