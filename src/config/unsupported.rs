//! What the configuration contract allows but this version cannot honour yet.
//!
//! These parts are parsed and validated like everything else, so a file
//! written for a later version gets its real mistakes reported, and then
//! refused here rather than half-served: running without the authentication
//! or policy a user asked for would be worse than not starting. When a feature lands, delete its lines from
//! [`unsupported_yet`] (and the "not supported yet" note in `STARTER`).

use super::error::ConfigError;
use super::layer::Layer;

/// ====================== NOT SUPPORTED YET ======================
/// One error per use of a feature this version does not implement.
pub(crate) fn unsupported_yet(layer: &Layer) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if let Some(pos) = &layer.auth {
        errors.push(ConfigError::at(
            pos,
            "[auth] is not supported by this version yet; refusing to start rather than serve \
             without the authentication you asked for",
        ));
    }
    if let Some(pos) = &layer.policy {
        errors.push(ConfigError::at(
            pos,
            "[[policy]] is not supported by this version yet; refusing to start rather than serve \
             without the access policy you asked for",
        ));
    }
    errors
}
