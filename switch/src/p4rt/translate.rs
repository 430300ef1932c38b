//! Translation between P4Runtime messages and the engine's state API types, with
//! the checks the engine leaves to the protocol layer (don't-care matches must be
//! omitted, unsupported entity forms, negative numbers).

use flashmesh_p4::exec::{
    ActionSpec, CounterData, FieldMatch, MatchValue, MeterConfig, StateError, TableEntry,
};
use flashmesh_proto::bytestring::all_ones;
use flashmesh_proto::p4::v1::{
    self as p4v1, field_match::FieldMatchType, table_action::Type as ActionType,
};
use flashmesh_proto::p4info_index::{MatchKind, P4InfoIndex};

use super::bytes;
use super::status::P4rtError;

/// The protocol error for an engine refusal.
pub fn state_error(e: StateError) -> P4rtError {
    match e {
        StateError::AlreadyExists => P4rtError::exists("entry already exists"),
        StateError::NotFound(what) => P4rtError::not_found(format!("not found: {what}")),
        StateError::InvalidArgument(why) => P4rtError::invalid(why),
        StateError::ResourceExhausted(what) => P4rtError::new(
            tonic::Code::ResourceExhausted,
            format!("table is full: {what}"),
        ),
    }
}

fn field_match(
    ix: &P4InfoIndex,
    table_id: u32,
    m: &p4v1::FieldMatch,
) -> Result<FieldMatch, P4rtError> {
    let field = ix
        .tables()
        .get(table_id)
        .and_then(|t| t.fields.iter().find(|f| f.id == m.field_id));
    let value = match &m.field_match_type {
        Some(FieldMatchType::Exact(e)) => MatchValue::Exact(e.value.clone()),
        Some(FieldMatchType::Lpm(l)) => {
            if l.prefix_len < 0 {
                return Err(P4rtError::invalid(format!(
                    "field {}: negative prefix length",
                    m.field_id
                )));
            }
            if l.prefix_len == 0 {
                return Err(P4rtError::invalid(format!(
                    "field {}: an LPM match with prefix length 0 is a don't-care and must be omitted",
                    m.field_id
                )));
            }
            MatchValue::Lpm {
                value: l.value.clone(),
                prefix_len: l.prefix_len as u32,
            }
        }
        Some(FieldMatchType::Ternary(t)) => {
            if !t.mask.is_empty() && t.mask.iter().all(|b| *b == 0) {
                return Err(P4rtError::invalid(format!(
                    "field {}: a ternary match with an all-zero mask is a don't-care and must be omitted",
                    m.field_id
                )));
            }
            MatchValue::Ternary {
                value: t.value.clone(),
                mask: t.mask.clone(),
            }
        }
        Some(FieldMatchType::Range(r)) => {
            if let Some(f) = field
                && f.kind == MatchKind::Range
            {
                let low = bytes::parse(&r.low, f.bitwidth, &f.name)?;
                let high = bytes::parse(&r.high, f.bitwidth, &f.name)?;
                if low == 0 && high == all_ones(f.bitwidth) {
                    return Err(P4rtError::invalid(format!(
                        "field {}: a range covering every value is a don't-care and must be omitted",
                        f.name
                    )));
                }
            }
            MatchValue::Range {
                low: r.low.clone(),
                high: r.high.clone(),
            }
        }
        Some(FieldMatchType::Optional(o)) => MatchValue::Optional(o.value.clone()),
        Some(FieldMatchType::Other(_)) => {
            return Err(P4rtError::unimplemented(
                "architecture-specific match kinds are not supported",
            ));
        }
        None => {
            return Err(P4rtError::invalid(format!(
                "field {}: no match value",
                m.field_id
            )));
        }
    };
    Ok(FieldMatch {
        field_id: m.field_id,
        value,
    })
}

/// The engine's form of a P4Runtime action.
pub fn action_spec(a: &p4v1::Action) -> ActionSpec {
    ActionSpec {
        action_id: a.action_id,
        params: a
            .params
            .iter()
            .map(|p| (p.param_id, p.value.clone()))
            .collect(),
    }
}

fn table_action(e: &p4v1::TableEntry) -> Result<Option<ActionSpec>, P4rtError> {
    match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
        None => Ok(None),
        Some(ActionType::Action(a)) => Ok(Some(action_spec(a))),
        Some(_) => Err(P4rtError::unimplemented(
            "action profiles and action selectors are not supported by this target",
        )),
    }
}

/// A P4Runtime table entry as the engine takes it. `need_action`: inserts and
/// modifies of non-default entries must name an action.
pub fn entry_from_proto(
    ix: &P4InfoIndex,
    e: &p4v1::TableEntry,
    need_action: bool,
) -> Result<(TableEntry, bool), P4rtError> {
    let matches = e
        .r#match
        .iter()
        .map(|m| field_match(ix, e.table_id, m))
        .collect::<Result<Vec<_>, _>>()?;
    if e.is_default_action && !matches.is_empty() {
        return Err(P4rtError::invalid("a default entry has no match fields"));
    }
    let action = table_action(e)?;
    if need_action && action.is_none() && !e.is_default_action {
        return Err(P4rtError::invalid("the table entry has no action"));
    }
    let has_action = action.is_some();
    Ok((
        TableEntry {
            table_id: e.table_id,
            matches,
            action: action.unwrap_or_default(),
            priority: e.priority,
            idle_timeout_ns: e.idle_timeout_ns,
            metadata: e.metadata.clone(),
            is_default: e.is_default_action,
            counter: None,
            meter_config: None,
        },
        has_action,
    ))
}

fn match_to_proto(m: &FieldMatch) -> p4v1::FieldMatch {
    use p4v1::field_match::{Exact, Lpm, Optional, Range, Ternary};
    let t = match &m.value {
        MatchValue::Exact(v) => FieldMatchType::Exact(Exact { value: v.clone() }),
        MatchValue::Lpm { value, prefix_len } => FieldMatchType::Lpm(Lpm {
            value: value.clone(),
            prefix_len: *prefix_len as i32,
        }),
        MatchValue::Ternary { value, mask } => FieldMatchType::Ternary(Ternary {
            value: value.clone(),
            mask: mask.clone(),
        }),
        MatchValue::Range { low, high } => FieldMatchType::Range(Range {
            low: low.clone(),
            high: high.clone(),
        }),
        MatchValue::Optional(v) => FieldMatchType::Optional(Optional { value: v.clone() }),
    };
    p4v1::FieldMatch {
        field_id: m.field_id,
        field_match_type: Some(t),
    }
}

/// The P4Runtime form of an action.
pub fn action_to_proto(a: &ActionSpec) -> p4v1::TableAction {
    p4v1::TableAction {
        r#type: Some(ActionType::Action(p4v1::Action {
            action_id: a.action_id,
            params: a
                .params
                .iter()
                .map(|(id, v)| p4v1::action::Param {
                    param_id: *id,
                    value: v.clone(),
                })
                .collect(),
        })),
    }
}

/// The P4Runtime form of an engine entry; counter and meter data only when asked.
pub fn entry_to_proto(
    ix: &P4InfoIndex,
    e: &TableEntry,
    with_counter: bool,
    with_meter: bool,
) -> p4v1::TableEntry {
    let is_const = ix.tables().get(e.table_id).is_some_and(|t| t.is_const);
    p4v1::TableEntry {
        table_id: e.table_id,
        r#match: e.matches.iter().map(match_to_proto).collect(),
        action: Some(action_to_proto(&e.action)),
        priority: e.priority,
        idle_timeout_ns: e.idle_timeout_ns,
        metadata: e.metadata.clone(),
        is_default_action: e.is_default,
        is_const: is_const && !e.is_default,
        counter_data: if with_counter {
            e.counter.map(counter_to_proto)
        } else {
            None
        },
        meter_config: if with_meter {
            e.meter_config.map(meter_to_proto)
        } else {
            None
        },
        ..Default::default()
    }
}

/// Whether a read request's entry selects `e` (matches and priority compared in
/// canonical form; an empty match list selects every entry).
pub fn selects(
    ix: &P4InfoIndex,
    request: &p4v1::TableEntry,
    e: &TableEntry,
) -> Result<bool, P4rtError> {
    if request.r#match.is_empty() {
        return Ok(request.priority == 0 || request.priority == e.priority);
    }
    let Some(table) = ix.tables().get(e.table_id) else {
        return Ok(false);
    };
    let canon = |m: &FieldMatch| -> Result<(u32, MatchValue), P4rtError> {
        let f = table
            .fields
            .iter()
            .find(|f| f.id == m.field_id)
            .ok_or_else(|| {
                P4rtError::invalid(format!(
                    "table {} has no match field {}",
                    table.name, m.field_id
                ))
            })?;
        let c = |b: &[u8]| bytes::canonicalize(b, f.bitwidth, &f.name);
        Ok((
            m.field_id,
            match &m.value {
                MatchValue::Exact(v) => MatchValue::Exact(c(v)?),
                MatchValue::Lpm { value, prefix_len } => MatchValue::Lpm {
                    value: c(value)?,
                    prefix_len: *prefix_len,
                },
                MatchValue::Ternary { value, mask } => MatchValue::Ternary {
                    value: c(value)?,
                    mask: c(mask)?,
                },
                MatchValue::Range { low, high } => MatchValue::Range {
                    low: c(low)?,
                    high: c(high)?,
                },
                MatchValue::Optional(v) => MatchValue::Optional(c(v)?),
            },
        ))
    };
    let (wanted, _) = entry_from_proto(ix, request, false)?;
    let mut a = wanted
        .matches
        .iter()
        .map(canon)
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = e.matches.iter().map(canon).collect::<Result<Vec<_>, _>>()?;
    a.sort_by_key(|x| x.0);
    b.sort_by_key(|x| x.0);
    Ok(a == b && request.priority == e.priority)
}

/// Counter cell to protobuf.
pub fn counter_to_proto(c: CounterData) -> p4v1::CounterData {
    p4v1::CounterData {
        byte_count: i64::try_from(c.bytes).unwrap_or(i64::MAX),
        packet_count: i64::try_from(c.packets).unwrap_or(i64::MAX),
    }
}

/// Counter cell from protobuf (negative counts refused).
pub fn counter_from_proto(c: &p4v1::CounterData) -> Result<CounterData, P4rtError> {
    if c.byte_count < 0 || c.packet_count < 0 {
        return Err(P4rtError::invalid("negative counter values"));
    }
    Ok(CounterData {
        packets: c.packet_count as u64,
        bytes: c.byte_count as u64,
    })
}

/// Meter configuration to protobuf.
pub fn meter_to_proto(m: MeterConfig) -> p4v1::MeterConfig {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    p4v1::MeterConfig {
        cir: i(m.cir),
        cburst: i(m.cburst),
        pir: i(m.pir),
        pburst: i(m.pburst),
        eburst: 0,
    }
}

/// Meter configuration from protobuf (negative rates refused; the spec's
/// "committed rate above the peak rate" is refused too).
pub fn meter_from_proto(m: &p4v1::MeterConfig) -> Result<MeterConfig, P4rtError> {
    if m.cir < 0 || m.cburst < 0 || m.pir < 0 || m.pburst < 0 || m.eburst < 0 {
        return Err(P4rtError::invalid("negative meter rate or burst"));
    }
    if m.cir > m.pir {
        return Err(P4rtError::invalid(
            "meter committed rate exceeds the peak rate",
        ));
    }
    Ok(MeterConfig {
        cir: m.cir as u64,
        cburst: m.cburst as u64,
        pir: m.pir as u64,
        pburst: m.pburst as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p4v1::field_match::{Exact, Lpm, Ternary};

    fn fm(field_id: u32, t: FieldMatchType) -> p4v1::FieldMatch {
        p4v1::FieldMatch {
            field_id,
            field_match_type: Some(t),
        }
    }

    #[test]
    fn dont_care_matches_are_refused() {
        let ix = P4InfoIndex::default();
        let mut e = p4v1::TableEntry {
            table_id: 1,
            r#match: vec![fm(
                1,
                FieldMatchType::Lpm(Lpm {
                    value: vec![0],
                    prefix_len: 0,
                }),
            )],
            ..Default::default()
        };
        assert_eq!(
            entry_from_proto(&ix, &e, false).unwrap_err().code,
            tonic::Code::InvalidArgument
        );
        e.r#match = vec![fm(
            1,
            FieldMatchType::Ternary(Ternary {
                value: vec![0],
                mask: vec![0, 0],
            }),
        )];
        assert_eq!(
            entry_from_proto(&ix, &e, false).unwrap_err().code,
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn entry_round_trip() {
        let ix = P4InfoIndex::default();
        let e = p4v1::TableEntry {
            table_id: 7,
            r#match: vec![fm(1, FieldMatchType::Exact(Exact { value: vec![1, 2] }))],
            action: Some(action_to_proto(&ActionSpec {
                action_id: 3,
                params: vec![(1, vec![9])],
            })),
            priority: 0,
            metadata: b"cookie".to_vec(),
            ..Default::default()
        };
        let (engine, has_action) = entry_from_proto(&ix, &e, true).unwrap();
        assert!(has_action);
        assert_eq!(entry_to_proto(&ix, &engine, false, false), e);
    }

    #[test]
    fn insert_without_action_is_invalid() {
        let ix = P4InfoIndex::default();
        let e = p4v1::TableEntry {
            table_id: 7,
            ..Default::default()
        };
        assert_eq!(
            entry_from_proto(&ix, &e, true).unwrap_err().code,
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn engine_errors_map_to_codes() {
        assert_eq!(
            state_error(StateError::AlreadyExists).code,
            tonic::Code::AlreadyExists
        );
        assert_eq!(
            state_error(StateError::NotFound("x".into())).code,
            tonic::Code::NotFound
        );
        assert_eq!(
            state_error(StateError::InvalidArgument("x".into())).code,
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn meter_checks() {
        let bad = p4v1::MeterConfig {
            cir: 10,
            pir: 5,
            ..Default::default()
        };
        assert!(meter_from_proto(&bad).is_err());
        let good = p4v1::MeterConfig {
            cir: 5,
            cburst: 1,
            pir: 10,
            pburst: 2,
            eburst: 0,
        };
        assert_eq!(meter_to_proto(meter_from_proto(&good).unwrap()), good);
    }
}
