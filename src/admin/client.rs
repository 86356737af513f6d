//! The CLI's side of the admin API: one HTTP/1.1 request per connection over the
//! Unix socket (`Connection: close`), so no client library is needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the gateway: no admin socket at {path} ({why}); is `vmcp start` running with this configuration?"
    )]
    Unreachable { path: PathBuf, why: std::io::Error },
    #[error("the gateway at {path} did not answer within {secs} s")]
    Timeout { path: PathBuf, secs: u64 },
    #[error("the gateway sent an answer vmcp cannot read: {0}")]
    Garbled(String),
    /// The gateway answered with an error status.
    #[error("{message}")]
    Refused { status: u16, code: String, message: String },
}

pub struct AdminClient {
    socket: PathBuf,
    timeout: Duration,
}

/// A raw answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl AdminClient {
    pub fn new(socket: &Path) -> Self {
        AdminClient { socket: socket.to_owned(), timeout: Duration::from_secs(30) }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request; `body` is JSON.
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, ClientError> {
        let secs = self.timeout.as_secs();
        tokio::time::timeout(self.timeout, self.exchange(method, path, body))
            .await
            .map_err(|_| ClientError::Timeout { path: self.socket.clone(), secs })?
    }

    async fn exchange(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, ClientError> {
        let mut stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|why| ClientError::Unreachable { path: self.socket.clone(), why })?;
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: vmcp\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
            payload.len()
        );
        let io = |e: std::io::Error| ClientError::Garbled(e.to_string());
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(io)?;
        parse_response(&raw)
    }

    /// A JSON answer; error statuses become [`ClientError::Refused`] with the
    /// gateway's own message.
    pub async fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let answer = self.send(method, path, body).await?;
        let value: Value =
            serde_json::from_str(&answer.body).map_err(|e| ClientError::Garbled(format!("{e}: {}", answer.body)))?;
        if answer.status >= 400 {
            let code = value["error"]["code"].as_str().unwrap_or("error").to_owned();
            let message = value["error"]["message"].as_str().unwrap_or(&answer.body).to_owned();
            return Err(ClientError::Refused { status: answer.status, code, message });
        }
        Ok(value)
    }
}

/// Splits an HTTP/1.1 response (with or without chunked encoding).
fn parse_response(raw: &[u8]) -> Result<Answer, ClientError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| ClientError::Garbled("no header end".into()))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ClientError::Garbled(format!("no status line in {head:?}")))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(body)? } else { body.to_owned() };
    Ok(Answer { status, body })
}

fn dechunk(mut s: &str) -> Result<String, ClientError> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").ok_or_else(|| ClientError::Garbled("bad chunk".into()))?;
        let n = usize::from_str_radix(size.trim(), 16).map_err(|_| ClientError::Garbled("bad chunk size".into()))?;
        if n == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..n).ok_or_else(|| ClientError::Garbled("short chunk".into()))?;
        out.push_str(chunk);
        s = rest.get(n + 2..).unwrap_or("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_answers() {
        let a = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, "{}"));
        let a = parse_response(
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_str()), (404, "abcde"));
        assert!(parse_response(b"garbage").is_err());
    }
}
