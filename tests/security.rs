//! Authentication, authorization, the audit log and hostile input, driven
//! through the real binary over HTTP (and stdio for the local principal).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const DEV_KEY: &str = "dev-key-0123456789";
const OPS_KEY: &str = "ops-key-9876543210";
const SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!";
const RESOURCE: &str = "https://mcp.example.test/mcp";

fn sha(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Two API keys, HS256 JWTs for RESOURCE, an audit log, and policies: `dev`
/// may use everything of alpha but its crash tool; `ops` may use the vmcp/*
/// methods and beta's echo only.
fn secured(extra_gateway: &str) -> Setup {
    let dir_hint = "AUDIT";
    let auth = format!(
        "[auth]\nresource = \"{RESOURCE}\"\nauthorization_servers = [\"https://idp.example.test\"]\n\
         api_keys = [{{ name = \"dev-bot\", sha256 = \"{}\", roles = [\"dev\"] }}, {{ name = \"ops-bot\", sha256 = \"{}\", roles = [\"ops\"] }}]\n\
         [auth.jwt]\nalgorithms = [\"HS256\"]\nsecret = \"{SECRET}\"\nissuer = \"https://idp.example.test\"\n\n\
         [[policy]]\nroles = [\"dev\"]\nallow = [\"alpha__*\", \"alpha+*\"]\ndeny = [\"alpha__crash\"]\n\n\
         [[policy]]\nroles = [\"ops\"]\nallow = [\"vmcp/*\", \"beta__echo\"]\n",
        sha(DEV_KEY),
        sha(OPS_KEY)
    );
    let setup = Setup::new(
        &format!("audit_log = \"{dir_hint}\"\n{extra_gateway}"),
        &[mock_server("alpha", &[]), mock_server("beta", &[]), auth],
    );
    // The audit log goes into the test's directory.
    let text = std::fs::read_to_string(&setup.config).expect("config");
    let audit = setup.path().join("audit.log");
    std::fs::write(&setup.config, text.replace(dir_hint, &audit.display().to_string())).expect("config");
    setup
}

fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

fn client(gw: &HttpGateway, auth: Option<&str>) -> HttpClient {
    let mut c = HttpClient::new(gw.url("/mcp"));
    c.auth = auth.map(str::to_owned);
    c
}

async fn initialize_status(c: &mut HttpClient) -> (u16, reqwest::header::HeaderMap) {
    let p = c
        .request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
        )
        .await;
    (p.status, p.headers)
}

#[tokio::test]
async fn requests_without_a_valid_credential_are_challenged() {
    let setup = secured("");
    let gw = HttpGateway::start(&setup).await;
    // No credential: 401, and the challenge says where the metadata is.
    let (status, headers) = initialize_status(&mut client(&gw, None)).await;
    assert_eq!(status, 401);
    let challenge = headers.get("www-authenticate").expect("WWW-Authenticate").to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge
                .contains("resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource/mcp\""),
        "{challenge}"
    );
    assert!(!challenge.contains("invalid_token"), "no error without a credential: {challenge}");
    // A wrong key, an expired token, another audience, another signer, a token
    // from another issuer: all 401 invalid_token.
    let exp = now() + 600;
    let cases = [
        ("wrong key", "not-a-key-of-ours".to_owned()),
        (
            "expired",
            jwt(json!({"sub": "u", "iss": "https://idp.example.test", "aud": RESOURCE, "exp": now() - 600}), SECRET),
        ),
        (
            "audience",
            jwt(
                json!({"sub": "u", "iss": "https://idp.example.test", "aud": "https://other.test/mcp", "exp": exp}),
                SECRET,
            ),
        ),
        (
            "signature",
            jwt(
                json!({"sub": "u", "iss": "https://idp.example.test", "aud": RESOURCE, "exp": exp}),
                "another-secret-of-at-least-32-bytes!!",
            ),
        ),
        ("issuer", jwt(json!({"sub": "u", "iss": "https://evil.test", "aud": RESOURCE, "exp": exp}), SECRET)),
    ];
    for (what, credential) in cases {
        let (status, headers) = initialize_status(&mut client(&gw, Some(&credential))).await;
        assert_eq!(status, 401, "{what}");
        let challenge = headers.get("www-authenticate").expect("challenge").to_str().unwrap().to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{what}: {challenge}");
    }
    // The metadata (RFC 9728) needs no credential.
    let meta = reqwest::get(gw.url("/.well-known/oauth-protected-resource/mcp")).await.unwrap().text().await.unwrap();
    let meta: Value = serde_json::from_str(&meta).expect("metadata JSON");
    assert_eq!(meta["resource"], RESOURCE);
    assert_eq!(meta["authorization_servers"], json!(["https://idp.example.test"]));
    // Liveness needs none; the metrics do.
    assert_eq!(reqwest::get(gw.url("/healthz")).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(gw.url("/metrics")).await.unwrap().status(), 401);
    let m = reqwest::Client::new().get(gw.url("/metrics")).bearer_auth(OPS_KEY).send().await.unwrap();
    assert_eq!(m.status(), 200);
    // The legacy and WebSocket fronts are guarded too.
    let sse = reqwest::Client::new().get(gw.url("/sse")).header("accept", "text/event-stream").send().await.unwrap();
    assert_eq!(sse.status(), 401);
    let ws = reqwest::get(gw.url("/ws")).await.unwrap();
    assert_eq!(ws.status(), 401);
}

#[tokio::test]
async fn policies_filter_lists_and_refuse_calls_like_unknown_names() {
    let setup = secured("");
    let gw = HttpGateway::start(&setup).await;
    let mut dev = client(&gw, Some(DEV_KEY));
    dev.initialize(json!({})).await;
    let names = tool_names(&dev.call("tools/list", json!({})).await);
    assert!(names.iter().all(|n| n.starts_with("alpha__")), "{names:?}");
    assert!(names.contains(&"alpha__echo".to_owned()) && !names.contains(&"alpha__crash".to_owned()), "{names:?}");
    let r = dev.call("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "hi"}})).await;
    assert_eq!(first_text(&r), "hi");
    // Denied and nonexistent tools get the same answer.
    for name in ["alpha__crash", "beta__echo", "alpha__no_such_tool"] {
        let e = dev.request("tools/call", json!({"name": name, "arguments": {}})).await;
        let err = &e.response()["error"];
        assert_eq!(err["code"], -32602, "{name}: {e:?}");
        assert_eq!(err["message"], format!("Unknown tool: {name}"));
    }
    // Resources: only alpha's are listed; beta's cannot be read.
    let resources = dev.call("resources/list", json!({})).await;
    let uris: Vec<&str> = resources["resources"].as_array().unwrap().iter().filter_map(|r| r["uri"].as_str()).collect();
    assert!(!uris.is_empty() && uris.iter().all(|u| u.starts_with("alpha+")), "{uris:?}");
    let e = dev.request("resources/read", json!({"uri": "beta+mock://resource/0"})).await;
    assert_eq!(e.response()["error"]["code"], -32002, "{e:?}");
    // vmcp/* is a name like any other: dev may not, ops may.
    let e = dev.request("vmcp/servers/list", json!({})).await;
    assert_eq!(e.response()["error"]["code"], -32601, "{e:?}");
    let mut ops = client(&gw, Some(OPS_KEY));
    ops.initialize(json!({})).await;
    assert_eq!(tool_names(&ops.call("tools/list", json!({})).await), vec!["beta__echo"]);
    ops.call("vmcp/servers/list", json!({})).await;

    // A session belongs to its principal: ops cannot use dev's session id.
    let mut thief = client(&gw, Some(OPS_KEY));
    thief.session = dev.session.clone();
    let stolen = thief.request("tools/list", json!({})).await;
    assert_eq!(stolen.status, 403, "{stolen:?}");

    // The audit log has one line per call, with principal and outcome.
    drop(dev);
    let status = gw.stop().await;
    assert!(status.success());
    let text = std::fs::read_to_string(setup.path().join("audit.log")).expect("audit log");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let find =
        |name: &str| lines.iter().find(|l| l["name"] == name).cloned().unwrap_or_else(|| panic!("{name} in {text}"));
    let ok = find("alpha__echo");
    assert_eq!(
        (ok["principal"].as_str(), ok["outcome"].as_str(), ok["server"].as_str()),
        (Some("dev-bot"), Some("ok"), Some("alpha"))
    );
    assert!(ok["duration_ms"].as_f64().is_some() && ok.get("arguments").is_none(), "{ok}");
    assert_eq!(find("alpha__crash")["outcome"], "denied");
    assert_eq!(find("alpha__no_such_tool")["outcome"], "error");
    assert_eq!(find("beta+mock://resource/0")["outcome"], "denied");
}

#[tokio::test]
async fn a_jwt_names_the_principal_and_its_roles() {
    let setup = secured("");
    let gw = HttpGateway::start(&setup).await;
    let token = jwt(
        json!({"sub": "alice", "iss": "https://idp.example.test", "aud": RESOURCE, "exp": now() + 600, "roles": ["ops"]}),
        SECRET,
    );
    let mut alice = client(&gw, Some(&token));
    alice.initialize(json!({})).await;
    assert_eq!(tool_names(&alice.call("tools/list", json!({})).await), vec!["beta__echo"]);
    // No role no policy names: nothing at all.
    let nobody =
        jwt(json!({"sub": "bob", "iss": "https://idp.example.test", "aud": RESOURCE, "exp": now() + 600}), SECRET);
    let mut bob = client(&gw, Some(&nobody));
    bob.initialize(json!({})).await;
    assert_eq!(bob.call("tools/list", json!({})).await["tools"], json!([]));
}

#[tokio::test]
async fn an_open_listener_without_auth_is_refused() {
    let setup = Setup::new("", &[mock_server("alpha", &[])]);
    let out = tokio::process::Command::new(vmcp_bin())
        .args(["start", "--config"])
        .arg(&setup.config)
        .args(["--listen", "0.0.0.0:0"])
        .output();
    let out = tokio::time::timeout(WAIT, out).await.expect("exits").expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reachable from other machines") && stderr.contains("allow_unauthenticated"), "{stderr}");
}

#[tokio::test]
async fn hostile_input_is_bounded() {
    let setup = Setup::new("max_sessions = 2\nmax_json_depth = 16", &[mock_server("alpha", &[])]);
    let gw = HttpGateway::start(&setup).await;
    let mut a = client(&gw, None);
    a.initialize(json!({})).await;
    // Nesting beyond the limit is a parse error, before any parser recursion.
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"alpha__echo","arguments":{{"text":{}1{}}}}}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    let p = a.send(a.builder().body(deep)).await;
    assert_eq!(p.status, 400, "{p:?}");
    let err = &p.response()["error"];
    assert_eq!(err["code"], -32700);
    assert!(err["message"].as_str().unwrap_or("").contains("max_json_depth"), "{err}");
    // Sessions: two at most.
    let mut b = client(&gw, None);
    b.initialize(json!({})).await;
    let (status, _) = initialize_status(&mut client(&gw, None)).await;
    assert_eq!(status, 503);
    // Closing one frees a place.
    let del = a.http.delete(&a.url).header("mcp-session-id", a.session.clone().unwrap()).send().await.unwrap();
    assert!(del.status().is_success());
    let mut c = client(&gw, None);
    c.initialize(json!({})).await;
}

#[tokio::test]
async fn stdio_clients_are_the_local_principal() {
    let policy = "[[policy]]\nroles = [\"local\"]\nallow = [\"*\"]\ndeny = [\"*__crash\", \"*__fail\"]\n";
    let setup = Setup::new("", &[mock_server("alpha", &[]), policy.to_owned()]);
    let mut gw = StdioGateway::start(&setup).await;
    gw.initialize("2025-11-25", json!({})).await;
    let names = tool_names(&gw.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__echo".to_owned()));
    assert!(!names.iter().any(|n| n.ends_with("__crash") || n.ends_with("__fail")), "{names:?}");
    let e = gw.request("tools/call", json!({"name": "alpha__crash"})).await;
    assert_eq!(e["error"]["message"], "Unknown tool: alpha__crash");
}

/// Connects to the gateway's HTTP listener with a small receive buffer (so a
/// client that does not read makes the gateway's writes block quickly).
async fn raw_connection(gw: &HttpGateway) -> tokio::net::TcpStream {
    let addr: std::net::SocketAddr = gw.base.trim_start_matches("http://").parse().expect("gateway address");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(addr).await.expect("connect")
}

/// Reads until the gateway closes the connection (or resets it): what it sent.
async fn read_to_close(conn: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(WAIT, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the gateway closes the connection");
    got
}

#[tokio::test]
async fn connections_and_slow_clients_are_bounded() {
    use tokio::io::AsyncWriteExt;
    let setup = Setup::new(
        "max_header_size = \"4KiB\"\nread_timeout = \"1s\"\nwrite_timeout = \"1s\"",
        &[mock_server("alpha", &[])],
    );
    let mut gw = HttpGateway::start(&setup).await;

    // A head over max_header_size: 431.
    let big = reqwest::Client::new().get(gw.url("/healthz")).header("x-filler", "a".repeat(8 * 1024)).send().await;
    assert_eq!(big.expect("an answer").status().as_u16(), 431);

    // A head that never ends (slowloris): closed after read_timeout, nothing else happens.
    let mut slow = raw_connection(&gw).await;
    slow.write_all(b"POST /mcp HTTP/1.1\r\nhost: localhost\r\nx-slow: ").await.unwrap();
    let answer = read_to_close(&mut slow).await;
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "{}", String::from_utf8_lossy(&answer));

    // A body that never ends: 408 after read_timeout.
    let mut c = client(&gw, None);
    c.initialize(json!({})).await;
    let mut trickle = raw_connection(&gw).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-session-id: {}\r\ncontent-length: 1000\r\n\r\n{{\"jsonrpc\"",
        c.session.clone().unwrap()
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let answer = String::from_utf8_lossy(&read_to_close(&mut trickle).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("gateway.read_timeout"), "{answer}");

    // A client that asks for a large answer and reads none of it: cut off after
    // write_timeout, without the whole answer.
    let size = 8 << 20;
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "alpha__big", "arguments": {"bytes": size}}}).to_string();
    let mut stalled = raw_connection(&gw).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-session-id: {}\r\ncontent-length: {}\r\n\r\n{call}",
        c.session.clone().unwrap(),
        call.len()
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    gw.wait_stderr("gateway.write_timeout").await;
    let got = read_to_close(&mut stalled).await;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got[..got.len().min(200)]));
    assert!(got.len() < size, "the whole answer ({} bytes) went out", got.len());

    // Everyone else was served throughout.
    let p = c.request("tools/call", json!({"name": "alpha__echo", "arguments": {"text": "still here"}})).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(first_text(&p.response()["result"]), "still here");
}

#[tokio::test]
async fn connections_over_the_limit_are_answered_503() {
    // A gateway of its own: no other connection may hold a place while this counts.
    let setup = Setup::new("max_connections = 3", &[mock_server("alpha", &[])]);
    let gw = HttpGateway::start(&setup).await;

    // max_connections: three held open, the fourth gets 503 and a reason.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(raw_connection(&gw).await);
    }
    let mut extra = raw_connection(&gw).await;
    let answer = String::from_utf8_lossy(&read_to_close(&mut extra).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("gateway.max_connections"), "{answer}");
    // Closing them frees the places (once the gateway has seen them go).
    drop(held);
    let fresh = reqwest::Client::new();
    tokio::time::timeout(WAIT, async {
        loop {
            match fresh.get(gw.url("/healthz")).send().await {
                Ok(r) if r.status().is_success() => break,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .expect("places free again");
}
