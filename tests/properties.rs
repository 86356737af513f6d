//! Fuzz-style property tests for the code that reads hostile input.
//!
//! Covered, through the crate's public API:
//!
//! 1. JSON-RPC envelopes (`protocol::jsonrpc`): arbitrary and mutated bytes never panic, and
//!    whatever parses serializes to a message that parses back to itself; generated requests,
//!    notifications, results and errors (odd ids, odd numbers such as `1.50` and `1e400`,
//!    `_meta`, unknown members, odd whitespace, member order, batches) keep their raw bodies
//!    byte for byte through `to_json`; nesting past the depth given to `parse_frame` is refused before any parser
//!    recurses (up to 100,000 levels), and deep bodies never overflow the stack.
//! 2. Configuration (`config::parse_str`): arbitrary text and randomly assembled documents never
//!    panic, every error names a line and column inside the text; `${VAR}`, `${VAR:-default}`,
//!    `$${` and broken substitutions behave as `config/env.rs` documents, errors pointing at the
//!    `${` itself. The human-unit parsers (`parse_duration` and friends) never panic.
//! 3. SSE (`transport::sse`): the bounded `Parser` never panics and never hands out an event over
//!    its bound; events do not depend on how the stream is split into chunks; an oversized event
//!    is reported and skipped whole; `message_event` output parses back to the JSON it carried.
//! 4. Composite cursors (`gateway::cursor::Composite`): encode/decode round trips for any map of
//!    server ids to cursors; decoding any string never panics and what decodes is stable.
//! 5. Backend id remapping (`gateway::backend::BackendConn`): concurrent calls with arbitrary
//!    params, answered by a fake backend in shuffled order amid noise (notifications, server
//!    requests, unknown and late ids, garbage, oversized lines), each get exactly their answer.
//!
//! The plain `#[test]`s named after a bug pin down what these properties found, each with its
//! minimal input (all fixed): arrays read as messages, `error.data: null` dropped, an oversized
//! SSE event leaking a fragment or depending on chunking, and lone CRs in `message_event`.
//!
//! These complement the cargo-fuzz targets in `fuzz/` (run by `.ci/fuzz`): proptest runs inside
//! `cargo test` on every build, shrinks failures to small inputs, and states properties across
//! components (id remapping) that a byte-level fuzzer cannot.
//!
//! Case counts are kept small enough for the whole file to run in a few seconds in a debug
//! build. For a longer fuzzing run, set `PROPTEST_CASES`, which every test here honours:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --release --test properties
//! ```
//!
//! No failure-persistence files are written: a failure prints its shrunk input, which belongs
//! in a regular regression test.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use vmcp::config::{ConfigErrors, keys, parse_duration, parse_percent, parse_rate, parse_size, parse_str};
use vmcp::framing::lines::Line;
use vmcp::framing::sse::{Event, KEEPALIVE, Parsed, Parser, message_event};
use vmcp::gateway::GatewayError;
use vmcp::gateway::backend::{BackendConn, Handler};
use vmcp::gateway::cursor::Composite;
use vmcp::link::Outgoing;
use vmcp::observe::metrics::Metrics;
use vmcp::protocol::jsonrpc::{Frame, Id, Message, ParseError, Response, code, parse_frame, parse_message};

/// A proptest configuration with `cases` cases, unless `PROPTEST_CASES` says otherwise, and no
/// failure persistence (nothing is written into the repository).
fn config(cases: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { base.cases } else { cases };
    ProptestConfig { cases, failure_persistence: None, ..base }
}

// ---------------------------------------------------------------------------------------------
// JSON text generation
// ---------------------------------------------------------------------------------------------

/// JSON whitespace, mostly none.
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just(""), 1 => Just(" "), 1 => Just("\n"), 1 => Just("\t"), 1 => Just("\r\n  "), 1 => Just("\r")]
}

/// Numbers as a peer may write them, including ones no `f64` or `i64` holds.
const ODD_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1.50",
    "0.10",
    "1e400",
    "-1e400",
    "1E-400",
    "1.0e+2",
    "123456789012345678901234567890",
    "-123456789012345678901234567890.000",
    "2.2250738585072011e-308",
    "5e-324",
    "9007199254740993",
];

fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        select(ODD_NUMBERS).prop_map(str::to_owned),
        (any::<i32>(), 0u32..100_000, prop::option::of(-999i32..999)).prop_map(|(i, f, e)| match e {
            Some(e) => format!("{i}.{f}e{e}"),
            None => format!("{i}.{f}"),
        }),
    ]
}

/// Escapes as a peer may write them, including a lone surrogate (valid JSON syntax, not valid
/// Unicode: raw bodies must carry it through untouched).
const ESCAPES: &[&str] = &[
    "\\\"",
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\u0000",
    "\\u00e9",
    "\\uD83D\\uDE00",
    "\\u2028",
    "\\ud800",
];

/// A JSON string literal (with its quotes), written with arbitrary characters and escapes.
fn json_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(|c| if c == '"' || c == '\\' || c < ' ' { 'x'.to_string() } else { c.to_string() }),
        1 => select(ESCAPES).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|parts| format!("\"{}\"", parts.concat()))
}

/// An object key: arbitrary, or one MCP gives meaning to.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => json_string(),
        1 => Just("\"_meta\"".to_owned()),
        1 => Just("\"progressToken\"".to_owned()),
        1 => Just("\"cursor\"".to_owned()),
    ]
}

fn json_array(items: Vec<(&'static str, String, &'static str)>) -> String {
    let inner: Vec<String> = items.into_iter().map(|(a, v, b)| format!("{a}{v}{b}")).collect();
    format!("[{}]", inner.join(","))
}

fn json_object(members: Vec<(String, &'static str, &'static str, String, &'static str)>) -> String {
    let inner: Vec<String> = members.into_iter().map(|(k, a, b, v, c)| format!("{k}{a}:{b}{v}{c}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// Any JSON value as text, at most a few levels deep, formatted oddly.
fn json_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        json_number(),
        json_string(),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..6).prop_map(json_array),
            prop::collection::vec((json_key(), ws(), ws(), inner, ws()), 0..6).prop_map(json_object),
        ]
    })
    .boxed()
}

/// A JSON object as text: what `params` holds.
fn json_params() -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::collection::vec((json_key(), ws(), ws(), json_value(), ws()), 0..6).prop_map(json_object),
        1 => (ws(), json_value(), json_value()).prop_map(|(w, a, b)| {
            format!("{{\"_meta\":{{\"progressToken\":{a},\"x\":{b}}},{w}\"arguments\":{{}}}}")
        }),
        1 => prop::collection::vec((ws(), json_value(), ws()), 0..4).prop_map(json_array),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// 1. JSON-RPC envelopes
// ---------------------------------------------------------------------------------------------

/// The depth limit the gateway has by default (`gateway.max_json_depth`).
const DEPTH: u32 = vmcp::config::DEFAULT_MAX_JSON_DEPTH;

/// What a generated message must parse to.
#[derive(Debug, Clone)]
enum Expected {
    Request { id: Id, method: String, params: Option<String> },
    Notification { method: String, params: Option<String> },
    Result { id: Id, result: String },
    Error { id: Id, code: i64, message: String, data: Option<String> },
}

/// A generated message: its text, what it means, and what `to_json` must write for it.
#[derive(Debug, Clone)]
struct Generated {
    text: String,
    expected: Expected,
    canonical: String,
}

/// An id as written, and the [`Id`] it must be read as.
fn id_strategy(allow_null: bool) -> BoxedStrategy<(String, Id)> {
    let numbers = any::<i64>().prop_map(|n| (n.to_string(), Id::Number(n)));
    let strings = any::<String>().prop_map(|s| (serde_json::to_string(&s).expect("string"), Id::String(s)));
    let others = select(&["1.5", "1e400", "18446744073709551615", "-9223372036854775809", "1E2", "0.0", "-1.5e-7"][..])
        .prop_map(|t| (t.to_owned(), Id::OtherNumber(t.to_owned())));
    if allow_null {
        prop_oneof![3 => numbers, 3 => strings, 1 => others, 1 => Just(("null".to_owned(), Id::Null))].boxed()
    } else {
        prop_oneof![3 => numbers, 3 => strings, 1 => others].boxed()
    }
}

/// How `to_json` writes an id.
fn id_json(id: &Id) -> String {
    match id {
        Id::Number(n) => n.to_string(),
        Id::OtherNumber(text) => text.clone(),
        Id::String(s) => serde_json::to_string(s).expect("string"),
        Id::Null => "null".to_owned(),
    }
}

/// A method name as written (plainly, or every UTF-16 unit escaped), and its value.
fn method_strategy() -> impl Strategy<Value = (String, String)> {
    (any::<String>(), any::<bool>()).prop_map(|(m, escape)| {
        let text = if escape {
            let units: String = m.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
            format!("\"{units}\"")
        } else {
            serde_json::to_string(&m).expect("string")
        };
        (text, m)
    })
}

/// Members no JSON-RPC peer must trip over.
fn unknown_member() -> impl Strategy<Value = (String, String)> {
    ("[a-z_]{0,6}", json_value()).prop_map(|(k, v)| (format!("\"x-{k}\""), v))
}

type Parts =
    (u8, (String, Id), (String, String), Option<String>, String, (i64, String, Option<String>), Vec<(String, String)>);

fn parts() -> impl Strategy<Value = Parts> {
    (
        0u8..4,
        id_strategy(true),
        method_strategy(),
        prop::option::of(json_params()),
        json_value(),
        // `"data": null` is left out: see `jsonrpc_error_data_null_is_kept`.
        (any::<i64>(), any::<String>(), prop::option::of(json_value().prop_filter("data: null", |d| d != "null"))),
        prop::collection::vec(unknown_member(), 0..3),
    )
}

/// One well-formed message, its members in random order with random whitespace.
fn message() -> impl Strategy<Value = Generated> {
    parts()
        .prop_filter("a request id cannot be null", |p| !(p.0 == 0 && p.1.1 == Id::Null))
        .prop_flat_map(|(kind, (id_text, id), (method_text, method), params, result, (code, message, data), extra)| {
            let mut members: Vec<(String, String)> = vec![("\"jsonrpc\"".into(), "\"2.0\"".into())];
            let params_member = |members: &mut Vec<(String, String)>| {
                if let Some(p) = &params {
                    members.push(("\"params\"".into(), p.clone()));
                }
            };
            let (expected, canonical) = match kind {
                0 => {
                    members.push(("\"id\"".into(), id_text));
                    members.push(("\"method\"".into(), method_text));
                    params_member(&mut members);
                    let canonical = format!(
                        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":{}{}}}",
                        id_json(&id),
                        serde_json::to_string(&method).expect("string"),
                        params.as_ref().map(|p| format!(",\"params\":{p}")).unwrap_or_default()
                    );
                    (Expected::Request { id, method, params: params.clone() }, canonical)
                }
                1 => {
                    members.push(("\"method\"".into(), method_text));
                    params_member(&mut members);
                    let canonical = format!(
                        "{{\"jsonrpc\":\"2.0\",\"method\":{}{}}}",
                        serde_json::to_string(&method).expect("string"),
                        params.as_ref().map(|p| format!(",\"params\":{p}")).unwrap_or_default()
                    );
                    (Expected::Notification { method, params: params.clone() }, canonical)
                }
                2 => {
                    members.push(("\"id\"".into(), id_text));
                    members.push(("\"result\"".into(), result.clone()));
                    let canonical = format!("{{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{result}}}", id_json(&id));
                    (Expected::Result { id, result }, canonical)
                }
                _ => {
                    let message_json = serde_json::to_string(&message).expect("string");
                    let data_member = data.as_ref().map(|d| format!(",\"data\":{d}")).unwrap_or_default();
                    let error = format!("{{\"code\":{code},\"message\":{message_json}{data_member}}}");
                    members.push(("\"id\"".into(), id_text));
                    members.push(("\"error\"".into(), error.clone()));
                    let canonical = format!("{{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{error}}}", id_json(&id));
                    (Expected::Error { id, code, message, data }, canonical)
                }
            };
            members.extend(extra);
            let seps = prop::collection::vec(ws(), 3 * members.len() + 2);
            (Just(members).prop_shuffle(), seps, Just(expected), Just(canonical))
        })
        .prop_map(|(members, seps, expected, canonical)| {
            let mut text = String::from(seps[0]);
            text.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(seps[3 * i + 1]);
                text.push_str(k);
                text.push_str(seps[3 * i + 2]);
                text.push(':');
                text.push_str(seps[3 * i + 3]);
                text.push_str(v);
            }
            text.push('}');
            text.push_str(seps[seps.len() - 1]);
            Generated { text, expected, canonical }
        })
}

/// Checks one parsed message against what was generated, including `to_json`.
fn check_message(parsed: &Result<Message, ParseError>, generated: &Generated) -> Result<(), TestCaseError> {
    let msg = match parsed {
        Ok(msg) => msg,
        Err(e) => return Err(TestCaseError::fail(format!("{e} for {:?}", generated.text))),
    };
    match (&generated.expected, msg) {
        (Expected::Request { id, method, params }, Message::Request(r)) => {
            prop_assert_eq!(&r.id, id);
            prop_assert_eq!(&r.method, method);
            prop_assert_eq!(r.params.as_deref().map(RawValue::get), params.as_deref());
        }
        (Expected::Notification { method, params }, Message::Notification(n)) => {
            prop_assert_eq!(&n.method, method);
            prop_assert_eq!(n.params.as_deref().map(RawValue::get), params.as_deref());
        }
        (Expected::Result { id, result }, Message::Response(Response { id: got, outcome: Ok(r) })) => {
            prop_assert_eq!(got, id);
            prop_assert_eq!(r.get(), result.as_str());
        }
        (Expected::Error { id, code, message, data }, Message::Response(Response { id: got, outcome: Err(e) })) => {
            prop_assert_eq!(got, id);
            prop_assert_eq!(e.code, *code);
            prop_assert_eq!(&e.message, message);
            prop_assert_eq!(e.data.as_deref().map(RawValue::get), data.as_deref());
        }
        (expected, got) => return Err(TestCaseError::fail(format!("expected {expected:?}, parsed {got:?}"))),
    }
    // The fidelity rule: bodies come out byte for byte, and the envelope is written canonically.
    let json = msg.to_json();
    prop_assert_eq!(&json, &generated.canonical);
    // And what the gateway writes, it reads back as the same message.
    let again = parse_message(json.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e} for {json:?}")))?;
    prop_assert_eq!(again.to_json(), json);
    Ok(())
}

/// Edits bytes of a valid message: the inputs a parser most likely trips over.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (message(), prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..4)).prop_map(
        |(generated, edits)| {
            let mut bytes = generated.text.into_bytes();
            for (at, op, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    1 => bytes.insert(i, byte),
                    2 if i < bytes.len() => bytes[i] = byte,
                    _ => bytes.truncate(i),
                }
            }
            bytes
        },
    )
}

/// Text made of JSON's own characters, so that the parser gets past the first byte.
fn json_junk() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        select(
            &[
                "{",
                "}",
                "[",
                "]",
                ":",
                ",",
                "\"",
                "\\",
                "\"jsonrpc\"",
                "\"2.0\"",
                "\"id\"",
                "\"method\"",
                "\"params\"",
                "\"result\"",
                "\"error\"",
                "\"code\"",
                "\"message\"",
                "\"data\"",
                "1",
                "-1",
                "1e400",
                "null",
                "true",
                " ",
                "\n",
                "\\u",
                "\u{e9}",
                "\u{ff}",
            ][..],
        ),
        0..40,
    )
    .prop_map(|parts| parts.concat().into_bytes())
}

/// What must hold of every parse result, whatever the input.
fn check_any(result: &Result<Message, ParseError>) -> Result<(), TestCaseError> {
    match result {
        Ok(msg) => {
            let json = msg.to_json();
            prop_assert!(serde_json::from_str::<Box<RawValue>>(&json).is_ok(), "not JSON: {json}");
            let again = parse_message(json.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
            prop_assert_eq!(again.to_json(), json);
        }
        Err(e) => {
            let response = e.to_response();
            let expected = match e {
                ParseError::Json(_) => code::PARSE_ERROR,
                ParseError::Invalid { .. } => code::INVALID_REQUEST,
            };
            let json = Message::Response(response).to_json();
            match parse_message(json.as_bytes()) {
                Ok(Message::Response(Response { outcome: Err(error), .. })) => prop_assert_eq!(error.code, expected),
                other => return Err(TestCaseError::fail(format!("error response {json} reads as {other:?}"))),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any bytes: no panic; results and error answers are well-formed JSON-RPC.
    #[test]
    fn jsonrpc_arbitrary_bytes_never_panic(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            mutated(),
            json_junk(),
        ]
    ) {
        match parse_frame(&bytes, DEPTH) {
            Frame::Single(result) => check_any(&result)?,
            Frame::Batch(items) => {
                prop_assert!(!items.is_empty());
                for item in &items {
                    check_any(item)?;
                }
            }
        }
        check_any(&parse_message(&bytes))?;
    }
}

proptest! {
    #![proptest_config(config(400))]

    /// Generated messages parse to what they say, and `to_json` keeps their bodies byte for byte.
    #[test]
    fn jsonrpc_messages_round_trip_byte_for_byte(generated in message()) {
        match parse_frame(generated.text.as_bytes(), DEPTH) {
            Frame::Single(result) => check_message(&result, &generated)?,
            Frame::Batch(_) => return Err(TestCaseError::fail("a single message parsed as a batch")),
        }
        check_message(&parse_message(generated.text.as_bytes()), &generated)?;
    }

}

proptest! {
    #![proptest_config(config(150))]

    /// Batches: every item parses on its own, in order.
    #[test]
    fn jsonrpc_batches_keep_every_item(items in prop::collection::vec((message(), ws()), 1..5), lead in ws()) {
        let inner: Vec<String> = items.iter().map(|(g, w)| format!("{w}{}", g.text)).collect();
        let text = format!("{lead}[{}]", inner.join(","));
        let Frame::Batch(parsed) = parse_frame(text.as_bytes(), DEPTH) else {
            return Err(TestCaseError::fail(format!("not a batch: {text}")));
        };
        prop_assert_eq!(parsed.len(), items.len());
        for (result, (generated, _)) in parsed.iter().zip(&items) {
            check_message(result, generated)?;
        }
    }
}

/// How deep a generated input nests: any depth up to 100,000, or right at the limit.
#[derive(Debug, Clone)]
enum Depth {
    Any(usize),
    NearLimit(i64),
}

proptest! {
    #![proptest_config(config(200))]

    /// Nesting past the limit is refused as a parse error naming the setting; within it, the
    /// message is read. Never a stack overflow, whatever the depth.
    #[test]
    fn jsonrpc_depth_limit_is_enforced(
        max in 0u32..=1000,
        depth in prop_oneof![
            2 => (1usize..=40).prop_map(Depth::Any),
            2 => (40usize..=2_000).prop_map(Depth::Any),
            1 => (2_000usize..=100_000).prop_map(Depth::Any),
            3 => (-3i64..=3).prop_map(Depth::NearLimit),
        ],
        shape in 0u8..5,
    ) {
        let limit = max.max(2) as usize;
        let depth = match depth {
            Depth::Any(d) => d,
            Depth::NearLimit(delta) => (limit as i64 + delta).max(1) as usize,
        }
        .max(3);
        // `depth` is the nesting of the whole input; brackets inside strings do not count.
        let (text, structural) = match shape {
            // Arrays in params, closed: the envelope is one level.
            0 => {
                let k = depth - 1;
                (format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}{}}}"#, "[".repeat(k), "]".repeat(k)), depth)
            }
            // Objects in params, closed.
            1 => {
                let k = depth - 1;
                (format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}1{}}}"#, r#"{"a":"#.repeat(k), "}".repeat(k)), depth)
            }
            // A batch around nested params.
            2 => {
                let k = depth - 3;
                (format!(r#"[{{"jsonrpc":"2.0","id":1,"method":"m","params":[{}{}]}}]"#, "[".repeat(k), "]".repeat(k)), depth)
            }
            // Only opening brackets, never closed.
            3 => ("[".repeat(depth), depth),
            // Brackets inside a string (with escaped quotes) nest nothing.
            _ => (format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{{"s":"\"{}\""}}}}"#, "[{".repeat(depth)), 2),
        };
        let errors: Vec<ParseError> = match parse_frame(text.as_bytes(), max) {
            Frame::Single(Ok(_)) => Vec::new(),
            Frame::Single(Err(e)) => vec![e],
            Frame::Batch(items) => items.into_iter().filter_map(Result::err).collect(),
        };
        if structural > limit {
            prop_assert_eq!(errors.len(), 1, "{} levels over a limit of {}", structural, limit);
            match &errors[0] {
                ParseError::Json(m) => {
                    prop_assert!(m.contains("max_json_depth"), "{m}");
                    let expected = format!("nesting deeper than {limit} levels");
                    prop_assert!(m.contains(&expected), "{m}");
                }
                other => return Err(TestCaseError::fail(format!("not a parse error: {other:?}"))),
            }
        } else if shape == 3 {
            // Unclosed: a parse error, but not about depth.
            prop_assert_eq!(errors.len(), 1);
            prop_assert!(!errors[0].to_string().contains("max_json_depth"), "{}", errors[0]);
        } else {
            prop_assert!(errors.is_empty(), "{} levels under a limit of {}: {:?}", structural, limit, errors);
        }
    }
}

/// `parse_message` has no depth check of its own (the backend side uses it directly): bodies
/// as deep as 100,000 levels must still not overflow the stack, and stay byte for byte.
#[test]
fn jsonrpc_very_deep_bodies_do_not_overflow_the_stack() {
    for depth in [1_000usize, 10_000, 100_000] {
        let params = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{params}}}"#);
        match parse_message(text.as_bytes()) {
            Ok(Message::Request(r)) => assert_eq!(r.params.as_deref().map(RawValue::get), Some(params.as_str())),
            other => panic!("depth {depth}: {other:?}"),
        }
        let open = "[".repeat(depth);
        assert!(parse_message(open.as_bytes()).is_err());
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        assert!(parse_message(objects.as_bytes()).is_err());
        for frame in [&text, &open, &objects] {
            match parse_frame(frame.as_bytes(), DEPTH) {
                Frame::Single(Err(ParseError::Json(m))) => assert!(m.contains("max_json_depth"), "{m}"),
                other => panic!("depth {depth}: {other:?}"),
            }
        }
    }
}

/// BUG: a JSON array is read as a message. `Envelope` is a derived `Deserialize` struct, and
/// serde also accepts a struct as a sequence of its fields in declaration order. So
/// `["2.0",1,"ping"]` is a request (id 1, method "ping") for `parse_message`, which reads
/// everything a backend sends, and inside a batch (`[["2.0",1,"ping"]]`) for `parse_frame`.
/// JSON-RPC 2.0 requires an object; the code's own comment says a non-object is an invalid
/// request. A fix: check that the first non-blank byte is `{` before deserializing, or
/// deserialize the envelope through a visitor that only implements `visit_map`.
#[test]

fn jsonrpc_arrays_are_not_messages() {
    assert!(parse_message(br#"["2.0",1,"ping"]"#).is_err(), "an array read as a request");
    assert!(parse_message(br#"["2.0",7,null,null,{"x":1}]"#).is_err(), "an array read as a response");
    let Frame::Batch(items) = parse_frame(br#"[["2.0",1,"ping"]]"#, DEPTH) else { panic!("not a batch") };
    assert!(items[0].is_err(), "a batch item that is an array read as a request: {:?}", items[0]);
}

proptest! {
    #![proptest_config(config(500))]

    /// The property behind the bug above: whatever parses as one message was a JSON object.
    #[test]

    fn jsonrpc_only_objects_are_messages(
        generated in message(),
        bytes in json_junk(),
        positional in prop::collection::vec(select(&["\"2.0\"", "1", "\"ping\"", "null", "{}", "[]"][..]), 0..7),
    ) {
        let positional = format!("[{}]", positional.join(",")).into_bytes();
        let batch = [b"[".as_slice(), &positional, b"]"].concat();
        if let Frame::Batch(items) = parse_frame(&batch, DEPTH) {
            prop_assert!(items.iter().all(Result::is_err), "{}: {:?}", String::from_utf8_lossy(&batch), items);
        }
        for input in [generated.text.into_bytes(), bytes, positional] {
            if parse_message(&input).is_ok() {
                let first = input.iter().find(|b| !b.is_ascii_whitespace());
                prop_assert_eq!(first, Some(&b'{'), "{}", String::from_utf8_lossy(&input));
            }
        }
    }
}

/// BUG (fidelity): `error.data` is a raw body that must reach the other side byte for byte,
/// but `"data": null` is read as no data (`Option<Box<RawValue>>` turns `null` into `None`,
/// while the envelope's `result` keeps it with `deserialize_with = "present"`), so `to_json`
/// drops the member: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":null}}`
/// comes out as `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}`.
#[test]

fn jsonrpc_error_data_null_is_kept() {
    let text = r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":null}}"#;
    let msg = parse_message(text.as_bytes()).expect("a response");
    assert_eq!(msg.to_json(), text);
}

// ---------------------------------------------------------------------------------------------
// 2. Configuration
// ---------------------------------------------------------------------------------------------

/// The environment configuration tests see. `TRICKY` holds a `${...}` of its own, which must
/// come through as it is: substitution is not recursive.
fn config_env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "SET" => Some("value".into()),
        "EMPTY" => Some(String::new()),
        "TRICKY" => Some("${SET}".into()),
        "UNICODE" => Some("\u{e9}\u{1f600}".into()),
        _ => None,
    }
}

/// Checks that every error names a line and column inside `text`, and displays as
/// `file:line:column: message`.
fn check_positions(origin: &str, text: &str, errors: &ConfigErrors) -> Result<(), TestCaseError> {
    prop_assert!(!errors.0.is_empty(), "an error without errors");
    let lines: Vec<&str> = text.split('\n').collect();
    for e in &errors.0 {
        prop_assert_eq!(&e.file, origin);
        let (Some(line), Some(column)) = (e.line, e.column) else {
            return Err(TestCaseError::fail(format!("no position: {e}\nin {text:?}")));
        };
        prop_assert!(line >= 1 && line <= lines.len(), "line {} of {}: {}", line, lines.len(), e);
        let width = lines[line - 1].chars().count();
        prop_assert!(column >= 1 && column <= width + 1, "column {} of {}: {}", column, width, e);
        let prefix = format!("{origin}:{line}:{column}: ");
        prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
    }
    Ok(())
}

/// Values of every shape the configuration reads, with awkward ones among them.
const CONFIG_VALUES: &[&str] = &[
    "\"0s\"",
    "\"1ms\"",
    "\"1m30s\"",
    "\"18446744073709551615s\"",
    "\"18446744073709551615ms\"",
    "\"5124095576030431h\"",
    "\"99999999999999999999999s\"",
    "\"1h1h1h1h1h1h1h1h1h1h1h1h\"",
    "\"30\"",
    "\"-1s\"",
    "\"1\u{e9}\"",
    "0",
    "1",
    "-1",
    "2",
    "1000",
    "1001",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "1e400",
    "nan",
    "-inf",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "\"\"",
    "\"x\"",
    "\"~\"",
    "\"~/a\"",
    "\"~x\"",
    "\"/tmp/vmcp-test\"",
    "\"127.0.0.1:0\"",
    "\"0.0.0.0:3000\"",
    "\"[::1]:0\"",
    "\"localhost:99999\"",
    "\"http://h/mcp\"",
    "\"https://u:p@h:1/mcp?x=1#f\"",
    "\"ws://h\"",
    "\"not a url\"",
    "\"1/s\"",
    "\"0/s\"",
    "\"4294967295/1ms\"",
    "\"4294967296/s\"",
    "\"5/0s\"",
    "\"5/18446744073709551615h\"",
    "\"100%\"",
    "\"0%\"",
    "\"101%\"",
    "\"16MiB\"",
    "\"0B\"",
    "\"18446744073709551615GiB\"",
    "\"1 kb\"",
    "[]",
    "[\"a\", \"*\"]",
    "[\"[\"]",
    "[\"{a,b\"]",
    "[1, \"a\"]",
    "{}",
    "{ a = \"b\" }",
    "{ A = \"${SET}\", B = \"${UNSET}\" }",
    "{ \"tools/call\" = \"1s\", \"nope\" = \"1s\" }",
    "{ \"tools/call\" = \"5/s\" }",
    "{ failures = 0, failure_rate = \"101%\", min_requests = 0, window = \"0s\", open_for = \"0s\" }",
    "[{ url = \"http://a\", weight = 0 }]",
    "[{ url = \"http://a\", weight = 4294967295 }, { url = \"http://a\" }]",
    "[{ name = \"ci\", sha256 = \"00\", roles = [\"dev\"] }]",
    "[{ name = \"local\", sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\" }]",
    "\"${SET}\"",
    "\"${UNSET}\"",
    "\"${SET:-d}\"",
    "\"${UNSET:-}\"",
    "\"$${x}\"",
    "\"${\"",
    "'${'",
    "\"\"\"\n${UNSET}\n\"\"\"",
    "\"round_robin\"",
    "\"consistent_hash\"",
    "\"weighted_random\"",
    "\"session\"",
    "\"arg:\"",
    "\"arg:x\"",
    "\"per_session\"",
    "\"stdio\"",
    "\"http\"",
    "\"sse\"",
    "\"ws\"",
    "\"HS256\"",
    "[\"HS256\", \"none\"]",
    "\"0123456789abcdef0123456789abcdef\"",
    "\"tools/*\"",
    "\"a__b\"",
];

// The parser's own key lists, each with a key that does not belong there: an
// unknown one, and a gateway key in a server table.
static GATEWAY_KEYS: LazyLock<Vec<&str>> = LazyLock::new(|| [keys::GATEWAY_KEYS, &["no_such_key"]].concat());
static SERVER_KEYS: LazyLock<Vec<&str>> = LazyLock::new(|| [keys::SERVER_KEYS, &["listen"]].concat());
const SERVER_IDS: &[&str] = &["a", "b", "time", "x-1", "Bad", "1x", "a\u{e9}", "abcdefghijabcdefghijabcdefghijabc", ""];

/// One table of a generated document: its header, and key = value lines.
fn config_table() -> impl Strategy<Value = String> {
    let lines = |keys: &'static [&'static str]| {
        prop::collection::vec((select(keys), select(CONFIG_VALUES)), 0..6)
            .prop_map(|kv| kv.into_iter().map(|(k, v)| format!("{k} = {v}\n")).collect::<String>())
    };
    prop_oneof![
        lines(GATEWAY_KEYS.as_slice()).prop_map(|body| format!("[gateway]\n{body}")),
        (select(SERVER_IDS), prop::bool::ANY, lines(SERVER_KEYS.as_slice())).prop_map(|(id, command, body)| {
            let command = if command { "command = \"cmd\"\n" } else { "" };
            format!("[servers.\"{id}\"]\n{command}{body}")
        }),
        (select(SERVER_IDS), lines(keys::BREAKER_KEYS))
            .prop_map(|(id, body)| format!("[servers.\"{id}\".breaker]\n{body}")),
        lines(keys::ROUTE_KEYS).prop_map(|body| format!("[[route]]\n{body}")),
        lines(keys::AUTH_KEYS).prop_map(|body| format!("[auth]\n{body}")),
        lines(keys::JWT_KEYS).prop_map(|body| format!("[auth.jwt]\n{body}")),
        lines(keys::POLICY_KEYS).prop_map(|body| format!("[[policy]]\n{body}")),
        lines(&["gateway", "servers", "route", "auth", "policy", "listen", "secret", "nope"]),
    ]
}

/// TOML-ish text: fragments that make the parser take its less travelled paths.
fn toml_junk() -> impl Strategy<Value = String> {
    prop::collection::vec(
        select(
            &[
                "[gateway]",
                "[servers.a]",
                "[[route]]",
                "[auth]",
                "[",
                "]",
                "[[",
                "{",
                "}",
                "=",
                " = ",
                ",",
                ".",
                "\"",
                "'",
                "'''",
                "\"\"\"",
                "\\",
                "\\u00e9",
                "\\U0001F600",
                "\\x",
                "${",
                "$${",
                "${SET}",
                "${UNSET}",
                "${A:-b}",
                "command",
                "listen",
                "args",
                "1",
                "-",
                "1e400",
                "0x1f",
                "true",
                "#",
                "\n",
                "\r\n",
                "\r",
                "\t",
                " ",
                "x",
                "\u{e9}",
                "\u{1f600}",
                "\u{0}",
                "\u{feff}",
            ][..],
        ),
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config(400))]

    /// Any text: no panic, and every error is positioned inside the text.
    #[test]
    fn config_arbitrary_text_never_panics(
        text in prop_oneof![
            any::<String>(),
            toml_junk(),
            prop::collection::vec(config_table(), 0..5).prop_map(|tables| tables.join("\n")),
        ]
    ) {
        match parse_str("fuzz.toml", &text, &config_env) {
            Ok(config) => {
                // Deterministic: the same text gives the same configuration.
                let again = parse_str("fuzz.toml", &text, &config_env);
                prop_assert_eq!(again.ok(), Some(config));
            }
            Err(errors) => check_positions("fuzz.toml", &text, &errors)?,
        }
    }
}

/// How `config/env.rs` documents substitution, written independently: `${NAME}` takes the
/// variable (an error when unset); `${NAME:-default}` falls back when unset or empty; `$${`
/// writes `${`; any other `$` stays. The substitution ends at the first `}`; an unterminated
/// `${` ends the string's errors. Errors are (byte index of the `${`, what the message says).
fn substitution_model(s: &str) -> Result<String, Vec<(usize, &'static str)>> {
    let mut out = String::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("$${") {
            out.push_str("${");
            i += 3;
        } else if rest.starts_with("${") {
            let Some(close) = rest.find('}') else {
                errors.push((i, "unterminated `${`"));
                return Err(errors);
            };
            let inner = &rest[2..close];
            let (name, default) = match inner.find(":-") {
                Some(at) => (&inner[..at], Some(&inner[at + 2..])),
                None => (inner, None),
            };
            let valid = name
                .chars()
                .enumerate()
                .all(|(k, c)| c == '_' || c.is_ascii_alphabetic() || (k > 0 && c.is_ascii_digit()))
                && !name.is_empty();
            if !valid {
                errors.push((i, "is not a valid substitution"));
            } else {
                match (config_env(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => errors.push((i, "is not set")),
                }
            }
            i += close + 1;
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Strings full of substitutions, well and badly formed. No `"`, `'`, `\` or control
/// characters, so they can be written in any TOML string without escapes.
fn substitution_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        select(&["SET", "EMPTY", "TRICKY", "UNICODE", "HOME", "UNSET", "NOPE", "_", "A_1"][..]).prop_map(str::to_owned),
        select(&["", "1X", "A-B", "\u{e9}", " SET", "SET ", "a.b", "$", "{"][..]).prop_map(str::to_owned),
        "[A-Za-z_][A-Za-z0-9_]{0,4}",
    ];
    let piece = prop_oneof![
        3 => "[a-z0-9 \u{e9}\u{65e5}\u{1f600}]{0,4}",
        2 => select(&["$", "$$", "$${", "${", "}", ":-", ":", "-", "{", "$}"][..]).prop_map(str::to_owned),
        3 => name.clone().prop_map(|n| format!("${{{n}}}")),
        2 => (name, "[a-z0-9 :${\u{e9}-]{0,6}").prop_map(|(n, d)| format!("${{{n}:-{d}}}")),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|parts| parts.concat())
}

/// Where the substituted string goes: the TOML line, its path in errors, where its value
/// starts (character column), whether errors point into it (else at the string's start),
/// and the prefix its value gets.
struct Slot {
    line: String,
    path: &'static str,
    content_column: usize,
    exact: bool,
    prefix: &'static str,
}

fn slot(kind: u8, s: &str) -> Slot {
    match kind {
        0 => Slot {
            line: format!("description = \"{s}\""),
            path: "servers.s.description",
            content_column: 16,
            exact: true,
            prefix: "",
        },
        1 => Slot {
            line: format!("description = '{s}'"),
            path: "servers.s.description",
            content_column: 16,
            exact: true,
            prefix: "",
        },
        2 => Slot {
            line: format!("args = [\"a\", \"{s}\"]"),
            path: "servers.s.args[1]",
            content_column: 15,
            exact: true,
            prefix: "",
        },
        // An escape makes positions inside the string approximate: errors point at its start.
        _ => Slot {
            line: format!("description = \"\\u0041{s}\""),
            path: "servers.s.description",
            content_column: 16,
            exact: false,
            prefix: "A",
        },
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// `${...}` substitution does what the module documents, and each error points at its `${`.
    #[test]
    fn config_substitution_follows_the_documented_rules(s in substitution_text(), kind in 0u8..4) {
        let slot = slot(kind, &s);
        let text = format!("[servers.s]\ncommand = \"cmd\"\n{}\n", slot.line);
        let result = parse_str("fuzz.toml", &text, &config_env);
        match (substitution_model(&s), result) {
            (Ok(expected), Ok(config)) => {
                let server = &config.servers["s"];
                let got = if kind == 2 { server.args.get(1).cloned() } else { server.description.clone() };
                prop_assert_eq!(got, Some(format!("{}{expected}", slot.prefix)), "{:?}", s);
            }
            (Err(expected), Err(errors)) => {
                check_positions("fuzz.toml", &text, &errors)?;
                prop_assert_eq!(errors.0.len(), expected.len(), "{:?}: {}", s, errors);
                for (error, (index, says)) in errors.0.iter().zip(&expected) {
                    let column = if slot.exact {
                        slot.content_column + s[..*index].chars().count()
                    } else {
                        slot.content_column - 1
                    };
                    let prefix = format!("fuzz.toml:3:{column}: {}: ", slot.path);
                    let shown = error.to_string();
                    prop_assert!(shown.starts_with(&prefix), "{:?}: {} (expected {})", s, shown, prefix);
                    prop_assert!(shown.contains(says), "{:?}: {} (expected {})", s, shown, says);
                }
            }
            (expected, got) => {
                return Err(TestCaseError::fail(format!("{s:?}: expected {expected:?}, got {got:?}")));
            }
        }
    }

    /// The parsers for values written by humans never panic, and agree with arithmetic.
    #[test]
    fn config_units_never_panic(
        s in prop_oneof![
            any::<String>(),
            prop::collection::vec(
                select(&["0", "1", "18446744073709551615", "99999999999999999999", "ms", "s", "m", "h", "/",
                    "%", " ", "KiB", "GB", "b", "\u{e9}", "-", "+"][..]),
                0..8,
            ).prop_map(|p| p.concat()),
        ],
        a in any::<u32>(),
        b in any::<u32>(),
    ) {
        let _ = (parse_duration(&s), parse_size(&s), parse_rate(&s), parse_percent(&s));
        let total = Duration::from_millis(u64::from(a)) + Duration::from_secs(u64::from(b));
        prop_assert_eq!(parse_duration(&format!("{a}ms{b}s")), Ok(total));
        prop_assert_eq!(parse_size(&format!("{a} KiB")), Ok(a as usize * 1024));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. SSE
// ---------------------------------------------------------------------------------------------

/// One SSE line, without its terminator.
fn sse_line() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(any::<u8>().prop_map(|b| if b == b'\n' { b' ' } else { b }), 0..12);
    prop_oneof![
        4 => text.clone().prop_map(|t| [b"data: ".as_slice(), &t].concat()),
        1 => text.clone().prop_map(|t| [b"data:".as_slice(), &t].concat()),
        1 => Just(b"data".to_vec()),
        1 => text.clone().prop_map(|t| [b"event: ".as_slice(), &t].concat()),
        1 => text.clone().prop_map(|t| [b"id: ".as_slice(), &t].concat()),
        1 => text.clone().prop_map(|t| [b": ".as_slice(), &t].concat()),
        1 => Just(b"retry: 100".to_vec()),
        1 => text,
        3 => Just(Vec::new()),
    ]
}

/// A stream of lines with LF or CRLF terminators.
fn sse_stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((sse_line(), any::<bool>()), 0..24).prop_map(|lines| {
        let mut out = Vec::new();
        for (line, crlf) in lines {
            out.extend_from_slice(&line);
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        out
    })
}

/// Cut points: random ones, or every byte.
fn cuts() -> impl Strategy<Value = Option<Vec<prop::sample::Index>>> {
    prop_oneof![3 => prop::collection::vec(any::<prop::sample::Index>(), 0..8).prop_map(Some), 1 => Just(None)]
}

/// Feeds `stream` in chunks cut at `cuts` (`None`: one byte at a time).
fn feed(limit: usize, stream: &[u8], cuts: &Option<Vec<prop::sample::Index>>) -> Vec<Parsed> {
    let mut parser = Parser::new(limit);
    let mut out = Vec::new();
    match cuts {
        None => {
            for b in stream {
                out.extend(parser.push(std::slice::from_ref(b)));
            }
        }
        Some(cuts) => {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut start = 0;
            for p in points.into_iter().chain([stream.len()]) {
                out.extend(parser.push(&stream[start..p]));
                start = p;
            }
        }
    }
    out
}

fn events_only(parsed: &[Parsed]) -> Vec<&Event> {
    parsed.iter().filter_map(|p| if let Parsed::Event(e) = p { Some(e) } else { None }).collect()
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any bytes, any chunks, any bound: no panic, no event over the bound, and a report of an
    /// oversized event names a size over the bound.
    #[test]
    fn sse_never_panics_and_respects_its_bound(
        stream in prop_oneof![sse_stream(), prop::collection::vec(any::<u8>(), 0..256)],
        cuts in cuts(),
        limit in 0usize..64,
    ) {
        for parsed in feed(limit, &stream, &cuts) {
            match parsed {
                Parsed::Event(e) => prop_assert!(e.data.len() <= limit, "{} bytes over {}", e.data.len(), limit),
                Parsed::TooLarge(n) => prop_assert!(n > limit, "TooLarge({}) within {}", n, limit),
            }
        }
    }

    /// When every line fits the bound, what comes out does not depend on the chunking.
    #[test]
    fn sse_chunking_does_not_matter_when_lines_fit(stream in sse_stream(), cuts in cuts(), slack in 0usize..40) {
        let longest = stream.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
        let limit = longest + slack;
        let whole = feed(limit, &stream, &Some(Vec::new()));
        let split = feed(limit, &stream, &cuts);
        prop_assert_eq!(split, whole, "{:?}", String::from_utf8_lossy(&stream));
    }

}

proptest! {
    #![proptest_config(config(300))]

    /// `message_event` output, however chunked, parses back to the JSON it carried.
    #[test]
    fn sse_message_events_round_trip(
        messages in prop::collection::vec((json_value(), any::<bool>()), 0..6),
        cuts in cuts(),
    ) {
        let mut stream = String::new();
        for (json, keepalive) in &messages {
            if *keepalive {
                stream.push_str(KEEPALIVE);
            }
            stream.push_str(&message_event(json));
        }
        let parsed = feed(1 << 20, stream.as_bytes(), &cuts);
        let expected: Vec<Parsed> = messages
            .iter()
            .map(|(json, _)| {
                // `message_event` ends a data line at each CRLF, CR or LF (JSON
                // whitespace); the reader joins the lines with LF.
                let data = json.replace("\r\n", "\n").replace('\r', "\n");
                Parsed::Event(Event { event: Some("message".into()), data, id: None })
            })
            .collect();
        prop_assert_eq!(parsed, expected);
    }
}

/// A small event made of data lines that fit any bound used below.
fn small_event() -> impl Strategy<Value = (String, Event)> {
    (prop::option::of("[a-z]{1,4}"), prop::collection::vec("[a-z0-9 {}\":,]{0,6}", 1..3)).prop_map(|(name, data)| {
        let mut text = String::new();
        if let Some(name) = &name {
            text.push_str(&format!("event: {name}\n"));
        }
        for d in &data {
            text.push_str(&format!("data: {d}\n"));
        }
        text.push('\n');
        (text, Event { event: name, data: data.join("\n"), id: None })
    })
}

proptest! {
    #![proptest_config(config(1000))]

    /// An event whose one data line is over the bound is reported and skipped, however the
    /// stream is chunked; the events around it come through.
    #[test]
    fn sse_oversized_event_is_reported_and_skipped(
        before in small_event(),
        after in small_event(),
        big in 1usize..200,
        header in prop::option::of("(event|id): [a-z]{0,5}\n"),
        cuts in cuts(),
    ) {
        let limit = 20;
        let stream = format!(
            "{}{}data: {}\n\n{}",
            before.0,
            header.unwrap_or_default(),
            "x".repeat(limit + big),
            after.0
        );
        let parsed = feed(limit, stream.as_bytes(), &cuts);
        prop_assert!(parsed.iter().any(|p| matches!(p, Parsed::TooLarge(_))), "{:?}", parsed);
        prop_assert_eq!(events_only(&parsed), vec![&before.1, &after.1], "{:?}", stream);
    }

    /// The property behind the first bug below: with any data lines after the oversized one,
    /// nothing of the oversized event comes out.
    #[test]

    fn sse_oversized_event_never_leaks_a_fragment(
        before in small_event(),
        after in small_event(),
        big in 1usize..200,
        tail in prop::collection::vec("data: [a-z]{1,4}\n", 1..3),
        cuts in cuts(),
    ) {
        let limit = 20;
        let stream = format!("{}data: {}\n{}\n{}", before.0, "x".repeat(limit + big), tail.concat(), after.0);
        let parsed = feed(limit, stream.as_bytes(), &cuts);
        prop_assert_eq!(events_only(&parsed), vec![&before.1, &after.1], "{:?}", stream);
    }

    /// The property behind the second bug below: chunking does not matter, whatever the lines.
    #[test]

    fn sse_chunking_never_matters(stream in sse_stream(), cuts in cuts(), limit in 0usize..64) {
        let whole = feed(limit, &stream, &Some(Vec::new()));
        let split = feed(limit, &stream, &cuts);
        prop_assert_eq!(events_only(&split), events_only(&whole), "{:?}", String::from_utf8_lossy(&stream));
    }

    /// The property behind the third bug below: a spec-conforming SSE client (CR, LF and CRLF
    /// all end a line) reads `message_event` output as the lines vmcp meant.
    #[test]

    fn sse_message_events_have_no_lone_cr(json in json_value()) {
        let event = message_event(&json);
        let bytes = event.as_bytes();
        let lone = bytes.iter().enumerate().any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        prop_assert!(!lone, "{:?}", event);
    }
}

/// BUG: the parser drops an overlong *partial line* from its buffer, but then reads the rest
/// of that line as a fresh line. When the cut falls just before the line's `\n`, that rest is
/// empty, which ends the event; the oversized event's later data lines then become an event of
/// their own, delivered as if whole. Bound 4, chunks `data: 12345` and `\ndata: x\n\n`: one
/// chunk gives `[TooLarge(5)]`, two give `[TooLarge(11), Event("x")]`. With JSON split over
/// `data:` lines (as `message_event` writes it), the tail of a too-large message is handed on.
/// A fix: after a buffer overflow, discard input up to the next `\n` before reading lines again.
#[test]

fn sse_overflow_mid_line_does_not_end_the_event() {
    let mut whole = Parser::new(4);
    assert_eq!(whole.push(b"data: 12345\ndata: x\n\n"), vec![Parsed::TooLarge(5)]);
    let mut split = Parser::new(4);
    let mut out = split.push(b"data: 12345");
    out.extend(split.push(b"\ndata: x\n\n"));
    assert!(events_only(&out).is_empty(), "a fragment of an oversized event: {out:?}");
}

/// BUG: an overlong line that is not data (a comment, `event:`, padding) is accepted when it
/// arrives in one chunk but, when it is buffered across chunks, marks the *next* event as
/// oversized and drops it, though that event is small. Bound 4: `: 123456\ndata: x\n\n` in one
/// chunk gives `[Event("x")]`; cut after `: 12345` it gives `[TooLarge(7)]` and "x" is lost.
#[test]

fn sse_overlong_comment_does_not_drop_the_next_event() {
    let mut whole = Parser::new(4);
    let expected = vec![Parsed::Event(Event { event: None, data: "x".into(), id: None })];
    assert_eq!(whole.push(b": 123456\ndata: x\n\n"), expected);
    let mut split = Parser::new(4);
    let mut out = split.push(b": 12345");
    out.extend(split.push(b"6\ndata: x\n\n"));
    assert_eq!(events_only(&out), events_only(&expected), "{out:?}");
}

/// BUG: JSON allows a lone CR as whitespace, and vmcp forwards bodies byte for byte, but the
/// SSE specification makes CR alone a line end: `message_event("{\"a\":\r1}")` is read by a
/// conforming client as `data: {"a":` then a line `1}` (an unknown field), i.e. broken JSON.
/// A fix: split on `\r` as well as `\n` when writing `data:` lines (JSON whitespace only).
#[test]

fn sse_message_event_splits_lone_cr() {
    let event = message_event("{\"a\":\r1}");
    assert!(!event.contains("\r1"), "{event:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Composite cursors
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(500))]

    /// Any map of server ids to cursors survives encode → decode, as URL-safe text.
    #[test]
    fn cursor_round_trips(map in prop::collection::btree_map(any::<String>(), any::<String>(), 0..6)) {
        let mut composite = Composite::new();
        for (server, cursor) in &map {
            composite.insert(server, cursor.clone());
        }
        prop_assert_eq!(composite.is_empty(), map.is_empty());
        let text = composite.encode();
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{}", text);
        let decoded = Composite::decode(&text).map_err(TestCaseError::fail)?;
        let pairs: BTreeMap<String, String> = decoded.servers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(pairs, map);
        prop_assert_eq!(decoded, composite);
    }

    /// Any string a client sends as a cursor: no panic; what decodes re-encodes to itself.
    #[test]
    fn cursor_decoding_never_panics(
        text in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9_=+/-]{0,40}",
            // Valid base64 of JSON-ish bytes, so decoding gets past base64.
            prop_oneof![
                json_value(),
                (0u16..300, json_value()).prop_map(|(v, s)| format!("{{\"v\":{v},\"s\":{s}}}")),
                prop::collection::btree_map("[a-z]{0,3}", json_value(), 0..3).prop_map(|m| {
                    let inner: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{\"v\":1,\"s\":{{{}}}}}", inner.join(","))
                }),
            ]
            .prop_map(|json| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
            }),
        ]
    ) {
        match Composite::decode(&text) {
            Ok(composite) => prop_assert_eq!(Composite::decode(&composite.encode()), Ok(composite)),
            Err(message) => prop_assert!(message.starts_with("invalid cursor"), "{}", message),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Backend id remapping
// ---------------------------------------------------------------------------------------------

/// Something the fake backend sends before one of its answers.
#[derive(Debug, Clone)]
enum Noise {
    /// A notification (reaches the handler).
    Notification(String),
    /// A server→client request (reaches the handler).
    ServerRequest(String),
    /// A response to an id the gateway never used.
    UnknownId(u64),
    /// A response with a string id that reads like one the gateway used.
    StringId,
    /// A second, different answer to a request already answered.
    Late,
    /// Bytes that are not JSON-RPC.
    Garbage(Vec<u8>),
    /// A line over the size limit: fails the one request in flight, if exactly one is.
    TooLong(usize),
}

fn noise() -> impl Strategy<Value = Noise> {
    prop_oneof![
        json_params().prop_map(Noise::Notification),
        json_params().prop_map(Noise::ServerRequest),
        (1_000_000u64..u64::MAX / 2).prop_map(Noise::UnknownId),
        Just(Noise::StringId),
        Just(Noise::Late),
        prop::collection::vec(any::<u8>(), 0..32).prop_map(Noise::Garbage),
        (1usize..1 << 30).prop_map(Noise::TooLong),
    ]
}

/// One caller: whether the backend answers it with an error, a method suffix, its params.
type CallSpec = (bool, String, Option<String>);

fn backend_case() -> impl Strategy<Value = (Vec<CallSpec>, Vec<usize>, Vec<Option<Noise>>)> {
    prop::collection::vec((any::<bool>(), any::<String>(), prop::option::of(json_params())), 1..24).prop_flat_map(
        |calls| {
            let n = calls.len();
            let order = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
            let noise = prop::collection::vec(prop::option::weighted(0.3, noise()), n);
            (Just(calls), order, noise)
        },
    )
}

fn raw(text: String) -> Box<RawValue> {
    RawValue::from_string(text).expect("valid JSON")
}

/// The method a caller uses: which answer it wants, its index, and arbitrary text.
fn caller_method(i: usize, (fail, tail, _): &CallSpec) -> String {
    format!("{}/{i}/{tail}", if *fail { "err" } else { "ok" })
}

/// The fake backend's answer to a request: the params echoed as a result, or as an error's data.
fn answer(request: &vmcp::protocol::Request) -> Message {
    let echo = request.params.clone();
    let outcome = if request.method.starts_with("err/") {
        let index: i64 = request.method.split('/').nth(1).and_then(|i| i.parse().ok()).unwrap_or(-1);
        Err(vmcp::protocol::ErrorObject { code: -32000 - index, message: request.method.clone(), data: echo })
    } else {
        Ok(echo.unwrap_or_else(|| raw("null".into())))
    };
    Message::Response(Response { id: request.id.clone(), outcome })
}

/// Runs one case: callers, a `BackendConn`, and a fake backend answering in `order` with
/// `noise`; checks what every caller got.
fn run_backend_case(calls: Vec<CallSpec>, order: Vec<usize>, noise: Vec<Option<Noise>>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let n = calls.len();
        let (to_backend, mut from_gateway) = mpsc::channel::<String>(n + 8);
        let (to_gateway, incoming) = mpsc::channel::<Line>(4);
        let handled = Arc::new(AtomicUsize::new(0));
        let handler: Handler = {
            let handled = handled.clone();
            Arc::new(move |_: &Arc<BackendConn>, msg: Message| {
                if matches!(msg, Message::Notification(_) | Message::Request(_)) {
                    handled.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let conn = BackendConn::new(Arc::from("fake"), Duration::from_secs(30), Metrics::new(), handler);
        conn.attach(Outgoing::Queue(to_backend));
        // The link: what the fake backend writes reaches the connection's inbox.
        let inbox = conn.inbox();
        let reader = tokio::spawn(async move {
            let mut incoming = incoming;
            while let Some(line) = incoming.recv().await {
                inbox.receive(line);
            }
            inbox.closed();
        });

        // The fake backend: reads every request, then answers in `order`, noise first.
        let backend = tokio::spawn(async move {
            let mut requests = Vec::with_capacity(n);
            while requests.len() < n {
                let Some(text) = from_gateway.recv().await else { break };
                match parse_message(text.as_bytes()) {
                    Ok(Message::Request(r)) => requests.push(r),
                    other => panic!("the gateway sent {other:?}"),
                }
            }
            assert_eq!(requests.len(), n, "requests sent");
            let mut sent_to_handler = 0;
            let mut too_large = None;
            let mut answered: Vec<usize> = Vec::new();
            let send = |line: Line| {
                let to_gateway = to_gateway.clone();
                async move { to_gateway.send(line).await.expect("gateway reading") }
            };
            for (step, &k) in order.iter().enumerate() {
                let in_flight = n - step;
                match &noise[step] {
                    None => {}
                    Some(Noise::Notification(params)) => {
                        let msg = format!(r#"{{"jsonrpc":"2.0","method":"notifications/message","params":{params}}}"#);
                        send(Line::Data(msg.into_bytes())).await;
                        sent_to_handler += 1;
                    }
                    Some(Noise::ServerRequest(params)) => {
                        let msg =
                            format!(r#"{{"jsonrpc":"2.0","id":"s-{step}","method":"roots/list","params":{params}}}"#);
                        send(Line::Data(msg.into_bytes())).await;
                        sent_to_handler += 1;
                    }
                    Some(Noise::UnknownId(id)) => {
                        let msg = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"stray":true}}}}"#);
                        send(Line::Data(msg.into_bytes())).await;
                    }
                    Some(Noise::StringId) => {
                        let msg =
                            Message::Response(Response::ok(Id::String(id_json(&requests[k].id)), raw("1".into())));
                        send(Line::Data(msg.to_json().into_bytes())).await;
                    }
                    Some(Noise::Late) => {
                        if let Some(&done) = answered.last() {
                            let id = requests[done].id.clone();
                            let msg = Message::Response(Response::ok(id, raw("\"late\"".into())));
                            send(Line::Data(msg.to_json().into_bytes())).await;
                        }
                    }
                    Some(Noise::Garbage(bytes)) => send(Line::Data(bytes.clone())).await,
                    Some(Noise::TooLong(len)) => {
                        send(Line::TooLong(*len)).await;
                        if in_flight == 1 {
                            // That was the answer to the last request, as far as the gateway knows.
                            too_large = Some(k);
                            continue;
                        }
                    }
                }
                send(Line::Data(answer(&requests[k]).to_json().into_bytes())).await;
                answered.push(k);
            }
            (requests, too_large, sent_to_handler)
        });

        let callers = calls.iter().enumerate().map(|(i, spec)| {
            let conn = conn.clone();
            let method = caller_method(i, spec);
            let params = spec.2.clone().map(raw);
            async move { conn.call(&method, params, None, None).await }
        });
        let outcome = tokio::time::timeout(Duration::from_secs(20), futures_util::future::join_all(callers)).await;
        let results = outcome.map_err(|_| TestCaseError::fail("calls did not finish"))?;
        let (requests, too_large, sent_to_handler) = backend.await.map_err(|e| TestCaseError::fail(e.to_string()))?;

        // The gateway used distinct ids, whatever the callers sent.
        let mut ids: Vec<String> = requests.iter().map(|r| id_json(&r.id)).collect();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), n, "ids reused");

        // The index in a request's method names the request's caller; the request echoes the
        // caller's params byte for byte.
        let index_of = |r: &vmcp::protocol::Request| r.method.split('/').nth(1).and_then(|i| i.parse::<usize>().ok());
        for r in &requests {
            let i = index_of(r).ok_or_else(|| TestCaseError::fail(format!("method {:?}", r.method)))?;
            prop_assert_eq!(&r.method, &caller_method(i, &calls[i]));
            prop_assert_eq!(r.params.as_deref().map(RawValue::get), calls[i].2.as_deref());
        }
        let too_large = too_large.and_then(|k| index_of(&requests[k]));

        for (i, (result, (fail, _, params))) in results.iter().zip(&calls).enumerate() {
            let method = caller_method(i, &calls[i]);
            match result {
                Err(GatewayError::TooLarge { method: m, .. }) if too_large == Some(i) => {
                    prop_assert_eq!(m, &method);
                }
                _ if too_large == Some(i) => {
                    return Err(TestCaseError::fail(format!("call {i} should have failed as too large: {result:?}")));
                }
                Ok(value) => {
                    prop_assert!(!fail, "call {} got a result: {}", i, value.get());
                    prop_assert_eq!(value.get(), params.as_deref().unwrap_or("null"), "call {}", i);
                }
                Err(GatewayError::Remote(error)) => {
                    prop_assert!(*fail, "call {} got an error: {:?}", i, error);
                    prop_assert_eq!(error.code, -32000 - i as i64);
                    prop_assert_eq!(&error.message, &method);
                    prop_assert_eq!(error.data.as_deref().map(RawValue::get), params.as_deref());
                }
                Err(other) => return Err(TestCaseError::fail(format!("call {i}: {other}"))),
            }
        }
        // The backend's channel is closed now: the reader ends, and so does the connection.
        tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .map_err(|_| TestCaseError::fail("the reader did not end"))?
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(conn.is_closed());
        prop_assert_eq!(handled.load(Ordering::SeqCst), sent_to_handler, "messages handed to the handler");
        Ok(())
    })
}

proptest! {
    #![proptest_config(config(128))]

    /// Concurrent calls, answered in any order amid noise: each caller gets its own answer.
    #[test]
    fn backend_each_caller_gets_its_own_answer((calls, order, noise) in backend_case()) {
        run_backend_case(calls, order, noise)?;
    }
}
