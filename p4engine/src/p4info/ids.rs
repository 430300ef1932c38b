//! P4Info ids as p4c assigns them: `prefix << 24 | (jenkins_one_at_a_time(name) & 0xFFFFFF)`,
//! names taken in sorted order, linear probing (+1 in the low 24 bits) while the id is taken;
//! an `@id` annotation fixes the id (with the kind's prefix added when its top byte is 0).
//!
//! The one place ids are allocated: [`IdAllocator`] for the P4Info derivation, [`allocate`]
//! for the lowered program's objects (`ir::lower`).

use std::collections::{BTreeMap, HashSet};

/// The kind prefixes (top byte of an id), as in `p4.config.v1.P4Ids.Prefix`.
pub mod prefix {
    pub const ACTION: u32 = 0x01;
    pub const TABLE: u32 = 0x02;
    pub const VALUE_SET: u32 = 0x03;
    pub const CONTROLLER_HEADER: u32 = 0x04;
    pub const COUNTER: u32 = 0x12;
    pub const DIRECT_COUNTER: u32 = 0x13;
    pub const METER: u32 = 0x14;
    pub const DIRECT_METER: u32 = 0x15;
    pub const REGISTER: u32 = 0x16;
    pub const DIGEST: u32 = 0x17;
}

/// Bob Jenkins' one-at-a-time hash of the bytes of `s`.
pub fn jenkins_one_at_a_time(s: &str) -> u32 {
    let mut h: u32 = 0;
    for &b in s.as_bytes() {
        h = h.wrapping_add(u32::from(b));
        h = h.wrapping_add(h << 10);
        h ^= h >> 6;
    }
    h = h.wrapping_add(h << 3);
    h ^= h >> 11;
    h.wrapping_add(h << 15)
}

/// Allocates the ids of `names`, all of the kind `prefix`: names taken in sorted order (equal
/// names in the order given, each its own id), linear probing past the ids in `used`, which
/// receives every id allocated. The ids come back in the order of `names`.
pub fn allocate<S: AsRef<str>>(prefix: u32, names: &[S], used: &mut HashSet<u32>) -> Vec<u32> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|a, b| names[*a].as_ref().cmp(names[*b].as_ref()));
    let mut ids = vec![0; names.len()];
    for i in order {
        let mut low = jenkins_one_at_a_time(names[i].as_ref()) & 0x00FF_FFFF;
        let mut id = (prefix << 24) | low;
        while used.contains(&id) {
            low = (low + 1) & 0x00FF_FFFF;
            id = (prefix << 24) | low;
        }
        used.insert(id);
        ids[i] = id;
    }
    ids
}

/// Assigns ids to named entities of all kinds at once.
#[derive(Debug, Default)]
pub struct IdAllocator {
    /// (prefix, name) -> fixed id from `@id`, or None.
    requests: BTreeMap<(u32, String), Option<u32>>,
}

impl IdAllocator {
    /// Register an entity; `fixed` is the value of its `@id` annotation.
    pub fn add(&mut self, prefix: u32, name: &str, fixed: Option<u128>) {
        let fixed = fixed.map(|v| {
            let v = v as u32;
            if v >> 24 == 0 { (prefix << 24) | v } else { v }
        });
        self.requests.insert((prefix, name.to_string()), fixed);
    }

    /// Compute all ids: `@id` ones first, then the others by kind and sorted name.
    pub fn assign(&self) -> BTreeMap<(u32, String), u32> {
        let mut used: HashSet<u32> = self.requests.values().flatten().copied().collect();
        let mut out = BTreeMap::new();
        for (k, fixed) in &self.requests {
            if let Some(id) = fixed {
                out.insert(k.clone(), *id);
            }
        }
        // BTreeMap iterates by (prefix, name): kinds in order, sorted names within each kind.
        let mut free: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for ((pfx, name), fixed) in &self.requests {
            if fixed.is_none() {
                free.entry(*pfx).or_default().push(name);
            }
        }
        for (pfx, names) in free {
            for (name, id) in names.iter().zip(allocate(pfx, &names, &mut used)) {
                out.insert((pfx, name.to_string()), id);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_p4c_ids() {
        // Ids that p4c gave in the reference corpus and in common programs.
        let mut a = IdAllocator::default();
        a.add(prefix::ACTION, "NoAction", None);
        a.add(prefix::TABLE, "MyIngress.t_exact", None);
        a.add(prefix::COUNTER, "MyIngress.key_cnt", None);
        let ids = a.assign();
        assert_eq!(ids[&(prefix::ACTION, "NoAction".to_string())], 21257015);
        assert_eq!(
            ids[&(prefix::TABLE, "MyIngress.t_exact".to_string())],
            38514850
        );
        assert_eq!(
            ids[&(prefix::COUNTER, "MyIngress.key_cnt".to_string())],
            303167793
        );
    }

    #[test]
    fn equal_names_get_their_own_ids() {
        let mut used = HashSet::new();
        let h = jenkins_one_at_a_time("x") & 0xFF_FFFF;
        let ids = allocate(prefix::CONTROLLER_HEADER, &["y", "x", "x"], &mut used);
        assert_eq!(ids[1], (4 << 24) | h);
        assert_eq!(ids[2], (4 << 24) | (h + 1));
        assert_eq!(used.len(), 3);
    }

    #[test]
    fn fixed_ids_and_probing() {
        let mut a = IdAllocator::default();
        let h = jenkins_one_at_a_time("b") & 0xFF_FFFF;
        a.add(prefix::ACTION, "a", Some(u128::from(h)));
        a.add(prefix::ACTION, "b", None);
        let ids = a.assign();
        assert_eq!(ids[&(prefix::ACTION, "a".to_string())], (1 << 24) | h);
        assert_eq!(ids[&(prefix::ACTION, "b".to_string())], (1 << 24) | (h + 1));
    }
}
