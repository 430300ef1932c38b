//! The mesh topology as the controller knows it: nodes (switches) with their router MAC and the
//! prefixes attached to them, and links between two node ports. Links are configured and then
//! confirmed (or marked down) by probes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A 48-bit MAC address.
pub type Mac = [u8; 6];

/// A prefix reached through a local port of a node (a host, a phone, the anchor's own stack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix_len: u8,
    /// The node's port towards it.
    pub port: u16,
    /// The MAC frames to it carry.
    pub mac: Mac,
}

/// A switch in the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Unique name.
    pub name: String,
    /// The MAC the node uses as source when routing, and that neighbours send to.
    pub mac: Mac,
    /// Directly attached prefixes.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct End {
    /// Node name.
    pub node: String,
    /// Port number on that node.
    pub port: u16,
}

/// Link state from the controller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkState {
    /// Configured, no probe answered yet.
    Configured,
    /// Probes come back.
    Up,
    /// Probes stopped coming back.
    Down,
}

fn one() -> u32 {
    1
}

fn configured() -> LinkState {
    LinkState::Configured
}

/// A bidirectional link between two node ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// One end.
    pub a: End,
    /// The other end.
    pub b: End,
    /// Routing cost (1 by default).
    #[serde(default = "one")]
    pub cost: u32,
    /// State.
    #[serde(default = "configured")]
    pub state: LinkState,
}

impl Link {
    /// True unless probes declared it down.
    pub fn usable(&self) -> bool {
        self.state != LinkState::Down
    }

    /// The far end as seen from `(node, port)`, if that is one end of this link.
    pub fn far_end(&self, node: &str, port: u16) -> Option<&End> {
        if self.a.node == node && self.a.port == port {
            Some(&self.b)
        } else if self.b.node == node && self.b.port == port {
            Some(&self.a)
        } else {
            None
        }
    }
}

/// A topology that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopologyError {
    /// A name used twice.
    #[error("node {0} is defined twice")]
    DuplicateNode(String),
    /// A link to a node that does not exist.
    #[error("link end {0} names no node")]
    UnknownNode(String),
    /// One port used by two links.
    #[error("port {port} of {node} is used by two links")]
    PortInUse {
        /// Node.
        node: String,
        /// Port.
        port: u16,
    },
}

/// Nodes and links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    nodes: BTreeMap<String, Node>,
    links: Vec<Link>,
}

impl Topology {
    /// Builds and checks a topology.
    pub fn new(nodes: Vec<Node>, links: Vec<Link>) -> Result<Self, TopologyError> {
        let mut t = Topology::default();
        for n in nodes {
            if t.nodes.contains_key(&n.name) {
                return Err(TopologyError::DuplicateNode(n.name));
            }
            t.nodes.insert(n.name.clone(), n);
        }
        let mut used = std::collections::BTreeSet::new();
        for l in &links {
            for e in [&l.a, &l.b] {
                if !t.nodes.contains_key(&e.node) {
                    return Err(TopologyError::UnknownNode(e.node.clone()));
                }
                if !used.insert(e.clone()) {
                    return Err(TopologyError::PortInUse {
                        node: e.node.clone(),
                        port: e.port,
                    });
                }
            }
        }
        t.links = links;
        Ok(t)
    }

    /// A link `a:pa <-> b:pb` of cost 1 in state Configured.
    pub fn link(a: &str, pa: u16, b: &str, pb: u16) -> Link {
        Link {
            a: End {
                node: a.into(),
                port: pa,
            },
            b: End {
                node: b.into(),
                port: pb,
            },
            cost: 1,
            state: LinkState::Configured,
        }
    }

    /// All nodes by name.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// A node.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// All links.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The links with an end on `node`, with the local port first.
    pub fn ports_of(&self, node: &str) -> Vec<(u16, &Link)> {
        let mut v: Vec<(u16, &Link)> = self
            .links
            .iter()
            .filter_map(|l| {
                if l.a.node == node {
                    Some((l.a.port, l))
                } else if l.b.node == node {
                    Some((l.b.port, l))
                } else {
                    None
                }
            })
            .collect();
        v.sort_by_key(|(p, _)| *p);
        v
    }

    /// Sets the state of the link on `(node, port)`; returns true if it changed.
    pub fn set_state(&mut self, node: &str, port: u16, state: LinkState) -> bool {
        for l in &mut self.links {
            if l.far_end(node, port).is_some() {
                let changed = l.state != state;
                l.state = state;
                return changed;
            }
        }
        false
    }

    /// The state of the link on `(node, port)`.
    pub fn state(&self, node: &str, port: u16) -> Option<LinkState> {
        self.links
            .iter()
            .find(|l| l.far_end(node, port).is_some())
            .map(|l| l.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn node(name: &str, id: u8) -> Node {
        Node {
            name: name.into(),
            mac: [2, 0, 0, 0, 0, id],
            attachments: vec![],
        }
    }

    #[test]
    fn checks_names_and_ports() {
        let ok = Topology::new(
            vec![node("a", 1), node("b", 2)],
            vec![Topology::link("a", 1, "b", 1)],
        );
        assert!(ok.is_ok());
        assert!(matches!(
            Topology::new(vec![node("a", 1), node("a", 2)], vec![]),
            Err(TopologyError::DuplicateNode(_))
        ));
        assert!(matches!(
            Topology::new(vec![node("a", 1)], vec![Topology::link("a", 1, "z", 1)]),
            Err(TopologyError::UnknownNode(_))
        ));
        assert!(matches!(
            Topology::new(
                vec![node("a", 1), node("b", 2), node("c", 3)],
                vec![
                    Topology::link("a", 1, "b", 1),
                    Topology::link("a", 1, "c", 1)
                ]
            ),
            Err(TopologyError::PortInUse { .. })
        ));
    }

    #[test]
    fn link_state_changes() {
        let mut t = Topology::new(
            vec![node("a", 1), node("b", 2)],
            vec![Topology::link("a", 1, "b", 2)],
        )
        .unwrap();
        assert_eq!(t.state("b", 2), Some(LinkState::Configured));
        assert!(t.set_state("b", 2, LinkState::Down));
        assert!(!t.set_state("a", 1, LinkState::Down));
        assert_eq!(t.ports_of("a").len(), 1);
        assert!(!t.links()[0].usable());
    }
}
