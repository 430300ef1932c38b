//! P4Info of a P4_16 program compiled by the Flash-Mesh P4 engine (the engine flash-switch
//! runs), for flash-switch targets configured with only the `.p4` source. Ids and names are the
//! engine's, which follow p4c's scheme, so the result describes the same program a switch
//! compiles from the same source.

use flashmesh_p4::ir::{ActionScope, CounterUnit, MatchKind, Program};
use flashmesh_proto::p4::config::v1 as cfg;

use super::error::P4rtError;

fn preamble(id: u32, name: &str) -> Option<cfg::Preamble> {
    let alias = name.rsplit('.').next().unwrap_or(name).to_string();
    Some(cfg::Preamble {
        id,
        name: name.to_string(),
        alias,
        ..Default::default()
    })
}

fn unit(u: CounterUnit) -> Option<cfg::CounterSpec> {
    use cfg::counter_spec::Unit;
    let u = match u {
        CounterUnit::Packets => Unit::Packets,
        CounterUnit::Bytes => Unit::Bytes,
        CounterUnit::Both => Unit::Both,
    };
    Some(cfg::CounterSpec { unit: u as i32 })
}

/// The P4Info of a compiled program.
pub fn p4info_of(p: &Program) -> cfg::P4Info {
    use cfg::match_field::{Match, MatchType};
    let action_id = |a: u32| p.actions.get(a as usize).map(|x| x.id).unwrap_or(0);
    let table_id = |t: u32| p.tables.get(t as usize).map(|x| x.id).unwrap_or(0);
    let mut info = cfg::P4Info {
        pkg_info: Some(cfg::PkgInfo {
            arch: "v1model".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    for t in &p.tables {
        let mut direct = Vec::new();
        if let Some(c) = t.direct_counter
            && let Some(dc) = p.direct_counters.get(c as usize)
        {
            direct.push(dc.id);
        }
        if let Some(m) = t.direct_meter
            && let Some(dm) = p.direct_meters.get(m as usize)
        {
            direct.push(dm.id);
        }
        info.tables.push(cfg::Table {
            preamble: preamble(t.id, &t.name),
            match_fields: t
                .keys
                .iter()
                .map(|k| cfg::MatchField {
                    id: k.id,
                    name: k.name.clone(),
                    bitwidth: k.width as i32,
                    r#match: Some(Match::MatchType(match k.kind {
                        MatchKind::Exact => MatchType::Exact,
                        MatchKind::Lpm => MatchType::Lpm,
                        MatchKind::Ternary => MatchType::Ternary,
                        MatchKind::Range => MatchType::Range,
                        MatchKind::Optional => MatchType::Optional,
                    } as i32)),
                    ..Default::default()
                })
                .collect(),
            action_refs: t
                .actions
                .iter()
                .map(|(a, scope)| cfg::ActionRef {
                    id: action_id(*a),
                    scope: match scope {
                        ActionScope::TableAndDefault => 0,
                        ActionScope::TableOnly => 1,
                        ActionScope::DefaultOnly => 2,
                    },
                    ..Default::default()
                })
                .collect(),
            const_default_action_id: if t.default_is_const {
                action_id(t.default_action.action)
            } else {
                0
            },
            direct_resource_ids: direct,
            size: i64::from(t.size),
            is_const_table: t.entries_const,
            has_initial_entries: !t.entries.is_empty(),
            ..Default::default()
        });
    }
    for a in &p.actions {
        info.actions.push(cfg::Action {
            preamble: preamble(a.id, &a.name),
            params: a
                .params
                .iter()
                .map(|x| cfg::action::Param {
                    id: x.id,
                    name: x.name.clone(),
                    bitwidth: x.width as i32,
                    ..Default::default()
                })
                .collect(),
        });
    }
    for c in &p.counters {
        info.counters.push(cfg::Counter {
            preamble: preamble(c.id, &c.name),
            spec: unit(c.unit),
            size: i64::from(c.size),
            ..Default::default()
        });
    }
    for c in &p.direct_counters {
        info.direct_counters.push(cfg::DirectCounter {
            preamble: preamble(c.id, &c.name),
            spec: unit(c.unit),
            direct_table_id: c.table.map(table_id).unwrap_or(0),
        });
    }
    for m in &p.meters {
        info.meters.push(cfg::Meter {
            preamble: preamble(m.id, &m.name),
            size: i64::from(m.size),
            ..Default::default()
        });
    }
    for m in &p.direct_meters {
        info.direct_meters.push(cfg::DirectMeter {
            preamble: preamble(m.id, &m.name),
            direct_table_id: m.table.map(table_id).unwrap_or(0),
            ..Default::default()
        });
    }
    for r in &p.registers {
        info.registers.push(cfg::Register {
            preamble: preamble(r.id, &r.name),
            size: r.size as i32,
            ..Default::default()
        });
    }
    for d in &p.digests {
        info.digests.push(cfg::Digest {
            preamble: preamble(d.id, &d.name),
            ..Default::default()
        });
    }
    for h in [&p.packet_in, &p.packet_out].into_iter().flatten() {
        info.controller_packet_metadata
            .push(cfg::ControllerPacketMetadata {
                preamble: preamble(h.id, &h.name),
                metadata: h
                    .fields
                    .iter()
                    .map(|(id, name, w)| cfg::controller_packet_metadata::Metadata {
                        id: *id,
                        name: name.clone(),
                        bitwidth: *w as i32,
                        ..Default::default()
                    })
                    .collect(),
            });
    }
    info
}

/// Compiles P4_16 source and derives its P4Info.
pub fn p4info_from_source(name: &str, source: &str) -> Result<cfg::P4Info, P4rtError> {
    let program = flashmesh_p4::compile_str(name, source).map_err(|d| P4rtError::PipelineFile {
        path: name.to_string(),
        message: format!("does not compile:\n{d}"),
    })?;
    Ok(p4info_of(&program))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's P4Info of the reference program carries the ids p4c wrote.
    #[test]
    fn matches_p4c_ids_on_the_reference_program() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        let src = std::fs::read_to_string(format!("{dir}/tables.p4")).unwrap();
        let ours = match p4info_from_source("tables.p4", &src) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        };
        let text = std::fs::read_to_string(format!("{dir}/tables.p4info.txtpb")).unwrap();
        let p4c = flashmesh_proto::p4info_from_text(&text).unwrap();
        for t in &p4c.tables {
            let p = t.preamble.as_ref().unwrap();
            let o = ours
                .tables
                .iter()
                .find(|x| x.preamble.as_ref().unwrap().name == p.name)
                .unwrap_or_else(|| panic!("{} missing", p.name));
            assert_eq!(o.preamble.as_ref().unwrap().id, p.id, "{}", p.name);
            assert_eq!(o.match_fields.len(), t.match_fields.len());
        }
        for a in &p4c.actions {
            let p = a.preamble.as_ref().unwrap();
            let o = ours
                .actions
                .iter()
                .find(|x| x.preamble.as_ref().unwrap().name == p.name)
                .unwrap_or_else(|| panic!("{} missing", p.name));
            assert_eq!(o.preamble.as_ref().unwrap().id, p.id, "{}", p.name);
        }
    }

    /// Every name the controller writes or reads exists in flash_mesh.p4 with the kinds and
    /// parameters the controller uses.
    #[test]
    fn flash_mesh_has_every_name_the_controller_uses() {
        use crate::p4rt::P4InfoIndex;
        use crate::sdn::flash_mesh::{self as fm, names};
        use crate::sdn::routes::{NextHop, Route};
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../p4src/flash_mesh.p4");
        let src = std::fs::read_to_string(path).unwrap();
        let info = p4info_from_source("flash_mesh.p4", &src).unwrap_or_else(|e| panic!("{e}"));
        let ix = P4InfoIndex::new(&info);
        let route = Route {
            addr: std::net::Ipv4Addr::new(10, 0, 1, 0),
            prefix_len: 24,
            primary: NextHop {
                port: 1,
                dmac: [2; 6],
            },
            backup: NextHop {
                port: 2,
                dmac: [3; 6],
            },
            smac: [4; 6],
        };
        let mut specs = fm::policy_entries(&Default::default());
        specs.push(fm::epoch_entry(1, 2));
        specs.push(fm::route_entry(&route));
        specs.push(fm::blocked_entry([1; 8]));
        specs.push(fm::port_down_entry(3));
        for s in &specs {
            ix.build_entry(s)
                .unwrap_or_else(|e| panic!("{}: {e}", s.table));
        }
        for c in [names::TX_CLASS, names::DROPS, names::QDEPTH_HIST] {
            ix.counter(c).unwrap();
        }
        ix.build_metadata(
            "packet_out",
            &[(names::PO_EGRESS_PORT, 1), (names::PO_FLAGS, 0)],
        )
        .unwrap();
        let pin = ix.controller_header("packet_in").unwrap();
        for n in [names::PI_INGRESS_PORT, names::PI_REASON] {
            assert!(pin.metadata.iter().any(|m| m.name == n), "{n}");
        }
    }
}
