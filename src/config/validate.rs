//! The step from the merged layers to [`Config`]: every table checked, with
//! its defaults filled in.
//!
//! Reading has checked each file on its own; here the merged result is
//! checked as a whole, table by table (each table's module says how, in its
//! `impl Check`; `check.rs` holds what they share), and the configuration the
//! rest of vmcp receives is built.

use std::path::PathBuf;

use super::check::Check;
use super::error::ConfigError;
use super::layer::Layer;
use super::root::Config;

/// Validates `layer` and fills in defaults. Problems are appended to `errors`;
/// the returned `Config` is only meaningful when none were.
pub(crate) fn finish(
    layer: Layer,
    sources: Vec<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Config {
    let mut check = Check::new(env, &sources);
    let server_ids: Vec<String> = layer.servers.keys().cloned().collect();
    let gateway = check.gateway(layer.gateway, layer.auth.is_some());
    let servers = layer
        .servers
        .into_iter()
        .map(|(id, server)| {
            let server = check.server(&id, server, &gateway.separator);
            (id, server)
        })
        .collect();
    let ids: Vec<&str> = server_ids.iter().map(String::as_str).collect();
    let routes = layer.routes.into_iter().filter_map(|route| check.route(route, &ids)).collect();
    let auth = layer.auth.map(|auth| check.auth(auth));
    let policies = layer.policies.into_iter().filter_map(|policy| check.policy(policy)).collect();
    let registry = check.registry(layer.registry);
    let cluster = check.cluster(layer.cluster);
    errors.extend(check.errors);
    Config { gateway, servers, routes, auth, policies, registry, cluster, sources }
}
