//! [`Lifetime`]: the task that drives a link, which ends by itself (a process
//! that exits, a stream that closes) or when asked to stop ([`StopSignal`]).
//! The supervisor holds it and never sees what is underneath, a child process
//! or a network connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How a link's driving task learns that it must end, and how long it has to
/// end politely (a child process gets that long between SIGTERM and SIGKILL).
#[derive(Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    grace_ms: Arc<AtomicU64>,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves once a stop is asked for, with the grace allowed.
    pub async fn requested(&self) -> Duration {
        self.token.cancelled().await;
        Duration::from_millis(self.grace_ms.load(Ordering::Relaxed))
    }

    /// The cancellation behind the signal, for the link's own sub-tasks.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// A link's driving task: the one thing that keeps it alive, and says why it ended.
pub struct Lifetime {
    pid: Option<u32>,
    stop: StopSignal,
    task: JoinHandle<String>,
    ended: Option<String>,
}

/// Time a driving task gets beyond the grace to finish stopping (a SIGKILL
/// and a wait), before it is aborted.
const STOP_MARGIN: Duration = Duration::from_secs(2);

impl Lifetime {
    /// `task` returns why the link ended; once `stop` is signalled it must
    /// return within the grace it is given. `pid`: the child process, if any
    /// (shown by `vmcp info`).
    pub fn new(pid: Option<u32>, stop: StopSignal, task: JoinHandle<String>) -> Self {
        Lifetime { pid, stop, task, ended: None }
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Resolves when the link ends by itself, saying why.
    pub async fn ended(&mut self) -> String {
        if let Some(why) = &self.ended {
            return why.clone();
        }
        let why = match (&mut self.task).await {
            Ok(why) => why,
            Err(e) => format!("transport task failed: {e}"),
        };
        self.ended = Some(why.clone());
        why
    }

    /// Ends the link: the process group is terminated, the network task stopped.
    pub async fn stop(&mut self, grace: Duration) {
        self.stop.grace_ms.store(grace.as_millis().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        self.stop.token.cancel();
        if self.ended.is_none() {
            match tokio::time::timeout(grace + STOP_MARGIN, &mut self.task).await {
                Ok(Ok(why)) => self.ended = Some(why),
                Ok(Err(e)) => self.ended = Some(format!("transport task failed: {e}")),
                Err(_) => self.task.abort(),
            }
        }
        self.ended.get_or_insert_with(|| "stopped".to_owned());
    }
}
