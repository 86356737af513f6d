//! The client side of the stdio transport: an MCP server run as a child process.
//!
//! Framing and process hygiene only. Each line the child writes is handed to
//! the inbox on the task that read it. Every child is started in a process group of
//! its own, so that stopping it also stops whatever it spawned (`npx` → `node`,
//! `uvx` → `python`), and with a parent-death signal, so that even a `kill -9` of
//! the gateway leaves no orphan behind. Its stderr is read line by line into the
//! gateway's log, tagged with the server id.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::BufReader;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::ends::{Inbox, Link, Outgoing};
use super::lifetime::{Lifetime, StopSignal};
use crate::framing::lines::{self, Line, LineReader};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The server id, for log lines.
    pub server: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    /// The largest message accepted from the child.
    pub max_message_size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot start `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("`{command}` started without {what}")]
    MissingPipe { command: String, what: &'static str },
}

/// Spawns the child and the tasks that move bytes in and out of it: its stdin is
/// the link's outgoing side, its stdout the incoming one.
pub fn spawn(spec: &ChildSpec, inbox: Arc<dyn Inbox>) -> Result<Link, ChildError> {
    let mut cmd = Command::new(&spec.command);
    cmd.args(&spec.args)
        .envs(&spec.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    // SAFETY: the closure runs in the forked child before exec and calls only
    // prctl(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
    }
    let mut child = cmd.spawn().map_err(|source| ChildError::Spawn { command: spec.command.clone(), source })?;
    let missing = |what| ChildError::MissingPipe { command: spec.command.clone(), what };
    let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
    let stderr = child.stderr.take().ok_or_else(|| missing("stderr"))?;
    let pid = child.id().map(|p| Pid::from_raw(p as i32));

    let (out_tx, out_rx) = mpsc::channel::<String>(256);
    // Dropping stdin (when the link goes) closes the pipe: the polite way to ask
    // a stdio server to exit.
    tokio::spawn(lines::write_lines(stdin, out_rx));
    let limit = spec.max_message_size;
    tokio::spawn(async move {
        let mut reader = LineReader::new(BufReader::with_capacity(64 * 1024, stdout), limit);
        while let Ok(Some(line)) = reader.next().await {
            inbox.receive(line);
        }
        inbox.closed();
    });
    let server = spec.server.clone();
    tokio::spawn(async move {
        let mut reader = LineReader::new(BufReader::new(stderr), 64 * 1024);
        while let Ok(Some(line)) = reader.next().await {
            match line {
                Line::Data(d) => {
                    tracing::info!(target: "vmcp::backend::stderr", server = %server, "{}", String::from_utf8_lossy(&d))
                }
                Line::TooLong(n) => {
                    tracing::info!(target: "vmcp::backend::stderr", server = %server, "({n} bytes of stderr output in one line, not shown)")
                }
            }
        }
    });
    let process = ChildProcess { child, pgid: pid };
    let stop = StopSignal::new();
    let task = tokio::spawn(drive(process, stop.clone()));
    let lifetime = Lifetime::new(pid.map(|p| p.as_raw() as u32), stop, task);
    Ok(Link { outgoing: Outgoing::Queue(out_tx), lifetime })
}

/// The child's life: until it exits by itself (its group is then killed too,
/// so nothing it started outlives it), or until a stop is asked for.
async fn drive(mut process: ChildProcess, stop: StopSignal) -> String {
    tokio::select! {
        status = process.child.wait() => {
            process.kill_group();
            exit_reason(status)
        }
        grace = stop.requested() => {
            process.terminate(grace).await;
            "stopped".to_owned()
        }
    }
}

/// A readable account of how a process ended.
pub fn exit_reason(status: std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => s.to_string(),
        },
        Err(e) => format!("cannot wait for it: {e}"),
    }
}

/// The child process and its process group.
struct ChildProcess {
    child: Child,
    pgid: Option<Pid>,
}

impl ChildProcess {
    /// Kills what is left of the group (a leader that exited may leave children).
    fn kill_group(&self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }

    /// Stops the whole process group: SIGTERM, up to `grace` to exit, then SIGKILL
    /// for the group in every case (a leader that exited may leave children).
    async fn terminate(&mut self, grace: Duration) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGTERM);
        }
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            tracing::debug!(pid = ?self.pgid, "child did not exit within the grace period; killing its group");
        }
        self.kill_group();
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
