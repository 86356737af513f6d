//! How errors read in logs and messages.

/// The error and its causes, on one line: `cannot connect: tcp connect error:
/// Connection refused`. Many libraries' top-level messages alone (reqwest's,
/// hyper's) say only that something failed, and the cause says what.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
