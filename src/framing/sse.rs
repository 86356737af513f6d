//! Server-Sent Events framing, as streamable HTTP and the legacy HTTP+SSE
//! transport use it: events written for clients, and parsed from servers.

/// One `message` event carrying a JSON-RPC message. JSON can contain raw newlines
/// only inside whitespace; each line becomes its own `data:` field so the event
/// survives any JSON a backend sent.
pub fn message_event(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 24);
    out.push_str("event: message\n");
    // SSE ends a line at CR, LF or CRLF. In JSON those can only be whitespace
    // between tokens (inside strings they are escaped), so each becomes a
    // line break: the reader joins the lines with LF, which is whitespace too.
    let mut rest = json;
    loop {
        let (line, next) = match rest.find(['\n', '\r']) {
            Some(i) => {
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                (&rest[..i], Some(&rest[i + skip..]))
            }
            None => (rest, None),
        };
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    out.push('\n');
    out
}

/// A comment line: keeps idle connections open through proxies.
pub const KEEPALIVE: &str = ": keepalive\n\n";

#[cfg(test)]
mod tests {
    #[test]
    fn multi_line_json_becomes_several_data_fields() {
        assert_eq!(super::message_event("{\"a\":\n1}"), "event: message\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(super::message_event("{}"), "event: message\ndata: {}\n\n");
    }
}

/// One parsed event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` field; `None` means the default, `message`.
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

/// An incremental SSE parser (the client side of the framing above), bounded:
/// an event whose data grows past `limit` bytes is dropped and reported.
#[derive(Debug)]
pub struct Parser {
    buf: Vec<u8>,
    current: Event,
    has_data: bool,
    limit: usize,
    oversized: bool,
    /// A line outgrew the limit before its end arrived: the rest of it, up to
    /// the next `\n`, is discarded (it is not a line of its own).
    skipping: bool,
    /// How much of `buf` earlier pushes searched for `\n` without finding one:
    /// a long line arriving in many chunks is searched once, not once per chunk.
    scanned: usize,
}

/// What the parser produced from a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Event(Event),
    /// An event over the limit was dropped.
    TooLarge(usize),
}

impl Parser {
    pub fn new(limit: usize) -> Self {
        Parser {
            buf: Vec::new(),
            current: Event::default(),
            has_data: false,
            limit,
            oversized: false,
            skipping: false,
            scanned: 0,
        }
    }

    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        let mut chunk = chunk;
        if self.skipping {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    self.skipping = false;
                    chunk = &chunk[pos + 1..];
                }
                None => return out,
            }
        }
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut from = self.scanned;
        while let Some(pos) = self.buf[from..].iter().position(|&b| b == b'\n') {
            let end = from + pos;
            let mut line = &self.buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            start = end + 1;
            from = start;
            self.line(&line, &mut out);
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        // What is left is the start of a line. It must not buffer without end:
        // once it is sure to be too long it is dropped and the rest of it
        // skipped, with the verdict a whole line would have got (so chunking
        // never changes what comes out): a field's value over the limit makes
        // the event too large; a comment or unknown field is ignored either way.
        if self.buf.len() > self.limit {
            let (field, value) = match self.buf.iter().position(|&b| b == b':') {
                Some(i) => {
                    let v = &self.buf[i + 1..];
                    (Some(&self.buf[..i]), v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (None, &self.buf[..0]),
            };
            // A trailing CR may be half of a CRLF: not part of the value.
            let value_len = value.len() - usize::from(value.last() == Some(&b'\r'));
            let verdict = match field {
                Some(b"data") => {
                    let total = self.current.data.len() + usize::from(self.has_data) + value_len;
                    (total > self.limit).then_some(Some(total))
                }
                Some(b"event" | b"id") => (value_len > self.limit).then_some(Some(value_len)),
                // A comment, an unknown field, or a name longer than any known one.
                _ => (self.buf.len() > self.limit + 8).then_some(None),
            };
            if let Some(too_large) = verdict {
                self.buf.clear();
                self.scanned = 0;
                self.skipping = true;
                if let Some(n) = too_large
                    && !self.oversized
                {
                    self.oversized = true;
                    self.current.data.clear();
                    out.push(Parsed::TooLarge(n));
                }
            }
        }
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let oversized = std::mem::take(&mut self.oversized);
            let has_data = std::mem::take(&mut self.has_data);
            // An oversized event was reported when it overflowed.
            if has_data && !oversized {
                out.push(Parsed::Event(event));
            }
            return;
        }
        if line.starts_with(':') {
            return; // a comment (keepalive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if matches!(field, "event" | "id") && value.len() > self.limit {
            if !self.oversized {
                self.oversized = true;
                self.current.data.clear();
                out.push(Parsed::TooLarge(value.len()));
            }
            return;
        }
        match field {
            "event" => self.current.event = Some(value.to_owned()),
            "data" => {
                if self.oversized {
                    return;
                }
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
                if self.current.data.len() > self.limit {
                    let n = self.current.data.len();
                    self.current.data.clear();
                    self.oversized = true;
                    out.push(Parsed::TooLarge(n));
                }
            }
            "id" => self.current.id = Some(value.to_owned()),
            _ => {} // retry and unknown fields
        }
    }
}

#[cfg(test)]
mod parser_tests {
    use super::*;

    fn events(p: &mut Parser, chunks: &[&str]) -> Vec<Parsed> {
        chunks.iter().flat_map(|c| p.push(c.as_bytes())).collect()
    }

    #[test]
    fn parses_events_split_anywhere() {
        let text = "event: endpoint\ndata: /message?sessionId=1\n\n: keepalive\n\ndata: {\"a\":\ndata: 1}\nid: 7\n\n";
        for split in 0..text.len() {
            let mut p = Parser::new(1024);
            let got = events(&mut p, &[&text[..split], &text[split..]]);
            assert_eq!(
                got,
                vec![
                    Parsed::Event(Event {
                        event: Some("endpoint".into()),
                        data: "/message?sessionId=1".into(),
                        id: None
                    }),
                    Parsed::Event(Event { event: None, data: "{\"a\":\n1}".into(), id: Some("7".into()) }),
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_long_line_in_many_chunks_then_more_events() {
        // A 2 MiB event in 1 KiB chunks, whose last chunk also starts the next
        // event: the newline search resumes where it stopped, and loses nothing.
        let big = "x".repeat(2 << 20);
        let text = format!("data: {big}\n\ndata: next\n\n");
        let mut p = Parser::new(4 << 20);
        let got: Vec<Parsed> = text.as_bytes().chunks(1024).flat_map(|c| p.push(c)).collect();
        assert_eq!(
            got,
            vec![
                Parsed::Event(Event { event: None, data: big, id: None }),
                Parsed::Event(Event { event: None, data: "next".into(), id: None }),
            ]
        );
    }

    #[test]
    fn crlf_and_round_trip_with_the_writer() {
        let mut p = Parser::new(1024);
        let got = p.push(message_event("{\"x\":1}").replace('\n', "\r\n").as_bytes());
        assert_eq!(
            got,
            vec![Parsed::Event(Event { event: Some("message".into()), data: "{\"x\":1}".into(), id: None })]
        );
    }

    #[test]
    fn oversized_events_are_dropped_and_reported() {
        let mut p = Parser::new(10);
        let got = p.push(b"data: 0123456789abcdef\n\ndata: ok\n\n");
        assert!(matches!(got[0], Parsed::TooLarge(_)), "{got:?}");
        assert_eq!(got[1], Parsed::Event(Event { event: None, data: "ok".into(), id: None }));
        // A line without end, too.
        let mut p = Parser::new(10);
        let mut long = b"data: ".to_vec();
        long.extend_from_slice(&[b'x'; 50]);
        assert!(matches!(p.push(&long)[..], [Parsed::TooLarge(50)]));
        // The rest of that line is skipped; the event it began ends at the blank line.
        assert_eq!(
            p.push(b"xxx\n\ndata: y\n\n"),
            vec![Parsed::Event(Event { event: None, data: "y".into(), id: None })]
        );
        // A long comment is ignored whole, and does not touch the next event.
        let mut p = Parser::new(10);
        let mut comment = b": ".to_vec();
        comment.extend_from_slice(&[b'c'; 50]);
        assert!(p.push(&comment).is_empty());
        assert_eq!(p.push(b"\ndata: z\n\n"), vec![Parsed::Event(Event { event: None, data: "z".into(), id: None })]);
    }
}
