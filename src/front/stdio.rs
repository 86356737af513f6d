//! The server side of stdio: MCP on the process's own stdin and stdout.
//!
//! One client, one session. Each request runs as its own task so a slow tool call
//! never holds up a `ping`; one writer task owns stdout, so lines never interleave.
//! Nothing but MCP messages is ever written to stdout: logs go to stderr.

use std::sync::Arc;

use futures_util::future::join_all;
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Principal;
use crate::framing::lines::{self, Line, LineReader};
use crate::protocol::{ErrorObject, Frame, Id, Message, Response, code, jsonrpc};
use crate::service::{Outbound, Service, Session};

/// What one message from the client may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message, in bytes: a longer line is refused without being buffered.
    pub max_message_size: usize,
    /// Deepest JSON nesting.
    pub max_json_depth: u32,
}

/// Serves one session over `input`/`output` until end of input or `shutdown`.
/// Returns once every response has been written.
pub async fn serve<S, R, W>(service: &S, input: R, output: W, limits: Limits, shutdown: CancellationToken)
where
    S: Service,
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<String>(1024);
    let writer = tokio::spawn(lines::write_lines(output, rx));
    let session = match service.open("stdio", Outbound::attached(tx.clone()), Principal::local()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot open the stdio session: {e}");
            drop(tx);
            let _ = writer.await;
            return;
        }
    };
    let tasks = TaskTracker::new();
    let mut reader = LineReader::new(input, limits.max_message_size);
    loop {
        let line = tokio::select! {
            line = reader.next() => line,
            _ = shutdown.cancelled() => break,
        };
        let bytes = match line {
            Ok(Some(Line::Data(bytes))) => bytes,
            Ok(Some(Line::TooLong(n))) => {
                let err = too_large(n, limits.max_message_size);
                let _ = tx.send(Message::Response(err).to_json()).await;
                continue;
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("stdin: {e}");
                break;
            }
        };
        match jsonrpc::parse_frame(&bytes, limits.max_json_depth) {
            Frame::Single(msg) => dispatch_one(&session, msg, &tx, &tasks).await,
            Frame::Batch(items) => {
                let mut futures = Vec::new();
                for item in items {
                    match item {
                        Ok(Message::Request(r)) => {
                            futures.push(futures_util::future::Either::Left(session.clone().request(r, None)))
                        }
                        Ok(Message::Notification(n)) => session.notification(n),
                        Ok(Message::Response(r)) => session.response(r),
                        Err(e) => {
                            futures.push(futures_util::future::Either::Right(std::future::ready(e.to_response())))
                        }
                    }
                }
                if !futures.is_empty() {
                    let tx = tx.clone();
                    tasks.spawn(async move {
                        let responses: Vec<Message> =
                            join_all(futures).await.into_iter().map(Message::Response).collect();
                        let _ = tx.send(jsonrpc::to_raw(&responses).get().to_owned()).await;
                    });
                }
            }
        }
    }
    // The client is gone (or we are stopping): cancel what is in flight, let the
    // tasks write their (error) responses, then let the writer drain.
    session.close();
    tasks.close();
    tasks.wait().await;
    drop(session);
    drop(tx);
    let _ = writer.await;
}

async fn dispatch_one<S: Session>(
    session: &Arc<S>,
    msg: Result<Message, jsonrpc::ParseError>,
    tx: &mpsc::Sender<String>,
    tasks: &TaskTracker,
) {
    match msg {
        Ok(Message::Request(r)) => {
            let fut = session.clone().request(r, None);
            let tx = tx.clone();
            tasks.spawn(async move {
                let resp = fut.await;
                let _ = tx.send(resp.into_json()).await;
            });
        }
        Ok(Message::Notification(n)) => session.notification(n),
        Ok(Message::Response(r)) => session.response(r),
        Err(e) => {
            let _ = tx.send(Message::Response(e.to_response()).to_json()).await;
        }
    }
}

/// The answer to a message over the size limit. Its id cannot be known without
/// reading the message, so it is null, as JSON-RPC prescribes.
pub fn too_large(size: usize, limit: usize) -> Response {
    Response::err(
        Id::Null,
        ErrorObject::new(
            code::INVALID_REQUEST,
            format!("Invalid request: message of {size} bytes exceeds gateway.max_message_size ({limit} bytes)"),
        ),
    )
}
