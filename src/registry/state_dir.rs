//! The state directory: created on first use, its owner's only.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use super::error::RegistryError;

/// Creates `dir` and any missing parents with mode 0700 (the state directory
/// holds the registry and the admin socket: its owner's only). An existing
/// directory is left as it is.
pub fn create_state_dir(dir: &Path) -> Result<(), RegistryError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| RegistryError::Open { path: dir.to_owned(), source: Box::new(e) })
}
