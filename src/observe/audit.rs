//! The audit log: one JSON line per tool call, prompt get and resource read,
//! saying who did what, where, how it ended and how long it took.
//!
//! ```json
//! {"time":"2026-11-26T12:00:00.123Z","principal":"ci","session":7,"server":"git","method":"tools/call",
//!  "name":"git__status","outcome":"ok","duration_ms":3.2}
//! ```
//!
//! `outcome` is `ok`, `tool_error` (a result with `isError: true`), `denied`
//! (a policy or rule refused it), or `error` (with `code`). Arguments are
//! written only with `gateway.audit_arguments = true`: they may hold personal
//! data. Lines go through a bounded channel to a writer task, so a slow disk
//! never slows a request; when the channel is full the line is dropped and
//! counted (and said in the log), never blocked on.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

/// Lines waiting for the writer before new ones are dropped.
const QUEUE: usize = 4096;

pub struct Audit {
    tx: Option<mpsc::Sender<String>>,
    writer: Option<tokio::task::JoinHandle<()>>,
    arguments: bool,
    dropped: AtomicU64,
}

/// One audited request.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub principal: &'a str,
    pub session: u64,
    pub server: Option<&'a str>,
    pub method: &'a str,
    pub name: &'a str,
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub duration: Duration,
    pub arguments: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    principal: &'a str,
    session: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    method: &'a str,
    name: &'a str,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a RawValue>,
}

impl Audit {
    /// No audit log.
    pub fn disabled() -> Audit {
        Audit { tx: None, writer: None, arguments: false, dropped: AtomicU64::new(0) }
    }

    /// Writes to `target`: a file (appended to, created with mode 0600) or "-"
    /// for stderr. Must run inside a tokio runtime (the writer is a task).
    pub fn open(target: &str, arguments: bool) -> std::io::Result<Audit> {
        let mut out: Box<dyn Write + Send> = if target == "-" {
            Box::new(std::io::stderr())
        } else {
            let path = Path::new(target);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
            Box::new(std::io::BufWriter::new(file))
        };
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        let target = target.to_owned();
        let writer = tokio::task::spawn_blocking(move || {
            while let Some(line) = rx.blocking_recv() {
                let mut ok = writeln!(out, "{line}").is_ok();
                // Whatever else is queued goes in the same flush.
                while let Ok(more) = rx.try_recv() {
                    ok &= writeln!(out, "{more}").is_ok();
                }
                ok &= out.flush().is_ok();
                if !ok {
                    tracing::error!(target = %target, "cannot write the audit log");
                }
            }
        });
        Ok(Audit { tx: Some(tx), writer: Some(writer), arguments, dropped: AtomicU64::new(0) })
    }

    /// Stops taking lines and waits until every queued one is written.
    pub async fn close(mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.await;
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Whether arguments are to be written (so callers can skip extracting them).
    pub fn wants_arguments(&self) -> bool {
        self.arguments
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn record(&self, e: &Entry<'_>) {
        let Some(tx) = &self.tx else { return };
        let line = Line {
            time: rfc3339_now(),
            principal: e.principal,
            session: e.session,
            server: e.server,
            method: e.method,
            name: e.name,
            outcome: e.outcome,
            code: e.code,
            duration_ms: (e.duration.as_micros() as f64) / 1000.0,
            arguments: if self.arguments { e.arguments } else { None },
        };
        let Ok(text) = serde_json::to_string(&line) else { return };
        if tx.try_send(text).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "the audit log writer is behind; lines dropped");
            }
        }
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339_now() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(since)
}

fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(Duration::from_millis(0)), "1970-01-01T00:00:00.000Z");
        // 2026-11-26T12:34:56.789Z
        assert_eq!(rfc3339(Duration::from_millis(1_795_696_496_789)), "2026-11-26T12:34:56.789Z");
        // A leap day.
        assert_eq!(rfc3339(Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn writes_one_json_line_per_entry_without_arguments_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit/audit.log");
        let args = RawValue::from_string(r#"{"secret":"x"}"#.into()).unwrap();
        let audit = Audit::open(path.to_str().unwrap(), false).unwrap();
        let e = Entry {
            principal: "ci",
            session: 3,
            server: Some("git"),
            method: "tools/call",
            name: "git__status",
            outcome: "ok",
            code: None,
            duration: Duration::from_micros(1500),
            arguments: Some(&args),
        };
        audit.record(&e);
        audit.record(&Entry { outcome: "error", code: Some(-32011), ..e });
        audit.close().await;
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["principal"], "ci");
        assert_eq!(lines[0]["duration_ms"], 1.5);
        assert!(lines[0].get("arguments").is_none(), "arguments only when configured");
        assert_eq!(lines[1]["code"], -32011);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
