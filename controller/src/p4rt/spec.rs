//! Name-based descriptions of table entries, independent of P4Info ids.
//!
//! The SDN logic produces [`EntrySpec`]s; [`crate::p4rt::P4InfoNames`] turns them into
//! P4Runtime `TableEntry` messages by looking every name up in P4Info.

use serde::{Deserialize, Serialize};

use super::bytes;

/// A match on one field, by kind (ordered by kind, then by value: the order of entries in the
/// controller's maps).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FieldMatch {
    /// Exact value.
    Exact(Vec<u8>),
    /// Value and prefix length.
    Lpm(Vec<u8>, u32),
    /// Value and mask.
    Ternary(Vec<u8>, Vec<u8>),
    /// Inclusive low and high.
    Range(Vec<u8>, Vec<u8>),
    /// Exact value of an optional match.
    Optional(Vec<u8>),
}

impl FieldMatch {
    /// Exact match on an integer.
    pub fn exact(v: u128) -> Self {
        Self::Exact(bytes::from_u128(v))
    }
    /// Longest-prefix match on an integer.
    pub fn lpm(v: u128, prefix_len: u32) -> Self {
        Self::Lpm(bytes::from_u128(v), prefix_len)
    }
    /// Ternary match on an integer.
    pub fn ternary(v: u128, mask: u128) -> Self {
        Self::Ternary(bytes::from_u128(v), bytes::from_u128(mask))
    }
    /// Range match on integers.
    pub fn range(lo: u128, hi: u128) -> Self {
        Self::Range(bytes::from_u128(lo), bytes::from_u128(hi))
    }
    /// Optional match on an integer.
    pub fn optional(v: u128) -> Self {
        Self::Optional(bytes::from_u128(v))
    }
}

/// One table entry (or a table's default action) described by names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntrySpec {
    /// Fully qualified table name, e.g. `FmIngress.ipv4_lpm`.
    pub table: String,
    /// Matches by match-field name; missing fields are wildcards.
    pub matches: Vec<(String, FieldMatch)>,
    /// Fully qualified action name.
    pub action: String,
    /// Action parameters by name, big-endian values.
    pub params: Vec<(String, Vec<u8>)>,
    /// Priority (needed for ternary, range and optional tables; 0 otherwise).
    pub priority: i32,
    /// True when this describes the table's default action.
    pub is_default: bool,
}

impl EntrySpec {
    /// A new entry of `table` running `action`.
    pub fn new(table: &str, action: &str) -> Self {
        Self {
            table: table.to_string(),
            matches: Vec::new(),
            action: action.to_string(),
            params: Vec::new(),
            priority: 0,
            is_default: false,
        }
    }

    /// The default action of `table`, to be written as a MODIFY.
    pub fn default_action(table: &str, action: &str) -> Self {
        Self {
            is_default: true,
            ..Self::new(table, action)
        }
    }

    /// Adds a match.
    pub fn matching(mut self, field: &str, m: FieldMatch) -> Self {
        self.matches.push((field.to_string(), m));
        self
    }

    /// Adds an integer action parameter.
    pub fn param(mut self, name: &str, v: u128) -> Self {
        self.params.push((name.to_string(), bytes::from_u128(v)));
        self
    }

    /// Adds an action parameter given as bytes.
    pub fn param_bytes(mut self, name: &str, v: &[u8]) -> Self {
        self.params.push((name.to_string(), bytes::canonical(v)));
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, p: i32) -> Self {
        self.priority = p;
        self
    }

    /// The identity of the entry in its table: table, matches and priority (not the action).
    pub fn key(&self) -> EntryKey {
        let mut m: Vec<(String, FieldMatch)> = self
            .matches
            .iter()
            .map(|(n, v)| (n.clone(), normalise(v)))
            .collect();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        EntryKey {
            table: self.table.clone(),
            matches: m,
            priority: self.priority,
            is_default: self.is_default,
        }
    }

    /// True when action and parameters are equal (compared canonically).
    pub fn same_action(&self, other: &EntrySpec) -> bool {
        let norm = |p: &[(String, Vec<u8>)]| {
            let mut v: Vec<(String, Vec<u8>)> = p
                .iter()
                .map(|(n, b)| (n.clone(), bytes::canonical(b)))
                .collect();
            v.sort();
            v
        };
        self.action == other.action && norm(&self.params) == norm(&other.params)
    }
}

fn normalise(m: &FieldMatch) -> FieldMatch {
    use bytes::canonical as c;
    match m {
        FieldMatch::Exact(v) => FieldMatch::Exact(c(v)),
        FieldMatch::Lpm(v, l) => FieldMatch::Lpm(c(v), *l),
        FieldMatch::Ternary(v, mk) => FieldMatch::Ternary(c(v), c(mk)),
        FieldMatch::Range(a, b) => FieldMatch::Range(c(a), c(b)),
        FieldMatch::Optional(v) => FieldMatch::Optional(c(v)),
    }
}

/// The identity of an entry in its table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey {
    /// Table name.
    pub table: String,
    /// Sorted, canonical matches.
    pub matches: Vec<(String, FieldMatch)>,
    /// Priority.
    pub priority: i32,
    /// Default-action marker.
    pub is_default: bool,
}

/// The kind of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateKind {
    /// Add a new entry.
    Insert,
    /// Change the action of an existing entry (or a default action).
    Modify,
    /// Remove an entry.
    Delete,
}

/// One write of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryUpdate {
    /// Insert, modify or delete.
    pub kind: UpdateKind,
    /// The entry.
    pub entry: EntrySpec,
}

impl EntryUpdate {
    /// Insert.
    pub fn insert(entry: EntrySpec) -> Self {
        Self {
            kind: UpdateKind::Insert,
            entry,
        }
    }
    /// Modify.
    pub fn modify(entry: EntrySpec) -> Self {
        Self {
            kind: UpdateKind::Modify,
            entry,
        }
    }
    /// Delete.
    pub fn delete(entry: EntrySpec) -> Self {
        Self {
            kind: UpdateKind::Delete,
            entry,
        }
    }
}

/// The updates that turn the entries `current` of some tables into `desired`.
///
/// Entries are matched by [`EntrySpec::key`]; default actions in `desired` are always written as
/// a MODIFY when they differ. Deletes come first so that a re-keyed table never overflows.
pub fn diff(current: &[EntrySpec], desired: &[EntrySpec]) -> Vec<EntryUpdate> {
    use std::collections::BTreeMap;
    let cur: BTreeMap<EntryKey, &EntrySpec> = current.iter().map(|e| (e.key(), e)).collect();
    let want: BTreeMap<EntryKey, &EntrySpec> = desired.iter().map(|e| (e.key(), e)).collect();
    let mut out = Vec::new();
    for (k, e) in &cur {
        if !want.contains_key(k) && !e.is_default {
            out.push(EntryUpdate::delete((*e).clone()));
        }
    }
    for (k, e) in &want {
        match cur.get(k) {
            None if e.is_default => out.push(EntryUpdate::modify((*e).clone())),
            None => out.push(EntryUpdate::insert((*e).clone())),
            Some(c) if !c.same_action(e) => out.push(EntryUpdate::modify((*e).clone())),
            Some(_) => {}
        }
    }
    out
}

/// The update that undoes `u`, given the entry that was there before (for modify and delete).
pub fn inverse(u: &EntryUpdate, before: Option<&EntrySpec>) -> Option<EntryUpdate> {
    match u.kind {
        UpdateKind::Insert => Some(EntryUpdate::delete(u.entry.clone())),
        UpdateKind::Modify => before.map(|b| EntryUpdate::modify(b.clone())),
        UpdateKind::Delete => before
            .or(Some(&u.entry))
            .map(|b| EntryUpdate::insert(b.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: u128, port: u128) -> EntrySpec {
        EntrySpec::new("T.r", "T.hop")
            .matching("dst", FieldMatch::lpm(prefix, 24))
            .param("port", port)
    }

    #[test]
    fn diff_inserts_modifies_and_deletes() {
        let cur = vec![route(1, 1), route(2, 2), route(3, 3)];
        let want = vec![route(1, 1), route(2, 5), route(4, 4)];
        let d = diff(&cur, &want);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].kind, UpdateKind::Delete);
        assert_eq!(d[0].entry, route(3, 3));
        assert!(
            d.iter()
                .any(|u| u.kind == UpdateKind::Modify && u.entry == route(2, 5))
        );
        assert!(
            d.iter()
                .any(|u| u.kind == UpdateKind::Insert && u.entry == route(4, 4))
        );
        assert!(diff(&want, &want).is_empty());
    }

    #[test]
    fn keys_compare_canonically() {
        let a = EntrySpec::new("T", "a").matching("f", FieldMatch::Exact(vec![0, 0, 5]));
        let b = EntrySpec::new("T", "a").matching("f", FieldMatch::exact(5));
        assert_eq!(a.key(), b.key());
        let c = EntrySpec::new("T", "a").param_bytes("p", &[0, 7]);
        let d = EntrySpec::new("T", "a").param("p", 7);
        assert!(c.same_action(&d));
    }

    #[test]
    fn inverses() {
        let e = route(1, 1);
        assert_eq!(
            inverse(&EntryUpdate::insert(e.clone()), None).unwrap().kind,
            UpdateKind::Delete
        );
        let before = route(1, 9);
        let inv = inverse(&EntryUpdate::modify(e.clone()), Some(&before)).unwrap();
        assert_eq!(inv.entry, before);
        assert_eq!(
            inverse(&EntryUpdate::delete(e.clone()), None).unwrap().kind,
            UpdateKind::Insert
        );
    }
}
