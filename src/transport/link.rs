//! [`Link`]: a live connection to one backend server, whatever carries it.
//!
//! Every client-side transport (a child process, streamable HTTP, legacy SSE,
//! WebSocket) comes down to the same three things: a channel of messages to send,
//! a channel of messages received, and something that ends — a process that
//! exits, a stream that closes. The gateway's backend connection and supervisor
//! are written against this and never see which transport is underneath.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::child::ChildProcess;
use super::lines::Line;

pub struct Link {
    /// Serialized JSON-RPC messages to send.
    pub outgoing: mpsc::Sender<String>,
    /// Messages received (or a report of one over the size limit).
    pub incoming: mpsc::Receiver<Line>,
    pub lifetime: Lifetime,
}

/// What keeps a link alive, and how it ends.
pub enum Lifetime {
    Process(ChildProcess),
    Remote(Remote),
}

/// A network transport's driving task.
pub struct Remote {
    stop: CancellationToken,
    task: JoinHandle<String>,
    ended: Option<String>,
}

impl Remote {
    /// `task` returns why the link ended; it must return soon after `stop` is cancelled.
    pub fn new(stop: CancellationToken, task: JoinHandle<String>) -> Self {
        Remote { stop, task, ended: None }
    }
}

impl Lifetime {
    pub fn pid(&self) -> Option<u32> {
        match self {
            Lifetime::Process(p) => p.pid(),
            Lifetime::Remote(_) => None,
        }
    }

    /// Resolves when the link ends by itself, saying why.
    pub async fn ended(&mut self) -> String {
        match self {
            Lifetime::Process(p) => super::child::exit_reason(p.wait().await),
            Lifetime::Remote(r) => {
                if let Some(why) = &r.ended {
                    return why.clone();
                }
                let why = match (&mut r.task).await {
                    Ok(why) => why,
                    Err(e) => format!("transport task failed: {e}"),
                };
                r.ended = Some(why.clone());
                why
            }
        }
    }

    /// Ends the link: the process group is terminated, the network task stopped.
    pub async fn stop(&mut self, grace: Duration) {
        match self {
            Lifetime::Process(p) => p.terminate(grace).await,
            Lifetime::Remote(r) => {
                r.stop.cancel();
                if r.ended.is_none() && tokio::time::timeout(grace, &mut r.task).await.is_err() {
                    r.task.abort();
                }
                r.ended.get_or_insert_with(|| "stopped".to_owned());
            }
        }
    }
}
