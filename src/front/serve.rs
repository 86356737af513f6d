//! The HTTP front end's connections: accepting them, the limits that hold
//! before any request exists, and shutting them down gracefully.
//!
//! `axum::serve` has no knobs for this, and a gateway that listens beyond
//! loopback needs them. Each limit bounds what one client can hold:
//!
//! - `max_connections`: one connection more is answered 503 and closed, so
//!   file descriptors and per-connection buffers stay bounded;
//! - `max_header_size`: a larger request head is answered 431 by hyper, which
//!   never buffers more than that while it waits for the end of a head;
//! - `read_timeout`: a client must send a whole request head within it, which
//!   ends slowloris-style trickling and also closes idle keep-alive connections
//!   (the body's deadline is checked where bodies are read, in `http.rs`);
//! - `write_timeout`: a write that stays blocked that long (the client reads
//!   nothing: its TCP window stays shut) fails, and hyper drops the
//!   connection. This is what frees an SSE stream or a large answer stuck on a
//!   client that stopped reading; an upgraded WebSocket keeps the same guard.
//!
//! A blocked write is not the same as a slow stream: an SSE stream that is
//! quiet for hours is fine (keepalive comments flow and are read); what ends
//! it is the client not taking bytes for `write_timeout`.

use std::fmt::Debug;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::observe::metrics::Metrics;

/// Per-connection limits of the HTTP front end (see the module comment).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// Counts connections refused over `max_connections`.
    pub metrics: Metrics,
    pub max_header_size: usize,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

/// Serves `app` on the connections `listener` accepts until `signal` ends,
/// then lets each connection finish the request it is serving (hyper's
/// graceful shutdown) and returns once all of them have closed.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: ConnLimits,
    signal: impl Future<Output = ()> + Send + 'static,
) where
    L: Listener,
    L::Addr: Debug,
{
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        signal.await;
        stopping.cancel();
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.read_timeout).max_header_size(limits.max_header_size);
    let connections = TaskTracker::new();
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            limits.metrics.rejected("connections");
            tracing::warn!(?peer, max = limits.max_connections, "connection refused: gateway.max_connections reached");
            connections.spawn(refuse(io, limits.max_connections));
            continue;
        };
        let io = TokioIo::new(WriteDeadline::new(io, limits.write_timeout));
        let conn = http.serve_connection(io, TowerToHyperService::new(app.clone())).with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut conn = pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                ended(&peer, &e);
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Logs why a connection ended early: a client cut off for not reading is
/// worth an operator's notice; resets and timeouts of idle peers are routine.
fn ended(peer: &impl Debug, e: &hyper::Error) {
    let why = crate::observe::error_chain(e);
    let cut_off = std::iter::successors(std::error::Error::source(e), |s| s.source())
        .any(|s| s.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::TimedOut));
    if cut_off {
        tracing::info!(?peer, "closed an HTTP connection: {why}");
    } else {
        tracing::debug!(?peer, "HTTP connection ended: {why}");
    }
}

/// Answers a connection over `max_connections` with a 503 before closing it,
/// so the client learns why (a bare close looks like a network fault).
async fn refuse<T: AsyncWrite + Unpin>(mut io: T, max: usize) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32016,"message":"Service Unavailable: {max} connections are open (gateway.max_connections)"}}}}"#
    );
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
        body.len()
    );
    let write = async {
        io.write_all(head.as_bytes()).await?;
        io.write_all(body.as_bytes()).await?;
        io.shutdown().await
    };
    // The client may not read either: it gets a second, not write_timeout.
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// An I/O object whose writes fail once they have been blocked for `limit`.
///
/// The timer is armed when a write returns `Pending` and disarmed by any
/// write that makes progress, so it costs nothing while the client keeps up;
/// it is allocated the first time a write blocks.
pub struct WriteDeadline<T> {
    io: T,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl<T> WriteDeadline<T> {
    pub fn new(io: T, limit: Duration) -> Self {
        WriteDeadline { io, limit, timer: None, armed: false }
    }

    /// Passes a write's outcome through, turning a `Pending` that has lasted
    /// `limit` into an error (the timer's waker makes sure we are asked again).
    fn check<R>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        let deadline = Instant::now() + self.limit;
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client read nothing for {} ms (gateway.write_timeout)", self.limit.as_millis()),
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.check(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.check(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        this.check(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_shutdown(cx);
        this.check(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_past_the_limit_fails_and_progress_rearms() {
        // A 64-byte pipe whose reader reads nothing: the second write blocks.
        let (client, server) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(server, Duration::from_secs(30));
        w.write_all(&[0; 64]).await.unwrap();
        let started = Instant::now();
        let err = w.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("gateway.write_timeout"), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_keeps_up_is_never_cut_off() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(server, Duration::from_secs(1));
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            // Reads a chunk every 900 ms: each read unblocks the writer in time.
            while total < 64 * 20 {
                tokio::time::sleep(Duration::from_millis(900)).await;
                total += client.read(&mut buf).await.unwrap();
            }
            total
        });
        for _ in 0..20 {
            w.write_all(&[1; 64]).await.unwrap();
        }
        assert_eq!(reader.await.unwrap(), 64 * 20);
    }
}
