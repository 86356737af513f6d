//! [`Origin`]: an HTTP/1.1 client for one origin (the scheme, host and port of
//! a backend's URL), small enough to cost little per request.
//!
//! - Connections are kept alive and reused: a few idle ones are kept, each
//!   checked before it is used again (a server may have closed it meanwhile).
//! - A request is driven on the task that makes it: hyper's connection future
//!   is polled beside the request and its body, not on a task of its own, so
//!   an answer wakes its caller directly.
//! - TCP_NODELAY on every connection (small SSE writes must not wait for
//!   delayed ACKs), TLS by rustls with the system's and the bundled roots (plus
//!   a server's own `ca_file`).
//!
//! No HTTP/2 and no proxies: a gateway talks to its backends directly, and
//! HTTP/1.1 keep-alive is what MCP servers speak.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::observe::error_chain;

/// How long a connection may take to open (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept per origin.
const MAX_IDLE: usize = 1024;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("{0}")]
    Http(String),
    #[error("the connection closed before the answer was complete")]
    Closed,
}

impl Error {
    fn http(e: &hyper::Error) -> Error {
        Error::Http(error_chain(e))
    }
}

/// A TCP stream, in the clear or in TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// One open connection: the handle requests go through, and the future that
/// does its I/O (polled by whoever is using the connection).
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<Connection<TokioIo<Stream>, Full<Bytes>>>>,
}

impl Conn {
    /// Whether the connection can take a request now, checked without waiting:
    /// a server that closed it while it was idle has been heard by now.
    fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        if self.driver.as_mut().poll(&mut cx).is_ready() {
            return false;
        }
        matches!(self.sender.poll_ready(&mut cx), Poll::Ready(Ok(())))
    }

    /// Runs `fut` while keeping the connection's I/O going. `Err(Closed)` when
    /// the connection ends first.
    async fn drive<F: Future>(&mut self, fut: F) -> Result<F::Output, Error> {
        let mut fut = pin!(fut);
        let driver = &mut self.driver;
        let mut ended: Option<Result<(), hyper::Error>> = None;
        poll_fn(|cx| {
            if ended.is_none()
                && let Poll::Ready(r) = driver.as_mut().poll(cx)
            {
                ended = Some(r);
            }
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            match &ended {
                Some(Err(e)) => Poll::Ready(Err(Error::http(e))),
                Some(Ok(())) => Poll::Ready(Err(Error::Closed)),
                None => Poll::Pending,
            }
        })
        .await
    }
}

/// Where requests go, and the connections kept to it.
pub struct Origin {
    host: String,
    port: u16,
    /// `host[:port]` as the `Host` header says it.
    authority: HeaderValue,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<Conn>>,
}

/// An answer: its status and headers, and its body, read a chunk at a time
/// (the connection goes back to the pool once the body has been read whole).
pub struct Response {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    body: Incoming,
    conn: Option<Conn>,
    origin: Arc<Origin>,
}

impl Origin {
    /// The origin of `uri` (`http` or `https`); `tls`: the client configuration
    /// for `https`.
    pub fn new(uri: &Uri, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Origin, String> {
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err("expected http:// or https://".into()),
        };
        let host = uri.host().ok_or("no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri.authority().map(|a| a.as_str()).ok_or("no host")?;
        let authority = HeaderValue::from_str(authority).map_err(|e| e.to_string())?;
        let tls = match (https, tls) {
            (false, _) => None,
            (true, Some(config)) => {
                let name = ServerName::try_from(host.clone()).map_err(|e| format!("host {host:?}: {e}"))?;
                Some((TlsConnector::from(config), name))
            }
            (true, None) => return Err("https needs a TLS configuration".into()),
        };
        Ok(Origin { host, port, authority, tls, idle: Mutex::new(Vec::new()) })
    }

    /// An idle connection that is still usable, or a new one.
    async fn checkout(&self) -> Result<Conn, Error> {
        while let Some(mut c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            if c.is_usable() {
                return Ok(c);
            }
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::Connect(self.where_(), format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())))
            }
        }
    }

    fn where_(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    async fn connect(&self) -> Result<Conn, Error> {
        let fail = |e: &dyn std::error::Error| Error::Connect(self.where_(), error_chain(e));
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| fail(&e))?;
        let _ = tcp.set_nodelay(true);
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => {
                Stream::Tls(Box::new(connector.connect(name.clone(), tcp).await.map_err(|e| fail(&e))?))
            }
        };
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(&e))?;
        Ok(Conn { sender, driver: Box::pin(driver) })
    }

    /// Keeps a connection whose exchange is complete for the next request.
    fn checkin(&self, mut conn: Conn) {
        if !conn.is_usable() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    /// Sends `req` (its `Host` is set here) and returns the answer's head; the
    /// body is read from the [`Response`].
    pub async fn send(self: &Arc<Self>, mut req: Request<Full<Bytes>>) -> Result<Response, Error> {
        req.headers_mut().insert(header::HOST, self.authority.clone());
        let mut conn = self.checkout().await?;
        let sent = conn.sender.send_request(req);
        let resp = conn.drive(sent).await?.map_err(|e| Error::http(&e))?;
        let (head, body) = resp.into_parts();
        Ok(Response { status: head.status, headers: head.headers, body, conn: Some(conn), origin: self.clone() })
    }

    /// Lets go of every idle connection.
    pub fn close_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

impl Response {
    /// The next chunk of the body; `None` at its end (the connection is then
    /// kept for the next request).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            let Some(conn) = self.conn.as_mut() else { return Ok(None) };
            let frame = conn.drive(self.body.frame()).await?;
            match frame {
                None => {
                    if let Some(conn) = self.conn.take() {
                        self.origin.checkin(conn);
                    }
                    return Ok(None);
                }
                Some(Err(e)) => return Err(Error::http(&e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body, at most `limit` bytes (`Err` with the size reached when over).
    pub async fn bytes(&mut self, limit: usize) -> Result<Result<Vec<u8>, usize>, Error> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Ok(Err(body.len() + chunk.len()));
            }
            if body.is_empty() && chunk.len() >= limit.min(1 << 16) {
                // One large chunk: taken whole, without a copy into a growing buffer.
                body = Vec::from(chunk);
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        Ok(Ok(body))
    }

    /// A short, single-line excerpt of the body, to say what the server said.
    pub async fn snippet(&mut self) -> String {
        let ctype = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let text = match tokio::time::timeout(Duration::from_secs(2), self.bytes(64 * 1024)).await {
            Ok(Ok(Ok(b))) => String::from_utf8_lossy(&b).into_owned(),
            _ => String::new(),
        };
        let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let cut: String = one_line.chars().take(200).collect();
        if cut.is_empty() { String::new() } else { format!(" ({ctype}): {cut}") }
    }
}
