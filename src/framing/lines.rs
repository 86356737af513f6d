//! Newline-delimited framing with a size bound, as the stdio transport uses it.
//!
//! MCP over stdio sends one JSON-RPC message per line. A peer that sends a line
//! longer than the limit must not make the gateway buffer it: the reader keeps
//! the first `limit` bytes' worth of counting, drops the rest up to the newline,
//! and reports [`Line::TooLong`] so the caller can answer with an error.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One line without its terminator (`\n` or `\r\n`).
    Data(Vec<u8>),
    /// A line longer than the limit; its length in bytes (what was seen of it).
    TooLong(usize),
}

/// Reads newline-delimited frames of at most `limit` bytes each.
pub struct LineReader<R> {
    inner: R,
    limit: usize,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, limit: usize) -> Self {
        LineReader { inner, limit, buf: Vec::new() }
    }

    /// The next non-empty line, or `None` at end of input. A final line without a
    /// newline still counts.
    pub async fn next(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            match self.read_one().await? {
                None => return Ok(None),
                Some(Line::Data(d)) if d.iter().all(u8::is_ascii_whitespace) => continue,
                Some(line) => return Ok(Some(line)),
            }
        }
    }

    async fn read_one(&mut self) -> std::io::Result<Option<Line>> {
        self.buf.clear();
        let mut seen = 0usize;
        let mut overflow = false;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                // End of input.
                if seen == 0 {
                    return Ok(None);
                }
                break;
            }
            let (chunk, found) = match memchr_newline(available) {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            seen += chunk.len();
            if !overflow {
                if seen > self.limit {
                    overflow = true;
                    self.buf = Vec::new(); // release what was buffered
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let used = chunk.len() + usize::from(found);
            self.inner.consume(used);
            if found {
                break;
            }
        }
        if overflow {
            return Ok(Some(Line::TooLong(seen)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Data(std::mem::take(&mut self.buf))))
    }
}

/// Writes each message followed by a newline until the channel closes or the
/// writer fails, coalescing whatever is already queued into one write and one flush.
pub async fn write_lines<W: AsyncWrite + Unpin>(mut out: W, mut rx: mpsc::Receiver<String>) {
    while let Some(msg) = rx.recv().await {
        let mut buf = msg.into_bytes();
        buf.push(b'\n');
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(more.as_bytes());
            buf.push(b'\n');
        }
        if out.write_all(&buf).await.is_err() || out.flush().await.is_err() {
            break;
        }
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_lines_and_skips_blank_ones() {
        let input: &[u8] = b"{\"a\":1}\r\n\n  \n{\"b\":2}";
        let mut r = LineReader::new(input, 100);
        assert_eq!(r.next().await.unwrap(), Some(Line::Data(b"{\"a\":1}".to_vec())));
        assert_eq!(r.next().await.unwrap(), Some(Line::Data(b"{\"b\":2}".to_vec())));
        assert_eq!(r.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn too_long_lines_are_reported_and_skipped() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        // A tiny buffer forces the long line to arrive in several chunks.
        let reader = tokio::io::BufReader::with_capacity(8, &input[..]);
        let mut r = LineReader::new(reader, 10);
        assert_eq!(r.next().await.unwrap(), Some(Line::TooLong(50)));
        assert_eq!(r.next().await.unwrap(), Some(Line::Data(b"ok".to_vec())));
    }
}
