//! Server-Sent Events (`vmcp::framing::sse`): the incremental `Parser` reads
//! streams from remote MCP servers (streamable HTTP, legacy SSE), which arrive in
//! chunks cut wherever the network cut them; `message_event` writes the gateway's
//! own events.
//!
//! Input: `[limit, n, len_1 .. len_n, stream...]`. `limit` picks the parser's
//! size limit, the `n` lengths cut the stream into chunks (the rest is the last
//! chunk).
//!
//! Checks:
//! - nothing panics, whatever the bytes and the cuts;
//! - the chunking never changes what comes out (the parser's documented promise):
//!   the same events, in the same order, as when the stream arrives in one chunk,
//!   and as when it arrives a byte at a time (for small inputs). A `TooLarge(n)`
//!   report must come at the same place, but its `n` is what had arrived when the
//!   overflow became certain, so only `n > limit` is checked;
//! - no event it delivers is over the limit (data, event name or id);
//! - `message_event(text)` reads back as one `message` event whose data is the
//!   text with its CR / CRLF / LF line breaks as LF, and for JSON the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcp::framing::sse::{Parsed, Parser, message_event};

/// Byte-at-a-time feeding is quadratic in a long unfinished line; keep it to small inputs.
const BYTEWISE_MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let [limit_pick, n_cuts, rest @ ..] = data else { return };
    let limit = match limit_pick {
        0..=249 => usize::from(*limit_pick),
        250 => 1024,
        251 => 4096,
        252 => 65536,
        253 => 16 << 20,
        _ => usize::MAX,
    };
    let n_cuts = usize::from(*n_cuts).min(rest.len());
    let (cuts, stream) = rest.split_at(n_cuts);

    let whole = normalize(Parser::new(limit).push(stream), limit);
    check_limits(&whole, limit);

    let mut parser = Parser::new(limit);
    let mut chunked = Vec::new();
    let mut at = 0;
    for &len in cuts {
        let end = (at + usize::from(len)).min(stream.len());
        chunked.extend(parser.push(&stream[at..end]));
        at = end;
    }
    chunked.extend(parser.push(&stream[at..]));
    assert_eq!(normalize(chunked, limit), whole, "chunking changed the events (cuts {cuts:?})");

    if stream.len() <= BYTEWISE_MAX {
        let mut parser = Parser::new(limit);
        let bytewise: Vec<Parsed> = stream.iter().flat_map(|b| parser.push(std::slice::from_ref(b))).collect();
        assert_eq!(normalize(bytewise, limit), whole, "byte-at-a-time feeding changed the events");
    }

    writer_round_trip(&String::from_utf8_lossy(stream));
});

/// `TooLarge(n)` with `n` checked and then blanked out, so that reports compare by place only.
fn normalize(parsed: Vec<Parsed>, limit: usize) -> Vec<Parsed> {
    parsed
        .into_iter()
        .map(|p| match p {
            Parsed::TooLarge(n) => {
                assert!(n > limit, "TooLarge({n}) reported with a limit of {limit}");
                Parsed::TooLarge(0)
            }
            event => event,
        })
        .collect()
}

fn check_limits(parsed: &[Parsed], limit: usize) {
    for p in parsed {
        if let Parsed::Event(e) = p {
            assert!(e.data.len() <= limit, "an event of {} bytes passed a limit of {limit}", e.data.len());
            assert!(e.event.as_ref().is_none_or(|v| v.len() <= limit), "event name over the limit");
            assert!(e.id.as_ref().is_none_or(|v| v.len() <= limit), "id over the limit");
        }
    }
}

fn writer_round_trip(text: &str) {
    let framed = message_event(text);
    // The data is never longer than the text; "message" is the event name.
    let limit = text.len().max("message".len());
    let parsed = Parser::new(limit).push(framed.as_bytes());
    let want = text.replace("\r\n", "\n").replace('\r', "\n");
    match &parsed[..] {
        [Parsed::Event(e)] => {
            assert_eq!(e.event.as_deref(), Some("message"));
            assert_eq!(e.id, None);
            assert_eq!(e.data, want, "message_event({text:?}) = {framed:?}");
        }
        other => panic!("message_event({text:?}) = {framed:?} reads back as {other:?}"),
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let back: serde_json::Value = match serde_json::from_str(&want) {
            Ok(v) => v,
            Err(e) => panic!("JSON {text:?} is no longer JSON after the SSE round trip: {e}"),
        };
        assert_eq!(back, value);
    }
}
