//! `vmcp mock --conformance`: the fixtures the server scenarios of the official
//! conformance suite (`@modelcontextprotocol/conformance`) look for, in place of
//! the generated items and built-in tools.
//!
//! Each fixture is what its scenario checks: tools returning each content type,
//! logging, progress, sampling and elicitation during a call, static and
//! templated resources, prompts with arguments, images and embedded resources,
//! and completion of a prompt argument. The names and shapes are fixed by the
//! suite; the texts are the mock's own.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::reply::{Handled, invalid, text};
use crate::protocol::{ErrorObject, code, method};
use crate::service::Tx;
use serde_json::value::RawValue;

/// A 1×1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC";

/// A tenth of a second of silence: 8 kHz, mono, 8-bit PCM in a RIFF/WAVE container.
fn wav() -> String {
    const RATE: u32 = 8000;
    let samples = vec![128u8; (RATE / 10) as usize];
    let data_len = samples.len() as u32;
    let mut w = Vec::with_capacity(44 + samples.len());
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // channels
    w.extend_from_slice(&RATE.to_le_bytes()); // sample rate
    w.extend_from_slice(&RATE.to_le_bytes()); // byte rate
    w.extend_from_slice(&1u16.to_le_bytes()); // block align
    w.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w.extend_from_slice(&samples);
    BASE64.encode(w)
}

const NO_ARGS: &str = r#"{"type":"object","properties":{}}"#;

/// (name, description, inputSchema) of every conformance tool.
const TOOLS: &[(&str, &str, &str)] = &[
    ("test_simple_text", "Returns one text item", NO_ARGS),
    ("test_image_content", "Returns one image item (PNG)", NO_ARGS),
    ("test_audio_content", "Returns one audio item (WAV)", NO_ARGS),
    ("test_embedded_resource", "Returns one embedded text resource", NO_ARGS),
    ("test_multiple_content_types", "Returns a text, an image and an embedded resource", NO_ARGS),
    ("test_tool_with_logging", "Sends three log messages while it runs", NO_ARGS),
    ("test_error_handling", "Always fails, with isError: true", NO_ARGS),
    ("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100 while it runs", NO_ARGS),
    (
        "test_sampling",
        "Asks the client to sample an LLM with `prompt` and returns its answer",
        r#"{"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send"}},"required":["prompt"]}"#,
    ),
    (
        "test_elicitation",
        "Asks the client for a username and an email, showing `message`",
        r#"{"type":"object","properties":{"message":{"type":"string","description":"What to show the user"}},"required":["message"]}"#,
    ),
    ("test_elicitation_sep1034_defaults", "Elicits one field of each primitive type, each with a default", NO_ARGS),
    ("test_elicitation_sep1330_enums", "Elicits the five kinds of enum field", NO_ARGS),
    (
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        r##"{
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "type": "object",
                    "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
                }
            },
            "properties": {
                "name": { "type": "string" },
                "address": { "$ref": "#/$defs/address" }
            },
            "additionalProperties": false
        }"##,
    ),
    ("test_reconnection", "Answers after a short pause (the SSE polling scenario)", NO_ARGS),
];

pub fn tools() -> Vec<Value> {
    TOOLS
        .iter()
        .map(|(name, description, schema)| {
            let schema: Value = serde_json::from_str(schema).unwrap_or_else(|_| json!({ "type": "object" }));
            json!({ "name": name, "description": description, "inputSchema": schema })
        })
        .collect()
}

const STATIC_TEXT: &str = "test://static-text";
const STATIC_BINARY: &str = "test://static-binary";
const WATCHED: &str = "test://watched-resource";
const TEMPLATE: &str = "test://template/{id}/data";

pub fn resources() -> Vec<Value> {
    vec![
        json!({ "uri": STATIC_TEXT, "name": "static-text", "description": "A static text resource", "mimeType": "text/plain" }),
        json!({ "uri": STATIC_BINARY, "name": "static-binary", "description": "A static binary resource (a PNG)", "mimeType": "image/png" }),
        json!({ "uri": WATCHED, "name": "watched-resource", "description": "A resource to subscribe to", "mimeType": "text/plain" }),
    ]
}

pub fn templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": TEMPLATE,
        "name": "template-data",
        "description": "JSON data for any {id}",
        "mimeType": "application/json",
    })]
}

/// The `contents` of a resource, if `uri` names one.
pub fn read(uri: &str) -> Option<Value> {
    let item = match uri {
        STATIC_TEXT => {
            json!({ "uri": uri, "mimeType": "text/plain", "text": "The static text resource of vmcp mock." })
        }
        STATIC_BINARY => json!({ "uri": uri, "mimeType": "image/png", "blob": PNG }),
        WATCHED => json!({ "uri": uri, "mimeType": "text/plain", "text": "The watched resource of vmcp mock." }),
        _ => {
            let id = uri.strip_prefix("test://template/")?.strip_suffix("/data")?;
            if id.is_empty() || id.contains('/') {
                return None;
            }
            let data = json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
            json!({ "uri": uri, "mimeType": "application/json", "text": data.to_string() })
        }
    };
    Some(json!({ "contents": [item] }))
}

pub fn prompts() -> Vec<Value> {
    let arg = |name: &str, description: &str| json!({ "name": name, "description": description, "required": true });
    vec![
        json!({ "name": "test_simple_prompt", "description": "A prompt without arguments" }),
        json!({
            "name": "test_prompt_with_arguments",
            "description": "A prompt with two arguments",
            "arguments": [arg("arg1", "First argument"), arg("arg2", "Second argument")],
        }),
        json!({
            "name": "test_prompt_with_embedded_resource",
            "description": "A prompt embedding the resource named by resourceUri",
            "arguments": [arg("resourceUri", "URI of the resource to embed")],
        }),
        json!({ "name": "test_prompt_with_image", "description": "A prompt with an image" }),
    ]
}

fn user(content: Value) -> Value {
    json!({ "role": "user", "content": content })
}

/// The result of `prompts/get`.
pub fn prompt(name: &str, args: &Value) -> Handled {
    let arg =
        |k: &str| args.get(k).and_then(Value::as_str).ok_or_else(|| invalid(format!("{name}: missing argument {k:?}")));
    let messages = match name {
        "test_simple_prompt" => vec![user(json!({ "type": "text", "text": "A simple prompt, for testing." }))],
        "test_prompt_with_arguments" => {
            let (a, b) = (arg("arg1")?, arg("arg2")?);
            vec![user(json!({ "type": "text", "text": format!("Prompt with arguments: arg1='{a}', arg2='{b}'") }))]
        }
        "test_prompt_with_embedded_resource" => {
            let uri = arg("resourceUri")?;
            vec![
                user(
                    json!({ "type": "resource", "resource": { "uri": uri, "mimeType": "text/plain", "text": "Embedded resource content." } }),
                ),
                user(json!({ "type": "text", "text": "Please process the embedded resource above." })),
            ]
        }
        "test_prompt_with_image" => vec![
            user(json!({ "type": "image", "data": PNG, "mimeType": "image/png" })),
            user(json!({ "type": "text", "text": "Please describe the image above." })),
        ],
        _ => return Err(invalid(format!("Unknown prompt: {name}"))),
    };
    Ok(json!({ "messages": messages }))
}

/// The result of `completion/complete`: suggestions for `arg1` of
/// `test_prompt_with_arguments` starting with what was typed; nothing otherwise.
pub fn complete(params: &Value) -> Value {
    let prompt = params.pointer("/ref/name").and_then(Value::as_str);
    let argument = params.pointer("/argument/name").and_then(Value::as_str);
    let typed = params.pointer("/argument/value").and_then(Value::as_str).unwrap_or("");
    let values: Vec<&str> = match (prompt, argument) {
        (Some("test_prompt_with_arguments"), Some("arg1")) => {
            ["paris", "park", "party", "test", "testing"].into_iter().filter(|v| v.starts_with(typed)).collect()
        }
        _ => Vec::new(),
    };
    json!({ "completion": { "values": values, "total": values.len(), "hasMore": false } })
}

/// The five kinds of enum field of SEP-1330.
fn enum_schema() -> Value {
    let titled = |items: &[(&str, &str)]| -> Vec<Value> {
        items.iter().map(|(c, t)| json!({ "const": c, "title": t })).collect()
    };
    json!({
        "type": "object",
        "properties": {
            "untitledSingle": { "type": "string", "title": "Untitled single-select", "enum": ["option1", "option2", "option3"] },
            "titledSingle": {
                "type": "string",
                "title": "Titled single-select",
                "oneOf": titled(&[("value1", "First Option"), ("value2", "Second Option"), ("value3", "Third Option")]),
            },
            "legacyEnum": {
                "type": "string",
                "title": "Legacy titled enum",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "title": "Untitled multi-select",
                "items": { "type": "string", "enum": ["option1", "option2", "option3"] },
            },
            "titledMulti": {
                "type": "array",
                "title": "Titled multi-select",
                "items": { "anyOf": titled(&[("value1", "First Choice"), ("value2", "Second Choice"), ("value3", "Third Choice")]) },
            },
        },
    })
}

/// One field of each primitive type, each with a default (SEP-1034).
fn defaults_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "description": "Your name", "default": "John Doe" },
            "age": { "type": "integer", "description": "Your age", "default": 30 },
            "score": { "type": "number", "description": "Your score", "default": 95.5 },
            "status": { "type": "string", "description": "Your status", "enum": ["active", "inactive", "pending"], "default": "active" },
            "verified": { "type": "boolean", "description": "Whether you are verified", "default": true },
        },
    })
}

/// "action=…, content=…" of an elicitation result.
fn elicited(result: &Value) -> String {
    let action = result.get("action").and_then(Value::as_str).unwrap_or("?");
    let content = result.get("content").cloned().unwrap_or(Value::Null);
    format!("action={action}, content={content}")
}

/// The text of a sampling result: `content` is one block, or (newer revisions) a list.
fn sampled(result: &Value) -> String {
    let content = result.get("content");
    let block = match content {
        Some(Value::Array(items)) => items.iter().find(|b| b.get("type").and_then(Value::as_str) == Some("text")),
        other => other,
    };
    block
        .and_then(|b| b.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| content.map(Value::to_string).unwrap_or_default())
}

fn tool_error(message: impl Into<String>) -> Value {
    let mut r = text(message);
    r["isError"] = json!(true);
    r
}

const STEP: Duration = Duration::from_millis(50);

/// What the conformance tools need of the session that runs them.
pub trait Peer: Sync {
    /// Whether the client announced `capability`.
    fn client_supports(&self, capability: &str) -> bool;
    /// Sends a `notifications/message` at `level`.
    fn log(&self, related: Option<&Tx>, level: &str, message: &str);
    /// Sends a notification on the request's stream (or the session's).
    fn notify_related(&self, related: Option<&Tx>, method: &str, params: Value);
    /// Asks the client and waits for its answer.
    fn ask(
        &self,
        related: Option<&Tx>,
        method: &str,
        params: Value,
    ) -> impl Future<Output = Result<Box<RawValue>, ErrorObject>> + Send;
}

/// `tools/call` of a conformance tool.
pub async fn call_tool(peer: &impl Peer, params: &Value, related: Option<&Tx>) -> Handled {
    {
        let name = params.get("name").and_then(Value::as_str).ok_or_else(|| invalid("missing name"))?;
        let args = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
        let arg = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
        match name {
            "test_simple_text" => Ok(text("A simple text response, for testing.")),
            "test_image_content" => {
                Ok(json!({ "content": [{ "type": "image", "data": PNG, "mimeType": "image/png" }] }))
            }
            "test_audio_content" => {
                Ok(json!({ "content": [{ "type": "audio", "data": wav(), "mimeType": "audio/wav" }] }))
            }
            "test_embedded_resource" => Ok(json!({ "content": [{
                "type": "resource",
                "resource": { "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "An embedded resource, for testing." },
            }] })),
            "test_multiple_content_types" => Ok(json!({ "content": [
                { "type": "text", "text": "Several content types:" },
                { "type": "image", "data": PNG, "mimeType": "image/png" },
                { "type": "resource", "resource": {
                    "uri": "test://mixed-content-resource",
                    "mimeType": "application/json",
                    "text": json!({ "test": "data", "value": 123 }).to_string(),
                } },
            ] })),
            "test_tool_with_logging" => {
                let steps = ["Tool execution started", "Tool processing data", "Tool execution completed"];
                for (i, message) in steps.into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(STEP).await;
                    }
                    peer.log(related, "info", message);
                }
                Ok(text("Logged three messages."))
            }
            "test_error_handling" => Ok(tool_error("This tool fails on purpose, for testing.")),
            "test_tool_with_progress" => {
                let token = params.pointer("/_meta/progressToken").cloned();
                for (i, progress) in [0, 50, 100].into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(STEP).await;
                    }
                    if let Some(token) = &token {
                        let p = json!({ "progressToken": token, "progress": progress, "total": 100 });
                        peer.notify_related(related, method::PROGRESS, p);
                    }
                }
                Ok(text(if token.is_some() { "Reported progress three times." } else { "Done (no progress token)." }))
            }
            "test_sampling" => {
                if !peer.client_supports("sampling") {
                    return Ok(tool_error("The client does not support sampling."));
                }
                let prompt = arg("prompt").ok_or_else(|| invalid("test_sampling: missing prompt"))?;
                let p = json!({
                    "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
                    "maxTokens": 100,
                });
                let r = ask_value(peer, related, method::SAMPLING_CREATE_MESSAGE, p).await?;
                Ok(text(format!("LLM response: {}", sampled(&r))))
            }
            "test_elicitation" => {
                let message = arg("message").ok_or_else(|| invalid("test_elicitation: missing message"))?;
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": { "type": "string", "description": "Your user name" },
                        "email": { "type": "string", "description": "Your email address" },
                    },
                    "required": ["username", "email"],
                });
                elicit(peer, related, &message, schema, "User response").await
            }
            "test_elicitation_sep1034_defaults" => {
                elicit(peer, related, "Check these details", defaults_schema(), "Elicitation completed").await
            }
            "test_elicitation_sep1330_enums" => {
                elicit(peer, related, "Choose some options", enum_schema(), "Elicitation completed").await
            }
            "json_schema_2020_12_tool" => Ok(text(format!("Received: {args}"))),
            "test_reconnection" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(text("Reconnection test completed."))
            }
            _ => Err(invalid(format!("Unknown tool: {name}"))),
        }
    }
}

async fn elicit(peer: &impl Peer, related: Option<&Tx>, message: &str, schema: Value, label: &str) -> Handled {
    {
        if !peer.client_supports("elicitation") {
            return Ok(tool_error("The client does not support elicitation."));
        }
        let p = json!({ "message": message, "requestedSchema": schema });
        let r = ask_value(peer, related, method::ELICITATION_CREATE, p).await?;
        Ok(text(format!("{label}: {}", elicited(&r))))
    }
}

async fn ask_value(peer: &impl Peer, related: Option<&Tx>, m: &str, params: Value) -> Result<Value, ErrorObject> {
    {
        let raw = peer.ask(related, m, params).await?;
        serde_json::from_str(raw.get())
            .map_err(|e| ErrorObject::new(code::INTERNAL_ERROR, format!("{m}: the client's answer is not JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema() {
        let tools = tools();
        assert_eq!(tools.len(), TOOLS.len());
        for t in &tools {
            assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        }
        let s = tools.iter().find(|t| t["name"] == "json_schema_2020_12_tool").unwrap();
        assert_eq!(s["inputSchema"]["$defs"]["address"]["type"], "object");
        assert_eq!(s["inputSchema"]["additionalProperties"], false);
    }

    #[test]
    fn wav_is_riff_wave() {
        let bytes = BASE64.decode(wav()).unwrap();
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize, bytes.len() - 8);
    }

    #[test]
    fn resources_and_templates_read() {
        for r in resources() {
            let uri = r["uri"].as_str().unwrap();
            assert_eq!(read(uri).unwrap()["contents"][0]["uri"], uri);
        }
        let t = read("test://template/123/data").unwrap();
        let data: Value = serde_json::from_str(t["contents"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(data["id"], "123");
        assert!(read("test://template//data").is_none());
        assert!(read("test://nope").is_none());
    }

    #[test]
    fn prompts_substitute_arguments() {
        let r = prompt("test_prompt_with_arguments", &json!({"arg1": "x1", "arg2": "y2"})).unwrap();
        let s = r.to_string();
        assert!(s.contains("x1") && s.contains("y2"), "{s}");
        assert!(prompt("test_prompt_with_arguments", &json!({"arg1": "x"})).is_err());
        for p in prompts() {
            let args = json!({"arg1": "a", "arg2": "b", "resourceUri": "test://x"});
            assert!(prompt(p["name"].as_str().unwrap(), &args).is_ok(), "{p}");
        }
    }

    #[test]
    fn completion_filters_by_prefix() {
        let c = complete(
            &json!({"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"}, "argument": {"name": "arg1", "value": "par"}}),
        );
        assert_eq!(c["completion"]["values"], json!(["paris", "park", "party"]));
        let none = complete(
            &json!({"ref": {"type": "ref/prompt", "name": "other"}, "argument": {"name": "arg1", "value": ""}}),
        );
        assert_eq!(none["completion"]["values"], json!([]));
    }

    #[test]
    fn sampled_text_from_either_shape() {
        assert_eq!(sampled(&json!({"content": {"type": "text", "text": "hi"}})), "hi");
        assert_eq!(sampled(&json!({"content": [{"type": "image"}, {"type": "text", "text": "yo"}]})), "yo");
    }
}
