//! Who runs what when a scenario runs embedded: the scenario's committees with the accounts
//! they open at genesis, and its payers with their committee and default payee.

use flashmesh_scenario::{EventKind, Role, Scenario};

use crate::error::MeshError;
use crate::mesh::{CommitteeLayout, PayerLayout, Population};

/// The population of `s`; a payer must be served by a committee (that every merchant is in
/// exactly one is checked where the mesh is assembled).
pub fn population(s: &Scenario) -> Result<Population, MeshError> {
    let mut committees = Vec::new();
    for c in &s.committees {
        // The committee opens the accounts of what it serves and of its members' merchants.
        let mut accounts: Vec<(usize, u64)> = c
            .serves
            .iter()
            .chain(&c.members)
            .map(|&n| (n, s.balances.get(n).copied().unwrap_or(0)))
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        committees.push(CommitteeLayout {
            name: c.name.clone(),
            members: c.members.clone(),
            weights: c.weights.clone(),
            accounts,
        });
    }
    let mut payers = Vec::new();
    for &p in &s.workload.payers {
        if s.nodes[p].role != Role::Phone {
            continue;
        }
        let committee = s.committee_of(p).ok_or_else(|| {
            MeshError::Setup(format!(
                "payer {} is served by no committee",
                s.nodes[p].name
            ))
        })?;
        let payee = s.payee_for(p, &mut |_| 0);
        payers.push(PayerLayout {
            node: p,
            committee,
            payee,
        });
    }
    // A move with a handoff links the phone's committee and the new merchant's.
    let mut neighbours = Vec::new();
    for e in &s.events {
        if let EventKind::Move {
            node,
            to,
            handoff: true,
            ..
        } = &e.kind
            && let (Some(a), Some(b)) = (s.committee_of(*node), handoff_target(s, *node, *to))
        {
            neighbours.push((a.min(b), a.max(b)));
        }
    }
    neighbours.sort_unstable();
    neighbours.dedup();
    Ok(Population {
        committees,
        payers,
        neighbours,
    })
}

/// The committee a move with a handoff goes to: the new merchant's (`None` when it is the
/// phone's own, or no committee has the merchant).
pub fn handoff_target(s: &Scenario, node: usize, to: usize) -> Option<usize> {
    let target = s.committees.iter().position(|c| c.members.contains(&to))?;
    (s.committee_of(node) != Some(target)).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handoff_move_links_the_two_committees() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bmv2-testbed/scenarios/mobility.toml");
        let s = flashmesh_scenario::load_file(&path).unwrap();
        let p = population(&s).unwrap();
        assert_eq!(p.neighbours, vec![(0, 1)]);
        let p0 = s.nodes.iter().position(|n| n.name == "p0").unwrap();
        let m4 = s.nodes.iter().position(|n| n.name == "m4").unwrap();
        assert_eq!(handoff_target(&s, p0, m4), Some(1));
    }

    #[test]
    fn shipped_failover_population() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bmv2-testbed/scenarios/failover.toml");
        let s = flashmesh_scenario::load_file(&path).unwrap();
        let p = population(&s).unwrap();
        assert_eq!(p.committees.len(), 1);
        assert_eq!(p.committees[0].members.len(), 4);
        assert_eq!(p.payers.len(), 12);
        for payer in &p.payers {
            assert!(
                p.committees[0]
                    .accounts
                    .iter()
                    .any(|&(n, b)| n == payer.node && b > 0)
            );
        }
    }
}
