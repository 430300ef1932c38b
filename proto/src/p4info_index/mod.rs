//! An index over one P4Info, shared by the controller (which looks objects up by name) and
//! flash-switch (which looks them up by id): tables with their match fields and actions,
//! actions with their parameters, counters, meters, registers (indexed and direct), digests
//! and controller headers.
//!
//! [`P4InfoIndex::new`] builds it; each kind is an [`Entities`] (by id, and by name or alias).

mod entities;
mod objects;

pub use entities::Entities;
pub use objects::{
    ActionInfo, ControllerHeaderInfo, DigestInfo, FieldInfo, MatchKind, ParamInfo, ResourceInfo,
    TableInfo,
};

use crate::p4::config::v1::{
    self as cfg, action_ref::Scope, match_field::Match, match_field::MatchType,
};

/// The objects of one P4Info, indexed.
#[derive(Debug, Clone, Default)]
pub struct P4InfoIndex {
    tables: Entities<TableInfo>,
    actions: Entities<ActionInfo>,
    counters: Entities<ResourceInfo>,
    direct_counters: Entities<ResourceInfo>,
    meters: Entities<ResourceInfo>,
    direct_meters: Entities<ResourceInfo>,
    registers: Entities<ResourceInfo>,
    digests: Entities<DigestInfo>,
    controller_headers: Entities<ControllerHeaderInfo>,
}

fn preamble(p: Option<&cfg::Preamble>) -> (u32, String, String) {
    p.map(|p| (p.id, p.name.clone(), p.alias.clone()))
        .unwrap_or_default()
}

fn kind_of(m: Option<&Match>) -> MatchKind {
    match m {
        Some(Match::MatchType(k)) => match MatchType::try_from(*k) {
            Ok(MatchType::Exact) => MatchKind::Exact,
            Ok(MatchType::Lpm) => MatchKind::Lpm,
            Ok(MatchType::Ternary) => MatchKind::Ternary,
            Ok(MatchType::Range) => MatchKind::Range,
            Ok(MatchType::Optional) => MatchKind::Optional,
            _ => MatchKind::Other,
        },
        _ => MatchKind::Other,
    }
}

/// A width from P4Info (negative ones read as 0).
fn width(bitwidth: i32) -> u32 {
    bitwidth.max(0) as u32
}

fn register_width(spec: Option<&cfg::P4DataTypeSpec>) -> u32 {
    use cfg::p4_bitstring_like_type_spec::TypeSpec as B;
    use cfg::p4_data_type_spec::TypeSpec as D;
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

fn params<'a>(fields: impl Iterator<Item = (u32, &'a String, i32)>) -> Vec<ParamInfo> {
    fields
        .map(|(id, name, bitwidth)| ParamInfo {
            id,
            name: name.clone(),
            bitwidth: width(bitwidth),
        })
        .collect()
}

fn table(t: &cfg::Table, ix: &P4InfoIndex) -> TableInfo {
    let (id, name, _) = preamble(t.preamble.as_ref());
    let fields: Vec<FieldInfo> = t
        .match_fields
        .iter()
        .map(|f| FieldInfo {
            id: f.id,
            name: f.name.clone(),
            bitwidth: width(f.bitwidth),
            kind: kind_of(f.r#match.as_ref()),
        })
        .collect();
    let needs_priority = fields.iter().any(|f| f.kind.needs_priority());
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
    let direct = |of: &Entities<ResourceInfo>| {
        t.direct_resource_ids
            .iter()
            .copied()
            .find(|r| of.contains(*r))
    };
    TableInfo {
        id,
        name,
        fields,
        actions,
        const_default_action_id: t.const_default_action_id,
        direct_counter: direct(&ix.direct_counters),
        direct_meter: direct(&ix.direct_meters),
        size: t.size,
        is_const: t.is_const_table,
        supports_idle_timeout: t.idle_timeout_behavior
            == cfg::table::IdleTimeoutBehavior::NotifyControl as i32,
        needs_priority,
    }
}

impl P4InfoIndex {
    /// Indexes `info`.
    pub fn new(info: &cfg::P4Info) -> Self {
        let mut ix = Self::default();
        let resource = |p: Option<&cfg::Preamble>, size: i64, table_id: u32, bitwidth: u32| {
            let (id, name, alias) = preamble(p);
            let r = ResourceInfo {
                id,
                name: name.clone(),
                size,
                table_id,
                bitwidth,
            };
            (id, name, alias, r)
        };
        // Direct resources first: tables refer to them.
        for c in &info.direct_counters {
            let (id, name, alias, r) = resource(c.preamble.as_ref(), 0, c.direct_table_id, 0);
            ix.direct_counters.insert(id, &name, &alias, r);
        }
        for m in &info.direct_meters {
            let (id, name, alias, r) = resource(m.preamble.as_ref(), 0, m.direct_table_id, 0);
            ix.direct_meters.insert(id, &name, &alias, r);
        }
        for t in &info.tables {
            let (id, name, alias) = preamble(t.preamble.as_ref());
            let info = table(t, &ix);
            ix.tables.insert(id, &name, &alias, info);
        }
        for a in &info.actions {
            let (id, name, alias) = preamble(a.preamble.as_ref());
            let params = params(a.params.iter().map(|p| (p.id, &p.name, p.bitwidth)));
            let info = ActionInfo {
                id,
                name: name.clone(),
                params,
            };
            ix.actions.insert(id, &name, &alias, info);
        }
        for c in &info.counters {
            let (id, name, alias, r) = resource(c.preamble.as_ref(), c.size, 0, 0);
            ix.counters.insert(id, &name, &alias, r);
        }
        for m in &info.meters {
            let (id, name, alias, r) = resource(m.preamble.as_ref(), m.size, 0, 0);
            ix.meters.insert(id, &name, &alias, r);
        }
        for r in &info.registers {
            let bitwidth = register_width(r.type_spec.as_ref());
            let (id, name, alias, info) =
                resource(r.preamble.as_ref(), i64::from(r.size), 0, bitwidth);
            ix.registers.insert(id, &name, &alias, info);
        }
        for d in &info.digests {
            let (id, name, alias) = preamble(d.preamble.as_ref());
            let info = DigestInfo {
                id,
                name: name.clone(),
            };
            ix.digests.insert(id, &name, &alias, info);
        }
        for h in &info.controller_packet_metadata {
            let (id, name, alias) = preamble(h.preamble.as_ref());
            let metadata = params(h.metadata.iter().map(|m| (m.id, &m.name, m.bitwidth)));
            let info = ControllerHeaderInfo {
                id,
                name: name.clone(),
                metadata,
            };
            ix.controller_headers.insert(id, &name, &alias, info);
        }
        ix
    }

    /// Tables.
    pub fn tables(&self) -> &Entities<TableInfo> {
        &self.tables
    }

    /// Actions.
    pub fn actions(&self) -> &Entities<ActionInfo> {
        &self.actions
    }

    /// Indexed counters.
    pub fn counters(&self) -> &Entities<ResourceInfo> {
        &self.counters
    }

    /// Direct counters.
    pub fn direct_counters(&self) -> &Entities<ResourceInfo> {
        &self.direct_counters
    }

    /// Indexed meters.
    pub fn meters(&self) -> &Entities<ResourceInfo> {
        &self.meters
    }

    /// Direct meters.
    pub fn direct_meters(&self) -> &Entities<ResourceInfo> {
        &self.direct_meters
    }

    /// Registers.
    pub fn registers(&self) -> &Entities<ResourceInfo> {
        &self.registers
    }

    /// Digests.
    pub fn digests(&self) -> &Entities<DigestInfo> {
        &self.digests
    }

    /// Controller headers (`packet_in`, `packet_out`).
    pub fn controller_headers(&self) -> &Entities<ControllerHeaderInfo> {
        &self.controller_headers
    }

    /// A table name by id.
    pub fn table_name(&self, id: u32) -> Option<&str> {
        self.tables.get(id).map(|t| t.name.as_str())
    }

    /// An action name by id.
    pub fn action_name(&self, id: u32) -> Option<&str> {
        self.actions.get(id).map(|a| a.name.as_str())
    }

    /// A digest name by id.
    pub fn digest_name(&self, id: u32) -> Option<&str> {
        self.digests.get(id).map(|d| d.name.as_str())
    }
}

#[cfg(test)]
mod tests;
