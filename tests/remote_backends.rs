//! Remote backends: streamable HTTP (`transport = "http"`), legacy SSE and
//! WebSocket, against `vmcp mock --listen` and against deliberately broken
//! servers: refused connections, HTML answers, streams cut short, expired sessions.

mod common;

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn remote(id: &str, transport: &str, url: &str) -> String {
    format!("[servers.{id}]\ntransport = \"{transport}\"\nurl = \"{url}\"\n")
}

/// A loopback server that answers every connection with `response` and closes.
async fn canned_server(response: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    port
}

async fn stats(gw: &mut StdioGateway, server: &str) -> Value {
    let r = gw.call("tools/call", json!({"name": format!("{server}__stats"), "arguments": {}})).await;
    serde_json::from_str(&first_text(&r)).expect("stats JSON")
}

#[tokio::test]
async fn an_http_backend_carries_every_kind_of_traffic() {
    let backend = mock_listen("alpha", "127.0.0.1:0", &["--page-size", "2"]).await;
    let setup =
        Setup::new("", &[remote("alpha", "http", &backend.url("/mcp")), mock_server("beta", &["--tools", "1"])]);
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({"sampling": {}, "elicitation": {}, "roots": {}})).await;

    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__echo".to_owned()) && names.contains(&"beta__tool_0".to_owned()), "{names:?}");
    let r = gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "over http"}})).await;
    assert_eq!(first_text(&r), "over http");
    assert_eq!(r["_meta"]["vmcp.mock/echo"], true);

    // Progress comes back on the backend's SSE answer, with the client's token.
    let id = gw
        .send_request(
            "tools/call",
            json!({"name": "alpha__progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "tok"}}),
        )
        .await;
    gw.response(id).await;
    let progress: Vec<_> = gw.backlog().iter().filter(|m| m["method"] == "notifications/progress").cloned().collect();
    assert_eq!(progress.len(), 2, "{progress:?}");
    assert!(progress.iter().all(|p| p["params"]["progressToken"] == "tok"));

    // A server→client request travels backend SSE → vmcp → client, and back by POST.
    let id = gw.send_request("tools/call", json!({"name": "alpha__sample", "arguments": {"prompt": "hi"}})).await;
    let req = gw.wait_for("sampling", |m| m["method"] == "sampling/createMessage").await;
    gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "hello back"}, "model": "m"}})).await;
    let resp = gw.response(id).await;
    assert!(first_text(&resp["result"]).contains("hello back"), "{resp}");

    // Resources page through the backend's cursor.
    let page = gw.call("resources/list", json!({})).await;
    assert!(page.get("nextCursor").is_some(), "{page}");
    let read = gw.call("resources/read", json!({"uri": "alpha+mock://resource/1"})).await;
    assert_eq!(read["contents"][0]["text"], "resource 1");

    // Cancellation is POSTed upstream (once the call has reached the backend:
    // cancelled earlier, it would rightly never be sent at all).
    let before = stats(&mut gw, "alpha").await["requests"].as_u64().unwrap_or(0);
    let id = gw.send_request("tools/call", json!({"name": "alpha__sleep", "arguments": {"ms": 30000}})).await;
    let mut polls = 0;
    loop {
        polls += 1;
        let n = stats(&mut gw, "alpha").await["requests"].as_u64().unwrap_or(0);
        if n > before + polls {
            break;
        }
        assert!(polls < 200, "the sleep never reached alpha");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    gw.notify("notifications/cancelled", json!({"requestId": id})).await;
    assert_eq!(gw.response(id).await["error"]["code"], -32800);
    for _ in 0..200 {
        if stats(&mut gw, "alpha").await["cancellations"].as_array().is_some_and(|c| !c.is_empty()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the HTTP backend never saw the cancellation");
}

#[tokio::test]
async fn an_expired_backend_session_is_renewed_and_only_safe_requests_repeated() {
    let first = mock_listen("alpha", "127.0.0.1:0", &[]).await;
    let url = first.url("/mcp");
    let addr = first.base.trim_start_matches("http://").to_owned();
    let setup = Setup::new("", &[remote("alpha", "http", &url)]);
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    let pid1 = stats(&mut gw, "alpha").await["pid"].clone();

    // The server restarts on the same address and forgets every session.
    first.stop().await;
    let second = mock_listen("alpha", &addr, &[]).await;
    let e = gw.request("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "x"}})).await;
    let msg = e["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("session expired") && msg.contains("tools/call"), "{e}");
    // The new session is in place: calls work again, on the new process.
    let s = stats(&mut gw, "alpha").await;
    assert_ne!(s["pid"], pid1);

    // Again, with a request that is safe to repeat: it is retried transparently.
    second.stop().await;
    let _third = mock_listen("alpha", &addr, &[]).await;
    let read = gw.call("resources/read", json!({"uri": "alpha+mock://resource/0"})).await;
    assert_eq!(read["contents"][0]["text"], "resource 0");
}

#[tokio::test]
async fn broken_remote_servers_get_clear_errors_and_break_nothing_else() {
    let html = canned_server("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<html>login required</html>").await;
    let cut = canned_server("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\nevent: endpoint\ndata: /message\n\n").await;
    let setup = Setup::new(
        "init_timeout = \"5s\"",
        &[
            remote("refused", "http", "http://127.0.0.1:1/mcp"),
            remote("html", "http", &format!("http://127.0.0.1:{html}/mcp")),
            remote("cut", "sse", &format!("http://127.0.0.1:{cut}/sse")),
            remote("nows", "websocket", "ws://127.0.0.1:1/ws"),
            mock_server("alpha", &[]),
        ],
    );
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    let r = gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "fine"}})).await;
    assert_eq!(first_text(&r), "fine");
    for (server, expect) in
        [("refused", "Connection refused"), ("html", "text/html"), ("cut", "ended"), ("nows", "cannot connect")]
    {
        let e = gw.request("tools/call", json!({"name": format!("{server}__anything"), "arguments": {}})).await;
        assert_eq!(e["error"]["code"], -32010, "{server}: {e}");
        let msg = e["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(server) && msg.contains(expect), "{server}: {msg}");
    }
}

#[tokio::test]
async fn sse_and_websocket_backends_carry_calls_progress_and_sampling() {
    let backend = mock_listen("alpha", "127.0.0.1:0", &[]).await;
    let ws_url = format!("{}/ws", backend.base.replacen("http://", "ws://", 1));
    let setup = Setup::new("", &[remote("viasse", "sse", &backend.url("/sse")), remote("viaws", "websocket", &ws_url)]);
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({"sampling": {}})).await;
    for server in ["viasse", "viaws"] {
        let r = gw.call("tools/call", json!({"name": format!("{server}__echo"), "arguments": {"text": server}})).await;
        assert_eq!(first_text(&r), server);

        let id = gw
            .send_request(
                "tools/call",
                json!({"name": format!("{server}__progress"), "arguments": {"steps": 2}, "_meta": {"progressToken": server}}),
            )
            .await;
        gw.response(id).await;
        let n = gw
            .backlog()
            .iter()
            .filter(|m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == server)
            .count();
        assert_eq!(n, 2, "{server}: {:?}", gw.backlog());

        let id = gw.send_request("tools/call", json!({"name": format!("{server}__sample"), "arguments": {}})).await;
        let req = gw.wait_for("sampling", |m| m["method"] == "sampling/createMessage").await;
        gw.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"role": "assistant", "content": {"type": "text", "text": format!("ok-{server}")}, "model": "m"}})).await;
        let resp = gw.response(id).await;
        assert!(first_text(&resp["result"]).contains(&format!("ok-{server}")), "{resp}");
        gw.clear_backlog();
    }
    // The WebSocket backend goes away: its tools leave the catalog, the other stays.
    backend.stop().await;
    gw.wait_for("list_changed", |m| m["method"] == "notifications/tools/list_changed").await;
    let e = gw.request("tools/call", json!({"name": "viaws__echo", "arguments": {"text": "x"}})).await;
    assert!(e["error"]["message"].as_str().unwrap_or("").contains("viaws"), "{e}");
}

#[tokio::test]
async fn an_unreadable_ca_file_is_reported_for_its_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let setup = Setup::new(
        "",
        &[
            format!("{}ca_file = \"/nonexistent/ca.pem\"\n", remote("missing", "http", "https://127.0.0.1:1/mcp")),
            format!(
                "{}ca_file = {:?}\n",
                remote("empty", "sse", "https://127.0.0.1:1/sse"),
                empty.display().to_string()
            ),
            format!("{}ca_file = \"/nonexistent/ws-ca.pem\"\n", remote("wsca", "websocket", "wss://127.0.0.1:1/ws")),
            mock_server("alpha", &[]),
        ],
    );
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    for (server, expect) in
        [("missing", "/nonexistent/ca.pem"), ("empty", "no PEM certificate"), ("wsca", "/nonexistent/ws-ca.pem")]
    {
        let e = gw.request("tools/call", json!({"name": format!("{server}__x"), "arguments": {}})).await;
        let msg = e["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains("ca_file") && msg.contains(expect), "{server}: {msg}");
    }
    let r = gw.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "ok"}})).await;
    assert_eq!(first_text(&r), "ok");
}

/// A TLS front for a plain loopback server: terminates TLS with `cert` and
/// pipes each connection to `upstream`.
async fn tls_proxy(cert: &rcgen::CertifiedKey<rcgen::KeyPair>, upstream: String) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn tls_backends_are_trusted_through_ca_file_and_refused_without() {
    let backend = mock_listen("alpha", "127.0.0.1:0", &[]).await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).expect("write ca");
    let port = tls_proxy(&cert, backend.base.trim_start_matches("http://").to_owned()).await;
    let ca_line = format!("ca_file = {:?}\n", ca.display().to_string());
    let setup = Setup::new(
        "",
        &[
            format!("{}{ca_line}", remote("https", "http", &format!("https://localhost:{port}/mcp"))),
            format!("{}{ca_line}", remote("sses", "sse", &format!("https://localhost:{port}/sse"))),
            format!("{}{ca_line}", remote("wss", "websocket", &format!("wss://localhost:{port}/ws"))),
            remote("untrusted", "http", &format!("https://localhost:{port}/mcp")),
        ],
    );
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    for server in ["https", "sses", "wss"] {
        let r = gw.call("tools/call", json!({"name": format!("{server}__echo"), "arguments": {"text": server}})).await;
        assert_eq!(first_text(&r), server);
    }
    let e = gw.request("tools/call", json!({"name": "untrusted__echo", "arguments": {"text": "x"}})).await;
    let msg = e["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("untrusted") && msg.to_ascii_lowercase().contains("certificate"), "{msg}");
}
