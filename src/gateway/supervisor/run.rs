//! A replica's life: start, initialize, fetch its lists, serve under health
//! checks, and when it fails, restart with exponential backoff (0.5 s doubling
//! to 30 s, reset after 30 s of health) until the supervisor stops it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::replica::{Replica, Status};
use super::server::{Server, fetch_lists};
use super::start::{Started, Where, start};
use crate::gateway::backend::{BackendConn, handshake};
use crate::gateway::error::GatewayError;
use crate::gateway::settings::Health;
use crate::protocol::{jsonrpc, method};

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the backoff: the replica was healthy, the crash is news.
const STABLE_AFTER: Duration = Duration::from_secs(30);

enum RunEnd {
    Stopped,
    Failed(String),
}

/// Runs one replica of `server` until `stop` is cancelled.
pub async fn supervise(cx: Arc<Context>, server: Arc<Server>, replica: Arc<Replica>, stop: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let started_at = Instant::now();
        let outcome = run_once(&cx, &server, &replica, &stop).await;
        server.replica_settled(replica.index);
        match outcome {
            RunEnd::Stopped => break,
            RunEnd::Failed(error) => {
                replica.set_down(&server.id, error);
                server.publish();
                cx.tell(|e| e.lists_changed());
            }
        }
        if started_at.elapsed() >= STABLE_AFTER {
            backoff = BACKOFF_MIN;
        }
        tracing::info!(server = %server.id, replica = %replica.label(), "restarting in {} ms", backoff.as_millis());
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        replica.with(|s| {
            s.restarts += 1;
            s.status = Status::Starting;
        });
        cx.metrics.restart(&server.id);
        server.publish();
    }
    replica.with(|s| {
        s.status = Status::Stopped;
        s.conn = None;
        s.pid = None;
    });
    server.publish();
}

/// One life of the replica's connection: from connecting (or spawning) until
/// it ends by itself or the supervisor stops it.
async fn run_once(cx: &Context, server: &Arc<Server>, replica: &Arc<Replica>, stop: &CancellationToken) -> RunEnd {
    let settings = &cx.settings;
    let cfg = &server.config;
    // The pid shows in `vmcp info` from the start, so a process stuck in
    // start-up can be found.
    let at = (&replica.target, replica.index, replica.label(), |pid| replica.with(|s| s.pid = pid));
    let here = Where { id: &server.id, config: cfg };
    let started = start(cx, here, at, stop, |conn| async move {
        let info = handshake(&conn).await?;
        let lists = fetch_lists(&conn, &info).await?;
        Ok((info, lists))
    })
    .await;
    let Started { conn, mut lifetime, ready: (info, lists) } = match started {
        Ok(s) => s,
        Err(None) => return RunEnd::Stopped,
        Err(Some(why)) => return RunEnd::Failed(why),
    };
    tracing::info!(
        server = %server.id,
        replica = %replica.label(),
        protocol = %info.revision,
        tools = lists.tools.len(),
        prompts = lists.prompts.len(),
        "ready"
    );
    server.set_lists(lists);
    replica.with(|s| {
        s.status = Status::Ready;
        s.conn = Some(conn.clone());
        s.last_error = None;
    });
    server.publish();
    if conn.is_stateless() {
        listen_for_changes(&conn);
    }
    cx.tell(|e| {
        e.lists_changed();
        e.resources_changed();
    });
    // Settled only now: a client's initialize waits for this, and its first list
    // must already show this server's tools.
    server.replica_settled(replica.index);

    let health = Health {
        interval: cfg.health_interval.unwrap_or(settings.health.interval),
        timeout: cfg.health_timeout.unwrap_or(settings.health.timeout),
        failures: cfg.health_failures.unwrap_or(settings.health.failures),
    };
    let end = tokio::select! {
        why = lifetime.ended() => RunEnd::Failed(why),
        _ = conn.closed() => RunEnd::Failed("closed its connection".into()),
        why = health_checks(&conn, health) => RunEnd::Failed(why),
        _ = stop.cancelled() => RunEnd::Stopped,
    };
    // Take the replica out of service before the link is gone, so no new request
    // is sent to it, then fail what was in flight.
    replica.with(|s| {
        s.conn = None;
        s.status = match end {
            RunEnd::Stopped => Status::Stopped,
            RunEnd::Failed(_) => Status::Down,
        };
    });
    conn.close();
    lifetime.stop(settings.shutdown_grace).await;
    if let RunEnd::Failed(_) = &end {
        cx.tell(|e| e.resources_changed());
    }
    end
}

/// Pings the replica on schedule; resolves (with the reason) once it has missed
/// `failures` pings in a row, or its requests have failed (timed out, lost
/// their connection) `failures` times in a row, either of which restarts it. A
/// 2026-07-28 server has no `ping`: it is asked `server/discover` instead.
async fn health_checks(conn: &BackendConn, health: Health) -> String {
    let probe = if conn.is_stateless() { method::SERVER_DISCOVER } else { method::PING };
    let mut missed = 0u32;
    loop {
        let tick = async {
            if health.interval.is_zero() {
                std::future::pending().await
            } else {
                tokio::time::sleep(health.interval).await
            }
        };
        tokio::select! {
            _ = tick => {}
            n = conn.failing() => {
                if n >= health.failures {
                    return format!("{n} requests in a row failed (timed out or lost the connection)");
                }
                continue;
            }
        }
        match conn.call_with(probe, None, None, None, Some(health.timeout)).await {
            Ok(_) => missed = 0,
            // A server that answers, even with an error, is alive.
            Err(GatewayError::Remote(_)) => missed = 0,
            Err(e) => {
                missed += 1;
                tracing::warn!(server = %conn.server, missed, "health check failed: {e}");
                if missed >= health.failures {
                    return format!("health check failed {missed} times in a row (last: {e})");
                }
            }
        }
    }
}

/// A 2026-07-28 server says what changed only on a listen stream.
fn listen_for_changes(conn: &Arc<BackendConn>) {
    let c = conn.clone();
    tokio::spawn(async move {
        let p = serde_json::json!({ "notifications": { "toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": true } });
        let r = c.call_with(method::SUBSCRIPTIONS_LISTEN, Some(jsonrpc::to_raw(&p)), None, None, None).await;
        if let Err(e) = r {
            tracing::debug!(server = %c.server, "subscriptions/listen ended: {e}");
        }
    });
}
