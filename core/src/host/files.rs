//! Creating files for writing, readable and writable by their owner only (mode 0600 on Unix)
//! when they hold a secret such as a key.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// What to do when the file already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with [`io::ErrorKind::AlreadyExists`] (never overwrite a key).
    Refuse,
    /// Truncate and rewrite it.
    Replace,
}

/// Opens `path` for writing. A file created here gets mode 0600 on Unix when `private` (an
/// existing file keeps its mode).
pub fn create(path: &Path, existing: Existing, private: bool) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    match existing {
        Existing::Refuse => opts.create_new(true),
        Existing::Replace => opts.create(true).truncate(true),
    };
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("flashmesh-core-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn refuse_keeps_an_existing_file_and_replace_truncates() {
        let p = temp_path("k");
        create(&p, Existing::Refuse, true)
            .unwrap()
            .write_all(b"first")
            .unwrap();
        let e = create(&p, Existing::Refuse, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        create(&p, Existing::Replace, true)
            .unwrap()
            .write_all(b"2")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(&p).unwrap();
    }
}
