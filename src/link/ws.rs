//! The client side of MCP over WebSocket: one JSON-RPC message per text frame.
//!
//! The connection is the link's lifetime: when the server closes it (or it
//! breaks), the link ends and the supervisor reconnects with backoff.

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as Frame};
use tokio_util::sync::CancellationToken;

use super::lifetime::{Lifetime, Link, StopSignal};
use super::remote::{ConnectError, RemoteSpec};
use crate::framing::lines::Line;
use crate::observe::error_chain;

/// Connects in the background: a refused connection ends the link with the reason.
pub fn connect(spec: RemoteSpec) -> Result<Link, ConnectError> {
    let mut request =
        spec.url.as_str().into_client_request().map_err(|e| ConnectError::Url(spec.url.clone(), e.to_string()))?;
    if !matches!(request.uri().scheme_str(), Some("ws" | "wss")) {
        return Err(ConnectError::Url(spec.url.clone(), "expected ws:// or wss://".into()));
    }
    let connector = match &spec.ca_file {
        Some(path) => Some(tls_with_ca_file(path)?),
        None => None,
    };
    for (k, v) in &spec.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        let value = HeaderValue::from_str(v).map_err(|e| ConnectError::Header(k.clone(), e.to_string()))?;
        request.headers_mut().insert(name, value);
    }
    let (out_tx, out_rx) = mpsc::channel::<String>(256);
    let (in_tx, in_rx) = mpsc::channel::<Line>(256);
    let signal = StopSignal::new();
    let stop = signal.token().clone();
    let task = tokio::spawn(run(spec, request, connector, out_rx, in_tx, stop.clone()));
    Ok(Link { outgoing: out_tx, incoming: in_rx, lifetime: Lifetime::new(None, signal, task) })
}

/// A TLS connector trusting the bundled and system roots plus the certificates
/// in `path` (PEM).
fn tls_with_ca_file(path: &std::path::Path) -> Result<Connector, ConnectError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let shown = path.display().to_string();
    let fail = |why: String| ConnectError::CaFile(shown.clone(), why);
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("{e:?}")))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail("no PEM certificate in it".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Rustls(std::sync::Arc::new(config)))
}

async fn run(
    spec: RemoteSpec,
    request: tungstenite::handshake::client::Request,
    connector: Option<Connector>,
    mut out: mpsc::Receiver<String>,
    incoming: mpsc::Sender<Line>,
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
                    if incoming.send(Line::Data(text.as_bytes().to_vec())).await.is_err() {
                        break;
                    }
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
                    let _ = incoming.send(Line::TooLong(spec.max_message_size + 1)).await;
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
