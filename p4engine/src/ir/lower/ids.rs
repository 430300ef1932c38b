//! Ids of the lowered program's objects: computed from their names by the P4Info id
//! allocation ([`crate::p4info::ids`], as p4c assigns them), then taken from the program's
//! derived P4Info where it lists the object.

use std::collections::HashSet;

use crate::ir::Program;
use crate::p4info::ids::{allocate, prefix};

/// Fills in the ids of every entity of `p` from its names.
pub fn assign_ids(p: &mut Program) {
    let mut used = HashSet::new();
    let names: Vec<String> = p.actions.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .actions
        .iter_mut()
        .zip(allocate(prefix::ACTION, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.tables.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .tables
        .iter_mut()
        .zip(allocate(prefix::TABLE, &names, &mut used))
    {
        a.id = id;
    }
    let mut ctl: Vec<String> = Vec::new();
    ctl.extend(p.packet_in.iter().map(|h| h.type_name.clone()));
    ctl.extend(p.packet_out.iter().map(|h| h.type_name.clone()));
    let ids = allocate(prefix::CONTROLLER_HEADER, &ctl, &mut used);
    let mut it = ids.into_iter();
    if let Some(h) = p.packet_in.as_mut() {
        h.id = it.next().unwrap_or(0);
    }
    if let Some(h) = p.packet_out.as_mut() {
        h.id = it.next().unwrap_or(0);
    }
    let names: Vec<String> = p.counters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .counters
        .iter_mut()
        .zip(allocate(prefix::COUNTER, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.direct_counters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in
        p.direct_counters
            .iter_mut()
            .zip(allocate(prefix::DIRECT_COUNTER, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.meters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .meters
        .iter_mut()
        .zip(allocate(prefix::METER, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.direct_meters.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .direct_meters
        .iter_mut()
        .zip(allocate(prefix::DIRECT_METER, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.registers.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .registers
        .iter_mut()
        .zip(allocate(prefix::REGISTER, &names, &mut used))
    {
        a.id = id;
    }
    let names: Vec<String> = p.digests.iter().map(|a| a.name.clone()).collect();
    for (a, id) in p
        .digests
        .iter_mut()
        .zip(allocate(prefix::DIGEST, &names, &mut used))
    {
        a.id = id;
    }
}

/// Takes ids and control-plane names from the program's derived P4Info (which honours `@id`
/// and `@name` exactly as p4c does): entities by name, match fields, parameters and
/// controller-header fields by position. Entities P4Info leaves out keep their computed ids.
pub fn sync_with_p4info(p: &mut Program, info: &crate::p4info::P4Info) {
    fn pre(x: &Option<flashmesh_proto::p4::config::v1::Preamble>) -> Option<(u32, &str)> {
        x.as_ref().map(|p| (p.id, p.name.as_str()))
    }
    for t in &info.tables {
        let Some((id, name)) = pre(&t.preamble) else {
            continue;
        };
        if let Some(mine) = p.tables.iter_mut().find(|x| x.name == name) {
            mine.id = id;
            for (k, mf) in mine.keys.iter_mut().zip(&t.match_fields) {
                k.id = mf.id;
                k.name = mf.name.clone();
            }
        }
    }
    for a in &info.actions {
        let Some((id, name)) = pre(&a.preamble) else {
            continue;
        };
        if let Some(mine) = p.actions.iter_mut().find(|x| x.name == name) {
            mine.id = id;
            for (prm, ip) in mine.params.iter_mut().zip(&a.params) {
                prm.id = ip.id;
                prm.name = ip.name.clone();
            }
        }
    }
    macro_rules! by_name {
        ($mine:expr, $theirs:expr) => {
            for x in $theirs {
                if let Some((id, name)) = pre(&x.preamble)
                    && let Some(m) = $mine.iter_mut().find(|m| m.name == name)
                {
                    m.id = id;
                }
            }
        };
    }
    by_name!(p.counters, &info.counters);
    by_name!(p.direct_counters, &info.direct_counters);
    by_name!(p.meters, &info.meters);
    by_name!(p.direct_meters, &info.direct_meters);
    by_name!(p.registers, &info.registers);
    by_name!(p.digests, &info.digests);
    for c in &info.controller_packet_metadata {
        let Some((id, name)) = pre(&c.preamble) else {
            continue;
        };
        for h in [p.packet_in.as_mut(), p.packet_out.as_mut()]
            .into_iter()
            .flatten()
        {
            if h.name == name {
                h.id = id;
                for (f, m) in h.fields.iter_mut().zip(&c.metadata) {
                    f.0 = m.id;
                    f.1 = m.name.clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::p4info::ids::jenkins_one_at_a_time as jenkins_hash;

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
