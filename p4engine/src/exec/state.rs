//! The run-time state API, keyed by P4Info ids with values as big-endian byte strings (the
//! P4Runtime canonical form is produced; any length whose value fits the width is accepted):
//! table entries, default actions, direct and indirect counters, meters, registers.

use crate::ir::{ActionCall, ActionScope, KeyMatch, MatchKind, Program, TableId};

use super::meter::MeterConfig;
use super::shell_syntax::{bytes_to_value, canonical_bytes};
use super::switch::{Switch, key_is_wildcard};
use super::table::{CounterData, Entry, prefix_mask};
use super::value::mask;

/// Why a state operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("entry already exists")]
    AlreadyExists,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("table is full: {0}")]
    ResourceExhausted(String),
}

type Result<T> = std::result::Result<T, StateError>;

/// A match on one field, values big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchValue {
    Exact(Vec<u8>),
    Lpm { value: Vec<u8>, prefix_len: u32 },
    Ternary { value: Vec<u8>, mask: Vec<u8> },
    Range { low: Vec<u8>, high: Vec<u8> },
    Optional(Vec<u8>),
}

/// A match on the field with P4Info id `field_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatch {
    pub field_id: u32,
    pub value: MatchValue,
}

/// An action with its parameters `(param id, bytes)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionSpec {
    pub action_id: u32,
    pub params: Vec<(u32, Vec<u8>)>,
}

/// A table entry as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableEntry {
    pub table_id: u32,
    /// Wildcard fields are omitted.
    pub matches: Vec<FieldMatch>,
    pub action: ActionSpec,
    /// P4Runtime priority (larger wins); 0 for tables without ternary/range/optional keys.
    pub priority: i32,
    pub idle_timeout_ns: i64,
    /// The P4Runtime `metadata` cookie.
    pub metadata: Vec<u8>,
    /// The default entry (reads only).
    pub is_default: bool,
    /// Direct counter value (reads only, tables with a direct counter).
    pub counter: Option<CounterData>,
    /// Direct meter configuration (reads only).
    pub meter_config: Option<MeterConfig>,
}

fn invalid(s: impl Into<String>) -> StateError {
    StateError::InvalidArgument(s.into())
}

fn value(bytes: &[u8], w: u32, what: &str) -> Result<u128> {
    bytes_to_value(bytes, w)
        .ok_or_else(|| invalid(format!("{what}: value does not fit in {w} bits")))
}

fn table_index(p: &Program, table_id: u32) -> Result<TableId> {
    p.table_by_id(table_id)
        .ok_or_else(|| StateError::NotFound(format!("table id {table_id}")))
}

/// Converts control-plane matches to the internal form (wildcards filled in).
fn convert_matches(p: &Program, t: TableId, ms: &[FieldMatch]) -> Result<Vec<KeyMatch>> {
    let tab = &p.tables[t as usize];
    let mut out: Vec<Option<KeyMatch>> = vec![None; tab.keys.len()];
    for m in ms {
        let Some(i) = tab.keys.iter().position(|k| k.id == m.field_id) else {
            return Err(invalid(format!(
                "table {} has no match field id {}",
                tab.name, m.field_id
            )));
        };
        if out[i].is_some() {
            return Err(invalid(format!(
                "match field id {} given twice",
                m.field_id
            )));
        }
        let k = &tab.keys[i];
        let w = k.width;
        let km = match (&m.value, k.kind) {
            (MatchValue::Exact(v), MatchKind::Exact) => KeyMatch::Exact(value(v, w, &k.name)?),
            (
                MatchValue::Lpm {
                    value: v,
                    prefix_len,
                },
                MatchKind::Lpm,
            ) => {
                if *prefix_len > w {
                    return Err(invalid(format!(
                        "{}: prefix length {prefix_len} > {w}",
                        k.name
                    )));
                }
                let v = value(v, w, &k.name)?;
                if v & !prefix_mask(*prefix_len, w) != 0 {
                    return Err(invalid(format!(
                        "{}: value has bits set beyond the prefix",
                        k.name
                    )));
                }
                KeyMatch::Lpm {
                    value: v,
                    len: *prefix_len,
                }
            }
            (MatchValue::Ternary { value: v, mask: mk }, MatchKind::Ternary) => {
                let v = value(v, w, &k.name)?;
                let mk = value(mk, w, &k.name)?;
                if v & !mk != 0 {
                    return Err(invalid(format!(
                        "{}: value has bits set outside the mask",
                        k.name
                    )));
                }
                KeyMatch::Ternary { value: v, mask: mk }
            }
            (MatchValue::Range { low, high }, MatchKind::Range) => {
                let lo = value(low, w, &k.name)?;
                let hi = value(high, w, &k.name)?;
                if lo > hi {
                    return Err(invalid(format!("{}: range low > high", k.name)));
                }
                KeyMatch::Range { lo, hi }
            }
            (MatchValue::Optional(v), MatchKind::Optional) => {
                KeyMatch::Optional(Some(value(v, w, &k.name)?))
            }
            _ => {
                return Err(invalid(format!(
                    "{}: wrong match kind (the field is {:?})",
                    k.name, k.kind
                )));
            }
        };
        out[i] = Some(km);
    }
    tab.keys
        .iter()
        .zip(out)
        .map(|(k, m)| match (m, k.kind) {
            (Some(m), _) => Ok(m),
            (None, MatchKind::Exact) => Err(invalid(format!("exact field {} missing", k.name))),
            (None, MatchKind::Lpm) => Ok(KeyMatch::Lpm { value: 0, len: 0 }),
            (None, MatchKind::Ternary) => Ok(KeyMatch::Ternary { value: 0, mask: 0 }),
            (None, MatchKind::Range) => Ok(KeyMatch::Range {
                lo: 0,
                hi: mask(k.width),
            }),
            (None, MatchKind::Optional) => Ok(KeyMatch::Optional(None)),
        })
        .collect()
}

fn convert_action(
    p: &Program,
    t: TableId,
    a: &ActionSpec,
    for_default: bool,
) -> Result<ActionCall> {
    let tab = &p.tables[t as usize];
    let Some(aid) = p.action_by_id(a.action_id) else {
        return Err(StateError::NotFound(format!("action id {}", a.action_id)));
    };
    let Some((_, scope)) = tab.actions.iter().find(|(x, _)| *x == aid) else {
        return Err(invalid(format!(
            "action {} is not an action of table {}",
            p.actions[aid as usize].name, tab.name
        )));
    };
    match (scope, for_default) {
        (ActionScope::DefaultOnly, false) => {
            return Err(invalid(format!(
                "action {} is @defaultonly",
                p.actions[aid as usize].name
            )));
        }
        (ActionScope::TableOnly, true) => {
            return Err(invalid(format!(
                "action {} is @tableonly",
                p.actions[aid as usize].name
            )));
        }
        _ => {}
    }
    let act = &p.actions[aid as usize];
    let mut args = vec![None; act.params.len()];
    for (id, bytes) in &a.params {
        let Some(i) = act.params.iter().position(|x| x.id == *id) else {
            return Err(invalid(format!(
                "action {} has no parameter id {id}",
                act.name
            )));
        };
        if args[i].is_some() {
            return Err(invalid(format!("parameter id {id} given twice")));
        }
        args[i] = Some(value(bytes, act.params[i].width, &act.params[i].name)?);
    }
    let args = args
        .into_iter()
        .zip(&act.params)
        .map(|(v, prm)| {
            v.ok_or_else(|| invalid(format!("parameter {} of {} missing", prm.name, act.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ActionCall { action: aid, args })
}

fn check_priority(p: &Program, t: TableId, priority: i32) -> Result<()> {
    let tab = &p.tables[t as usize];
    if tab.needs_priority && priority <= 0 {
        return Err(invalid(format!(
            "table {} needs a positive priority",
            tab.name
        )));
    }
    if !tab.needs_priority && priority != 0 {
        return Err(invalid(format!("table {} takes no priority", tab.name)));
    }
    Ok(())
}

impl Switch {
    fn locate(
        &self,
        table_id: u32,
        matches: &[FieldMatch],
        priority: i32,
    ) -> Result<(TableId, usize)> {
        let p = &self.program;
        let t = table_index(p, table_id)?;
        check_priority(p, t, priority)?;
        let ms = convert_matches(p, t, matches)?;
        let id = self.rt.tables[t as usize]
            .find(&ms, priority)
            .ok_or_else(|| StateError::NotFound("entry".into()))?;
        Ok((t, id))
    }

    /// Inserts an entry.
    pub fn insert_entry(&mut self, e: &TableEntry) -> Result<()> {
        let p = self.program.clone();
        let t = table_index(&p, e.table_id)?;
        let tab = &p.tables[t as usize];
        if e.is_default {
            return Err(invalid("the default entry can only be modified"));
        }
        if tab.entries_const {
            return Err(invalid(format!("table {} has const entries", tab.name)));
        }
        if tab.keys.is_empty() {
            return Err(invalid(format!(
                "table {} has no key: only its default action can be set",
                tab.name
            )));
        }
        check_priority(&p, t, e.priority)?;
        let matches = convert_matches(&p, t, &e.matches)?;
        let action = convert_action(&p, t, &e.action, false)?;
        let ts = &mut self.rt.tables[t as usize];
        if ts.find(&matches, e.priority).is_some() {
            return Err(StateError::AlreadyExists);
        }
        if ts.len() >= tab.size as usize {
            return Err(StateError::ResourceExhausted(tab.name.clone()));
        }
        ts.insert(Entry {
            matches,
            priority: e.priority,
            action,
            idle_timeout_ns: e.idle_timeout_ns,
            metadata: e.metadata.clone(),
            counter: CounterData::default(),
            meter: None,
            from_source: false,
        })
        .map_err(|_| StateError::AlreadyExists)?;
        Ok(())
    }

    /// Modifies an entry's action (and cookie); for `is_default` sets the default action.
    pub fn modify_entry(&mut self, e: &TableEntry) -> Result<()> {
        let p = self.program.clone();
        let t = table_index(&p, e.table_id)?;
        if e.is_default {
            return self.set_default_action(e.table_id, &e.action);
        }
        if p.tables[t as usize].entries_const {
            return Err(invalid(format!(
                "table {} has const entries",
                p.tables[t as usize].name
            )));
        }
        let action = convert_action(&p, t, &e.action, false)?;
        let (t, id) = self.locate(e.table_id, &e.matches, e.priority)?;
        let entry = self.rt.tables[t as usize].entry_mut(id).expect("located");
        entry.action = action;
        entry.idle_timeout_ns = e.idle_timeout_ns;
        entry.metadata = e.metadata.clone();
        Ok(())
    }

    /// Deletes an entry (matched by its key and priority).
    pub fn delete_entry(&mut self, e: &TableEntry) -> Result<()> {
        let p = self.program.clone();
        let t = table_index(&p, e.table_id)?;
        if e.is_default {
            return Err(invalid("the default entry cannot be deleted"));
        }
        if p.tables[t as usize].entries_const {
            return Err(invalid(format!(
                "table {} has const entries",
                p.tables[t as usize].name
            )));
        }
        let (t, id) = self.locate(e.table_id, &e.matches, e.priority)?;
        self.rt.tables[t as usize].remove(id);
        Ok(())
    }

    /// Sets a table's default action.
    pub fn set_default_action(&mut self, table_id: u32, a: &ActionSpec) -> Result<()> {
        let p = self.program.clone();
        let t = table_index(&p, table_id)?;
        if p.tables[t as usize].default_is_const {
            return Err(invalid(format!(
                "table {} has a const default action",
                p.tables[t as usize].name
            )));
        }
        let call = convert_action(&p, t, a, true)?;
        self.rt.tables[t as usize].default_action = call;
        Ok(())
    }

    /// Restores the program's default action.
    pub fn reset_default_action(&mut self, table_id: u32) -> Result<()> {
        let p = self.program.clone();
        let t = table_index(&p, table_id)?;
        if p.tables[t as usize].default_is_const {
            return Err(invalid(format!(
                "table {} has a const default action",
                p.tables[t as usize].name
            )));
        }
        self.rt.tables[t as usize].default_action = p.tables[t as usize].default_action.clone();
        Ok(())
    }

    fn spec_of(&self, call: &ActionCall) -> ActionSpec {
        let a = &self.program.actions[call.action as usize];
        ActionSpec {
            action_id: a.id,
            params: a
                .params
                .iter()
                .zip(&call.args)
                .map(|(prm, v)| (prm.id, canonical_bytes(*v)))
                .collect(),
        }
    }

    /// The control-plane view of an installed entry.
    fn entry_view(&self, t: TableId, e: &Entry) -> TableEntry {
        let tab = &self.program.tables[t as usize];
        let matches = tab
            .keys
            .iter()
            .zip(&e.matches)
            .filter(|(k, m)| !key_is_wildcard(m, k.width))
            .map(|(k, m)| FieldMatch {
                field_id: k.id,
                value: match *m {
                    KeyMatch::Exact(v) => MatchValue::Exact(canonical_bytes(v)),
                    KeyMatch::Lpm { value, len } => MatchValue::Lpm {
                        value: canonical_bytes(value),
                        prefix_len: len,
                    },
                    KeyMatch::Ternary { value, mask } => MatchValue::Ternary {
                        value: canonical_bytes(value),
                        mask: canonical_bytes(mask),
                    },
                    KeyMatch::Range { lo, hi } => MatchValue::Range {
                        low: canonical_bytes(lo),
                        high: canonical_bytes(hi),
                    },
                    KeyMatch::Optional(v) => MatchValue::Optional(canonical_bytes(v.unwrap_or(0))),
                },
            })
            .collect();
        TableEntry {
            table_id: tab.id,
            matches,
            action: self.spec_of(&e.action),
            priority: if tab.needs_priority { e.priority } else { 0 },
            idle_timeout_ns: e.idle_timeout_ns,
            metadata: e.metadata.clone(),
            is_default: false,
            counter: tab.direct_counter.map(|_| e.counter),
            meter_config: tab
                .direct_meter
                .and(e.meter.as_ref())
                .and_then(|m| m.config()),
        }
    }

    /// The entries of one table (`Some(id)`) or of all tables, without default entries.
    pub fn read_entries(&self, table_id: Option<u32>) -> Result<Vec<TableEntry>> {
        let p = &self.program;
        let tables: Vec<TableId> = match table_id {
            Some(id) => vec![table_index(p, id)?],
            None => (0..p.tables.len() as TableId).collect(),
        };
        let mut out = Vec::new();
        for t in tables {
            for (_, e) in self.rt.tables[t as usize].entries() {
                out.push(self.entry_view(t, e));
            }
        }
        Ok(out)
    }

    /// One entry, found by its match and priority.
    pub fn read_entry(
        &self,
        table_id: u32,
        matches: &[FieldMatch],
        priority: i32,
    ) -> Result<TableEntry> {
        let (t, id) = self.locate(table_id, matches, priority)?;
        let e = self.rt.tables[t as usize].entry(id).expect("located");
        Ok(self.entry_view(t, e))
    }

    /// The default entry of a table.
    pub fn read_default_entry(&self, table_id: u32) -> Result<TableEntry> {
        let t = table_index(&self.program, table_id)?;
        Ok(TableEntry {
            table_id,
            action: self.spec_of(&self.rt.tables[t as usize].default_action),
            is_default: true,
            ..Default::default()
        })
    }

    /// The direct counter of an entry.
    pub fn read_direct_counter(
        &self,
        table_id: u32,
        matches: &[FieldMatch],
        priority: i32,
    ) -> Result<CounterData> {
        let (t, id) = self.locate(table_id, matches, priority)?;
        if self.program.tables[t as usize].direct_counter.is_none() {
            return Err(invalid("table has no direct counter"));
        }
        Ok(self.rt.tables[t as usize]
            .entry(id)
            .expect("located")
            .counter)
    }

    /// Sets the direct counter of an entry.
    pub fn write_direct_counter(
        &mut self,
        table_id: u32,
        matches: &[FieldMatch],
        priority: i32,
        data: CounterData,
    ) -> Result<()> {
        let (t, id) = self.locate(table_id, matches, priority)?;
        if self.program.tables[t as usize].direct_counter.is_none() {
            return Err(invalid("table has no direct counter"));
        }
        self.rt.tables[t as usize]
            .entry_mut(id)
            .expect("located")
            .counter = data;
        Ok(())
    }

    /// Sets (or clears with `None`) the direct meter configuration of an entry.
    pub fn set_direct_meter_config(
        &mut self,
        table_id: u32,
        matches: &[FieldMatch],
        priority: i32,
        cfg: Option<MeterConfig>,
    ) -> Result<()> {
        let (t, id) = self.locate(table_id, matches, priority)?;
        if self.program.tables[t as usize].direct_meter.is_none() {
            return Err(invalid("table has no direct meter"));
        }
        let entry = self.rt.tables[t as usize].entry_mut(id).expect("located");
        match cfg {
            Some(c) => entry
                .meter
                .get_or_insert_with(Default::default)
                .set_config(Some(c)),
            None => entry.meter = None,
        }
        Ok(())
    }

    fn counter_index(&self, counter_id: u32) -> Result<usize> {
        self.program
            .counters
            .iter()
            .position(|c| c.id == counter_id)
            .ok_or_else(|| StateError::NotFound(format!("counter id {counter_id}")))
    }

    /// An indirect counter's cells: one index, or all with `None`.
    pub fn read_counter(
        &self,
        counter_id: u32,
        index: Option<u32>,
    ) -> Result<Vec<(u32, CounterData)>> {
        let c = self.counter_index(counter_id)?;
        let cells = &self.rt.counters[c];
        match index {
            Some(i) => cells
                .get(i as usize)
                .map(|d| vec![(i, *d)])
                .ok_or_else(|| invalid(format!("counter index {i} out of range"))),
            None => Ok(cells
                .iter()
                .enumerate()
                .map(|(i, d)| (i as u32, *d))
                .collect()),
        }
    }

    /// Sets one cell of an indirect counter.
    pub fn write_counter(&mut self, counter_id: u32, index: u32, data: CounterData) -> Result<()> {
        let c = self.counter_index(counter_id)?;
        let cell = self.rt.counters[c]
            .get_mut(index as usize)
            .ok_or_else(|| invalid(format!("counter index {index} out of range")))?;
        *cell = data;
        Ok(())
    }

    /// Sets (or clears) one cell's meter configuration.
    pub fn set_meter_config(
        &mut self,
        meter_id: u32,
        index: u32,
        cfg: Option<MeterConfig>,
    ) -> Result<()> {
        let m = self
            .program
            .meters
            .iter()
            .position(|m| m.id == meter_id)
            .ok_or_else(|| StateError::NotFound(format!("meter id {meter_id}")))?;
        let cell = self.rt.meters[m]
            .get_mut(index as usize)
            .ok_or_else(|| invalid(format!("meter index {index} out of range")))?;
        cell.set_config(cfg);
        Ok(())
    }

    /// One meter cell's configuration.
    pub fn read_meter_config(&self, meter_id: u32, index: u32) -> Result<Option<MeterConfig>> {
        let m = self
            .program
            .meters
            .iter()
            .position(|m| m.id == meter_id)
            .ok_or_else(|| StateError::NotFound(format!("meter id {meter_id}")))?;
        self.rt.meters[m]
            .get(index as usize)
            .map(|c| c.config())
            .ok_or_else(|| invalid(format!("meter index {index} out of range")))
    }

    fn register_index(&self, register_id: u32) -> Result<usize> {
        self.program
            .registers
            .iter()
            .position(|r| r.id == register_id)
            .ok_or_else(|| StateError::NotFound(format!("register id {register_id}")))
    }

    /// One register cell (canonical bytes).
    pub fn read_register(&self, register_id: u32, index: u32) -> Result<Vec<u8>> {
        let r = self.register_index(register_id)?;
        self.rt.registers[r]
            .get(index as usize)
            .map(canonical_bytes)
            .ok_or_else(|| invalid(format!("register index {index} out of range")))
    }

    /// Writes one register cell.
    pub fn write_register(&mut self, register_id: u32, index: u32, bytes: &[u8]) -> Result<()> {
        let r = self.register_index(register_id)?;
        let w = self.program.registers[r].width;
        let v = value(bytes, w, &self.program.registers[r].name)?;
        if !self.rt.registers[r].set(index as usize, v) {
            return Err(invalid(format!("register index {index} out of range")));
        }
        Ok(())
    }
}
