//! A scenario file's topology as a mesh layout: every scenario node a switch (merchants with an
//! anchor, phones with a wallet, forwarders and gateways bare), every scenario link a pair of
//! switch ports with the scenario's emulation, and each switch driven by the anchor of its
//! cluster's merchant (a forwarder by the nearest merchant's).

use std::collections::VecDeque;

use flash_switch::link::LinkParams;
use flashmesh_scenario as scenario;

use crate::plan::{LinkKind, LinkPlan, MeshPlan, NodePlan, PlanError, Role};

/// The flash-switch emulation of a scenario link's parameters (0 rates mean unlimited).
pub fn link_params(p: &scenario::LinkParams) -> LinkParams {
    LinkParams {
        delay_ms: p.delay_ms,
        jitter_ms: p.jitter_ms,
        loss: p.loss,
        rate_pps: (p.rate_pps > 0).then_some(p.rate_pps as f64),
        rate_bps: (p.rate_bps > 0).then_some(p.rate_bps as f64),
    }
}

impl MeshPlan {
    /// The layout of a scenario. Node indices and link indices are the scenario's.
    pub fn from_scenario(s: &scenario::Scenario) -> Result<MeshPlan, PlanError> {
        if s.nodes.len() > 65_536 {
            return Err(PlanError::TooManyNodes(s.nodes.len()));
        }
        let merchants = s.merchants();
        if merchants.is_empty() {
            return Err(PlanError::NoMerchant);
        }
        let nearest = nearest_merchant(s);
        let mut nodes = Vec::with_capacity(s.nodes.len());
        for n in &s.nodes {
            let role = match n.role {
                scenario::Role::Merchant => Role::Merchant,
                scenario::Role::Phone => Role::Phone,
                _ => Role::Forwarder,
            };
            let cluster = match (n.role, n.cluster) {
                (scenario::Role::Merchant, _) => n.index,
                (_, Some(m)) => m,
                _ => nearest[n.index].ok_or_else(|| PlanError::Unreachable(n.name.clone()))?,
            };
            nodes.push(NodePlan {
                index: n.index,
                name: n.name.clone(),
                role,
                cluster,
            });
        }
        let mut next_port = vec![1u32; nodes.len()];
        let mut links = Vec::with_capacity(s.links.len());
        for l in &s.links {
            let (pa, pb) = (next_port[l.a], next_port[l.b]);
            next_port[l.a] += 1;
            next_port[l.b] += 1;
            let kind = match l.class {
                scenario::resolve::LinkClass::Radio => LinkKind::Radio,
                _ => LinkKind::Backbone,
            };
            links.push(LinkPlan {
                a: (l.a, pa),
                b: (l.b, pb),
                kind,
                cost: l.cost,
                params: link_params(&l.params),
            });
        }
        Ok(MeshPlan {
            nodes,
            links,
            merchants: merchants.len(),
            phones_per_cluster: 0,
            initially_down: s.links.iter().filter(|l| l.down).map(|l| l.index).collect(),
        })
    }
}

/// For each node, the merchant fewest hops away over the scenario's links (ties: the lower
/// index), by a breadth-first search from all merchants at once.
fn nearest_merchant(s: &scenario::Scenario) -> Vec<Option<usize>> {
    let mut adj = vec![Vec::new(); s.nodes.len()];
    for l in &s.links {
        adj[l.a].push(l.b);
        adj[l.b].push(l.a);
    }
    let mut owner = vec![None; s.nodes.len()];
    let mut queue = VecDeque::new();
    for m in s.merchants() {
        owner[m] = Some(m);
        queue.push_back(m);
    }
    while let Some(at) = queue.pop_front() {
        for &next in &adj[at] {
            if owner[next].is_none() {
                owner[next] = owner[at];
                queue.push_back(next);
            }
        }
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[scenario]
name = "small"
duration_ms = 1000
[topology.generate]
kind = "clusters"
merchants = 3
phones_per_merchant = 2
[[topology.node]]
name = "f0"
role = "forwarder"
[[topology.link]]
a = "f0"
b = "m2"
rate_pps = 500
"#;

    #[test]
    fn scenario_nodes_links_and_drivers() {
        let s = flashmesh_scenario::load_str(SMALL, std::path::Path::new("small.toml")).unwrap();
        let p = MeshPlan::from_scenario(&s).unwrap();
        assert_eq!(p.nodes.len(), s.nodes.len());
        assert_eq!(p.links.len(), s.links.len());
        assert_eq!(p.merchants, 3);
        let f0 = s.node("f0").unwrap();
        assert_eq!(p.nodes[f0].role, Role::Forwarder);
        assert_eq!(p.nodes[f0].cluster, s.node("m2").unwrap());
        assert!(p.driven_by(s.node("m2").unwrap()).contains(&f0));
        let l = s.links.iter().position(|l| l.a == f0 || l.b == f0).unwrap();
        assert_eq!(p.links[l].params.rate_pps, Some(500.0));
        // every node is driven by exactly one anchor
        let mut driven: Vec<usize> = p.merchants().flat_map(|m| p.driven_by(m.index)).collect();
        driven.sort_unstable();
        assert_eq!(driven, (0..p.nodes.len()).collect::<Vec<_>>());
        // ports are distinct per node and the topology is consistent
        for n in 0..p.nodes.len() {
            let ports = p.link_ports(n);
            let mut d = ports.clone();
            d.dedup();
            assert_eq!(ports, d);
        }
        let _ = p.topology();
    }

    #[test]
    fn addresses_reach_past_255_nodes() {
        let n = NodePlan {
            index: 300,
            name: "x".into(),
            role: Role::Phone,
            cluster: 0,
        };
        assert_eq!(n.host_ip(), std::net::Ipv4Addr::new(10, 1, 44, 2));
        assert_eq!(n.aux_mac(), [2, 0, 0x0a, 1, 44, 3]);
    }
}
