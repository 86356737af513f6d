//! The client side of the legacy HTTP+SSE transport (MCP 2024-11-05): a GET
//! stream carries every server→client message; its first event names the URL to
//! POST client messages to.
//!
//! The stream is the link's lifetime: when it ends, the link ends and the
//! supervisor reconnects with backoff. Messages the gateway sends before the
//! `endpoint` event arrives wait for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ends::{Inbox, Link, Outgoing};
use super::lifetime::{Lifetime, StopSignal};
use super::remote::{ConnectError, RemoteSpec};
use crate::framing::lines::Line;
use crate::framing::sse::{self, Parsed};
use crate::observe::error_chain;
use crate::protocol::{ErrorObject, Message, Response, code, jsonrpc};

pub fn connect(spec: RemoteSpec, inbox: Arc<dyn Inbox>) -> Result<Link, ConnectError> {
    let url = reqwest::Url::parse(&spec.url).map_err(|e| ConnectError::Url(spec.url.clone(), e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConnectError::Url(spec.url.clone(), "expected http:// or https://".into()));
    }
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &spec.headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        let value =
            reqwest::header::HeaderValue::from_str(v).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        headers.insert(name, value);
    }
    let http = client_for(&spec)?;
    let (out_tx, out_rx) = mpsc::channel::<String>(256);
    let signal = StopSignal::new();
    let stop = signal.token().clone();
    let ended = inbox.clone();
    let task = tokio::spawn(async move {
        let why = run(spec, http, url, headers, out_rx, inbox, stop.clone()).await;
        ended.closed();
        why
    });
    Ok(Link { outgoing: Outgoing::Queue(out_tx), lifetime: Lifetime::new(None, signal, task) })
}

async fn run(
    spec: RemoteSpec,
    http: reqwest::Client,
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    mut out: mpsc::Receiver<String>,
    inbox: Arc<dyn Inbox>,
    stop: CancellationToken,
) -> String {
    let get = http.get(url.clone()).headers(headers.clone()).header(ACCEPT, "text/event-stream");
    let mut resp = tokio::select! {
        r = get.send() => match r {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => return format!("GET {url} answered HTTP {}", r.status()),
            Err(e) => return format!("cannot open the event stream at {url}: {}", error_chain(&e)),
        },
        _ = stop.cancelled() => return "stopped".into(),
    };
    let ctype = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !ctype.starts_with("text/event-stream") {
        return format!("GET {url} answered with Content-Type {ctype:?}, not an event stream");
    }
    let mut parser = sse::Parser::new(spec.max_message_size);
    let mut endpoint: Option<reqwest::Url> = None;
    let posts = TaskTracker::new();
    let mut fatal: Option<String> = None;
    let why = loop {
        if let Some(why) = fatal.take() {
            break why;
        }
        tokio::select! {
            // Client messages wait until the server has said where to send them.
            msg = out.recv(), if endpoint.is_some() => {
                let Some(msg) = msg else { break "stopped".to_owned() };
                let Some(target) = endpoint.clone() else { continue };
                posts.spawn(post(http.clone(), target, headers.clone(), msg, inbox.clone(), spec.server.clone()));
            }
            chunk = resp.chunk() => match chunk {
                Ok(Some(bytes)) => {
                    for parsed in parser.push(&bytes) {
                        match parsed {
                            Parsed::Event(ev) if ev.event.as_deref() == Some("endpoint") => match url.join(ev.data.trim()) {
                                Ok(u) => endpoint = Some(u),
                                Err(e) => fatal = Some(format!("bad endpoint event {:?}: {e}", ev.data)),
                            },
                            Parsed::Event(ev) if ev.data.trim().is_empty() => {}
                            Parsed::Event(ev) if matches!(ev.event.as_deref(), None | Some("message")) => {
                                inbox.receive(Line::Data(ev.data.into_bytes()));
                            }
                            Parsed::Event(_) => {}
                            Parsed::TooLarge(n) => {
                                inbox.receive(Line::TooLong(n));
                            }
                        }
                    }
                }
                Ok(None) => break "the server ended its event stream".to_owned(),
                Err(e) => break format!("the event stream broke: {}", error_chain(&e)),
            },
            _ = stop.cancelled() => break "stopped".to_owned(),
        }
    };
    posts.close();
    let _ = tokio::time::timeout(Duration::from_secs(1), posts.wait()).await;
    why
}

/// POSTs one message; a failure becomes an error answer to it (when it is a request).
async fn post(
    http: reqwest::Client,
    target: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    msg: String,
    inbox: Arc<dyn Inbox>,
    server: String,
) {
    let failure = match http
        .post(target.clone())
        .headers(headers)
        .header(CONTENT_TYPE, "application/json")
        .body(msg.clone())
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => return,
        Ok(r) => format!("POST {target} answered HTTP {}", r.status()),
        Err(e) => format!("POST {target} failed: {}", error_chain(&e)),
    };
    tracing::warn!(server = %server, "{failure}");
    if let Ok(Message::Request(r)) = jsonrpc::parse_message(msg.as_bytes()) {
        let e = ErrorObject::new(code::SERVER_UNAVAILABLE, format!("server '{server}': {failure}"))
            .with_data(&serde_json::json!({ "server": server, "reason": "transport" }));
        inbox.receive(Line::Data(Message::Response(Response::err(r.id, e)).to_json().into_bytes()));
    }
}

/// The HTTP client for a legacy SSE backend (its event stream is long-lived, its
/// POSTs rare): the shared one, or one of its own when the server trusts an
/// extra CA file.
fn client_for(spec: &RemoteSpec) -> Result<reqwest::Client, ConnectError> {
    let Some(path) = &spec.ca_file else { return Ok(client()) };
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| ConnectError::CaFile(shown.clone(), e.to_string()))?;
    let certs =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ConnectError::CaFile(shown.clone(), e.to_string()))?;
    if certs.is_empty() {
        return Err(ConnectError::CaFile(shown, "no PEM certificate in it".into()));
    }
    let mut b = reqwest::Client::builder().tcp_nodelay(true).connect_timeout(Duration::from_secs(10));
    for c in certs {
        b = b.add_root_certificate(c);
    }
    b.build().map_err(|e| ConnectError::CaFile(shown, error_chain(&e)))
}

/// One HTTP client for every backend: its connection pool is shared.
fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}
