//! Server-Sent Events framing, as streamable HTTP uses it.

/// One `message` event carrying a JSON-RPC message. JSON can contain raw newlines
/// only inside whitespace; each line becomes its own `data:` field so the event
/// survives any JSON a backend sent.
pub fn message_event(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 24);
    out.push_str("event: message\n");
    for line in json.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
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
