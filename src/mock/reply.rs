//! The shape of the mock's answers: a result as JSON, or a JSON-RPC error.

use serde_json::{Value, json};

use crate::protocol::{ErrorObject, code};

pub type Handled = Result<Value, ErrorObject>;

pub fn invalid(msg: impl Into<String>) -> ErrorObject {
    ErrorObject::new(code::INVALID_PARAMS, msg)
}

/// A tool result of one text block.
pub fn text(t: impl Into<String>) -> Value {
    json!({ "content": [{ "type": "text", "text": t.into() }] })
}
