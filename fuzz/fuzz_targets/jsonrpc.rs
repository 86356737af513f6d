//! JSON-RPC envelope (`vmcp::protocol::jsonrpc`): every byte string a client or a
//! server can send goes through `parse_frame` / `parse_message`, and large
//! responses through `take_result`.
//!
//! Checks, for any input:
//! - nothing panics (the parse step runs on untrusted bytes);
//! - a parsed message re-serializes (`to_json`) to JSON that parses again to the
//!   same kind, id, method, params, result and error, and serializing that gives
//!   the same text (the gateway re-serializes what it forwards);
//! - a parse error's `to_response()` is itself a well-formed error response with
//!   the right code and id (it is what the peer receives);
//! - `parse_frame` agrees with `parse_message` on single messages (it only adds
//!   the nesting limit);
//! - `take_result` hands back anything it does not take byte for byte, and what it
//!   takes is the response `parse_message` reads from the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmcp::protocol::jsonrpc::{self, Frame, Id, Message, ParseError, Response, code};

fuzz_target!(|data: &[u8]| {
    let single = jsonrpc::parse_message(data);
    check(&single);
    match jsonrpc::parse_frame(data, 64) {
        Frame::Single(framed) => {
            check(&framed);
            match (&framed, &single) {
                (Ok(a), Ok(b)) => assert_eq!(a.to_json(), b.to_json(), "parse_frame and parse_message disagree"),
                (Ok(a), Err(e)) => panic!("parse_frame read {} where parse_message fails: {e}", a.to_json()),
                // Only the nesting limit may refuse what parse_message accepts.
                (Err(ParseError::Json(m)), Ok(_)) => assert!(m.contains("max_json_depth"), "{m}"),
                (Err(e), Ok(_)) => panic!("parse_frame refuses what parse_message reads: {e}"),
                (Err(_), Err(_)) => {}
            }
        }
        Frame::Batch(items) => {
            assert!(!items.is_empty(), "an empty batch must be an error, not a batch");
            items.iter().for_each(check);
        }
    }
    check_take_result(data, &single);
});

/// The invariants of one parse outcome.
fn check(outcome: &Result<Message, ParseError>) {
    match outcome {
        Ok(message) => round_trip(message),
        Err(error) => {
            let response = error.to_response();
            let want_code = match error {
                ParseError::Json(_) => code::PARSE_ERROR,
                ParseError::Invalid { .. } => code::INVALID_REQUEST,
            };
            let want_id = match error {
                ParseError::Invalid { id: Some(id), .. } => id.clone(),
                _ => Id::Null,
            };
            let json = Message::Response(response).to_json();
            match jsonrpc::parse_message(json.as_bytes()) {
                Ok(Message::Response(Response { id, outcome: Err(e) })) => {
                    assert_eq!(e.code, want_code, "{json}");
                    assert_eq!(id, want_id, "{json}");
                }
                other => panic!("the error response {json} reads back as {other:?}"),
            }
        }
    }
}

/// `to_json` then `parse_message` gives the same message, and a stable text.
fn round_trip(message: &Message) {
    let json = message.to_json();
    let again = match jsonrpc::parse_message(json.as_bytes()) {
        Ok(m) => m,
        Err(e) => panic!("{message:?} serializes to {json}, which does not parse: {e}"),
    };
    match (message, &again) {
        (Message::Request(a), Message::Request(b)) => {
            assert_eq!(a.id, b.id);
            assert_eq!(a.method, b.method);
            assert_eq!(a.params.as_deref().map(|p| p.get()), b.params.as_deref().map(|p| p.get()));
        }
        (Message::Notification(a), Message::Notification(b)) => {
            assert_eq!(a.method, b.method);
            assert_eq!(a.params.as_deref().map(|p| p.get()), b.params.as_deref().map(|p| p.get()));
        }
        (Message::Response(a), Message::Response(b)) => {
            assert_eq!(a.id, b.id);
            match (&a.outcome, &b.outcome) {
                (Ok(x), Ok(y)) => assert_eq!(x.get(), y.get()),
                (Err(x), Err(y)) => {
                    assert_eq!((x.code, &x.message), (y.code, &y.message));
                    assert_eq!(x.data.as_deref().map(|d| d.get()), y.data.as_deref().map(|d| d.get()));
                }
                _ => panic!("{json}: a result became an error or the reverse"),
            }
            // The response writer used on the way out agrees with to_json.
            assert_eq!(a.clone().into_json(), json);
        }
        _ => panic!("{json}: the message changed kind: {message:?} -> {again:?}"),
    }
    assert_eq!(again.to_json(), json, "serialization is not stable");
    assert_eq!(message.method(), again.method());
}

/// `take_result` is a fast path of `parse_message` for plain result responses.
fn check_take_result(data: &[u8], single: &Result<Message, ParseError>) {
    match jsonrpc::take_result(data.to_vec()) {
        Err(back) => assert_eq!(back, data, "take_result did not hand the bytes back untouched"),
        Ok(taken) => match single {
            Ok(Message::Response(Response { id, outcome: Ok(result) })) => {
                assert_eq!(&taken.id, id);
                let taken_result = taken.outcome.as_deref().map(|r| r.get()).ok();
                assert_eq!(taken_result, Some(result.get()));
            }
            other => panic!("take_result read a result where parse_message reads {other:?}"),
        },
    }
}
