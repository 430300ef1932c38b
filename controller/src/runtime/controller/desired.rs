//! The table entries a switch should hold, computed from the controller's state alone: the
//! one place that turns policy, classification, topology, failed links and penalties into
//! entries (used at reconciliation, on reroute, for policy bundles and for classification).

use std::collections::{BTreeMap, BTreeSet};

use crate::p4rt::spec::EntrySpec;
use crate::policy::PolicySettings;
use crate::sdn::flash_mesh::{self as fm, names};
use crate::sdn::penalty::PenaltyBook;
use crate::sdn::routes::routes_for;
use crate::sdn::topology::Topology;

/// Every table the controller keeps in step with its state (the epoch window's default entry
/// is written on its own).
pub(super) const SWITCH_TABLES: [&str; 5] = [
    names::CLASSIFY,
    names::DEDUP_TYPES,
    names::IPV4_LPM,
    names::PORT_DOWN,
    names::BLOCKED_SENDERS,
];

/// What a switch's entries follow.
#[derive(Clone, Copy)]
pub(super) struct Intent<'a> {
    /// The policy in force (or about to be).
    pub settings: &'a PolicySettings,
    /// False while priority classification is withheld (only probes keep their class).
    pub classification: bool,
    /// The topology with the link states known.
    pub topology: &'a Topology,
    /// Ports with a port-down entry, per node.
    pub down: &'a BTreeMap<String, BTreeSet<u16>>,
    /// Blocked senders.
    pub penalties: &'a PenaltyBook,
}

/// The entries the switch of `node` should hold in those of `tables` the controller decides
/// ([`SWITCH_TABLES`]): classification, duplicate filter, routes, port-down and blocked-sender
/// entries. Tables not asked for are not computed.
pub(super) fn desired_entries(intent: &Intent<'_>, node: &str, tables: &[&str]) -> Vec<EntrySpec> {
    let wanted = |t: &str| tables.contains(&t);
    let mut out = Vec::new();
    if wanted(names::CLASSIFY) {
        out.extend(if intent.classification {
            fm::classify_entries(intent.settings)
        } else {
            fm::classify_entries_withheld(intent.settings)
        });
    }
    if wanted(names::DEDUP_TYPES) {
        out.extend(fm::dedup_entries(intent.settings));
    }
    if wanted(names::IPV4_LPM) {
        out.extend(
            routes_for(intent.topology, node)
                .iter()
                .map(fm::route_entry),
        );
    }
    if wanted(names::PORT_DOWN) {
        out.extend(
            intent
                .down
                .get(node)
                .into_iter()
                .flatten()
                .map(|p| fm::port_down_entry(*p)),
        );
    }
    if wanted(names::BLOCKED_SENDERS) {
        out.extend(
            intent
                .penalties
                .blocked()
                .map(|(sender, _)| fm::blocked_entry(*sender)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdn::topology::{Attachment, Node};
    use std::net::Ipv4Addr;

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

    fn of_table<'e>(v: &'e [EntrySpec], table: &str) -> Vec<&'e EntrySpec> {
        v.iter().filter(|e| e.table == table).collect()
    }

    #[test]
    fn entries_follow_policy_topology_failures_and_penalties() {
        let topology = Topology::new(
            vec![node("a", 1), node("b", 2)],
            vec![Topology::link("a", 1, "b", 1)],
        )
        .unwrap();
        let settings = PolicySettings::default();
        let mut down = BTreeMap::new();
        down.insert("a".to_string(), BTreeSet::from([7u16]));
        let mut penalties = PenaltyBook::default();
        penalties.block([9; 8], 0, 1000);
        let intent = Intent {
            settings: &settings,
            classification: true,
            topology: &topology,
            down: &down,
            penalties: &penalties,
        };

        let all = desired_entries(&intent, "a", &SWITCH_TABLES);
        assert_eq!(
            of_table(&all, names::CLASSIFY).len(),
            fm::classify_entries(&settings).len()
        );
        assert_eq!(
            of_table(&all, names::DEDUP_TYPES).len(),
            fm::dedup_entries(&settings).len()
        );
        let routes: Vec<EntrySpec> = routes_for(&topology, "a")
            .iter()
            .map(fm::route_entry)
            .collect();
        assert!(!routes.is_empty());
        assert_eq!(
            of_table(&all, names::IPV4_LPM),
            routes.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            of_table(&all, names::PORT_DOWN),
            vec![&fm::port_down_entry(7)]
        );
        assert_eq!(
            of_table(&all, names::BLOCKED_SENDERS),
            vec![&fm::blocked_entry([9; 8])]
        );
        assert!(
            all.iter()
                .all(|e| SWITCH_TABLES.contains(&e.table.as_str()))
        );

        // Another node: its own routes, no port-down entry, the same penalties.
        let b = desired_entries(&intent, "b", &SWITCH_TABLES);
        assert!(of_table(&b, names::PORT_DOWN).is_empty());
        assert_eq!(of_table(&b, names::BLOCKED_SENDERS).len(), 1);

        // Only the tables asked for.
        let policy = desired_entries(&intent, "a", &[names::CLASSIFY, names::DEDUP_TYPES]);
        let mut want = fm::classify_entries(&settings);
        want.extend(fm::dedup_entries(&settings));
        assert_eq!(policy, want);
        assert!(desired_entries(&intent, "a", &[]).is_empty());

        // Withheld classification keeps only the probes' class.
        let withheld = Intent {
            classification: false,
            ..intent
        };
        assert_eq!(
            desired_entries(&withheld, "a", &[names::CLASSIFY]),
            fm::classify_entries_withheld(&settings)
        );
        assert!(
            fm::classify_entries_withheld(&settings).len() < fm::classify_entries(&settings).len()
        );
    }
}
