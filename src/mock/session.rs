//! The mock server's sessions: request handling for every method it supports.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::args::MockArgs;
use super::catalog;
use super::conformance::{self, Peer};
use super::reply::{Handled, invalid, text};
use crate::auth::Principal;
use crate::protocol::{ErrorObject, Message, Notification, Request, Response, Revision, code, jsonrpc, method};
use crate::service::{self, Outbound, Refused, Service, Session, Tx};
use crate::service::{InFlight, Outstanding, Registration};

/// State shared by every session of one mock process.
#[derive(Default)]
struct Shared {
    requests: AtomicU64,
    extra_tools: Mutex<Vec<String>>,
    cancellations: Mutex<Vec<String>>,
    subscriptions: Mutex<HashSet<String>>,
    log_level: Mutex<Option<String>>,
    sessions: Mutex<Vec<Weak<MockSession>>>,
}

pub struct MockService {
    args: Arc<MockArgs>,
    shared: Arc<Shared>,
}

impl MockService {
    pub fn new(args: MockArgs) -> Self {
        MockService { args: Arc::new(args), shared: Arc::new(Shared::default()) }
    }
}

impl Service for MockService {
    type Session = MockSession;

    fn open(
        &self,
        _front: &'static str,
        outbound: Outbound,
        principal: Principal,
    ) -> Result<Arc<MockSession>, Refused> {
        let s = Arc::new(MockSession {
            owner: principal.name.to_string(),
            args: self.args.clone(),
            shared: self.shared.clone(),
            outbound,
            inflight: InFlight::default(),
            outstanding: Outstanding::default(),
            client_capabilities: Mutex::new(None),
        });
        if let Ok(mut all) = self.shared.sessions.lock() {
            all.retain(|w| w.strong_count() > 0);
            all.push(Arc::downgrade(&s));
        }
        Ok(s)
    }
}

pub struct MockSession {
    owner: String,
    args: Arc<MockArgs>,
    shared: Arc<Shared>,
    outbound: Outbound,
    inflight: InFlight,
    outstanding: Outstanding,
    /// What the client announced in `initialize`.
    client_capabilities: Mutex<Option<Value>>,
}

/// Log levels, least severe first (RFC 5424 as MCP names them).
const LOG_LEVELS: [&str; 8] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

fn severity(level: &str) -> Option<usize> {
    LOG_LEVELS.iter().position(|l| *l == level)
}

impl MockSession {
    fn broadcast(&self, method: &str, params: Option<Value>) {
        let msg =
            Message::Notification(Notification { method: method.into(), params: params.map(|p| jsonrpc::to_raw(&p)) })
                .to_json();
        let sessions: Vec<_> =
            self.shared.sessions.lock().map(|s| s.iter().filter_map(Weak::upgrade).collect()).unwrap_or_default();
        for s in sessions {
            s.outbound.send(msg.clone());
        }
    }

    async fn handle(&self, req: &Request, related: Option<Tx>) -> Handled {
        let params: Value = match &req.params {
            Some(p) => serde_json::from_str(p.get()).map_err(|e| invalid(format!("params: {e}")))?,
            None => json!({}),
        };
        let cursor = params.get("cursor").and_then(Value::as_str);
        let ps = self.args.page_size;
        let conf = self.args.conformance;
        match req.method.as_str() {
            method::INITIALIZE => {
                let requested = params.get("protocolVersion").and_then(Value::as_str).unwrap_or("");
                if let Ok(mut caps) = self.client_capabilities.lock() {
                    *caps = Some(params.get("capabilities").cloned().unwrap_or_else(|| json!({})));
                }
                let mut result = json!({
                    "protocolVersion": Revision::negotiate(requested).as_str(),
                    "capabilities": {
                        "tools": { "listChanged": true },
                        "resources": { "subscribe": true, "listChanged": true },
                        "prompts": { "listChanged": true },
                        "logging": {},
                        "completions": {},
                    },
                    "serverInfo": { "name": self.args.name, "version": env!("CARGO_PKG_VERSION") },
                });
                if let Some(i) = &self.args.instructions {
                    result["instructions"] = json!(i);
                }
                if let Some(caps) = result["capabilities"].as_object_mut() {
                    for omitted in &self.args.omit_capability {
                        caps.remove(omitted);
                    }
                }
                Ok(result)
            }
            method::PING => Ok(json!({})),
            method::TOOLS_LIST => {
                let tools = if conf {
                    conformance::tools()
                } else {
                    let extra = self.shared.extra_tools.lock().map(|e| e.clone()).unwrap_or_default();
                    catalog::tool_list(&self.args, &extra)
                };
                catalog::page(tools, "tools", cursor, ps).map_err(invalid)
            }
            method::RESOURCES_LIST => {
                let items = if conf { conformance::resources() } else { catalog::resource_list(&self.args) };
                catalog::page(items, "resources", cursor, ps).map_err(invalid)
            }
            method::RESOURCES_TEMPLATES_LIST => {
                let items = if conf { conformance::templates() } else { catalog::template_list(&self.args) };
                catalog::page(items, "resourceTemplates", cursor, ps).map_err(invalid)
            }
            method::PROMPTS_LIST => {
                let items = if conf { conformance::prompts() } else { catalog::prompt_list(&self.args) };
                catalog::page(items, "prompts", cursor, ps).map_err(invalid)
            }
            method::RESOURCES_READ => {
                let uri = params.get("uri").and_then(Value::as_str).ok_or_else(|| invalid("missing uri"))?;
                let found = if conf {
                    conformance::read(uri)
                } else {
                    catalog::read_resource(&self.args, uri)
                        .map(|t| json!({ "contents": [{ "uri": uri, "mimeType": "text/plain", "text": t }] }))
                };
                found.ok_or_else(|| ErrorObject::new(code::RESOURCE_NOT_FOUND, format!("Resource not found: {uri}")))
            }
            method::RESOURCES_SUBSCRIBE | method::RESOURCES_UNSUBSCRIBE => {
                let uri = params.get("uri").and_then(Value::as_str).ok_or_else(|| invalid("missing uri"))?;
                if let Ok(mut s) = self.shared.subscriptions.lock() {
                    if req.method == method::RESOURCES_SUBSCRIBE {
                        s.insert(uri.to_owned());
                    } else {
                        s.remove(uri);
                    }
                }
                Ok(json!({}))
            }
            method::PROMPTS_GET => {
                let name = params.get("name").and_then(Value::as_str).ok_or_else(|| invalid("missing name"))?;
                if conf {
                    return conformance::prompt(name, params.get("arguments").unwrap_or(&Value::Null));
                }
                let known = name
                    .strip_prefix("prompt_")
                    .and_then(|i| i.parse::<usize>().ok())
                    .is_some_and(|i| i < self.args.prompts);
                if !known {
                    return Err(invalid(format!("Unknown prompt: {name}")));
                }
                let topic = params.pointer("/arguments/topic").and_then(Value::as_str).unwrap_or("nothing");
                Ok(json!({
                    "description": format!("{name} about {topic}"),
                    "messages": [{ "role": "user", "content": { "type": "text", "text": format!("Tell me about {topic} ({name})") } }],
                }))
            }
            method::COMPLETION_COMPLETE if conf => Ok(conformance::complete(&params)),
            method::COMPLETION_COMPLETE => {
                let prefix = params.pointer("/argument/value").and_then(Value::as_str).unwrap_or("");
                let values: Vec<&str> =
                    ["alpha", "beta", "gamma"].into_iter().filter(|v| v.starts_with(prefix)).collect();
                Ok(json!({ "completion": { "values": values, "total": values.len(), "hasMore": false } }))
            }
            method::LOGGING_SET_LEVEL => {
                let level = params.get("level").and_then(Value::as_str).map(str::to_owned);
                if let Some(l) = level.as_deref().filter(|l| severity(l).is_none()) {
                    return Err(invalid(format!(
                        "logging/setLevel: unknown level {l:?} (one of {})",
                        LOG_LEVELS.join(", ")
                    )));
                }
                if let Ok(mut l) = self.shared.log_level.lock() {
                    *l = level;
                }
                Ok(json!({}))
            }
            method::TOOLS_CALL if conf => conformance::call_tool(self, &params, related.as_ref()).await,
            method::TOOLS_CALL => self.call_tool(&params, related.as_ref()).await,
            other => Err(ErrorObject::new(code::METHOD_NOT_FOUND, format!("Method not found: {other}"))),
        }
    }

    async fn call_tool(&self, params: &Value, related: Option<&Tx>) -> Handled {
        let name = params.get("name").and_then(Value::as_str).ok_or_else(|| invalid("missing name"))?;
        let args = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
        let arg_str = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
        let arg_u64 = |k: &str, d: u64| args.get(k).and_then(Value::as_u64).unwrap_or(d);
        if self.args.error_rate > 0.0 && rand::random::<f64>() < self.args.error_rate {
            return Err(ErrorObject::new(code::INTERNAL_ERROR, "injected failure (--error-rate)"));
        }
        let builtin = !self.args.no_builtins;
        match name {
            "echo" if builtin => {
                let t = arg_str("text").ok_or_else(|| invalid("echo: missing text"))?;
                let mut r = text(t);
                r["_meta"] = json!({ "vmcp.mock/echo": true });
                Ok(r)
            }
            "add" if builtin => {
                let a = args.get("a").and_then(Value::as_f64).ok_or_else(|| invalid("add: a must be a number"))?;
                let b = args.get("b").and_then(Value::as_f64).ok_or_else(|| invalid("add: b must be a number"))?;
                Ok(text(format!("{}", a + b)))
            }
            "progress" if builtin => {
                let steps = arg_u64("steps", 3);
                let delay = Duration::from_millis(arg_u64("delay_ms", 10));
                if let Some(token) = params.pointer("/_meta/progressToken").cloned() {
                    for i in 1..=steps {
                        let p = json!({ "progressToken": token, "progress": i, "total": steps, "message": format!("step {i} of {steps}") });
                        self.notify_related(related, method::PROGRESS, p);
                        tokio::time::sleep(delay).await;
                    }
                }
                Ok(text(format!("done after {steps} steps")))
            }
            "sample" if builtin => {
                let prompt = arg_str("prompt").unwrap_or_else(|| "Say hello".into());
                let p = json!({ "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }], "maxTokens": 100 });
                let r = self.ask(related, method::SAMPLING_CREATE_MESSAGE, p).await?;
                Ok(text(r.get()))
            }
            "elicit" if builtin => {
                let message = arg_str("message").unwrap_or_else(|| "What is your name?".into());
                let p = json!({ "message": message, "requestedSchema": { "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] } });
                let r = self.ask(related, method::ELICITATION_CREATE, p).await?;
                Ok(text(r.get()))
            }
            "roots" if builtin => {
                let r = self.ask(related, method::ROOTS_LIST, json!({})).await?;
                Ok(text(r.get()))
            }
            "change_list" if builtin => {
                let added = match self.shared.extra_tools.lock() {
                    Ok(mut e) => {
                        let n = format!("added_{}", e.len());
                        e.push(n.clone());
                        n
                    }
                    Err(_) => return Err(ErrorObject::new(code::INTERNAL_ERROR, "state poisoned")),
                };
                self.broadcast(method::TOOLS_LIST_CHANGED, None);
                Ok(text(format!("added {added}")))
            }
            "sleep" if builtin => {
                tokio::time::sleep(Duration::from_millis(arg_u64("ms", 1000))).await;
                Ok(text("slept"))
            }
            "fail" if builtin => Err(ErrorObject::new(
                code::INTERNAL_ERROR,
                arg_str("message").unwrap_or_else(|| "failed on purpose".into()),
            )),
            "tool_error" if builtin => {
                let mut r = text("the tool failed on purpose");
                r["isError"] = json!(true);
                Ok(r)
            }
            "crash" if builtin => std::process::exit(3),
            "stats" if builtin => {
                let cancellations = self.shared.cancellations.lock().map(|c| c.clone()).unwrap_or_default();
                let mut subs: Vec<String> =
                    self.shared.subscriptions.lock().map(|s| s.iter().cloned().collect()).unwrap_or_default();
                subs.sort();
                let level = self.shared.log_level.lock().map(|l| l.clone()).unwrap_or_default();
                let stats = json!({
                    "requests": self.shared.requests.load(Ordering::Relaxed),
                    "cancellations": cancellations,
                    "subscriptions": subs,
                    "log_level": level,
                    "pid": std::process::id(),
                    "replica": std::env::var("VMCP_REPLICA").ok(),
                });
                Ok(text(stats.to_string()))
            }
            "touch" if builtin => {
                let uri = arg_str("uri").ok_or_else(|| invalid("touch: missing uri"))?;
                let subscribed = self.shared.subscriptions.lock().map(|s| s.contains(&uri)).unwrap_or(false);
                if subscribed {
                    self.broadcast(method::RESOURCES_UPDATED, Some(json!({ "uri": uri })));
                }
                Ok(text(format!("touched {uri} (subscribed: {subscribed})")))
            }
            "big" if builtin => Ok(text("x".repeat(arg_u64("bytes", 1024) as usize))),
            "log" if builtin => {
                let level = arg_str("level").unwrap_or_else(|| "info".into());
                let p = json!({ "level": level, "logger": "mock", "data": arg_str("message").unwrap_or_default() });
                self.notify_related(related, method::MESSAGE, p);
                Ok(text("logged"))
            }
            _ => {
                let generated = name
                    .strip_prefix("tool_")
                    .and_then(|i| i.parse::<usize>().ok())
                    .is_some_and(|i| i < self.args.tools);
                let added = self.shared.extra_tools.lock().map(|e| e.iter().any(|t| t == name)).unwrap_or(false);
                if generated || added {
                    Ok(text(args.to_string()))
                } else {
                    Err(invalid(format!("Unknown tool: {name}")))
                }
            }
        }
    }
}

impl MockSession {
    async fn run(&self, req: Request, related: Option<Tx>, registration: Registration) -> Response {
        let n = self.shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if self.args.fail_start && req.method == method::INITIALIZE {
            std::process::exit(4);
        }
        if self.args.crash_after.is_some_and(|limit| n >= limit) {
            std::process::exit(3);
        }
        if self.args.hang_after.is_some_and(|limit| n >= limit) {
            return std::future::pending().await;
        }
        if self.args.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.args.latency_ms)).await;
        }
        let outcome = tokio::select! {
            r = self.handle(&req, related) => r,
            _ = registration.token.cancelled() => Err(ErrorObject::new(code::REQUEST_CANCELLED, "Request cancelled")),
        };
        Response { id: req.id, outcome: outcome.map(|v| jsonrpc::to_raw(&v)) }
    }
}

impl Peer for MockSession {
    fn notify_related(&self, related: Option<&Tx>, method: &str, params: Value) {
        let msg = Message::Notification(Notification { method: method.into(), params: Some(jsonrpc::to_raw(&params)) })
            .to_json();
        service::send_related(related, &self.outbound, msg);
    }

    /// Whether the client announced `capability` (true before `initialize`, when nothing is known).
    fn client_supports(&self, capability: &str) -> bool {
        match self.client_capabilities.lock().as_deref() {
            Ok(Some(caps)) => caps.get(capability).is_some_and(|c| !c.is_null()),
            _ => true,
        }
    }

    /// Sends a `notifications/message` at `level`, unless `logging/setLevel` asked for less.
    fn log(&self, related: Option<&Tx>, level: &str, message: &str) {
        let threshold = self.shared.log_level.lock().ok().and_then(|l| l.as_deref().and_then(severity));
        if threshold.is_some_and(|t| severity(level).is_some_and(|s| s < t)) {
            return;
        }
        let p = json!({ "level": level, "logger": self.args.name, "data": message });
        self.notify_related(related, method::MESSAGE, p);
    }

    async fn ask(&self, related: Option<&Tx>, method: &str, params: Value) -> Result<Box<RawValue>, ErrorObject> {
        let id = self.outstanding.next_id();
        let send = |msg: String| service::send_related(related, &self.outbound, msg);
        self.outstanding
            .ask(id, method, Some(jsonrpc::to_raw(&params)), send, Duration::from_secs(60), self.inflight.closed())
            .await
    }
}

impl Session for MockSession {
    fn request(self: Arc<Self>, req: Request, related: Option<Tx>) -> impl Future<Output = Response> + Send + 'static {
        // Registered before the future runs, so an immediate cancellation finds it.
        let registration = self.inflight.begin(&req.id);
        async move { self.run(req, related, registration).await }
    }

    fn notification(&self, n: Notification) {
        if n.method == method::CANCELLED
            && let Some(id) = self.inflight.cancel_from(n.params.as_deref())
            && let Ok(mut c) = self.shared.cancellations.lock()
        {
            c.push(id.to_string());
        }
    }

    fn response(&self, r: Response) {
        self.outstanding.answer(r);
    }

    fn owner(&self) -> &str {
        &self.owner
    }

    fn close(&self) {
        self.inflight.cancel_all();
        self.outstanding.clear();
        self.outbound.detach();
    }
}
