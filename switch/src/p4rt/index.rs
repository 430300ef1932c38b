//! Lookup tables over a P4Info by id: what the service needs to validate entities
//! (ids, match kinds, bit widths, action scopes, sizes) before they reach the engine.

use std::collections::HashMap;

use flashmesh_proto::p4::config::v1::{
    self as p4info, P4Info, action_ref::Scope, match_field::Match, match_field::MatchType,
};

/// Match kinds as P4Runtime names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    Lpm,
    Ternary,
    Range,
    Optional,
}

/// One match field of a table.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    pub id: u32,
    pub name: String,
    pub bitwidth: u32,
    pub kind: MatchKind,
}

/// A table.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub id: u32,
    pub name: String,
    pub fields: Vec<FieldInfo>,
    /// Action id -> scope.
    pub actions: HashMap<u32, Scope>,
    pub const_default_action_id: u32,
    pub direct_counter: Option<u32>,
    pub direct_meter: Option<u32>,
    pub size: i64,
    pub is_const: bool,
    pub supports_idle_timeout: bool,
    /// Ternary, range or optional keys: entries carry a priority.
    pub needs_priority: bool,
}

/// A parameter of an action.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    pub id: u32,
    pub name: String,
    pub bitwidth: u32,
}

/// An action.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    pub id: u32,
    pub name: String,
    pub params: Vec<ParamInfo>,
}

/// An indexed extern (counter, meter, register) or a direct one.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub id: u32,
    pub name: String,
    /// Number of cells (indexed resources).
    pub size: i64,
    /// The table of a direct resource.
    pub table_id: u32,
    /// Cell width of a register (0 when not a bitstring).
    pub bitwidth: u32,
}

/// One field of a controller header (packet_in / packet_out).
#[derive(Debug, Clone)]
pub struct MetadataInfo {
    pub id: u32,
    pub name: String,
    pub bitwidth: u32,
}

/// The ids of one P4Info, indexed.
#[derive(Debug, Clone, Default)]
pub struct P4InfoIndex {
    pub tables: HashMap<u32, TableInfo>,
    pub actions: HashMap<u32, ActionInfo>,
    pub counters: HashMap<u32, ResourceInfo>,
    pub direct_counters: HashMap<u32, ResourceInfo>,
    pub meters: HashMap<u32, ResourceInfo>,
    pub direct_meters: HashMap<u32, ResourceInfo>,
    pub registers: HashMap<u32, ResourceInfo>,
    pub digests: HashMap<u32, String>,
    pub packet_in: Vec<MetadataInfo>,
    pub packet_out: Vec<MetadataInfo>,
}

fn name_of(p: Option<&p4info::Preamble>) -> (u32, String) {
    p.map(|p| (p.id, p.name.clone())).unwrap_or_default()
}

fn kind_of(m: Option<&Match>) -> MatchKind {
    match m {
        Some(Match::MatchType(t)) => match MatchType::try_from(*t) {
            Ok(MatchType::Lpm) => MatchKind::Lpm,
            Ok(MatchType::Ternary) => MatchKind::Ternary,
            Ok(MatchType::Range) => MatchKind::Range,
            Ok(MatchType::Optional) => MatchKind::Optional,
            _ => MatchKind::Exact,
        },
        _ => MatchKind::Exact,
    }
}

fn register_width(spec: Option<&p4info::P4DataTypeSpec>) -> u32 {
    use p4info::p4_bitstring_like_type_spec::TypeSpec as B;
    use p4info::p4_data_type_spec::TypeSpec as D;
    match spec.and_then(|s| s.type_spec.as_ref()) {
        Some(D::Bitstring(b)) => match &b.type_spec {
            Some(B::Bit(b)) => b.bitwidth as u32,
            Some(B::Int(i)) => i.bitwidth as u32,
            Some(B::Varbit(v)) => v.max_bitwidth as u32,
            None => 0,
        },
        Some(D::Bool(_)) => 1,
        _ => 0,
    }
}

impl P4InfoIndex {
    /// Indexes `info`.
    pub fn new(info: &P4Info) -> Self {
        let mut ix = P4InfoIndex::default();
        let mut direct_of: HashMap<u32, u32> = HashMap::new();
        for c in &info.direct_counters {
            let (id, name) = name_of(c.preamble.as_ref());
            direct_of.insert(id, c.direct_table_id);
            ix.direct_counters.insert(
                id,
                ResourceInfo {
                    id,
                    name,
                    size: 0,
                    table_id: c.direct_table_id,
                    bitwidth: 0,
                },
            );
        }
        for m in &info.direct_meters {
            let (id, name) = name_of(m.preamble.as_ref());
            ix.direct_meters.insert(
                id,
                ResourceInfo {
                    id,
                    name,
                    size: 0,
                    table_id: m.direct_table_id,
                    bitwidth: 0,
                },
            );
        }
        for t in &info.tables {
            let (id, name) = name_of(t.preamble.as_ref());
            let fields: Vec<FieldInfo> = t
                .match_fields
                .iter()
                .map(|f| FieldInfo {
                    id: f.id,
                    name: f.name.clone(),
                    bitwidth: f.bitwidth as u32,
                    kind: kind_of(f.r#match.as_ref()),
                })
                .collect();
            let needs_priority = fields.iter().any(|f| {
                matches!(
                    f.kind,
                    MatchKind::Ternary | MatchKind::Range | MatchKind::Optional
                )
            });
            let actions = t
                .action_refs
                .iter()
                .map(|a| {
                    (
                        a.id,
                        Scope::try_from(a.scope).unwrap_or(Scope::TableAndDefault),
                    )
                })
                .collect();
            let direct_counter = t
                .direct_resource_ids
                .iter()
                .copied()
                .find(|r| ix.direct_counters.contains_key(r));
            let direct_meter = t
                .direct_resource_ids
                .iter()
                .copied()
                .find(|r| ix.direct_meters.contains_key(r));
            ix.tables.insert(
                id,
                TableInfo {
                    id,
                    name,
                    fields,
                    actions,
                    const_default_action_id: t.const_default_action_id,
                    direct_counter,
                    direct_meter,
                    size: t.size,
                    is_const: t.is_const_table,
                    supports_idle_timeout: t.idle_timeout_behavior
                        == p4info::table::IdleTimeoutBehavior::NotifyControl as i32,
                    needs_priority,
                },
            );
        }
        for a in &info.actions {
            let (id, name) = name_of(a.preamble.as_ref());
            let params = a
                .params
                .iter()
                .map(|p| ParamInfo {
                    id: p.id,
                    name: p.name.clone(),
                    bitwidth: p.bitwidth as u32,
                })
                .collect();
            ix.actions.insert(id, ActionInfo { id, name, params });
        }
        for c in &info.counters {
            let (id, name) = name_of(c.preamble.as_ref());
            ix.counters.insert(
                id,
                ResourceInfo {
                    id,
                    name,
                    size: c.size,
                    table_id: 0,
                    bitwidth: 0,
                },
            );
        }
        for m in &info.meters {
            let (id, name) = name_of(m.preamble.as_ref());
            ix.meters.insert(
                id,
                ResourceInfo {
                    id,
                    name,
                    size: m.size,
                    table_id: 0,
                    bitwidth: 0,
                },
            );
        }
        for r in &info.registers {
            let (id, name) = name_of(r.preamble.as_ref());
            let bitwidth = register_width(r.type_spec.as_ref());
            ix.registers.insert(
                id,
                ResourceInfo {
                    id,
                    name,
                    size: r.size as i64,
                    table_id: 0,
                    bitwidth,
                },
            );
        }
        for d in &info.digests {
            let (id, name) = name_of(d.preamble.as_ref());
            ix.digests.insert(id, name);
        }
        for c in &info.controller_packet_metadata {
            let (_, name) = name_of(c.preamble.as_ref());
            let fields = c
                .metadata
                .iter()
                .map(|m| MetadataInfo {
                    id: m.id,
                    name: m.name.clone(),
                    bitwidth: m.bitwidth as u32,
                })
                .collect();
            match name.as_str() {
                "packet_in" => ix.packet_in = fields,
                "packet_out" => ix.packet_out = fields,
                _ => {}
            }
        }
        ix
    }

    /// The table, or NOT_FOUND.
    pub fn table(&self, id: u32) -> Result<&TableInfo, super::status::P4rtError> {
        self.tables
            .get(&id)
            .ok_or_else(|| super::status::P4rtError::not_found(format!("no table with id {id}")))
    }

    /// The action, or NOT_FOUND.
    pub fn action(&self, id: u32) -> Result<&ActionInfo, super::status::P4rtError> {
        self.actions
            .get(&id)
            .ok_or_else(|| super::status::P4rtError::not_found(format!("no action with id {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_reference_p4info() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/bmv2-reference/tables.p4info.txtpb"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            println!("skipped: {path} not present");
            return;
        };
        let info = flashmesh_proto::p4info_from_text(&text).unwrap();
        let ix = P4InfoIndex::new(&info);
        assert_eq!(ix.tables.len(), info.tables.len());
        let with_counter = ix
            .tables
            .values()
            .filter(|t| t.direct_counter.is_some())
            .count();
        assert_eq!(with_counter, info.direct_counters.len());
        for t in ix.tables.values() {
            assert!(!t.name.is_empty());
            for a in t.actions.keys() {
                assert!(
                    ix.actions.contains_key(a),
                    "{} refers to unknown action {a}",
                    t.name
                );
            }
        }
    }
}
