//! The keys each table of the configuration accepts (what "unknown key" checks
//! against), for tools and tests that generate or check configurations. Each
//! list comes from its table's declaration, so it cannot drift from the reader.

pub use super::auth::{API_KEY_KEYS, AUTH_KEYS, JWT_KEYS, POLICY_KEYS};
pub use super::cluster::{CLUSTER_KEYS, REGISTRY_KEYS};
pub use super::document::TOP_KEYS;
pub use super::gateway::GATEWAY_KEYS;
pub use super::route::ROUTE_KEYS;
pub use super::server::{BREAKER_KEYS, SERVER_KEYS};
