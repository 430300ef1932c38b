//! The Mininet target: a scenario run on this machine with every node a Mininet host behind
//! its own switch process (`flash-switch`, or BMv2 `simple_switch_grpc` with the same command
//! line), every merchant's `merchant-anchor` and every phone's `flashmesh load` a real process
//! in its host, talking over real veths through the P4 pipeline, the anchors driving their
//! switches over P4Runtime gRPC.
//!
//! * [`files`]: committees, keys, anchor and controller configurations, schedules, signed
//!   bundles and the run description, written before anything starts;
//! * [`describe`]: the run description the Python runner reads;
//! * [`preflight`]: root, Mininet, the binaries and (for BMv2) p4c, checked first;
//! * [`collect`]: the runner's results back into the outputs every target writes.
//!
//! The runner is `bmv2-testbed/mininet/run_scenario.py` under Debian's `/usr/bin/python3`
//! (where the `mininet` package installs its module); it starts, drives and stops everything
//! and cleans up after itself, on Ctrl-C and failure too.

pub mod collect;
pub mod describe;
pub mod files;
pub mod preflight;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flashmesh_mesh::experiment::ExperimentRun;
use flashmesh_scenario::{Scenario, SwitchKind};

pub use preflight::{Preflight, preflight};

/// How to run.
#[derive(Debug, Clone)]
pub struct MininetOptions {
    /// Which switch.
    pub switch: SwitchKind,
    /// Where the run's files go (configurations, logs, the runner's results).
    pub run_dir: PathBuf,
    /// The time scale the scenario was run at, for `kpis.json`.
    pub scale: f64,
}

/// Why the Mininet target could not run.
#[derive(Debug, thiserror::Error)]
pub enum MininetError {
    /// Something it needs is not there (not root, no Mininet, a binary or p4c missing).
    #[error("the mininet target cannot run here: {0}")]
    Unavailable(String),
    /// The scenario asks for what this target does not do.
    #[error("target mininet cannot run this scenario: {0}")]
    Unsupported(#[from] describe::UnsupportedEvent),
    /// The run's files could not be written.
    #[error(transparent)]
    Files(#[from] files::FilesError),
    /// p4c failed on the program.
    #[error("p4c-bm2-ss failed on {program}: {message}")]
    Compile {
        /// The program.
        program: PathBuf,
        /// Its output.
        message: String,
    },
    /// The runner failed.
    #[error("the mininet runner failed ({status}); its log is {log}")]
    Runner {
        /// Exit status.
        status: String,
        /// Where its output went.
        log: PathBuf,
    },
    /// Its results could not be read.
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
}

/// The runner script, beside this crate in the repository.
pub fn runner_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bmv2-testbed/mininet/run_scenario.py")
}

/// Compiles `p4src/flash_mesh.p4` for BMv2 into `out` (JSON and P4Info text).
fn compile_bmv2(p4c: &Path, out: &Path) -> Result<files::PipelineFiles, MininetError> {
    let program = out.join("flash_mesh.p4");
    let io = |source| files::FilesError::Io {
        path: program.clone(),
        source,
    };
    std::fs::create_dir_all(out).map_err(io)?;
    std::fs::write(&program, flashmesh_mesh::mesh::FLASH_MESH_P4).map_err(io)?;
    let json = out.join("flash_mesh.json");
    let p4info = out.join("flash_mesh.p4info.txtpb");
    let output = Command::new(p4c)
        .arg("--p4v")
        .arg("16")
        .arg("--p4runtime-files")
        .arg(&p4info)
        .arg("-o")
        .arg(&json)
        .arg(&program)
        .output()
        .map_err(|e| MininetError::Compile {
            program: program.clone(),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(MininetError::Compile {
            program,
            message: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(files::PipelineFiles::Bmv2 { p4info, json })
}

/// Runs `s` on Mininet. The caller has checked the target can run it
/// ([`flashmesh_scenario::Target::check`]); this checks the rest (events, root, Mininet,
/// binaries) before it starts anything. Blocking: it waits for the runner.
pub fn run(s: &Scenario, opts: &MininetOptions) -> Result<ExperimentRun, MininetError> {
    describe::check_events(s)?;
    let pre = preflight(opts.switch)?;
    let t0 = Instant::now();
    if opts.run_dir.exists() {
        let _ = std::fs::remove_dir_all(&opts.run_dir);
    }
    let pipeline = match (&opts.switch, &pre.p4c) {
        (SwitchKind::Bmv2, Some(p4c)) => compile_bmv2(p4c, &opts.run_dir.join("build"))?,
        _ => files::PipelineFiles::FlashSwitch,
    };
    let prepared = files::prepare(s, opts.switch, &pre.binaries, &pipeline, &opts.run_dir)?;
    let log = opts.run_dir.join("logs").join("runner.log");
    let log_file = std::fs::create_dir_all(opts.run_dir.join("logs"))
        .and_then(|()| std::fs::File::create(&log))
        .map_err(|source| files::FilesError::Io {
            path: log.clone(),
            source,
        })?;
    let err_file = log_file
        .try_clone()
        .map_err(|source| files::FilesError::Io {
            path: log.clone(),
            source,
        })?;
    tracing::info!(run = %opts.run_dir.display(), "starting the mininet runner");
    let status = Command::new(&pre.python)
        .arg(&pre.runner)
        .arg(&prepared.description_file)
        .stdout(log_file)
        .stderr(err_file)
        .status()
        .map_err(|e| MininetError::Runner {
            status: e.to_string(),
            log: log.clone(),
        })?;
    if !status.success() {
        return Err(MininetError::Runner {
            status: status.to_string(),
            log,
        });
    }
    let mut run = collect::run(s, &prepared, opts.switch, opts.scale)?;
    run.wall_s = t0.elapsed().as_secs_f64();
    Ok(run)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    /// A shipped scenario, loaded.
    pub(crate) fn shipped(name: &str) -> flashmesh_scenario::Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bmv2-testbed/scenarios")
            .join(format!("{name}.toml"));
        flashmesh_scenario::load_file(&path).unwrap()
    }
}
