//! P4Info of a P4_16 program, derived by the Flash-Mesh P4 engine as p4c would (the engine
//! flash-switch runs), for flash-switch targets configured with only the `.p4` source.

use flashmesh_proto::p4::config::v1 as cfg;

use super::error::P4rtError;

/// Compiles P4_16 source and derives its P4Info.
pub fn p4info_from_source(name: &str, source: &str) -> Result<cfg::P4Info, P4rtError> {
    flashmesh_p4::p4info_source(name, source).map_err(|d| P4rtError::PipelineFile {
        path: name.to_string(),
        message: format!("does not compile:\n{d}"),
    })
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
        use crate::p4rt::{P4InfoIndex, P4InfoNames};
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
