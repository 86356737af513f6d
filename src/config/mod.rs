//! The configuration: what vmcp reads from its TOML files, and nothing else.
//!
//! This module owns the file format users write (`[gateway]`, `[servers.<id>]`,
//! `[[route]]`, `[auth]`, `[[policy]]`, `[registry]` and `[cluster]`), the defaults, `${VAR}`
//! substitution, merging of repeated `--config` files, validation with errors
//! that name file, line and column, the default search path, and the starter
//! file `vmcp config init` writes. It hands the rest of vmcp a plain, validated
//! [`Config`] and does no I/O beyond reading the files it is given.
//!
//! - [`load()`] / [`load_with_env`] / [`parse_str`]: entry points (`load.rs`).
//! - [`parse_server_snippet`]: one `[servers.<id>]` table on its own, for
//!   runtime mounts (`snippet.rs`).
//! - The tables, each declared once with `config_table!` (`table.rs`): key,
//!   field, kind, default, own check, starter line. `gateway.rs`,
//!   `server.rs` (and the breaker), `auth.rs` (and `[auth.jwt]`,
//!   `api_keys`, `[[policy]]`), `route.rs`, `cluster.rs` (`[registry]`,
//!   `[cluster]`); each also says what combines its keys.
//!
//! The modules depend on each other one way, lowest first:
//!
//! 1. `error` (positions, errors), `values`, `units`, `env` (`${VAR}`),
//!    `suggest` ("did you mean"): what everything else uses.
//! 2. `at`: a value and where it was written.
//! 3. `check`: the errors of validation, and the checks tables share;
//!    `reader`: a document's values, read with their positions.
//! 4. `kinds`: how each kind of value is read and merged; `table`: the
//!    `config_table!` macro.
//! 5. The tables: `gateway`, `server`, `auth`, `route`, `cluster`; then `root`
//!    ([`Config`]).
//! 6. `layer`: every table's layer and their merge; `document`: one file
//!    into a layer; `validate`: the merged layer into a [`Config`].
//! 7. `load` and `snippet`, the entry points; `starter` ([`STARTER`]: the
//!    commented starter file), `keys` (the key lists), `import`
//!    ([`import_mcp_json`]: desktop clients' JSON into a configuration).
//!
//! This file only declares the modules and re-exports what the rest of vmcp
//! uses: a module imports from the module that defines an item, never from
//! these re-exports.

mod at;
mod auth;
mod check;
mod cluster;
mod document;
mod env;
mod error;
mod gateway;
mod import;
pub mod keys;
mod kinds;
mod layer;
mod load;
mod reader;
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
pub use check::is_loopback_listen;
pub use cluster::{ClusterConfig, RegistryConfig, SessionKey, redact_url};
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
pub use values::*;
