//! P4Info ids as p4c assigns them: the kind's prefix byte and a 24-bit Jenkins one-at-a-time
//! hash of the fully qualified name, names taken in sorted order, linear probing on collisions.

use std::collections::HashSet;

use crate::ir::Program;

/// Jenkins' one-at-a-time hash.
pub fn jenkins_hash(s: &str) -> u32 {
    let mut h: u32 = 0;
    for &b in s.as_bytes() {
        h = h.wrapping_add(b as u32);
        h = h.wrapping_add(h << 10);
        h ^= h >> 6;
    }
    h = h.wrapping_add(h << 3);
    h ^= h >> 11;
    h = h.wrapping_add(h << 15);
    h
}

fn allocate(prefix: u32, names: &[String], used: &mut HashSet<u32>) -> Vec<u32> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|a, b| names[*a].cmp(&names[*b]));
    let mut ids = vec![0; names.len()];
    for i in order {
        let mut h = jenkins_hash(&names[i]) & 0xff_ffff;
        while used.contains(&((prefix << 24) | h)) {
            h = (h + 1) & 0xff_ffff;
        }
        let id = (prefix << 24) | h;
        used.insert(id);
        ids[i] = id;
    }
    ids
}

/// Fills in the ids of every entity of `p` from its names.
pub fn assign_ids(p: &mut Program) {
    let mut used = HashSet::new();
    let names: Vec<String> = p.actions.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p.actions.iter_mut().zip(allocate(0x01, &names, &mut used)) {
        a.id = id;
    }
    let names: Vec<String> = p.tables.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p.tables.iter_mut().zip(allocate(0x02, &names, &mut used)) {
        a.id = id;
    }
    let mut ctl: Vec<String> = Vec::new();
    ctl.extend(p.packet_in.iter().map(|h| h.type_name.clone()));
    ctl.extend(p.packet_out.iter().map(|h| h.type_name.clone()));
    let ids = allocate(0x04, &ctl, &mut used);
    let mut it = ids.into_iter();
    if let Some(h) = p.packet_in.as_mut() {
        h.id = it.next().unwrap_or(0);
    }
    if let Some(h) = p.packet_out.as_mut() {
        h.id = it.next().unwrap_or(0);
    }
    let names: Vec<String> = p.counters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p.counters.iter_mut().zip(allocate(0x12, &names, &mut used)) {
        a.id = id;
    }
    let names: Vec<String> = p.direct_counters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .direct_counters
        .iter_mut()
        .zip(allocate(0x13, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.meters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p.meters.iter_mut().zip(allocate(0x14, &names, &mut used)) {
        a.id = id;
    }
    let names: Vec<String> = p.direct_meters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .direct_meters
        .iter_mut()
        .zip(allocate(0x15, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.registers.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .registers
        .iter_mut()
        .zip(allocate(0x16, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.digests.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p.digests.iter_mut().zip(allocate(0x17, &names, &mut used)) {
        a.id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_the_reference_corpus() {
        // from cpu.p4info.txtpb written by p4c
        assert_eq!(
            (0x02 << 24) | (jenkins_hash("MyIngress.proto_tbl") & 0xff_ffff),
            44_310_127
        );
        assert_eq!(
            (0x01 << 24) | (jenkins_hash("MyIngress.punt") & 0xff_ffff),
            30_589_483
        );
        assert_eq!(
            (0x04 << 24) | (jenkins_hash("packet_in_t") & 0xff_ffff),
            80_671_331
        );
    }
}
