//! One gateway per state directory: an exclusive `flock` on
//! `<state_dir>/vmcp.lock`, held for the life of the process.
//!
//! `flock` locks belong to the open file, so the kernel drops the lock when
//! the process dies in any way, `kill -9` included: a stale lock file never
//! keeps the next start out. The file itself is left in place.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::RegistryError;
use super::state_dir::create_state_dir;

/// The lock file's name inside the state directory.
pub const LOCK_FILE_NAME: &str = "vmcp.lock";

/// Proof that this process is the only vmcp on its state directory; the lock
/// is released when this is dropped (or the process ends).
#[derive(Debug)]
pub struct InstanceLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes the lock on `<state_dir>/vmcp.lock` without waiting, creating
    /// `state_dir` (mode 0700) and the file (mode 0600) as needed.
    /// [`RegistryError::Running`] if another holder has it.
    pub fn acquire(state_dir: &Path) -> Result<InstanceLock, RegistryError> {
        create_state_dir(state_dir)?;
        let path = state_dir.join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| RegistryError::Open { path: path.clone(), source: Box::new(e) })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(InstanceLock { _lock: lock, path }),
            Err((_, Errno::EWOULDBLOCK)) => Err(RegistryError::Running { path }),
            Err((_, errno)) => Err(RegistryError::Open { path, source: Box::new(std::io::Error::from(errno)) }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_second_instance_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = InstanceLock::acquire(&state).unwrap();
        assert_eq!(first.path(), state.join("vmcp.lock"));
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{mode:o}");

        let e = InstanceLock::acquire(&state).unwrap_err();
        assert!(matches!(&e, RegistryError::Running { path } if *path == state.join("vmcp.lock")), "{e:?}");
        assert!(e.to_string().contains("another vmcp is already running"), "{e}");
        assert!(e.to_string().contains(&state.join("vmcp.lock").display().to_string()), "{e}");

        drop(first);
        let again = InstanceLock::acquire(&state).unwrap();
        assert!(again.path().exists());
    }

    #[test]
    fn another_state_dir_is_independent() {
        let dir = tempfile::tempdir().unwrap();
        let _a = InstanceLock::acquire(&dir.path().join("a")).unwrap();
        let _b = InstanceLock::acquire(&dir.path().join("b")).unwrap();
    }
}
