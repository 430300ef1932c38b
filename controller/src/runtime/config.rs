//! Controller configuration (TOML): the switches it drives, the topology, the pinned operator
//! keys and the initial policy settings. Loading turns it into a [`ControllerSpec`].

use std::net::Ipv4Addr;
use std::path::PathBuf;

use flashmesh_core::digest::DOMAIN_CONTROLLER_TAG;
use flashmesh_core::keys::Tag;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::p4rt::{P4rtError, Pipeline, SessionConfig, TargetConfig};
use crate::policy::keys::KeyError;
use crate::policy::{AuditLog, PolicySettings, PolicyVerifier};
use crate::sdn::topology::{Link, Node, Topology, TopologyError};

/// One switch the controller drives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwitchConfig {
    /// The topology node this switch is.
    pub node: String,
    /// How to reach it.
    #[serde(flatten)]
    pub session: SessionConfig,
    /// Target kind and pipeline files.
    pub target: TargetConfig,
    /// Source address of probes (any address of the node).
    #[serde(default = "default_probe_ip")]
    pub probe_ip: Ipv4Addr,
}

fn default_probe_ip() -> Ipv4Addr {
    Ipv4Addr::new(169, 254, 0, 1)
}

/// Operators and the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorsConfig {
    /// Pinned operator public keys, hex.
    pub keys: Vec<String>,
    /// Signatures needed.
    pub threshold: usize,
    /// Audit log path (JSON lines).
    pub audit_log: Option<PathBuf>,
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControllerConfig {
    /// Name of this controller (its probe sender tag derives from it).
    pub name: String,
    /// Switches driven by this controller.
    pub switches: Vec<SwitchConfig>,
    /// Topology nodes.
    pub nodes: Vec<Node>,
    /// Topology links.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Operators.
    pub operators: OperatorsConfig,
    /// Settings in force until a signed bundle replaces them.
    #[serde(default)]
    pub settings: PolicySettings,
}

/// A configuration that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// Bad TOML.
    #[error("controller config: {0}")]
    Toml(#[from] toml::de::Error),
    /// Bad topology.
    #[error("controller config: {0}")]
    Topology(#[from] TopologyError),
    /// A pipeline file.
    #[error("controller config: {0}")]
    Pipeline(#[from] P4rtError),
    /// An operator key.
    #[error("controller config: operator key: {0}")]
    Key(#[from] KeyError),
    /// A switch names no topology node.
    #[error("controller config: switch node {0} is not in the topology")]
    UnknownNode(String),
}

/// A switch ready to be driven: session settings and the pipeline to reconcile.
#[derive(Debug, Clone)]
pub struct SwitchSpec {
    /// Topology node.
    pub node: String,
    /// Session.
    pub session: SessionConfig,
    /// Pipeline.
    pub pipeline: Pipeline,
    /// Probe source address.
    pub probe_ip: Ipv4Addr,
}

/// Everything [`crate::runtime::Controller::start`] needs.
#[derive(Debug, Clone)]
pub struct ControllerSpec {
    /// Controller name.
    pub name: String,
    /// FMH sender tag of probes.
    pub sender_tag: Tag,
    /// Switches.
    pub switches: Vec<SwitchSpec>,
    /// Topology.
    pub topology: Topology,
    /// Initial settings.
    pub settings: PolicySettings,
    /// Operator keys and threshold.
    pub verifier: PolicyVerifier,
    /// Audit log, if persisted.
    pub audit: Option<AuditLog>,
    /// First epoch (at least 1).
    pub initial_epoch: u32,
}

/// The probe sender tag of a controller name: core's `Tag::derive(DOMAIN_CONTROLLER_TAG, name)`.
pub fn sender_tag(name: &str) -> Tag {
    Tag::derive(DOMAIN_CONTROLLER_TAG, name.as_bytes())
}

impl ControllerConfig {
    /// Parses TOML.
    pub fn from_toml(s: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(s)?)
    }

    /// Loads the pipelines and checks everything.
    pub fn into_spec(self) -> Result<ControllerSpec, ConfigError> {
        let topology = Topology::new(self.nodes, self.links)?;
        let mut switches = Vec::new();
        for s in self.switches {
            if topology.node(&s.node).is_none() {
                return Err(ConfigError::UnknownNode(s.node));
            }
            switches.push(SwitchSpec {
                pipeline: Pipeline::load(&s.target)?,
                node: s.node,
                session: s.session,
                probe_ip: s.probe_ip,
            });
        }
        Ok(ControllerSpec {
            sender_tag: sender_tag(&self.name),
            name: self.name,
            switches,
            topology,
            settings: self.settings,
            verifier: PolicyVerifier::from_hex(&self.operators.keys, self.operators.threshold)?,
            audit: self.operators.audit_log.map(AuditLog::new),
            initial_epoch: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_config_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        let key = crate::policy::OperatorKey::from_seed([1; 32]).public_hex();
        let text = format!(
            r#"
name = "m1"
[[switches]]
node = "m1"
addr = "127.0.0.1:50051"
device_id = 0
election_id = 10
target = {{ kind = "flash_switch", program = "{dir}/tables.p4", p4info = "{dir}/tables.p4info.txtpb" }}

[[nodes]]
name = "m1"
mac = [2, 0, 0, 0, 0, 1]
attachments = [{{ addr = "10.0.1.0", prefix_len = 24, port = 100, mac = [4, 0, 0, 0, 0, 1] }}]
[[nodes]]
name = "m2"
mac = [2, 0, 0, 0, 0, 2]
attachments = []

[[links]]
a = {{ node = "m1", port = 1 }}
b = {{ node = "m2", port = 1 }}

[operators]
keys = ["{key}"]
threshold = 1
"#
        );
        let spec = ControllerConfig::from_toml(&text)
            .unwrap()
            .into_spec()
            .unwrap();
        assert_eq!(spec.switches.len(), 1);
        assert_eq!(spec.switches[0].session.election_id, 10);
        assert_eq!(spec.topology.links()[0].cost, 1);
        assert_eq!(spec.settings, PolicySettings::default());
        assert_ne!(sender_tag("m1"), sender_tag("m2"));
        let bad = text.replace("node = \"m1\"\naddr", "node = \"zz\"\naddr");
        assert!(matches!(
            ControllerConfig::from_toml(&bad).unwrap().into_spec(),
            Err(ConfigError::UnknownNode(_))
        ));
    }
}
