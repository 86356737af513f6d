//! The benchmark's own client side: one connection per session, one request
//! outstanding at a time, no channels or tasks between the loop and the wire.
//!
//! - [`HttpConn`]: streamable HTTP. Every session shares one pooled
//!   `reqwest::Client` (TCP_NODELAY); answers come as JSON or as an SSE stream.
//! - [`StdioConn`]: a server process per session, in a process group of its own,
//!   newline-delimited JSON on its stdin/stdout; the group is killed at the end
//!   (or when the connection is dropped), so nothing is left running.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::framing::lines::{Line, LineReader};
use crate::framing::sse::{self, Parsed};
use crate::observe::error_chain;
use crate::protocol::{ErrorObject, Frame, Id, Message, RawObject, Response, header, jsonrpc, method};

/// The largest answer accepted, as the gateway's default.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Lines of a stdio server's stderr kept to explain a failure.
const STDERR_TAIL: usize = 20;

/// How failures to reach a server at all begin (as opposed to a server that answered badly).
pub const CANNOT_REACH: &str = "cannot reach";
pub const CANNOT_START: &str = "cannot start";

/// A request's answer: its result, or the JSON-RPC error it met.
pub type Answer = Result<Box<RawValue>, ErrorObject>;

/// What `initialize` taught us.
#[derive(Debug)]
pub struct Hello {
    pub version: String,
    /// The server's `capabilities`, raw (an empty object when absent).
    pub capabilities: RawObject,
}

/// One session's connection.
pub enum Conn {
    Http(HttpConn),
    Stdio(Box<StdioConn>),
}

impl Conn {
    /// Sends one request and waits for its answer. `Err` is a transport failure.
    pub async fn request(&mut self, method: &str, params: &str) -> Result<Answer, String> {
        match self {
            Conn::Http(c) => c.request(method, params).await,
            Conn::Stdio(c) => c.request(method, params).await,
        }
    }

    /// Whether the connection can carry more requests (a stdio server may have exited).
    pub fn alive(&mut self) -> bool {
        match self {
            Conn::Http(_) => true,
            Conn::Stdio(c) => c.alive(),
        }
    }

    /// `why`, with what a stdio server wrote that may explain it.
    pub fn explain(&self, why: &str) -> String {
        match self {
            Conn::Http(_) => why.to_owned(),
            Conn::Stdio(c) => c.explain(why),
        }
    }

    /// Ends the session: DELETE over HTTP; over stdio, stdin closed, then the process group killed.
    pub async fn close(self) {
        match self {
            Conn::Http(c) => c.close().await,
            Conn::Stdio(c) => (*c).close().await,
        }
    }

    /// The MCP handshake: `initialize` (2025-11-25), then `notifications/initialized`.
    pub async fn handshake(&mut self) -> Result<Hello, String> {
        let params = format!(
            r#"{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"vmcp-bench","version":"{}"}}}}"#,
            env!("CARGO_PKG_VERSION")
        );
        let answer = match self {
            Conn::Http(c) => c.initialize(&params).await?,
            Conn::Stdio(c) => c.request(method::INITIALIZE, &params).await.map_err(|e| c.explain(&e))?,
        };
        let result = answer.map_err(|e| format!("it answered initialize with an error: {e}"))?;
        let obj = RawObject::parse(&result).map_err(|e| format!("its initialize result is not an object: {e}"))?;
        let version =
            obj.get_str("protocolVersion").ok_or_else(|| "its initialize result has no protocolVersion".to_owned())?;
        let capabilities = obj.get("capabilities").and_then(|c| RawObject::parse(c).ok()).unwrap_or_default();
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        match self {
            Conn::Http(c) => {
                c.set_version(&version);
                c.notify(note).await?;
            }
            Conn::Stdio(c) => c.send_line(note).await.map_err(|e| c.explain(&e))?,
        }
        Ok(Hello { version, capabilities })
    }
}

/// A request as JSON text.
fn request_json(id: i64, method: &str, params: &str) -> String {
    let mut s = String::with_capacity(48 + method.len() + params.len());
    s.push_str(r#"{"jsonrpc":"2.0","id":"#);
    s.push_str(&id.to_string());
    s.push_str(r#","method":""#);
    s.push_str(method);
    s.push_str(r#"","params":"#);
    s.push_str(params);
    s.push('}');
    s
}

/// The answer to request `id` in `bytes` (one message or a batch), if it is there.
fn find_answer(bytes: &[u8], id: i64) -> Option<Answer> {
    let mine = |m: Result<Message, _>| match m {
        Ok(Message::Response(Response { id: Id::Number(n), outcome })) if n == id => Some(outcome),
        _ => None,
    };
    match jsonrpc::parse_frame(bytes, u32::MAX) {
        Frame::Single(m) => mine(m),
        Frame::Batch(ms) => ms.into_iter().find_map(mine),
    }
}

// ---------------------------------------------------------------------------
// Streamable HTTP

/// The HTTP client every session shares: one connection pool, TCP_NODELAY.
///
/// The number of idle connections is not capped: a connection goes back to the
/// pool a moment after its answer is read, so a session may find none idle and
/// open another; capping the pool would close such connections again and again.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", error_chain(&e)))
}

pub struct HttpConn {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The user's headers, then the session id and protocol version once known.
    headers: HeaderMap,
    next_id: i64,
}

impl HttpConn {
    pub fn new(client: reqwest::Client, url: reqwest::Url, headers: HeaderMap) -> HttpConn {
        HttpConn { client, url, headers, next_id: 0 }
    }

    async fn initialize(&mut self, params: &str) -> Result<Answer, String> {
        let id = self.next_id;
        self.next_id += 1;
        let resp = self.send(request_json(id, method::INITIALIZE, params)).await?;
        if let Some(s) = resp.headers().get(header::SESSION_ID).cloned() {
            self.headers.insert(HeaderName::from_static(header::SESSION_ID), s);
        }
        match read_answer(resp, id).await? {
            Some(a) => Ok(a),
            None => Err("it did not answer initialize".into()),
        }
    }

    fn set_version(&mut self, version: &str) {
        if let Ok(v) = HeaderValue::from_str(version) {
            self.headers.insert(HeaderName::from_static(header::PROTOCOL_VERSION), v);
        }
    }

    async fn notify(&mut self, body: &str) -> Result<(), String> {
        let resp = self.send(body.to_owned()).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(format!("it answered notifications/initialized with HTTP {status}{}", snippet(resp).await))
    }

    async fn send(&self, body: String) -> Result<reqwest::Response, String> {
        self.client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{CANNOT_REACH} {}: {}", self.url, error_chain(&e)))
    }

    async fn request(&mut self, method: &str, params: &str) -> Result<Answer, String> {
        let id = self.next_id;
        self.next_id += 1;
        let resp = self.send(request_json(id, method, params)).await?;
        match read_answer(resp, id).await? {
            Some(a) => Ok(a),
            None => Err(format!("it accepted {method} without answering it")),
        }
    }

    async fn close(self) {
        if !self.headers.contains_key(header::SESSION_ID) {
            return;
        }
        let req = self.client.delete(self.url.clone()).headers(self.headers.clone());
        let _ = tokio::time::timeout(Duration::from_secs(1), req.send()).await;
    }
}

/// Reads the answer to request `id` from an HTTP response: a JSON body or an SSE
/// stream. `Ok(None)`: the server accepted the message without an answer (202).
async fn read_answer(mut resp: reqwest::Response, id: i64) -> Result<Option<Answer>, String> {
    let status = resp.status();
    if status.as_u16() == 202 {
        return Ok(None);
    }
    let ctype = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if ctype.starts_with("text/event-stream") && status.is_success() {
        let mut parser = sse::Parser::new(MAX_MESSAGE);
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => return Err("its event stream ended without the answer".into()),
                Err(e) => return Err(format!("its event stream broke: {}", error_chain(&e))),
            };
            for p in parser.push(&chunk) {
                let Parsed::Event(ev) = p else { return Err("an event in its stream was too large".into()) };
                if ev.event.as_deref().is_some_and(|e| e != "message") {
                    continue;
                }
                if let Some(answer) = find_answer(ev.data.as_bytes(), id) {
                    // Let the stream end, so that the connection goes back to the pool.
                    let _ = tokio::time::timeout(Duration::from_millis(500), drain(resp)).await;
                    return Ok(Some(answer));
                }
            }
        }
    }
    if ctype.starts_with("application/json") && (status.is_success() || status.is_client_error()) {
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) if body.len() + c.len() > MAX_MESSAGE => {
                    return Err(format!("its answer exceeds {MAX_MESSAGE} bytes"));
                }
                Ok(Some(c)) => body.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => return Err(format!("its answer was cut short: {}", error_chain(&e))),
            }
        }
        // A JSON-RPC error about this very request is its answer, whatever the status.
        if let Some(answer) = find_answer(&body, id) {
            return Ok(Some(answer));
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
        return Err(format!("it answered HTTP {status} without the answer to request {id}: {text}"));
    }
    if !status.is_success() {
        return Err(format!("it answered HTTP {status}{}", snippet(resp).await));
    }
    Err(format!("it answered with Content-Type {ctype:?}, not JSON or an event stream"))
}

async fn drain(mut resp: reqwest::Response) {
    while let Ok(Some(_)) = resp.chunk().await {}
}

/// The start of an error body, for messages.
async fn snippet(resp: reqwest::Response) -> String {
    let text = tokio::time::timeout(Duration::from_secs(1), resp.text()).await.ok().and_then(Result::ok);
    match text {
        Some(t) if !t.trim().is_empty() => {
            let t = t.trim();
            let cut: String = t.chars().take(200).collect();
            format!(": {cut}{}", if cut.len() < t.len() { "…" } else { "" })
        }
        _ => String::new(),
    }
}

/// Parses `--header "Name: value"` arguments.
pub fn parse_headers(given: &[String]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for h in given {
        let Some((name, value)) = h.split_once(':') else {
            return Err(format!("invalid --header {h:?}: expected \"Name: value\""));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| format!("invalid --header {h:?}: bad name: {e}"))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|e| format!("invalid --header {h:?}: bad value: {e}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

// ---------------------------------------------------------------------------
// stdio

pub struct StdioConn {
    child: Child,
    pgid: Option<Pid>,
    stdin: Option<ChildStdin>,
    stdout: LineReader<BufReader<ChildStdout>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    next_id: i64,
    /// Why the connection ended, once it has.
    ended: Option<String>,
    /// The last line on stdout that was not JSON-RPC, to explain a failure.
    noise: Option<String>,
    killed: bool,
}

impl StdioConn {
    /// Starts `command` in a process group of its own, with a parent-death signal.
    pub fn spawn(command: &str, args: &[String]) -> Result<StdioConn, String> {
        let mut cmd = Command::new(command);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: the closure runs in the forked child before exec and calls only
        // prctl(2), which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
        }
        let mut child = cmd.spawn().map_err(|e| format!("{CANNOT_START} `{command}`: {e}"))?;
        let pgid = child.id().map(|p| Pid::from_raw(p as i32));
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(format!("`{command}` started without its pipes"));
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut t) = tail.lock() {
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        Ok(StdioConn {
            child,
            pgid,
            stdin: Some(stdin),
            stdout: LineReader::new(BufReader::with_capacity(64 * 1024, stdout), MAX_MESSAGE),
            stderr_tail,
            next_id: 0,
            ended: None,
            noise: None,
            killed: false,
        })
    }

    fn alive(&mut self) -> bool {
        self.ended.is_none()
    }

    async fn send_line(&mut self, msg: &str) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else { return Err("its stdin is closed".into()) };
        let mut line = Vec::with_capacity(msg.len() + 1);
        line.extend_from_slice(msg.as_bytes());
        line.push(b'\n');
        if let Err(e) = stdin.write_all(&line).await {
            let why = self.exited(&format!("cannot write to it: {e}")).await;
            return Err(why);
        }
        Ok(())
    }

    async fn request(&mut self, method: &str, params: &str) -> Result<Answer, String> {
        if let Some(why) = &self.ended {
            return Err(why.clone());
        }
        let id = self.next_id;
        self.next_id += 1;
        self.send_line(&request_json(id, method, params)).await?;
        loop {
            let line = match self.stdout.next().await {
                Ok(Some(Line::Data(d))) => d,
                // Too long for us: cannot be read, and so cannot be the answer.
                Ok(Some(Line::TooLong(_))) => continue,
                Ok(None) => return Err(self.exited("it closed its stdout").await),
                Err(e) => return Err(self.exited(&format!("cannot read from it: {e}")).await),
            };
            match jsonrpc::parse_message(&line) {
                Ok(Message::Response(Response { id: Id::Number(n), outcome })) if n == id => return Ok(outcome),
                // The server asks something of us: a ping is answered, anything else refused
                // (the benchmark announces no client capabilities).
                Ok(Message::Request(r)) => {
                    let answer = if r.method == method::PING {
                        Response::ok(r.id, jsonrpc::empty_object())
                    } else {
                        Response::err(
                            r.id,
                            ErrorObject::new(crate::protocol::code::METHOD_NOT_FOUND, "vmcp bench answers only ping"),
                        )
                    };
                    self.send_line(&Message::Response(answer).to_json()).await?;
                }
                Err(_) => {
                    let text = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                    self.noise = Some(text);
                }
                // Notifications, late answers to requests that timed out.
                _ => {}
            }
        }
    }

    /// Records that the server is gone and says why, with how it ended if it did.
    async fn exited(&mut self, what: &str) -> String {
        // When the server is gone, how it ended says more than the broken pipe.
        let why = match tokio::time::timeout(Duration::from_millis(500), self.child.wait()).await {
            Ok(s) => format!("it {}", crate::link::child::exit_reason(s)),
            Err(_) => what.to_owned(),
        };
        self.ended = Some(why.clone());
        why
    }

    /// `why`, with the last lines the server wrote to stderr, for start-up failures.
    fn explain(&self, why: &str) -> String {
        let mut s = why.to_owned();
        if let Some(noise) = &self.noise {
            s.push_str(&format!("; it wrote a line that is not JSON-RPC on stdout: {noise:?}"));
        }
        let tail: Vec<String> = self.stderr_tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
        if !tail.is_empty() {
            s.push_str(&format!("; its stderr said:\n  {}", tail.join("\n  ")));
        }
        s
    }

    async fn close(mut self) {
        // Closing stdin asks a stdio server to exit; its whole group is killed
        // regardless. It gets a few seconds first: a gateway stops its own
        // backends on the way out, and a profiler writes its results.
        self.stdin = None;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        self.kill_group();
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
    }

    fn kill_group(&mut self) {
        if !self.killed
            && let Some(pgid) = self.pgid
        {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        self.killed = true;
    }
}

impl Drop for StdioConn {
    fn drop(&mut self) {
        // Any way out (an error, an interrupted run) leaves no process behind.
        self.kill_group();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers() {
        let r = request_json(7, "tools/call", r#"{"name":"echo"}"#);
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["params"]["name"], "echo");
        assert!(find_answer(br#"{"jsonrpc":"2.0","id":7,"result":{}}"#, 7).unwrap().is_ok());
        assert!(find_answer(br#"{"jsonrpc":"2.0","id":8,"result":{}}"#, 7).is_none());
        let batch = br#"[{"jsonrpc":"2.0","method":"x"},{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"no"}}]"#;
        assert_eq!(find_answer(batch, 7).unwrap().unwrap_err().code, -1);
    }

    #[test]
    fn headers_parse() {
        let h = parse_headers(&["Authorization: Bearer x".into()]).unwrap();
        assert_eq!(h.get("authorization").unwrap(), "Bearer x");
        assert!(parse_headers(&["nocolon".into()]).is_err());
    }
}
