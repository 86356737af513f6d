//! What the mock server offers: tool, resource, template and prompt definitions,
//! and the pagination every list shares.

use serde_json::{Value, json};

use super::args::MockArgs;

/// The built-in tools and what they exercise.
pub const BUILTINS: &[(&str, &str, &str)] = &[
    ("echo", "Returns its text", r#"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#),
    (
        "add",
        "Adds two numbers",
        r#"{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}"#,
    ),
    (
        "progress",
        "Reports progress `steps` times, `delay_ms` apart, then returns",
        r#"{"type":"object","properties":{"steps":{"type":"integer"},"delay_ms":{"type":"integer"}}}"#,
    ),
    (
        "sample",
        "Asks the client to sample an LLM (sampling/createMessage) and returns its answer",
        r#"{"type":"object","properties":{"prompt":{"type":"string"}}}"#,
    ),
    (
        "elicit",
        "Asks the client for input (elicitation/create) and returns the answer",
        r#"{"type":"object","properties":{"message":{"type":"string"}}}"#,
    ),
    ("roots", "Asks the client for its roots (roots/list) and returns them", r#"{"type":"object"}"#),
    ("change_list", "Adds a tool and sends notifications/tools/list_changed", r#"{"type":"object"}"#),
    (
        "sleep",
        "Sleeps `ms` milliseconds; honours cancellation",
        r#"{"type":"object","properties":{"ms":{"type":"integer"}}}"#,
    ),
    ("fail", "Answers with a JSON-RPC error", r#"{"type":"object","properties":{"message":{"type":"string"}}}"#),
    ("tool_error", "Returns a result with isError: true", r#"{"type":"object"}"#),
    ("crash", "Exits the process at once (status 3)", r#"{"type":"object"}"#),
    ("stats", "Returns counters: requests, cancellations seen, subscriptions, log level", r#"{"type":"object"}"#),
    (
        "touch",
        "Sends notifications/resources/updated for `uri`",
        r#"{"type":"object","properties":{"uri":{"type":"string"}},"required":["uri"]}"#,
    ),
    (
        "big",
        "Returns a text of `bytes` bytes",
        r#"{"type":"object","properties":{"bytes":{"type":"integer"}},"required":["bytes"]}"#,
    ),
    (
        "log",
        "Sends a notifications/message log entry",
        r#"{"type":"object","properties":{"level":{"type":"string"},"message":{"type":"string"}}}"#,
    ),
];

pub fn tool_list(args: &MockArgs, extra: &[String]) -> Vec<Value> {
    let mut tools = Vec::new();
    if !args.no_builtins {
        for (name, description, schema) in BUILTINS {
            let schema: Value = serde_json::from_str(schema).unwrap_or_else(|_| json!({"type": "object"}));
            let mut t = json!({ "name": name, "description": description, "inputSchema": schema });
            if *name == "echo" {
                t["annotations"] = json!({ "readOnlyHint": true });
                t["_meta"] = json!({ "vmcp.mock/kept": true });
            }
            tools.push(t);
        }
    }
    for i in 0..args.tools {
        tools.push(json!({
            "name": format!("tool_{i}"),
            "description": format!("Generated tool {i}: returns its arguments"),
            "inputSchema": { "type": "object", "additionalProperties": true },
        }));
    }
    for name in extra {
        tools.push(json!({ "name": name, "description": "Added by change_list", "inputSchema": { "type": "object" } }));
    }
    tools
}

pub fn resource_list(args: &MockArgs) -> Vec<Value> {
    (0..args.resources)
        .map(|i| json!({ "uri": format!("mock://resource/{i}"), "name": format!("resource_{i}"), "mimeType": "text/plain" }))
        .collect()
}

pub fn template_list(args: &MockArgs) -> Vec<Value> {
    (0..args.templates)
        .map(|i| json!({ "uriTemplate": format!("mock://template/{i}/{{id}}"), "name": format!("template_{i}"), "mimeType": "text/plain" }))
        .collect()
}

pub fn prompt_list(args: &MockArgs) -> Vec<Value> {
    (0..args.prompts)
        .map(|i| {
            json!({
                "name": format!("prompt_{i}"),
                "description": format!("Generated prompt {i}"),
                "arguments": [{ "name": "topic", "description": "What to talk about", "required": true }],
            })
        })
        .collect()
}

/// The text of a resource, if the URI names one.
pub fn read_resource(args: &MockArgs, uri: &str) -> Option<String> {
    if let Some(i) = uri.strip_prefix("mock://resource/").and_then(|i| i.parse::<usize>().ok()) {
        return (i < args.resources).then(|| format!("resource {i}"));
    }
    let rest = uri.strip_prefix("mock://template/")?;
    let (i, id) = rest.split_once('/')?;
    let i: usize = i.parse().ok()?;
    (i < args.templates && !id.is_empty()).then(|| format!("template {i} item {id}"))
}

/// One page of `items`: offset cursors, `page_size` 0 meaning one page.
pub fn page(items: Vec<Value>, key: &str, cursor: Option<&str>, page_size: usize) -> Result<Value, String> {
    let start = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| format!("invalid cursor {c:?}"))?,
    };
    if start > items.len() {
        return Err(format!("invalid cursor {start:?}: past the end"));
    }
    let end = if page_size == 0 { items.len() } else { (start + page_size).min(items.len()) };
    let mut result = json!({ key: items[start..end].to_vec() });
    if end < items.len() {
        result["nextCursor"] = json!(end.to_string());
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_walks_every_item_once() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let p = page(items.clone(), "x", cursor.as_deref(), 2).unwrap();
            seen.extend(p["x"].as_array().unwrap().iter().cloned());
            match p.get("nextCursor") {
                Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(page(items, "x", Some("nope"), 2).is_err());
    }
}
