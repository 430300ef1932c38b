//! Errors of building and running the mesh.

/// Why the mesh could not be built or a phase could not run.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The layout is invalid.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The P4 program did not compile.
    #[error("p4src/flash_mesh.p4 does not compile: {0}")]
    Program(String),
    /// A switch could not be started or configured.
    #[error("switch {0}: {1}")]
    Switch(String, String),
    /// A node's main host transport was already taken.
    #[error("the host of node {0} already has a transport")]
    HostTaken(String),
    /// An anchor could not be started.
    #[error("anchor {0}: {1}")]
    Anchor(String, String),
    /// A controller could not be started or refused a policy.
    #[error("controller {0}: {1}")]
    Controller(String, String),
    /// Key, committee or genesis set-up failed.
    #[error("set-up: {0}")]
    Setup(String),
    /// A file or directory of the run failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
