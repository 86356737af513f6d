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
}

#[derive(Serialize)]
struct Data<'a> {
    server: &'a str,
    reason: &'static str,
}

impl GatewayError {
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
