//! The controller's view of a P4Info ([`P4InfoIndex`], shared with flash-switch in
//! `flashmesh_proto::p4info_index`): tables with their match fields, actions with their
//! parameters, counters, direct counters, digests and controller packet metadata, all by name
//! (or alias) with typed errors ([`P4InfoNames`]). Also turns name-based [`EntrySpec`]s into
//! P4Runtime `TableEntry` messages and back, checking every name, kind and width. No id is
//! ever hard-coded: everything is found by name (or alias).

use flashmesh_proto::p4::v1 as p4;
pub use flashmesh_proto::p4info_index::{
    ActionInfo, ControllerHeaderInfo, FieldInfo, MatchKind, P4InfoIndex, ParamInfo, ResourceInfo,
    TableInfo,
};
use thiserror::Error;

use super::bytes;
use super::spec::{EntrySpec, FieldMatch};

/// A name or value that does not fit the P4Info.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum P4InfoError {
    /// No table of that name.
    #[error("P4Info has no table {0}")]
    UnknownTable(String),
    /// No action of that name.
    #[error("P4Info has no action {0}")]
    UnknownAction(String),
    /// No counter of that name.
    #[error("P4Info has no counter {0}")]
    UnknownCounter(String),
    /// No digest of that name.
    #[error("P4Info has no digest {0}")]
    UnknownDigest(String),
    /// No controller header of that name.
    #[error("P4Info has no controller packet metadata {0}")]
    UnknownControllerHeader(String),
    /// Match field not in the table.
    #[error("table {table} has no match field {field}")]
    UnknownField {
        /// Table.
        table: String,
        /// Field.
        field: String,
    },
    /// Parameter not in the action.
    #[error("action {action} has no parameter {param}")]
    UnknownParam {
        /// Action.
        action: String,
        /// Parameter.
        param: String,
    },
    /// Parameter missing.
    #[error("action {action} needs parameter {param}")]
    MissingParam {
        /// Action.
        action: String,
        /// Parameter.
        param: String,
    },
    /// Metadata field missing or unknown.
    #[error("controller header {header} has no field {field}")]
    UnknownMetadata {
        /// Header.
        header: String,
        /// Field.
        field: String,
    },
    /// The action is not one of the table's.
    #[error("action {action} is not an action of table {table}")]
    ActionNotInTable {
        /// Table.
        table: String,
        /// Action.
        action: String,
    },
    /// Wrong kind of match for the field.
    #[error("field {field} is matched {expected}, not {got}")]
    MatchKind {
        /// Field.
        field: String,
        /// Kind in P4Info.
        expected: String,
        /// Kind given.
        got: String,
    },
    /// A value wider than its field.
    #[error("{what}: {source}")]
    Width {
        /// Which field or parameter.
        what: String,
        /// Detail.
        source: bytes::WidthError,
    },
    /// An exact field left out.
    #[error("table {table}: exact field {field} must be given")]
    MissingExact {
        /// Table.
        table: String,
        /// Field.
        field: String,
    },
    /// A prefix longer than the field.
    #[error("field {field}: prefix length {len} exceeds {bitwidth} bits")]
    PrefixLen {
        /// Field.
        field: String,
        /// Prefix length given.
        len: u32,
        /// Width.
        bitwidth: u32,
    },
    /// Something read back that P4Info does not describe.
    #[error("unknown id {0} in a message from the switch")]
    UnknownId(u32),
}

/// The controller's lookups in a [`P4InfoIndex`]: everything by name (or alias), refused
/// with a [`P4InfoError`], and [`EntrySpec`]s and packet metadata to P4Runtime messages and
/// back.
pub trait P4InfoNames {
    /// A table by name.
    fn table(&self, name: &str) -> Result<&TableInfo, P4InfoError>;
    /// An action by name.
    fn action(&self, name: &str) -> Result<&ActionInfo, P4InfoError>;
    /// An indirect counter by name.
    fn counter(&self, name: &str) -> Result<&ResourceInfo, P4InfoError>;
    /// A direct counter by name.
    fn direct_counter(&self, name: &str) -> Result<&ResourceInfo, P4InfoError>;
    /// A digest id by name.
    fn digest(&self, name: &str) -> Result<u32, P4InfoError>;
    /// A controller header by name (`packet_in`, `packet_out`).
    fn controller_header(&self, name: &str) -> Result<&ControllerHeaderInfo, P4InfoError>;
    fn build_action(
        &self,
        action: &str,
        params: &[(String, Vec<u8>)],
    ) -> Result<p4::Action, P4InfoError>;
    fn build_entry(&self, spec: &EntrySpec) -> Result<p4::TableEntry, P4InfoError>;
    fn table_selector(&self, table: &str) -> Result<p4::TableEntry, P4InfoError>;
    fn decode_entry(&self, e: &p4::TableEntry) -> Result<EntrySpec, P4InfoError>;
    fn build_metadata(
        &self,
        header: &str,
        values: &[(&str, u128)],
    ) -> Result<Vec<p4::PacketMetadata>, P4InfoError>;
    fn decode_metadata(
        &self,
        header: &str,
        md: &[p4::PacketMetadata],
    ) -> Result<Vec<(String, u128)>, P4InfoError>;
}

/// The kind of match a spec asks for.
fn kind_of(m: &FieldMatch) -> MatchKind {
    match m {
        FieldMatch::Exact(_) => MatchKind::Exact,
        FieldMatch::Lpm(..) => MatchKind::Lpm,
        FieldMatch::Ternary(..) => MatchKind::Ternary,
        FieldMatch::Range(..) => MatchKind::Range,
        FieldMatch::Optional(_) => MatchKind::Optional,
    }
}

impl P4InfoNames for P4InfoIndex {
    fn table(&self, name: &str) -> Result<&TableInfo, P4InfoError> {
        self.tables()
            .named(name)
            .ok_or_else(|| P4InfoError::UnknownTable(name.into()))
    }

    fn action(&self, name: &str) -> Result<&ActionInfo, P4InfoError> {
        self.actions()
            .named(name)
            .ok_or_else(|| P4InfoError::UnknownAction(name.into()))
    }

    fn counter(&self, name: &str) -> Result<&ResourceInfo, P4InfoError> {
        self.counters()
            .named(name)
            .ok_or_else(|| P4InfoError::UnknownCounter(name.into()))
    }

    fn direct_counter(&self, name: &str) -> Result<&ResourceInfo, P4InfoError> {
        self.direct_counters()
            .named(name)
            .ok_or_else(|| P4InfoError::UnknownCounter(name.into()))
    }

    fn digest(&self, name: &str) -> Result<u32, P4InfoError> {
        self.digests()
            .named(name)
            .map(|d| d.id)
            .ok_or_else(|| P4InfoError::UnknownDigest(name.into()))
    }

    fn controller_header(&self, name: &str) -> Result<&ControllerHeaderInfo, P4InfoError> {
        self.controller_headers()
            .named(name)
            .ok_or_else(|| P4InfoError::UnknownControllerHeader(name.into()))
    }

    fn build_action(
        &self,
        action: &str,
        params: &[(String, Vec<u8>)],
    ) -> Result<p4::Action, P4InfoError> {
        let a = self.action(action)?;
        for (n, _) in params {
            if !a.params.iter().any(|p| &p.name == n) {
                return Err(P4InfoError::UnknownParam {
                    action: action.into(),
                    param: n.clone(),
                });
            }
        }
        let mut out = Vec::with_capacity(a.params.len());
        for p in &a.params {
            let (_, v) = params.iter().find(|(n, _)| n == &p.name).ok_or_else(|| {
                P4InfoError::MissingParam {
                    action: action.into(),
                    param: p.name.clone(),
                }
            })?;
            let value = bytes::encode(v, p.bitwidth).map_err(|source| P4InfoError::Width {
                what: format!("{action}.{}", p.name),
                source,
            })?;
            out.push(p4::action::Param {
                param_id: p.id,
                value,
            });
        }
        Ok(p4::Action {
            action_id: a.id,
            params: out,
        })
    }

    fn build_entry(&self, spec: &EntrySpec) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.table(&spec.table)?;
        let mut matches = Vec::new();
        for (name, m) in &spec.matches {
            let f = t.fields.iter().find(|f| &f.name == name).ok_or_else(|| {
                P4InfoError::UnknownField {
                    table: t.name.clone(),
                    field: name.clone(),
                }
            })?;
            if let Some(fm) = build_match(f, m)? {
                matches.push(fm);
            }
        }
        if !spec.is_default {
            for f in t.fields.iter().filter(|f| f.kind == MatchKind::Exact) {
                if !spec.matches.iter().any(|(n, _)| n == &f.name) {
                    return Err(P4InfoError::MissingExact {
                        table: t.name.clone(),
                        field: f.name.clone(),
                    });
                }
            }
        }
        matches.sort_by_key(|m| m.field_id);
        let action = self.build_action(&spec.action, &spec.params)?;
        if !t.actions.is_empty() && !t.actions.contains_key(&action.action_id) {
            return Err(P4InfoError::ActionNotInTable {
                table: t.name.clone(),
                action: spec.action.clone(),
            });
        }
        Ok(p4::TableEntry {
            table_id: t.id,
            r#match: matches,
            action: Some(p4::TableAction {
                r#type: Some(p4::table_action::Type::Action(action)),
            }),
            priority: if t.needs_priority && !spec.is_default {
                spec.priority
            } else {
                0
            },
            is_default_action: spec.is_default,
            ..Default::default()
        })
    }

    fn table_selector(&self, table: &str) -> Result<p4::TableEntry, P4InfoError> {
        Ok(p4::TableEntry {
            table_id: self.table(table)?.id,
            ..Default::default()
        })
    }

    fn decode_entry(&self, e: &p4::TableEntry) -> Result<EntrySpec, P4InfoError> {
        let t = self
            .tables()
            .get(e.table_id)
            .ok_or(P4InfoError::UnknownId(e.table_id))?;
        let mut spec = EntrySpec::new(&t.name, "");
        spec.priority = e.priority;
        spec.is_default = e.is_default_action;
        for m in &e.r#match {
            let f = t
                .fields
                .iter()
                .find(|f| f.id == m.field_id)
                .ok_or(P4InfoError::UnknownId(m.field_id))?;
            use p4::field_match::FieldMatchType as T;
            let fm = match &m.field_match_type {
                Some(T::Exact(x)) => FieldMatch::Exact(bytes::canonical(&x.value)),
                Some(T::Lpm(x)) => FieldMatch::Lpm(bytes::canonical(&x.value), x.prefix_len as u32),
                Some(T::Ternary(x)) => {
                    FieldMatch::Ternary(bytes::canonical(&x.value), bytes::canonical(&x.mask))
                }
                Some(T::Range(x)) => {
                    FieldMatch::Range(bytes::canonical(&x.low), bytes::canonical(&x.high))
                }
                Some(T::Optional(x)) => FieldMatch::Optional(bytes::canonical(&x.value)),
                _ => continue,
            };
            spec.matches.push((f.name.clone(), fm));
        }
        if let Some(p4::TableAction {
            r#type: Some(p4::table_action::Type::Action(a)),
        }) = &e.action
        {
            let ai = self
                .actions()
                .get(a.action_id)
                .ok_or(P4InfoError::UnknownId(a.action_id))?;
            spec.action = ai.name.clone();
            for p in &a.params {
                let pi = ai
                    .params
                    .iter()
                    .find(|x| x.id == p.param_id)
                    .ok_or(P4InfoError::UnknownId(p.param_id))?;
                spec.params
                    .push((pi.name.clone(), bytes::canonical(&p.value)));
            }
        }
        Ok(spec)
    }

    fn build_metadata(
        &self,
        header: &str,
        values: &[(&str, u128)],
    ) -> Result<Vec<p4::PacketMetadata>, P4InfoError> {
        let h = self.controller_header(header)?;
        let mut out = Vec::new();
        for (n, v) in values {
            let m = h.metadata.iter().find(|m| m.name == *n).ok_or_else(|| {
                P4InfoError::UnknownMetadata {
                    header: header.into(),
                    field: (*n).into(),
                }
            })?;
            let value = bytes::padded(&bytes::from_u128(*v), m.bitwidth).map_err(|source| {
                P4InfoError::Width {
                    what: format!("{header}.{n}"),
                    source,
                }
            })?;
            out.push(p4::PacketMetadata {
                metadata_id: m.id,
                value,
            });
        }
        out.sort_by_key(|m| m.metadata_id);
        Ok(out)
    }

    fn decode_metadata(
        &self,
        header: &str,
        md: &[p4::PacketMetadata],
    ) -> Result<Vec<(String, u128)>, P4InfoError> {
        let h = self.controller_header(header)?;
        md.iter()
            .map(|m| {
                let f = h
                    .metadata
                    .iter()
                    .find(|f| f.id == m.metadata_id)
                    .ok_or(P4InfoError::UnknownId(m.metadata_id))?;
                Ok((
                    f.name.clone(),
                    bytes::to_u128(&m.value).unwrap_or(u128::MAX),
                ))
            })
            .collect()
    }
}

fn build_match(f: &FieldInfo, m: &FieldMatch) -> Result<Option<p4::FieldMatch>, P4InfoError> {
    use p4::field_match::{self as fmm, FieldMatchType as T};
    let got = kind_of(m);
    if got != f.kind {
        return Err(P4InfoError::MatchKind {
            field: f.name.clone(),
            expected: f.kind.name().into(),
            got: got.name().into(),
        });
    }
    let enc = |v: &[u8]| {
        bytes::encode(v, f.bitwidth).map_err(|source| P4InfoError::Width {
            what: f.name.clone(),
            source,
        })
    };
    let t = match m {
        FieldMatch::Exact(v) => T::Exact(fmm::Exact { value: enc(v)? }),
        FieldMatch::Lpm(v, len) => {
            if *len > f.bitwidth {
                return Err(P4InfoError::PrefixLen {
                    field: f.name.clone(),
                    len: *len,
                    bitwidth: f.bitwidth,
                });
            }
            if *len == 0 {
                return Ok(None); // a /0 is a wildcard: omitted
            }
            let masked = bytes::and(&enc(v)?, &bytes::prefix_mask(*len, f.bitwidth));
            T::Lpm(fmm::Lpm {
                value: bytes::canonical(&masked),
                prefix_len: *len as i32,
            })
        }
        FieldMatch::Ternary(v, mask) => {
            let mask = enc(mask)?;
            if mask == [0] {
                return Ok(None); // don't care
            }
            let value = bytes::canonical(&bytes::and(&enc(v)?, &mask));
            T::Ternary(fmm::Ternary { value, mask })
        }
        FieldMatch::Range(lo, hi) => {
            let (lo, hi) = (enc(lo)?, enc(hi)?);
            let full = bytes::canonical(&bytes::prefix_mask(f.bitwidth, f.bitwidth));
            if lo == [0] && hi == full {
                return Ok(None); // full range is a wildcard
            }
            T::Range(fmm::Range { low: lo, high: hi })
        }
        FieldMatch::Optional(v) => T::Optional(fmm::Optional { value: enc(v)? }),
    };
    Ok(Some(p4::FieldMatch {
        field_id: f.id,
        field_match_type: Some(t),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_proto::p4::config::v1 as cfg;

    fn tables_info() -> cfg::P4Info {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/tables.p4info.txtpb"
        ))
        .unwrap();
        flashmesh_proto::p4info_from_text(&text).unwrap()
    }

    #[test]
    fn looks_up_by_name_and_alias() {
        let ix = P4InfoIndex::new(&tables_info());
        let t = ix.table("MyIngress.t_exact").unwrap();
        assert_eq!(t.id >> 24, 0x02);
        assert!(ix.table("t_exact").is_ok());
        assert!(ix.table("MyIngress.nope").is_err());
        assert_eq!(ix.action("MyIngress.nop").unwrap().id >> 24, 0x01);
        assert_eq!(ix.table_name(t.id), Some("MyIngress.t_exact"));
    }

    #[test]
    fn builds_every_match_kind_and_reads_back() {
        let ix = P4InfoIndex::new(&tables_info());
        let specs = vec![
            EntrySpec::new("MyIngress.t_exact", "MyIngress.set_a")
                .matching("hdr.tin.k16", FieldMatch::exact(0x0001))
                .matching("hdr.tin.k4", FieldMatch::exact(3))
                .param("p", 2)
                .param("x", 5),
            EntrySpec::new("MyIngress.t_lpm", "MyIngress.set_lpm")
                .matching("hdr.tin.addr", FieldMatch::lpm(0x0a01_0000, 16))
                .param("v", 7),
            EntrySpec::new("MyIngress.t_tern", "MyIngress.set_tern")
                .matching("hdr.tin.k8", FieldMatch::ternary(0x12, 0xff))
                .matching("hdr.tin.k16", FieldMatch::ternary(0, 0x8000))
                .with_priority(30)
                .param("v", 3),
            EntrySpec::new("MyIngress.t_range", "MyIngress.set_range")
                .matching("hdr.tin.k16", FieldMatch::range(100, 200))
                .matching("hdr.tin.k4", FieldMatch::exact(1))
                .with_priority(5)
                .param("v", 9),
            EntrySpec::new("MyIngress.t_opt", "MyIngress.nop")
                .matching("hdr.tin.k12", FieldMatch::optional(0x123))
                .with_priority(1),
        ];
        for s in &specs {
            let e = ix.build_entry(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            let back = ix.decode_entry(&e).unwrap();
            assert_eq!(back.key(), s.key(), "{s:?}");
            assert!(back.same_action(s));
        }
        // canonical bytestrings and lpm masking
        let e = ix
            .build_entry(
                &EntrySpec::new("MyIngress.t_lpm", "MyIngress.set_lpm")
                    .matching("hdr.tin.addr", FieldMatch::lpm(0x0a01_0203, 16))
                    .param("v", 0),
            )
            .unwrap();
        use p4::field_match::FieldMatchType as T;
        match &e.r#match[0].field_match_type {
            Some(T::Lpm(l)) => assert_eq!(l.value, vec![10, 1, 0, 0]),
            other => panic!("{other:?}"),
        }
        let Some(p4::table_action::Type::Action(a)) = e.action.unwrap().r#type else {
            panic!()
        };
        assert_eq!(a.params[0].value, vec![0]);
    }

    #[test]
    fn refuses_what_p4info_does_not_allow() {
        let ix = P4InfoIndex::new(&tables_info());
        let base = || {
            EntrySpec::new("MyIngress.t_exact", "MyIngress.set_a")
                .matching("hdr.tin.k16", FieldMatch::exact(1))
                .matching("hdr.tin.k4", FieldMatch::exact(3))
        };
        let with_params = |s: EntrySpec| s.param("p", 1).param("x", 1);
        assert!(matches!(
            ix.build_entry(&base().param("p", 1)),
            Err(P4InfoError::MissingParam { .. })
        ));
        assert!(matches!(
            ix.build_entry(&with_params(base()).param("q", 1)),
            Err(P4InfoError::UnknownParam { .. })
        ));
        assert!(matches!(
            ix.build_entry(&base().param("p", 512).param("x", 1)),
            Err(P4InfoError::Width { .. })
        ));
        assert!(matches!(
            ix.build_entry(&with_params(
                base().matching("hdr.tin.k9", FieldMatch::exact(1))
            )),
            Err(P4InfoError::UnknownField { .. })
        ));
        let wrong_kind = with_params(
            EntrySpec::new("MyIngress.t_exact", "MyIngress.set_a")
                .matching("hdr.tin.k16", FieldMatch::lpm(1, 8))
                .matching("hdr.tin.k4", FieldMatch::exact(3)),
        );
        assert!(matches!(
            ix.build_entry(&wrong_kind),
            Err(P4InfoError::MatchKind { .. })
        ));
        let missing = with_params(
            EntrySpec::new("MyIngress.t_exact", "MyIngress.set_a")
                .matching("hdr.tin.k16", FieldMatch::exact(1)),
        );
        assert!(matches!(
            ix.build_entry(&missing),
            Err(P4InfoError::MissingExact { .. })
        ));
        let wrong_action = EntrySpec::new("MyIngress.t_lpm", "MyIngress.set_a")
            .matching("hdr.tin.addr", FieldMatch::lpm(1, 8))
            .param("p", 1)
            .param("x", 1);
        assert!(matches!(
            ix.build_entry(&wrong_action),
            Err(P4InfoError::ActionNotInTable { .. })
        ));
    }

    #[test]
    fn packet_metadata_by_name() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/cpu.p4info.txtpb"
        ))
        .unwrap();
        let ix = P4InfoIndex::new(&flashmesh_proto::p4info_from_text(&text).unwrap());
        let h = ix.controller_header("packet_out").unwrap();
        let names: Vec<(&str, u128)> = h.metadata.iter().map(|m| (m.name.as_str(), 1)).collect();
        let md = ix.build_metadata("packet_out", &names).unwrap();
        assert_eq!(md.len(), h.metadata.len());
        for (m, info) in md.iter().zip(&h.metadata) {
            assert_eq!(m.value.len(), info.bitwidth.div_ceil(8) as usize);
        }
        let back = ix.decode_metadata("packet_out", &md).unwrap();
        assert!(back.iter().all(|(_, v)| *v == 1));
        assert!(ix.build_metadata("packet_out", &[("nope", 1)]).is_err());
    }
}
