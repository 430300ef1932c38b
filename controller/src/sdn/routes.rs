//! Shortest-path routes with a backup next hop per destination.
//!
//! The primary next hop is the first link of a shortest path over usable links. The backup is the
//! best other link of the node whose neighbour reaches the destination without going back through
//! this node, so it never shares the primary's first link; loop-free alternates (the neighbour's
//! own shortest path does not pass through this node) are preferred.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::topology::{Mac, Topology};

/// Where to send a packet: local port and destination MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextHop {
    /// Local egress port.
    pub port: u16,
    /// Destination MAC on that link.
    pub dmac: Mac,
}

/// A route of one node to one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination network.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Primary next hop.
    pub primary: NextHop,
    /// Backup next hop (same as primary when there is no alternative).
    pub backup: NextHop,
    /// Source MAC to write.
    pub smac: Mac,
}

/// The usable links as an adjacency list over node indices, built once per route computation
/// (a mesh of hundreds of nodes runs one shortest-path search per destination).
struct Graph<'a> {
    index: BTreeMap<&'a str, usize>,
    adj: Vec<Vec<(usize, u64)>>,
}

/// Distance of a node that cannot reach the destination.
const UNREACHABLE: u64 = u64::MAX;

impl<'a> Graph<'a> {
    fn new(topo: &'a Topology) -> Self {
        let index: BTreeMap<&str, usize> = topo
            .nodes()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut adj = vec![Vec::new(); index.len()];
        for l in topo.links().iter().filter(|l| l.usable()) {
            if let (Some(&a), Some(&b)) =
                (index.get(l.a.node.as_str()), index.get(l.b.node.as_str()))
            {
                adj[a].push((b, u64::from(l.cost)));
                adj[b].push((a, u64::from(l.cost)));
            }
        }
        Graph { index, adj }
    }

    fn id(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Shortest distances to `dst` over usable links, skipping node `without` if given.
    fn distances_to(&self, dst: usize, without: Option<usize>) -> Vec<u64> {
        let mut dist = vec![UNREACHABLE; self.adj.len()];
        let mut heap = BinaryHeap::new();
        dist[dst] = 0;
        heap.push(Reverse((0u64, dst)));
        while let Some(Reverse((d, n))) = heap.pop() {
            if dist[n] < d {
                continue;
            }
            for &(other, cost) in &self.adj[n] {
                if Some(other) == without {
                    continue;
                }
                let nd = d + cost;
                if nd < dist[other] {
                    dist[other] = nd;
                    heap.push(Reverse((nd, other)));
                }
            }
        }
        dist
    }
}

/// The routes of node `src` to every attached prefix in the topology.
///
/// Links are undirected with one cost both ways, so a node's distance *to* a destination is
/// the destination's distance *from* it: one shortest-path search from `src` and two from each
/// of its neighbours (over all usable links, and without `src`) give every distance the routes
/// of all destinations need, instead of two searches per destination. On a mesh of a thousand
/// nodes that is a handful of searches per switch rather than two thousand.
pub fn routes_for(topo: &Topology, src: &str) -> Vec<Route> {
    let Some(me) = topo.node(src) else {
        return Vec::new();
    };
    let mut out = local_routes(me);
    let g = Graph::new(topo);
    let Some(src_id) = g.id(src) else {
        return out;
    };
    let my_ports: Vec<_> = topo
        .ports_of(src)
        .into_iter()
        .filter(|(_, l)| l.usable())
        .filter_map(|(port, l)| {
            let far = l.far_end(src, port).expect("own port");
            let id = g.id(&far.node)?;
            Some((port, u64::from(l.cost), far.node.clone(), id))
        })
        .collect();
    let from_src = g.distances_to(src_id, None);
    // per neighbour: its distances to every node, over all links and without `src`
    let mut near: BTreeMap<usize, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for &(_, _, _, id) in &my_ports {
        near.entry(id)
            .or_insert_with(|| (g.distances_to(id, None), g.distances_to(id, Some(src_id))));
    }
    let known = |d: u64| (d != UNREACHABLE).then_some(d);
    for dst in topo.nodes().filter(|n| n.name != src) {
        if dst.attachments.is_empty() {
            continue;
        }
        let Some(dst_id) = g.id(&dst.name) else {
            continue;
        };
        let Some(my_dist) = known(from_src[dst_id]) else {
            continue; // unreachable
        };
        // primary: cheapest usable link, ties broken by port number
        let mut primary: Option<(u64, u16, &str)> = None;
        for (port, cost, far, id) in &my_ports {
            if let Some(d) = known(near[id].0[dst_id]) {
                let c = cost + d;
                if primary.is_none_or(|(bc, _, _)| c < bc) {
                    primary = Some((c, *port, far));
                }
            }
        }
        let Some((_, pport, pnode)) = primary else {
            continue;
        };
        let pmac = topo.node(pnode).expect("checked").mac;
        // backup: another link whose neighbour reaches dst without passing through src
        let mut backup: Option<((bool, u64), u16, &str)> = None;
        for (port, cost, far, id) in &my_ports {
            if *port == pport {
                continue;
            }
            let Some(d) = known(near[id].1[dst_id]) else {
                continue;
            };
            // loop-free alternate: the neighbour's own shortest path avoids us
            let n_dist = known(near[id].0[dst_id]).unwrap_or(u64::MAX);
            let n_to_src = known(from_src[*id]).unwrap_or(u64::MAX);
            let lfa = n_dist < n_to_src.saturating_add(my_dist);
            let score = (!lfa, cost + d);
            if backup.is_none_or(|(bs, _, _)| score < bs) {
                backup = Some((score, *port, far));
            }
        }
        push_routes(&mut out, topo, me, dst, (pport, pmac), backup);
    }
    out
}

/// The routes to `me`'s own attached prefixes (out of the attachment's port).
fn local_routes(me: &super::topology::Node) -> Vec<Route> {
    me.attachments
        .iter()
        .map(|a| {
            let hop = NextHop {
                port: a.port,
                dmac: a.mac,
            };
            Route {
                addr: a.addr,
                prefix_len: a.prefix_len,
                primary: hop,
                backup: hop,
                smac: me.mac,
            }
        })
        .collect()
}

/// One route per prefix of `dst`, by the primary (port, MAC) and the backup (port, node).
fn push_routes<S>(
    out: &mut Vec<Route>,
    topo: &Topology,
    me: &super::topology::Node,
    dst: &super::topology::Node,
    (port, dmac): (u16, Mac),
    backup: Option<(S, u16, &str)>,
) {
    let primary = NextHop { port, dmac };
    let backup = backup
        .map(|(_, port, node)| NextHop {
            port,
            dmac: topo.node(node).expect("checked").mac,
        })
        .unwrap_or(primary);
    for a in &dst.attachments {
        out.push(Route {
            addr: a.addr,
            prefix_len: a.prefix_len,
            primary,
            backup,
            smac: me.mac,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdn::topology::{Attachment, LinkState, Node};

    fn node(name: &str, id: u8) -> Node {
        Node {
            name: name.into(),
            mac: [2, 0, 0, 0, 0, id],
            attachments: vec![Attachment {
                addr: Ipv4Addr::new(10, 0, id, 0),
                prefix_len: 24,
                port: 100,
                mac: [4, 0, 0, 0, 0, id],
            }],
        }
    }

    /// a - b - d and a - c - d (a square), plus a longer a - e - f - d.
    fn square() -> Topology {
        Topology::new(
            vec![
                node("a", 1),
                node("b", 2),
                node("c", 3),
                node("d", 4),
                node("e", 5),
                node("f", 6),
            ],
            vec![
                Topology::link("a", 1, "b", 1),
                Topology::link("a", 2, "c", 1),
                Topology::link("b", 2, "d", 1),
                Topology::link("c", 2, "d", 2),
                Topology::link("a", 3, "e", 1),
                Topology::link("e", 2, "f", 1),
                Topology::link("f", 2, "d", 3),
            ],
        )
        .unwrap()
    }

    fn route_to(rs: &[Route], id: u8) -> &Route {
        rs.iter()
            .find(|r| r.addr == Ipv4Addr::new(10, 0, id, 0))
            .unwrap()
    }

    #[test]
    fn primary_is_shortest_and_backup_is_disjoint() {
        let t = square();
        let rs = routes_for(&t, "a");
        let d = route_to(&rs, 4);
        assert_eq!(d.primary.port, 1); // via b (tie with c broken by port)
        assert_eq!(d.primary.dmac, [2, 0, 0, 0, 0, 2]);
        assert_eq!(d.backup.port, 2); // via c, not the primary's link
        assert_eq!(d.backup.dmac, [2, 0, 0, 0, 0, 3]);
        assert_eq!(d.smac, [2, 0, 0, 0, 0, 1]);
        let local = route_to(&rs, 1);
        assert_eq!(local.primary.port, 100);
        assert_eq!(local.primary.dmac, [4, 0, 0, 0, 0, 1]);
        // every route's backup avoids its primary link whenever the node has another way
        for r in rs.iter().filter(|r| r.primary.port != 100) {
            assert_ne!(r.primary.port, r.backup.port, "{r:?}");
        }
    }

    #[test]
    fn a_down_link_moves_the_primary() {
        let mut t = square();
        t.set_state("a", 1, LinkState::Down);
        let rs = routes_for(&t, "a");
        let d = route_to(&rs, 4);
        assert_eq!(d.primary.port, 2);
        assert_eq!(d.backup.port, 3); // the long way round
        // b is now reached through c and d
        let b = route_to(&rs, 2);
        assert_ne!(b.primary.port, 1);
    }

    #[test]
    fn a_line_has_no_alternative() {
        let t = Topology::new(
            vec![node("a", 1), node("b", 2)],
            vec![Topology::link("a", 1, "b", 1)],
        )
        .unwrap();
        let rs = routes_for(&t, "a");
        let b = route_to(&rs, 2);
        assert_eq!(b.primary, b.backup);
        let mut t = t;
        t.set_state("a", 1, LinkState::Down);
        assert_eq!(routes_for(&t, "a").len(), 1); // only the local prefix
    }

    #[test]
    fn backup_prefers_a_loop_free_neighbour() {
        // a-b (cost 1), b-d (1), a-c (1), c-b (1), a-x (5), x-d (1)
        // For a -> d: primary via b. c's shortest path to d goes via b, not through a, so c is
        // loop-free; x is also loop-free but costlier.
        let mut links = vec![
            Topology::link("a", 1, "b", 1),
            Topology::link("b", 2, "d", 1),
            Topology::link("a", 2, "c", 1),
            Topology::link("c", 2, "b", 3),
            Topology::link("a", 3, "x", 1),
            Topology::link("x", 2, "d", 2),
        ];
        links[4].cost = 5;
        let t = Topology::new(
            vec![
                node("a", 1),
                node("b", 2),
                node("c", 3),
                node("d", 4),
                node("x", 5),
            ],
            links,
        )
        .unwrap();
        let d = route_to(&routes_for(&t, "a"), 4).clone();
        assert_eq!(d.primary.port, 1);
        assert_eq!(d.backup.port, 2);
    }

    /// The distance of `node` in `dist`, if it reaches the destination.
    fn reach(g: &Graph<'_>, dist: &[u64], node: &str) -> Option<u64> {
        g.id(node).map(|i| dist[i]).filter(|&d| d != UNREACHABLE)
    }

    /// The routes by two searches per destination (the definition, before the searches were
    /// shared per neighbour): the fast version must give exactly these.
    fn reference_routes(topo: &Topology, src: &str) -> Vec<Route> {
        let me = topo.node(src).unwrap();
        let mut out = local_routes(me);
        let g = Graph::new(topo);
        let src_id = g.id(src).unwrap();
        let my_ports = topo.ports_of(src);
        let to_src = g.distances_to(src_id, None);
        for dst in topo.nodes().filter(|n| n.name != src) {
            if dst.attachments.is_empty() {
                continue;
            }
            let dst_id = g.id(&dst.name).unwrap();
            let dist = g.distances_to(dst_id, None);
            let Some(my_dist) = reach(&g, &dist, src) else {
                continue;
            };
            let mut primary = None;
            for (port, l) in &my_ports {
                if !l.usable() {
                    continue;
                }
                let far = l.far_end(src, *port).unwrap();
                if let Some(d) = reach(&g, &dist, &far.node) {
                    let c = u64::from(l.cost) + d;
                    if primary.as_ref().is_none_or(|(bc, _, _)| c < *bc) {
                        primary = Some((c, *port, far.node.clone()));
                    }
                }
            }
            let Some((_, pport, pnode)) = primary else {
                continue;
            };
            let pmac = topo.node(&pnode).unwrap().mac;
            let dist_no_src = g.distances_to(dst_id, Some(src_id));
            let mut backup: Option<((bool, u64), u16, String)> = None;
            for (port, l) in &my_ports {
                if *port == pport || !l.usable() {
                    continue;
                }
                let far = l.far_end(src, *port).unwrap();
                let Some(d) = reach(&g, &dist_no_src, &far.node) else {
                    continue;
                };
                let n_dist = reach(&g, &dist, &far.node).unwrap_or(u64::MAX);
                let n_to_src = reach(&g, &to_src, &far.node).unwrap_or(u64::MAX);
                let lfa = n_dist < n_to_src.saturating_add(my_dist);
                let score = (!lfa, u64::from(l.cost) + d);
                if backup.as_ref().is_none_or(|(bs, _, _)| score < *bs) {
                    backup = Some((score, *port, far.node.clone()));
                }
            }
            let backup = backup.as_ref().map(|(s, p, n)| (*s, *p, n.as_str()));
            push_routes(&mut out, topo, me, dst, (pport, pmac), backup);
        }
        out
    }

    #[test]
    fn shared_searches_give_the_routes_of_the_definition() {
        // random meshes (fixed seed): rings with chords, random costs, some links down
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for round in 0..30 {
            let n = 3 + next(20) as usize;
            let nodes: Vec<Node> = (0..n)
                .map(|i| node(&format!("n{i}"), i as u8 + 1))
                .collect();
            let mut ports = vec![0u16; n];
            let mut links = Vec::new();
            let add = |a: usize, b: usize, links: &mut Vec<_>, ports: &mut Vec<u16>| {
                ports[a] += 1;
                ports[b] += 1;
                links.push(Topology::link(
                    &format!("n{a}"),
                    ports[a],
                    &format!("n{b}"),
                    ports[b],
                ));
            };
            for i in 0..n {
                add(i, (i + 1) % n, &mut links, &mut ports);
            }
            for _ in 0..next(n as u64) {
                let (a, b) = (next(n as u64) as usize, next(n as u64) as usize);
                if a != b {
                    add(a, b, &mut links, &mut ports);
                }
            }
            for l in &mut links {
                l.cost = 1 + next(4) as u32;
            }
            let mut t = Topology::new(nodes, links.clone()).unwrap();
            for l in &links {
                if next(6) == 0 {
                    t.set_state(&l.a.node, l.a.port, LinkState::Down);
                }
            }
            for i in 0..n {
                let src = format!("n{i}");
                assert_eq!(
                    routes_for(&t, &src),
                    reference_routes(&t, &src),
                    "round {round}, source {src}"
                );
            }
        }
    }
}
