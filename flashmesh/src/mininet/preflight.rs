//! What the Mininet target needs before it starts anything, each missing piece refused by
//! name: root, Debian's python3 with the `mininet` module, the runner script, the switch,
//! anchor and flashmesh binaries, and for BMv2 `simple_switch_grpc` and `p4c-bm2-ss`.
//!
//! Binaries are looked up in `FLASHMESH_BIN_DIR` when set, then beside the running
//! executable (and one folder up, for test executables in `target/*/deps`), then on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use flashmesh_scenario::SwitchKind;

use super::MininetError;
use super::files::Binaries;

/// The interpreter Mininet's Debian package installs for.
pub const PYTHON: &str = "/usr/bin/python3";

/// What the checks found.
#[derive(Debug, Clone)]
pub struct Preflight {
    /// The interpreter.
    pub python: PathBuf,
    /// The runner script.
    pub runner: PathBuf,
    /// The binaries to start.
    pub binaries: Binaries,
    /// p4c's BMv2 back end (BMv2 runs only).
    pub p4c: Option<PathBuf>,
}

/// Whether this process runs as root (its `/proc/self` belongs to its effective user).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether `python` can import Mininet (the message says why not).
pub fn mininet_importable(python: &Path) -> Result<(), String> {
    if !python.is_file() {
        return Err(format!(
            "{} not found (Mininet runs under Debian's python3: apt-get install mininet)",
            python.display()
        ));
    }
    let out = Command::new(python)
        .args(["-c", "import mininet.net, mininet.node"])
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} cannot import mininet (apt-get install mininet): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Finds `name` as described in the module comment.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("FLASHMESH_BIN_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.to_path_buf());
        if let Some(up) = dir.parent() {
            dirs.push(up.to_path_buf());
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn need(name: &str, hint: &str) -> Result<PathBuf, MininetError> {
    find_binary(name).ok_or_else(|| MininetError::Unavailable(format!("{name} not found ({hint})")))
}

/// Runs every check for a run with `switch`.
pub fn preflight(switch: SwitchKind) -> Result<Preflight, MininetError> {
    if !is_root() {
        return Err(MininetError::Unavailable(
            "it needs root (network namespaces, veth pairs, raw sockets); run it with sudo".into(),
        ));
    }
    let python = PathBuf::from(PYTHON);
    mininet_importable(&python).map_err(MininetError::Unavailable)?;
    let runner = super::runner_script();
    if !runner.is_file() {
        return Err(MininetError::Unavailable(format!(
            "the runner {} is missing",
            runner.display()
        )));
    }
    let build = "cargo build --release -p flash-switch -p merchant-anchor -p flashmesh";
    let (switch_bin, p4c) = match switch {
        SwitchKind::Bmv2 => (
            need(
                "simple_switch_grpc",
                "--switch bmv2 needs BMv2's simple_switch_grpc on PATH",
            )?,
            Some(need(
                "p4c-bm2-ss",
                "--switch bmv2 needs p4c's p4c-bm2-ss on PATH to compile p4src/flash_mesh.p4",
            )?),
        ),
        _ => (need("flash-switch", build)?, None),
    };
    let binaries = Binaries {
        switch: switch_bin,
        anchor: need("merchant-anchor", build)?,
        flashmesh: std::env::current_exe()
            .ok()
            .filter(|p| p.file_name().is_some_and(|n| n == "flashmesh"))
            .map_or_else(|| need("flashmesh", build), Ok)?,
    };
    Ok(Preflight {
        python,
        runner,
        binaries,
        p4c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interpreter_is_named() {
        let e = mininet_importable(Path::new("/nonexistent/python3")).unwrap_err();
        assert!(e.contains("apt-get install mininet"), "{e}");
    }

    #[test]
    fn binaries_are_found_on_the_path_or_not_at_all() {
        assert!(find_binary("sh").is_some());
        assert!(find_binary("no-such-binary-flashmesh").is_none());
    }
}
