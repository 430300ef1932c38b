//! Who runs what when a scenario runs embedded: the scenario's committees with the accounts
//! they open at genesis, and its payers with their committee and default payee.

use flashmesh_scenario::{Role, Scenario};

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
    Ok(Population { committees, payers })
}

#[cfg(test)]
mod tests {
    use super::*;

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
