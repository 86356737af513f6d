//! The client side of MCP over WebSocket: one JSON-RPC message per text frame.
//!
//! The connection is the link's lifetime: when the server closes it (or it
//! breaks), the link ends and the supervisor reconnects with backoff.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as Frame};
use tokio_util::sync::CancellationToken;

use super::ends::{Inbox, Link, Outgoing};
use super::lifetime::{Lifetime, StopSignal};
use super::remote::{ConnectError, RemoteSpec, tls_config};
use crate::framing::lines::Line;
use crate::observe::error_chain;

/// Connects in the background: a refused connection ends the link with the reason.
pub fn connect(spec: RemoteSpec, inbox: Arc<dyn Inbox>) -> Result<Link, ConnectError> {
    let mut request =
        spec.url.as_str().into_client_request().map_err(|e| ConnectError::Url(spec.url.clone(), e.to_string()))?;
    if !matches!(request.uri().scheme_str(), Some("ws" | "wss")) {
        return Err(ConnectError::Url(spec.url.clone(), "expected ws:// or wss://".into()));
    }
    let connector = match &spec.ca_file {
        Some(path) => Some(Connector::Rustls(tls_config(Some(path))?)),
        None => None,
    };
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        let value = HeaderValue::from_str(v).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        request.headers_mut().insert(name, value);
    }
    let (out_tx, out_rx) = mpsc::channel::<String>(256);
    let signal = StopSignal::new();
    let stop = signal.token().clone();
    let ended = inbox.clone();
    let task = tokio::spawn(async move {
        let why = run(spec, request, connector, out_rx, inbox, stop.clone()).await;
        ended.closed();
        why
    });
    Ok(Link { outgoing: Outgoing::Queue(out_tx), lifetime: Lifetime::new(None, signal, task) })
}

async fn run(
    spec: RemoteSpec,
    request: tungstenite::handshake::client::Request,
    connector: Option<Connector>,
    mut out: mpsc::Receiver<String>,
    inbox: Arc<dyn Inbox>,
    stop: CancellationToken,
) -> String {
    let config = WebSocketConfig::default()
        .max_message_size(Some(spec.max_message_size))
        .max_frame_size(Some(spec.max_message_size));
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    let ws = tokio::select! {
        r = connecting => match r {
            Ok((ws, _)) => ws,
            Err(e) => return format!("cannot connect to {}: {}", spec.url, error_chain(&e)),
        },
        _ = stop.cancelled() => return "stopped".into(),
    };
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            msg = out.recv() => {
                let Some(msg) = msg else { break };
                if let Err(e) = sink.send(Frame::text(msg)).await {
                    return format!("sending failed: {}", error_chain(&e));
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Frame::Text(text))) => {
                    inbox.receive(Line::Data(text.as_bytes().to_vec()));
                }
                Some(Ok(Frame::Binary(_))) => {
                    tracing::warn!(server = %spec.server, "ignoring a binary WebSocket frame (MCP uses text frames)");
                }
                Some(Ok(Frame::Close(frame))) => {
                    return match frame {
                        Some(f) => format!("the server closed the WebSocket ({} {})", f.code, f.reason),
                        None => "the server closed the WebSocket".into(),
                    };
                }
                Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
                Some(Err(tungstenite::Error::Capacity(e))) => {
                    tracing::warn!(server = %spec.server, "WebSocket message over gateway.max_message_size: {e}");
                    inbox.receive(Line::TooLong(spec.max_message_size + 1));
                    return format!("a message exceeded gateway.max_message_size: {e}");
                }
                Some(Err(e)) => return format!("the WebSocket broke: {}", error_chain(&e)),
                None => return "the WebSocket ended".into(),
            },
            _ = stop.cancelled() => break,
        }
    }
    let _ = sink.send(Frame::Close(None)).await;
    "stopped".into()
}
