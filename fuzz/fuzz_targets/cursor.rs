//! Composite pagination cursor (`vmcp::gateway::cursor::Composite`): clients send
//! back whatever cursor text they like, so `decode` reads untrusted input; `encode`
//! writes the per-server cursors that backends chose.
//!
//! The input is used three ways:
//! - as the cursor text itself (what a client sends);
//! - base64url-encoded, so that the fuzzer's bytes reach the JSON inside the
//!   cursor instead of dying in the base64 decoder;
//! - as `server=cursor` lines, a composite built with `insert`.
//!
//! Checks: `decode` never panics; anything decoded or built encodes to a
//! cursor that decodes to the same servers and cursors, and encoding is stable
//! (`encode(decode(encode(x))) == encode(x)`).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use vmcp::gateway::cursor::Composite;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = Composite::decode(&text) {
        round_trip(&c);
    }
    if let Ok(c) = Composite::decode(&URL_SAFE_NO_PAD.encode(data)) {
        round_trip(&c);
    }
    let mut built = Composite::new();
    for line in text.split('\n') {
        let (server, cursor) = line.split_once('=').unwrap_or((line, ""));
        built.insert(server, cursor.to_owned());
    }
    round_trip(&built);
});

fn round_trip(c: &Composite) {
    let encoded = c.encode();
    assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "not base64url: {encoded}");
    let back = match Composite::decode(&encoded) {
        Ok(back) => back,
        Err(e) => panic!("{c:?} encodes to {encoded}, which does not decode: {e}"),
    };
    assert_eq!(&back, c);
    assert!(back.servers().eq(c.servers()));
    assert_eq!(back.is_empty(), c.is_empty());
    assert_eq!(back.encode(), encoded, "encoding is not stable");
}
