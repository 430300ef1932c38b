//! The anchor's P4Runtime controller: loading its configuration, sharing its epoch with the
//! authority, the penalty path, and its health.
//!
//! The controller owns the epoch: its ticker (and `POST /epoch`) moves it, every switch's
//! `epoch_window` gets it, and a follower task copies each new value into the authority's
//! window, so the authority and the switches always check messages against the same epoch.
//! The follower also keeps the last epoch in the data directory ([`EPOCH_FILE`]), so that a
//! restarted anchor never goes back to an earlier epoch (which would reopen the window to
//! replays the switches and the authority had already left behind).
//!
//! The penalty path: when the authority refuses a conflicting order (a second, different order
//! for a nonce it already voted on, signed by the account holder: a double-spend attempt), the
//! server reports the account's tag to a [`PenaltySink`]; a task hands it to
//! [`Controller::penalize`], which blocks that sender in-line in every switch for the policy's
//! penalty time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use flashmesh_controller::p4rt::Mastership;
use flashmesh_controller::policy::AuditLog;
use flashmesh_controller::{Controller, ControllerConfig, ControllerSpec};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::{ControllerSource, resolve_controller_paths};
use crate::metrics::{Metrics, inc};

/// File name of the policy audit log in the data directory, unless the configuration names one.
pub const AUDIT_LOG_FILE: &str = "policy-audit.jsonl";

/// File in the data directory holding the last epoch (decimal).
pub const EPOCH_FILE: &str = "epoch";

/// The epoch saved in `data_dir`, if there is a readable one.
pub fn load_epoch(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join(EPOCH_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Saves `epoch` in `data_dir` atomically (write a temporary file, then rename it).
pub async fn save_epoch(data_dir: &Path, epoch: u32) -> std::io::Result<()> {
    let tmp = data_dir.join(format!("{EPOCH_FILE}.tmp"));
    tokio::fs::write(&tmp, format!("{epoch}\n")).await?;
    tokio::fs::rename(&tmp, data_dir.join(EPOCH_FILE)).await
}

/// Penalty requests that may wait for the controller; more are dropped (and counted).
pub const PENALTY_QUEUE: usize = 1024;

/// Why the controller configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ControlConfigError {
    /// The controller file could not be read.
    #[error("cannot read controller config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid (schema, topology, pipeline files, operator keys).
    #[error("{0}")]
    Invalid(#[from] flashmesh_controller::runtime::config::ConfigError),
    /// The inline table does not fit the controller schema.
    #[error("controller config: {0}")]
    Schema(#[from] toml::de::Error),
}

/// Builds the controller's spec from the anchor's `controller` entry. The audit log goes to
/// `data_dir` unless the configuration names a file; the first epoch is `epoch` (at least 1).
pub fn load_spec(
    source: &ControllerSource,
    data_dir: &Path,
    epoch: u32,
) -> Result<ControllerSpec, ControlConfigError> {
    let config = match source {
        ControllerSource::File(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| ControlConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
            let mut table: toml::Table = toml::from_str(&text)?;
            resolve_controller_paths(&mut table, path.parent().unwrap_or(Path::new(".")));
            from_table(table)?
        }
        ControllerSource::Inline(table) => from_table(table.clone())?,
    };
    spec_from_config(config, data_dir, epoch)
}

/// A controller configuration from an already parsed table.
fn from_table(table: toml::Table) -> Result<ControllerConfig, toml::de::Error> {
    toml::Value::Table(table).try_into()
}

/// Turns a parsed controller configuration into a spec for this anchor.
pub fn spec_from_config(
    mut config: ControllerConfig,
    data_dir: &Path,
    epoch: u32,
) -> Result<ControllerSpec, ControlConfigError> {
    if config.operators.audit_log.is_none() {
        config.operators.audit_log = Some(data_dir.join(AUDIT_LOG_FILE));
    }
    let mut spec = config.into_spec()?;
    spec.initial_epoch = epoch.max(1);
    Ok(spec)
}

/// Where conflicting orders are reported: the server pushes the offending account's tag, a
/// task started by [`start_penalties`] asks the controller to block it.
#[derive(Clone)]
pub struct PenaltySink {
    tx: mpsc::Sender<[u8; 8]>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for PenaltySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PenaltySink").finish_non_exhaustive()
    }
}

impl PenaltySink {
    /// Reports a sender whose conflicting order was refused. Never blocks: when the queue is
    /// full the request is dropped and counted.
    pub fn report(&self, sender: [u8; 8]) {
        inc(&self.metrics.penalties_requested);
        if self.tx.try_send(sender).is_err() {
            inc(&self.metrics.penalties_dropped);
        }
    }
}

/// Starts the task that turns reported senders into [`Controller::penalize`] calls (the
/// policy's penalty time). Returns the sink for the server and the task.
pub fn start_penalties(
    controller: Arc<Controller>,
    metrics: Arc<Metrics>,
) -> (PenaltySink, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<[u8; 8]>(PENALTY_QUEUE);
    let sink = PenaltySink {
        tx,
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(async move {
        while let Some(sender) = rx.recv().await {
            match controller.penalize(sender, None).await {
                Ok(()) => {
                    inc(&metrics.penalties_applied);
                    tracing::info!(
                        sender = hex::encode(sender),
                        "sender blocked in the switches"
                    );
                }
                Err(e) => {
                    inc(&metrics.penalty_failures);
                    tracing::warn!(sender = hex::encode(sender), "blocking sender failed: {e}");
                }
            }
        }
    });
    (sink, task)
}

/// Copies every epoch the controller moves to into the authority's window `epoch` (now, and
/// then on every change) until the controller stops, saving each in `data_dir`.
pub fn follow_epoch(
    controller: &Controller,
    epoch: Arc<AtomicU32>,
    data_dir: PathBuf,
) -> tokio::task::JoinHandle<()> {
    let mut rx = controller.watch_epoch();
    let first = *rx.borrow_and_update();
    epoch.store(first, Ordering::SeqCst);
    tokio::spawn(async move {
        let mut current = first;
        loop {
            if let Err(e) = save_epoch(&data_dir, current).await {
                tracing::warn!(dir = %data_dir.display(), "saving the epoch failed: {e}");
            }
            if rx.changed().await.is_err() {
                return;
            }
            current = *rx.borrow_and_update();
            epoch.store(current, Ordering::SeqCst);
            tracing::debug!(epoch = current, "authority epoch follows the controller");
        }
    })
}

/// One switch as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchHealth {
    /// Topology node of the switch.
    pub node: String,
    /// Its P4Runtime address.
    pub addr: String,
    /// True once the switch answered arbitration.
    pub connected: bool,
    /// True when this anchor is the switch's primary controller (its writes are accepted).
    pub primary: bool,
}

/// The controller's part of `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerHealth {
    /// The controller's name.
    pub name: String,
    /// The epoch in force.
    pub epoch: u32,
    /// Every driven switch.
    pub switches: Vec<SwitchHealth>,
}

impl ControllerHealth {
    /// Healthy when this anchor is primary of every switch it drives.
    pub fn healthy(&self) -> bool {
        self.switches.iter().all(|s| s.primary)
    }
}

/// The anchor's running controller and what the admin API needs to know about it.
pub struct AnchorController {
    /// The controller.
    pub controller: Arc<Controller>,
    /// The nodes of the switches it drives.
    pub nodes: Vec<String>,
    /// The persisted policy audit log.
    pub audit: Option<AuditLog>,
}

impl std::fmt::Debug for AnchorController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnchorController")
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl AnchorController {
    /// Connection and mastership of every driven switch.
    pub fn health(&self) -> ControllerHealth {
        let switches = self
            .nodes
            .iter()
            .map(|node| {
                let session = self.controller.session(node);
                let m = session.map(|s| s.mastership());
                SwitchHealth {
                    node: node.clone(),
                    addr: session.map(|s| s.config().addr.clone()).unwrap_or_default(),
                    connected: matches!(m, Some(Mastership::Primary | Mastership::Backup)),
                    primary: m == Some(Mastership::Primary),
                }
            })
            .collect();
        ControllerHealth {
            name: self.controller.name().to_string(),
            epoch: self.controller.epoch(),
            switches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller_toml() -> String {
        let p4 = concat!(env!("CARGO_MANIFEST_DIR"), "/../p4src/flash_mesh.p4");
        let key = flashmesh_controller::OperatorKey::from_seed([3; 32]).public_hex();
        format!(
            "name = \"m1\"\n[[switches]]\nnode = \"m1\"\naddr = \"127.0.0.1:1\"\nelection_id = 5\n\
             target = {{ kind = \"flash_switch\", program = \"{p4}\" }}\n\
             [[nodes]]\nname = \"m1\"\nmac = [2, 0, 0, 0, 0, 1]\nattachments = []\n\
             [operators]\nkeys = [\"{key}\"]\nthreshold = 1\n"
        )
    }

    #[test]
    fn loads_a_controller_file_with_the_audit_log_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ctl.toml");
        std::fs::write(&file, controller_toml()).unwrap();
        let data = dir.path().join("data");
        let spec = load_spec(&ControllerSource::File(file.clone()), &data, 0).unwrap();
        assert_eq!(spec.initial_epoch, 1);
        assert_eq!(spec.switches.len(), 1);
        assert_eq!(spec.audit.unwrap().path(), data.join(AUDIT_LOG_FILE));
        let table: toml::Table = toml::from_str(&controller_toml()).unwrap();
        let spec = load_spec(&ControllerSource::Inline(table), &data, 9).unwrap();
        assert_eq!(spec.initial_epoch, 9);
        assert!(matches!(
            load_spec(&ControllerSource::File(dir.path().join("nope")), &data, 0),
            Err(ControlConfigError::Read { .. })
        ));
        let bad: toml::Table = toml::from_str("name = 3").unwrap();
        assert!(load_spec(&ControllerSource::Inline(bad), &data, 0).is_err());
    }

    #[test]
    fn the_example_configuration_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let cfg = crate::AnchorConfig::load(&dir.join("anchor.example.toml")).unwrap();
        let source = cfg.controller.as_ref().expect("a controller entry");
        let spec = load_spec(source, &cfg.data_dir, cfg.epoch).unwrap();
        assert_eq!(spec.switches[0].node, "m0");
        assert_eq!(spec.verifier.threshold(), 2);
        assert_eq!(
            spec.settings,
            flashmesh_controller::PolicySettings::default()
        );
        assert_eq!(
            spec.audit.unwrap().path(),
            dir.join("data").join(AUDIT_LOG_FILE)
        );
    }

    #[tokio::test]
    async fn the_epoch_file_round_trips_and_bad_content_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_epoch(dir.path()), None);
        save_epoch(dir.path(), 42).await.unwrap();
        assert_eq!(load_epoch(dir.path()), Some(42));
        std::fs::write(dir.path().join(EPOCH_FILE), "soon").unwrap();
        assert_eq!(load_epoch(dir.path()), None);
    }

    #[tokio::test]
    async fn a_full_penalty_queue_drops_and_counts() {
        let metrics = Arc::new(Metrics::default());
        let (tx, _rx) = mpsc::channel(1);
        let sink = PenaltySink {
            tx,
            metrics: metrics.clone(),
        };
        sink.report([1; 8]);
        sink.report([2; 8]);
        assert_eq!(crate::metrics::get(&metrics.penalties_requested), 2);
        assert_eq!(crate::metrics::get(&metrics.penalties_dropped), 1);
    }
}
