//! The cluster: this gateway among the replicas that share one registry.
//!
//! It sits above the gateway and the registry and joins them: the runtime
//! mounts stored in the registry are applied to the gateway's supervisor
//! (`sync.rs`), at start, after each write this gateway makes, and, when the
//! registry is shared (PostgreSQL), whenever another replica writes: the
//! registry announces each revision, and a replica that lost its listening
//! connection reads everything again when it is back. It also keeps this
//! replica in the members list (`replica.rs`, heartbeats).
//!
//! With the default SQLite registry the same code runs, minus the listening
//! and the heartbeats: a cluster of one.
//!
//! - [`Cluster`] (`node.rs`): the composition, and its background tasks.
//! - [`Replica`] (`replica.rs`): who this gateway is among the members.
//! - `sync.rs`: a snapshot of the mounts applied to the supervisor.

mod node;
mod replica;
mod sync;

pub use node::{Cluster, HEARTBEAT_INTERVAL};
pub use replica::Replica;
