//! The anchor's configuration file (`anchor.toml`).
//!
//! Relative paths in the file are resolved against the directory that holds the file, so a
//! committee directory written by `flashmesh committee init` can be moved as a whole.
//!
//! An optional `controller` entry makes the anchor the P4Runtime controller of its switches too:
//! either a path to a controller TOML file (`controller = "controller.toml"`) or the controller
//! configuration inline as a `[controller]` table (the schema of
//! `flashmesh_controller::ControllerConfig`: switches, nodes, links, `[controller.operators]`
//! with the pinned keys and threshold, and the initial `[controller.settings]`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The BCB service port from the design.
pub const DEFAULT_BCB_PORT: u16 = 47474;

/// Errors while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: toml::de::Error,
    },
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], DEFAULT_BCB_PORT))
}

fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8474))
}

/// Configuration of one merchant anchor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnchorConfig {
    /// Human-readable name, used in logs and `/status`.
    #[serde(default)]
    pub name: String,
    /// UDP address of the BCB server.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// TCP address of the admin HTTP API.
    #[serde(default = "default_admin")]
    pub admin: SocketAddr,
    /// Directory of the durable store.
    pub data_dir: PathBuf,
    /// File holding this authority's secret key.
    pub key_file: PathBuf,
    /// The committee file.
    pub committee_file: PathBuf,
    /// The genesis balances file.
    pub genesis_file: PathBuf,
    /// Bearer token required by state-changing admin routes; `None` disables those routes.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// Number of UDP server workers (sockets sharing the port); 0 means one per core.
    #[serde(default)]
    pub workers: usize,
    /// The authority's current epoch (with a controller: its first epoch, at least 1).
    #[serde(default)]
    pub epoch: u32,
    /// The P4Runtime controller this anchor runs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<ControllerSource>,
    /// Heartbeats to the committee peers and catch-up (the `[liveness]` table).
    #[serde(default)]
    pub liveness: LivenessConfig,
    /// Link-state flooding to the other anchors' controllers (the `[link_relay]` table), for
    /// anchors that run as separate processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_relay: Option<crate::link_relay::LinkRelayConfig>,
}

/// The `[liveness]` table: heartbeats, the peer view's timeout and catch-up pacing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LivenessConfig {
    /// Whether the anchor sends heartbeats and keeps a peer view at all.
    pub enabled: bool,
    /// Milliseconds between heartbeats to every peer.
    pub heartbeat_interval_ms: u64,
    /// A peer not heard for this many milliseconds is not seen.
    pub peer_timeout_ms: u64,
    /// At most this many certificates sent to one catching-up peer per heartbeat interval.
    pub sync_batch: u32,
    /// Recently applied certificates kept in memory for catch-up.
    pub recent_certificates: usize,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            heartbeat_interval_ms: 500,
            peer_timeout_ms: 1500,
            sync_batch: 64,
            recent_certificates: 8192,
        }
    }
}

/// Where the anchor's controller configuration comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ControllerSource {
    /// A controller TOML file; relative paths inside it are resolved against its directory.
    File(PathBuf),
    /// The configuration inline; relative paths inside it are resolved against the directory
    /// of the anchor's file.
    Inline(toml::Table),
}

impl AnchorConfig {
    /// Reads `path` and resolves the relative paths in it against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: AnchorConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve_paths(base);
        Ok(cfg)
    }

    /// Makes every relative path absolute with respect to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [
            &mut self.data_dir,
            &mut self.key_file,
            &mut self.committee_file,
            &mut self.genesis_file,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        match &mut self.controller {
            Some(ControllerSource::File(p)) if p.is_relative() => *p = base.join(&*p),
            Some(ControllerSource::Inline(table)) => resolve_controller_paths(table, base),
            _ => {}
        }
    }

    /// The number of server workers to run.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    /// Serialises the configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an anchor config always serialises")
    }
}

/// Makes the file paths of an inline controller configuration (pipeline files of each switch
/// target, the audit log) absolute with respect to `base`.
pub fn resolve_controller_paths(table: &mut toml::Table, base: &Path) {
    fn fix(v: &mut toml::Value, base: &Path) {
        if let toml::Value::String(s) = v
            && Path::new(s.as_str()).is_relative()
        {
            *s = base.join(s.as_str()).to_string_lossy().into_owned();
        }
    }
    if let Some(toml::Value::Array(switches)) = table.get_mut("switches") {
        for sw in switches {
            if let Some(toml::Value::Table(target)) = sw.get_mut("target") {
                for key in ["program", "p4info", "json"] {
                    if let Some(v) = target.get_mut(key) {
                        fix(v, base);
                    }
                }
            }
        }
    }
    if let Some(v) = table
        .get_mut("operators")
        .and_then(|o| o.get_mut("audit_log"))
    {
        fix(v, base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_file_with_defaults_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.toml");
        std::fs::write(
            &path,
            "data_dir = \"data\"\nkey_file = \"a.key\"\ncommittee_file = \"/etc/c.toml\"\ngenesis_file = \"g.toml\"\n",
        )
        .unwrap();
        let cfg = AnchorConfig::load(&path).unwrap();
        assert_eq!(cfg.listen.port(), DEFAULT_BCB_PORT);
        assert_eq!(cfg.data_dir, dir.path().join("data"));
        assert_eq!(cfg.committee_file, PathBuf::from("/etc/c.toml"));
        assert!(cfg.admin_token.is_none());
        assert!(cfg.worker_count() >= 1);
        assert_eq!(cfg.liveness, LivenessConfig::default());
        assert_eq!(cfg.liveness.heartbeat_interval_ms, 500);
    }

    #[test]
    fn round_trips_through_toml() {
        let cfg = AnchorConfig {
            name: "a0".into(),
            listen: "127.0.0.1:4000".parse().unwrap(),
            admin: "127.0.0.1:4001".parse().unwrap(),
            data_dir: "/tmp/x".into(),
            key_file: "/tmp/k".into(),
            committee_file: "/tmp/c".into(),
            genesis_file: "/tmp/g".into(),
            admin_token: Some("t".into()),
            workers: 2,
            epoch: 3,
            controller: Some(ControllerSource::File("/tmp/ctl.toml".into())),
            liveness: LivenessConfig {
                peer_timeout_ms: 900,
                ..LivenessConfig::default()
            },
            link_relay: Some(crate::link_relay::LinkRelayConfig {
                peers: vec!["127.0.0.1:4101".into()],
                token: Some("t".into()),
                settle_ms: 500,
            }),
        };
        let back: AnchorConfig = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn controller_is_a_file_or_an_inline_table_with_resolved_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.toml");
        let head =
            "data_dir = \"d\"\nkey_file = \"k\"\ncommittee_file = \"c\"\ngenesis_file = \"g\"\n";
        std::fs::write(&path, format!("{head}controller = \"ctl.toml\"\n")).unwrap();
        let cfg = AnchorConfig::load(&path).unwrap();
        assert_eq!(
            cfg.controller,
            Some(ControllerSource::File(dir.path().join("ctl.toml")))
        );
        std::fs::write(
            &path,
            format!(
                "{head}[controller]\nname = \"m\"\n[[controller.switches]]\nnode = \"m\"\n\
                 target = {{ kind = \"flash_switch\", program = \"p/fm.p4\" }}\n\
                 [controller.operators]\nkeys = []\nthreshold = 1\naudit_log = \"/var/a.jsonl\"\n"
            ),
        )
        .unwrap();
        let cfg = AnchorConfig::load(&path).unwrap();
        let Some(ControllerSource::Inline(t)) = &cfg.controller else {
            panic!("inline expected: {:?}", cfg.controller)
        };
        let program = t["switches"][0]["target"]["program"].as_str().unwrap();
        assert_eq!(program, dir.path().join("p/fm.p4").to_str().unwrap());
        assert_eq!(t["operators"]["audit_log"].as_str(), Some("/var/a.jsonl"));
        assert!(AnchorConfig::load(&path).unwrap().controller.is_some());
    }

    #[test]
    fn unknown_field_and_bad_address_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.toml");
        std::fs::write(&path, "listen = \"nope\"\n").unwrap();
        assert!(matches!(
            AnchorConfig::load(&path),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            AnchorConfig::load(&dir.path().join("missing.toml")),
            Err(ConfigError::Read { .. })
        ));
    }
}
