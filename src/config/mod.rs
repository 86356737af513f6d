//! The configuration: what vmcp reads from its TOML files, and nothing else.
//!
//! This module owns the file format users write (`[gateway]`, `[servers.<id>]`,
//! `[[route]]`, `[auth]` and `[[policy]]`), the defaults, `${VAR}`
//! substitution, merging of repeated `--config` files, validation with errors
//! that name file, line and column, the default search path, and the starter
//! file `vmcp config init` writes. It hands the rest of vmcp a plain, validated
//! [`Config`] and does no I/O beyond reading the files it is given.
//!
//! - [`load`] / [`load_with_env`] / [`parse_str`]: entry points (`load.rs`).
//! - [`parse_server_snippet`]: one `[servers.<id>]` table on its own, for
//!   runtime mounts (`snippet.rs`).
//! - The tables, each declared once with `config_table!` (`table.rs`): key,
//!   field, kind, default, own check, starter line. `gateway.rs`,
//!   `server.rs` (and the breaker), `auth.rs` (and `[auth.jwt]`,
//!   `[[policy]]`), `route.rs`; each also says what combines its keys.
//! - `kinds`: how each kind of value is read and merged; `document`: one
//!   file's TOML into a positioned layer; `layer`: merging.
//! - `validate`: the checks on the merged result that tables share. `env`:
//!   `${VAR}`; `units`: durations, sizes, rates and percentages.
//! - [`STARTER`]: the commented starter file; [`import_mcp_json`]: desktop
//!   clients' JSON into a configuration (`import/`).

mod auth;
mod document;
mod env;
mod error;
mod gateway;
mod import;
pub mod keys;
mod kinds;
mod layer;
mod load;
mod root;
mod route;
mod server;
mod snippet;
mod starter;
mod suggest;
mod table;
mod units;
mod validate;
mod values;

#[cfg(test)]
mod tests;

pub use auth::{AuthConfig, JwtConfig, Policy};
pub use document::is_valid_server_id;
pub use error::{ConfigError, ConfigErrors};
pub use gateway::GatewayConfig;
pub use import::{Imported, import_mcp_json};
pub use load::{default_path, load, load_with_env, parse_str};
pub use root::Config;
pub use server::{BreakerConfig, ServerConfig};
pub use snippet::parse_server_snippet;
pub use starter::STARTER;
pub use units::{parse_duration, parse_percent, parse_rate, parse_size};
pub use validate::is_loopback_listen;
pub use values::*;
