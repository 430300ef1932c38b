//! The mesh's layout, decided before anything runs: nodes, addresses, links with their
//! emulation, which anchor drives which switches, and who pays whom.
//!
//! Merchants `M0..Mm` form a ring (a single link for two, none for one). Each merchant has a
//! cluster of up to three phones `A`, `B`, `C`:
//!
//! ```text
//!   Mi ── A          links: Mi–A, Mi–B, A–B, B–C, C–M(i+1) (cost 2)
//!    │ ╲  │
//!    │   B ── C ── M(i+1)
//! ```
//!
//! so every phone has two disjoint ways out, and the ring link `M0–M1` is the bottleneck.
//! Phones of cluster `i` pay merchant `M(i+1)`, so most payments cross a ring link. Every node
//! has a main host on port [`HOST_PORT`] (the anchor or the wallet) and an auxiliary host on
//! port [`AUX_PORT`] (load source, flood sink, attacker, reroute stream ends).

use std::net::Ipv4Addr;

use flash_switch::link::LinkParams;
use flashmesh_controller::sdn::topology::{Attachment, End, Link, LinkState, Node, Topology};

use crate::frame::Mac;

/// Switch port of a node's main host.
pub const HOST_PORT: u32 = 10;
/// Switch port of a node's auxiliary host.
pub const AUX_PORT: u32 = 11;

/// What runs on a node's main host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A merchant: runs an anchor.
    Merchant,
    /// A phone: runs a wallet.
    Phone,
    /// A forwarder (or a gateway, which the embedded target forwards through only): a switch
    /// with no anchor or wallet.
    Forwarder,
}

/// One mesh node: a switch with its hosts.
#[derive(Debug, Clone)]
pub struct NodePlan {
    /// Index in [`MeshPlan::nodes`].
    pub index: usize,
    /// Name (`m0`, `p4`, ...).
    pub name: String,
    /// Merchant or phone.
    pub role: Role,
    /// The merchant whose cluster the node is in (the merchant itself for merchants; for a
    /// forwarder, the nearest merchant, whose anchor drives its switch).
    pub cluster: usize,
}

impl NodePlan {
    /// The node's index as two address octets (`10.HI.LO.x`), so up to 65,536 nodes.
    fn octets(&self) -> (u8, u8) {
        ((self.index >> 8) as u8, self.index as u8)
    }

    fn mac(&self, last: u8) -> Mac {
        let (hi, lo) = self.octets();
        [2, 0, 0x0a, hi, lo, last]
    }

    fn ip(&self, last: u8) -> Ipv4Addr {
        let (hi, lo) = self.octets();
        Ipv4Addr::new(10, hi, lo, last)
    }

    /// The switch's router MAC.
    pub fn router_mac(&self) -> Mac {
        self.mac(1)
    }

    /// The main host's MAC.
    pub fn host_mac(&self) -> Mac {
        self.mac(2)
    }

    /// The auxiliary host's MAC.
    pub fn aux_mac(&self) -> Mac {
        self.mac(3)
    }

    /// The main host's address.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.ip(2)
    }

    /// The auxiliary host's address.
    pub fn aux_ip(&self) -> Ipv4Addr {
        self.ip(3)
    }
}

/// Kind of link, for its emulation parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Between two merchants.
    Ring,
    /// The bottleneck ring link `M0–M1`.
    Bottleneck,
    /// A phone's radio link (to a merchant or another phone).
    Radio,
    /// A backbone link of a scenario file (between merchants or forwarders).
    Backbone,
}

/// A link between two switch ports.
#[derive(Debug, Clone)]
pub struct LinkPlan {
    /// One end: node index and port.
    pub a: (usize, u32),
    /// The other end.
    pub b: (usize, u32),
    /// Kind.
    pub kind: LinkKind,
    /// Routing cost.
    pub cost: u32,
    /// Emulation on both directions.
    pub params: LinkParams,
}

/// Link emulation settings.
#[derive(Debug, Clone, Copy)]
pub struct LinkProfile {
    /// Ring links.
    pub ring: LinkParams,
    /// The bottleneck.
    pub bottleneck: LinkParams,
    /// Radio links.
    pub radio: LinkParams,
}

impl Default for LinkProfile {
    fn default() -> Self {
        Self {
            ring: LinkParams {
                delay_ms: 2.0,
                jitter_ms: 0.2,
                loss: 0.0,
                rate_pps: Some(20_000.0),
                rate_bps: None,
            },
            bottleneck: LinkParams {
                delay_ms: 2.0,
                jitter_ms: 0.2,
                loss: 0.0,
                rate_pps: Some(2_000.0),
                rate_bps: None,
            },
            radio: LinkParams {
                delay_ms: 3.0,
                jitter_ms: 0.3,
                loss: 0.0,
                rate_pps: Some(10_000.0),
                rate_bps: None,
            },
        }
    }
}

/// The whole layout.
#[derive(Debug, Clone)]
pub struct MeshPlan {
    /// Nodes; merchants first (`0..merchants`).
    pub nodes: Vec<NodePlan>,
    /// Links.
    pub links: Vec<LinkPlan>,
    /// Number of merchants.
    pub merchants: usize,
    /// Phones per merchant cluster (of the demo's generated layout; 0 for a scenario's).
    pub phones_per_cluster: usize,
    /// Links down from the start (a scenario's `down = true`), restored by events.
    pub initially_down: Vec<usize>,
}

/// A layout that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Merchants must be 1..=16 and phones per cluster 1..=3.
    #[error("a mesh needs 1..=16 merchants and 1..=3 phones per merchant (got {0} and {1})")]
    Size(usize, usize),
    /// A scenario with no merchant has no anchor to drive its switches.
    #[error("the scenario has no merchant: no anchor would drive the switches")]
    NoMerchant,
    /// A node the merchants cannot reach over any link (its switch would have no controller).
    #[error("node {0} is not connected to any merchant")]
    Unreachable(String),
    /// More nodes than the addressing plan has (10.HI.LO.x).
    #[error("{0} nodes: the embedded mesh addresses at most 65,536")]
    TooManyNodes(usize),
}

impl MeshPlan {
    /// `merchants` merchants with `phones_per_cluster` phones each.
    pub fn new(
        merchants: usize,
        phones_per_cluster: usize,
        profile: &LinkProfile,
    ) -> Result<Self, PlanError> {
        if !(1..=16).contains(&merchants) || !(1..=3).contains(&phones_per_cluster) {
            return Err(PlanError::Size(merchants, phones_per_cluster));
        }
        let mut nodes = Vec::new();
        for m in 0..merchants {
            nodes.push(NodePlan {
                index: m,
                name: format!("m{m}"),
                role: Role::Merchant,
                cluster: m,
            });
        }
        for c in 0..merchants {
            for _ in 0..phones_per_cluster {
                let index = nodes.len();
                nodes.push(NodePlan {
                    index,
                    name: format!("p{index}"),
                    role: Role::Phone,
                    cluster: c,
                });
            }
        }
        let mut plan = MeshPlan {
            nodes,
            links: Vec::new(),
            merchants,
            phones_per_cluster,
            initially_down: Vec::new(),
        };
        let mut next_port = vec![1u32; plan.nodes.len()];
        let mut link = |a: usize, b: usize, kind: LinkKind, cost: u32| {
            let (pa, pb) = (next_port[a], next_port[b]);
            next_port[a] += 1;
            next_port[b] += 1;
            let params = match kind {
                LinkKind::Ring => profile.ring,
                LinkKind::Bottleneck => profile.bottleneck,
                LinkKind::Radio => profile.radio,
                LinkKind::Backbone => profile.ring,
            };
            plan.links.push(LinkPlan {
                a: (a, pa),
                b: (b, pb),
                kind,
                cost,
                params,
            });
        };
        // Ring first, so that each merchant's port 1 faces its predecessor ring neighbour.
        let ring_links = match merchants {
            1 => 0,
            2 => 1,
            n => n,
        };
        for i in 0..ring_links {
            let kind = if i == 0 {
                LinkKind::Bottleneck
            } else {
                LinkKind::Ring
            };
            link(i, (i + 1) % merchants, kind, 1);
        }
        for c in 0..merchants {
            let base = merchants + c * phones_per_cluster;
            let (a, b, cc) = (base, base + 1, base + 2);
            link(c, a, LinkKind::Radio, 1);
            if phones_per_cluster >= 2 {
                link(c, b, LinkKind::Radio, 1);
                link(a, b, LinkKind::Radio, 1);
            }
            if phones_per_cluster >= 3 {
                link(b, cc, LinkKind::Radio, 1);
                link(cc, (c + 1) % merchants, LinkKind::Radio, 2);
            }
        }
        Ok(plan)
    }

    /// Merchant nodes.
    pub fn merchants(&self) -> impl Iterator<Item = &NodePlan> {
        self.nodes.iter().filter(|n| n.role == Role::Merchant)
    }

    /// Phone nodes.
    pub fn phones(&self) -> impl Iterator<Item = &NodePlan> {
        self.nodes.iter().filter(|n| n.role == Role::Phone)
    }

    /// The merchant a phone pays.
    pub fn payee_of(&self, phone: usize) -> usize {
        (self.nodes[phone].cluster + 1) % self.merchants
    }

    /// The first phone (`A`) of a cluster.
    pub fn first_phone(&self, cluster: usize) -> usize {
        self.merchants + cluster * self.phones_per_cluster
    }

    /// Switch ports of a node that carry links.
    pub fn link_ports(&self, node: usize) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .links
            .iter()
            .flat_map(|l| [l.a, l.b])
            .filter(|(n, _)| *n == node)
            .map(|(_, p)| p)
            .collect();
        v.sort_unstable();
        v
    }

    /// The nodes driven by merchant `m`'s anchor: its own switch and its cluster's phones.
    pub fn driven_by(&self, m: usize) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|n| n.cluster == m)
            .map(|n| n.index)
            .collect()
    }

    /// The bottleneck link, if the mesh has one.
    pub fn bottleneck(&self) -> Option<usize> {
        self.links
            .iter()
            .position(|l| l.kind == LinkKind::Bottleneck)
    }

    /// The link whose failure the demo stages: the access link `Mc–A` of cluster
    /// `c = min(2, merchants - 1)`, on the path of `A`'s payments, with `A–B` as the detour.
    /// `None` when clusters have a single phone (no detour).
    pub fn failure_link(&self) -> Option<(usize, usize)> {
        if self.phones_per_cluster < 2 {
            return None;
        }
        let c = 2.min(self.merchants - 1);
        let a = self.first_phone(c);
        let i = self.links.iter().position(|l| l.a.0 == c && l.b.0 == a)?;
        Some((i, a))
    }

    /// The links (index, direction a→b?) that `src`'s traffic to `dst`'s main host crosses on
    /// the primary routes, hop by hop.
    pub fn path_links(&self, src: usize, dst: usize) -> Vec<(usize, bool)> {
        use flashmesh_controller::sdn::routes::routes_for;
        let topo = self.topology();
        let ip = self.nodes[dst].host_ip();
        let mut out = Vec::new();
        let mut at = src;
        for _ in 0..self.nodes.len() {
            if at == dst {
                break;
            }
            let Some(r) = routes_for(&topo, &self.nodes[at].name)
                .into_iter()
                .find(|r| r.addr == ip)
            else {
                break;
            };
            let port = u32::from(r.primary.port);
            let Some((i, l)) =
                self.links.iter().enumerate().find(|(_, l)| {
                    (l.a.0 == at && l.a.1 == port) || (l.b.0 == at && l.b.1 == port)
                })
            else {
                break;
            };
            let forward = l.a.0 == at && l.a.1 == port;
            out.push((i, forward));
            at = if forward { l.b.0 } else { l.a.0 };
        }
        out
    }

    /// Whether messages between `a` and `b`, either way, cross the bottleneck in its loaded
    /// direction (`a` to `b` of the bottleneck link, the way the demo's flood goes).
    pub fn loaded_between(&self, a: usize, b: usize) -> bool {
        self.bottleneck().is_some_and(|l| {
            self.path_links(a, b).contains(&(l, true)) || self.path_links(b, a).contains(&(l, true))
        })
    }

    /// Whether a phone's payments to a committee of `authorities` (merchant node indices, each
    /// of weight 1) with quorum `quorum` depend on the bottleneck's loaded direction: the
    /// authorities it reaches (ORDER and CERTIFICATE out, VOTE and RECEIPT back) without
    /// crossing it weigh less than the quorum, so no quorum of votes or receipts can form
    /// without a message that queues behind the flood. For a committee of one (the payee) this
    /// is "its orders or their answers cross the loaded direction".
    pub fn bottleneck_bound(&self, phone: usize, authorities: &[usize], quorum: u64) -> bool {
        let clear = authorities
            .iter()
            .filter(|&&m| !self.loaded_between(phone, m))
            .count() as u64;
        clear < quorum
    }

    /// Whether a phone's payments to its payee alone (a committee of one) depend on the
    /// bottleneck's loaded direction.
    pub fn crosses_bottleneck(&self, phone: usize) -> bool {
        self.bottleneck_bound(phone, &[self.payee_of(phone)], 1)
    }

    /// The controller's view: nodes with their attached hosts, links with costs.
    pub fn topology(&self) -> Topology {
        let nodes = self
            .nodes
            .iter()
            .map(|n| Node {
                name: n.name.clone(),
                mac: n.router_mac(),
                attachments: vec![
                    Attachment {
                        addr: n.host_ip(),
                        prefix_len: 32,
                        port: HOST_PORT as u16,
                        mac: n.host_mac(),
                    },
                    Attachment {
                        addr: n.aux_ip(),
                        prefix_len: 32,
                        port: AUX_PORT as u16,
                        mac: n.aux_mac(),
                    },
                ],
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|l| Link {
                a: End {
                    node: self.nodes[l.a.0].name.clone(),
                    port: l.a.1 as u16,
                },
                b: End {
                    node: self.nodes[l.b.0].name.clone(),
                    port: l.b.1 as u16,
                },
                cost: l.cost,
                state: LinkState::Configured,
            })
            .collect();
        Topology::new(nodes, links).expect("the plan builds a consistent topology")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_controller::sdn::routes::routes_for;

    #[test]
    fn standard_mesh_has_sixteen_nodes_and_disjoint_ways_out() {
        let p = MeshPlan::new(4, 3, &LinkProfile::default()).unwrap();
        assert_eq!(p.nodes.len(), 16);
        assert_eq!(p.merchants().count(), 4);
        assert_eq!(p.phones().count(), 12);
        assert_eq!(p.links.len(), 4 + 4 * 5);
        assert_eq!(p.bottleneck(), Some(0));
        let topo = p.topology();
        // Every phone reaches every merchant host, with a backup that differs from the primary.
        for ph in p.phones() {
            let routes = routes_for(&topo, &ph.name);
            for m in p.merchants() {
                let r = routes
                    .iter()
                    .find(|r| r.addr == m.host_ip())
                    .expect("route");
                assert_ne!(r.primary.port, r.backup.port, "{} -> {}", ph.name, m.name);
            }
        }
        // The failure link is m2–A of cluster 2, and A's payments to m3 cross it.
        let (i, a) = p.failure_link().unwrap();
        assert_eq!(p.links[i].a.0, 2);
        assert_eq!(a, 4 + 2 * 3);
        assert_eq!(p.payee_of(a), 3);
        let r = routes_for(&topo, &p.nodes[a].name)
            .into_iter()
            .find(|r| r.addr == p.nodes[3].host_ip())
            .unwrap();
        assert_eq!(u32::from(r.primary.port), p.links[i].b.1);
    }

    #[test]
    fn cluster_zero_payments_cross_the_bottleneck() {
        let p = MeshPlan::new(4, 3, &LinkProfile::default()).unwrap();
        let topo = p.topology();
        let m1 = p.nodes[1].host_ip();
        let r = routes_for(&topo, "m0")
            .into_iter()
            .find(|r| r.addr == m1)
            .unwrap();
        assert_eq!(u32::from(r.primary.port), p.links[0].a.1);
        assert_eq!(p.payee_of(p.first_phone(0)), 1);
        let crossing: Vec<usize> = p
            .phones()
            .filter(|n| p.crosses_bottleneck(n.index))
            .map(|n| n.index)
            .collect();
        assert_eq!(
            crossing,
            vec![4, 5],
            "cluster 0's A and B go through m0 to m1"
        );
        assert_eq!(p.path_links(4, 1), vec![(4, false), (0, true)]);
    }

    #[test]
    fn phones_bound_to_the_bottleneck_with_a_shared_committee() {
        let p = MeshPlan::new(4, 3, &LinkProfile::default()).unwrap();
        let all: Vec<usize> = (0..4).collect();
        let behind = |ph: usize| -> Vec<usize> {
            all.iter()
                .copied()
                .filter(|&m| p.loaded_between(ph, m))
                .collect()
        };
        // Cluster 0's A and B reach m1 and m2 through m0 -> m1: no quorum of 3 without them.
        assert_eq!(behind(4), vec![1, 2]);
        assert_eq!(behind(5), vec![1, 2]);
        // Cluster 1's phones hear m0 back through m0 -> m1, but m1, m2, m3 make a quorum.
        assert_eq!(behind(7), vec![0]);
        assert!(!p.bottleneck_bound(7, &all, 3));
        let bound: Vec<usize> = p
            .phones()
            .filter(|n| p.bottleneck_bound(n.index, &all, 3))
            .map(|n| n.index)
            .collect();
        assert_eq!(bound, vec![4, 5]);
        // With committees of one the same phones are bound.
        let single: Vec<usize> = p
            .phones()
            .filter(|n| p.crosses_bottleneck(n.index))
            .map(|n| n.index)
            .collect();
        assert_eq!(single, bound);
    }

    #[test]
    fn small_meshes_and_bad_sizes() {
        let p = MeshPlan::new(1, 1, &LinkProfile::default()).unwrap();
        assert_eq!((p.nodes.len(), p.links.len()), (2, 1));
        assert_eq!(p.payee_of(1), 0);
        assert!(p.failure_link().is_none());
        let p = MeshPlan::new(2, 1, &LinkProfile::default()).unwrap();
        assert_eq!(p.links.len(), 3);
        assert_eq!(p.link_ports(0), vec![1, 2]);
        assert_eq!(p.driven_by(1), vec![1, 3]);
        assert!(MeshPlan::new(0, 1, &LinkProfile::default()).is_err());
        assert!(MeshPlan::new(2, 4, &LinkProfile::default()).is_err());
    }
}
