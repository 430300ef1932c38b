//! Key files: one line of 64 lowercase hex characters, the ed25519 secret seed.
//!
//! Used for account keys (wallet) and authority keys (anchor) alike. Files are created with
//! owner-only permissions and never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use flashmesh_core::host::files::{self, Existing};
use flashmesh_core::keys::{KeyError, Keypair};

/// Errors reading or writing a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not hold a valid key.
    #[error("key file {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: KeyError,
    },
}

/// Reads a key pair from `path`.
pub fn read_key(path: &Path) -> Result<Keypair, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Keypair::from_hex(text.trim()).map_err(|source| KeyFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `key` to a new file at `path` (mode 0600); fails if the file exists.
pub fn write_key(path: &Path, key: &Keypair) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = files::create(path, Existing::Refuse, true).map_err(io)?;
    writeln!(f, "{}", key.to_hex()).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/account.key");
        let key = Keypair::from_seed(&[7; 32]);
        write_key(&path, &key).unwrap();
        assert_eq!(read_key(&path).unwrap().public(), key.public());
        assert!(matches!(
            write_key(&path, &key),
            Err(KeyFileError::Io { .. })
        ));
        std::fs::write(&path, "zz").unwrap();
        assert!(matches!(read_key(&path), Err(KeyFileError::Invalid { .. })));
    }
}
