//! Run-time table contents and lookup: exact tables by hash, single-LPM tables by one hash map
//! per prefix length (longest first), and tables with ternary/range/optional keys by a scan in
//! priority order (a larger P4Runtime priority wins; equal priorities keep insertion order).

use rustc_hash::FxHashMap;

use crate::ir::{ActionCall, KeyMatch, MatchKind, Table};

use super::value::mask;

/// Packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterData {
    pub packets: u64,
    pub bytes: u64,
}

/// An installed entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub matches: Vec<KeyMatch>,
    pub priority: i32,
    pub action: ActionCall,
    pub idle_timeout_ns: i64,
    pub metadata: Vec<u8>,
    /// Direct counter cell.
    pub counter: CounterData,
    /// Direct meter cell (allocated when the entry's meter is configured).
    pub meter: Option<Box<super::meter::Meter>>,
    /// Declared in the source.
    pub from_source: bool,
}

type KeyMap = FxHashMap<Box<[u128]>, usize>;

#[derive(Debug, Clone)]
enum Index {
    /// No keys: every lookup misses.
    Keyless,
    /// All keys exact.
    Exact(FxHashMap<Box<[u128]>, usize>),
    /// One LPM key (at `lpm`), the others exact: (prefix length, masked key -> entry), longest first.
    Lpm {
        lpm: usize,
        by_len: Vec<(u32, KeyMap)>,
    },
    /// Entry ids in match order.
    Scan(Vec<usize>),
}

/// The entries of one table.
#[derive(Debug, Clone)]
pub struct TableState {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    by_key: FxHashMap<(Vec<KeyMatch>, i32), usize>,
    index: Index,
    kinds: Vec<MatchKind>,
    widths: Vec<u32>,
    /// The action run on a miss.
    pub default_action: ActionCall,
    len: usize,
}

impl TableState {
    /// An empty table for `t` (source entries are added by the caller).
    pub fn new(t: &Table) -> Self {
        let kinds: Vec<MatchKind> = t.keys.iter().map(|k| k.kind).collect();
        let index = if kinds.is_empty() {
            Index::Keyless
        } else if kinds.iter().all(|k| *k == MatchKind::Exact) {
            Index::Exact(FxHashMap::default())
        } else if !t.needs_priority && kinds.iter().filter(|k| **k == MatchKind::Lpm).count() == 1 {
            let lpm = kinds.iter().position(|k| *k == MatchKind::Lpm).unwrap_or(0);
            Index::Lpm {
                lpm,
                by_len: Vec::new(),
            }
        } else {
            Index::Scan(Vec::new())
        };
        TableState {
            slots: Vec::new(),
            free: Vec::new(),
            by_key: FxHashMap::default(),
            index,
            kinds,
            widths: t.keys.iter().map(|k| k.width).collect(),
            default_action: t.default_action.clone(),
            len: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entry by id.
    pub fn entry(&self, id: usize) -> Option<&Entry> {
        self.slots.get(id).and_then(|e| e.as_ref())
    }

    /// Mutable entry by id.
    pub fn entry_mut(&mut self, id: usize) -> Option<&mut Entry> {
        self.slots.get_mut(id).and_then(|e| e.as_mut())
    }

    /// Entries in insertion order of their slots (ids with entries).
    pub fn entries(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e)))
    }

    /// Exact and LPM tables find an entry through their lookup maps; the others (which
    /// need priorities) through `by_key`.
    fn uses_by_key(&self) -> bool {
        matches!(self.index, Index::Keyless | Index::Scan(_))
    }

    /// The entry occupying the lookup-map position of `matches` (exact and LPM tables).
    fn index_find(&self, matches: &[KeyMatch], priority: i32) -> Option<usize> {
        match &self.index {
            Index::Exact(map) => {
                let k: Vec<u128> = matches.iter().map(exact_part).collect();
                map.get(&k[..]).copied()
            }
            Index::Lpm { lpm, by_len } => {
                let (k, len) = lpm_key(matches, *lpm, self.widths[*lpm]);
                by_len
                    .iter()
                    .find(|(l, _)| *l == len)?
                    .1
                    .get(&k[..])
                    .copied()
            }
            _ => self.by_key.get(&(matches.to_vec(), priority)).copied(),
        }
    }

    /// The entry id with exactly this match and priority.
    pub fn find(&self, matches: &[KeyMatch], priority: i32) -> Option<usize> {
        let id = self.index_find(matches, priority)?;
        let e = self.slots.get(id)?.as_ref()?;
        (e.matches == matches && e.priority == priority).then_some(id)
    }

    /// Adds an entry; `Err(existing id)` when one with the same key and priority exists.
    pub fn insert(&mut self, e: Entry) -> Result<usize, usize> {
        if let Some(id) = self.index_find(&e.matches, e.priority) {
            return Err(id);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        match &mut self.index {
            Index::Keyless => {}
            Index::Exact(map) => {
                let k: Vec<u128> = e.matches.iter().map(exact_part).collect();
                map.insert(k.into_boxed_slice(), id);
            }
            Index::Lpm { lpm, by_len } => {
                let (k, len) = lpm_key(&e.matches, *lpm, self.widths[*lpm]);
                let pos = by_len.iter().position(|(l, _)| *l <= len);
                let map = match pos {
                    Some(p) if by_len[p].0 == len => &mut by_len[p].1,
                    Some(p) => {
                        by_len.insert(p, (len, FxHashMap::default()));
                        &mut by_len[p].1
                    }
                    None => {
                        by_len.push((len, FxHashMap::default()));
                        &mut by_len.last_mut().expect("just pushed").1
                    }
                };
                map.insert(k.into_boxed_slice(), id);
            }
            Index::Scan(order) => {
                // after every entry of higher or equal priority
                let prio = e.priority;
                let pos = order
                    .iter()
                    .position(|&o| {
                        self.slots[o]
                            .as_ref()
                            .map(|x| x.priority)
                            .unwrap_or(i32::MIN)
                            < prio
                    })
                    .unwrap_or(order.len());
                order.insert(pos, id);
            }
        }
        if self.uses_by_key() {
            self.by_key.insert((e.matches.clone(), e.priority), id);
        }
        self.slots[id] = Some(e);
        self.len += 1;
        Ok(id)
    }

    /// Removes an entry by id.
    pub fn remove(&mut self, id: usize) -> Option<Entry> {
        let e = self.slots.get_mut(id)?.take()?;
        if self.uses_by_key() {
            self.by_key.remove(&(e.matches.clone(), e.priority));
        }
        match &mut self.index {
            Index::Keyless => {}
            Index::Exact(map) => {
                let k: Vec<u128> = e.matches.iter().map(exact_part).collect();
                map.remove(&k[..]);
            }
            Index::Lpm { lpm, by_len } => {
                let (k, len) = lpm_key(&e.matches, *lpm, self.widths[*lpm]);
                if let Some(p) = by_len.iter().position(|(l, _)| *l == len) {
                    by_len[p].1.remove(&k[..]);
                    if by_len[p].1.is_empty() {
                        by_len.remove(p);
                    }
                }
            }
            Index::Scan(order) => order.retain(|&o| o != id),
        }
        self.free.push(id);
        self.len -= 1;
        Some(e)
    }

    /// Finds the entry matching the key values (one per key, masked to the key widths).
    /// `scratch` is a reusable buffer.
    #[inline]
    pub fn lookup(&self, key: &[u128], scratch: &mut Vec<u128>) -> Option<usize> {
        match &self.index {
            Index::Keyless => None,
            Index::Exact(map) => map.get(key).copied(),
            Index::Lpm { lpm, by_len } => {
                let w = self.widths[*lpm];
                scratch.clear();
                scratch.extend_from_slice(key);
                for (len, map) in by_len {
                    scratch[*lpm] = key[*lpm] & prefix_mask(*len, w);
                    if let Some(&id) = map.get(&scratch[..]) {
                        return Some(id);
                    }
                }
                None
            }
            Index::Scan(order) => {
                for &id in order {
                    let e = self.slots[id].as_ref()?;
                    if matches_all(&e.matches, key, &self.widths) {
                        return Some(id);
                    }
                }
                None
            }
        }
    }

    /// The match kinds of the keys.
    pub fn kinds(&self) -> &[MatchKind] {
        &self.kinds
    }
}

fn exact_part(m: &KeyMatch) -> u128 {
    match *m {
        KeyMatch::Exact(v) => v,
        KeyMatch::Lpm { value, .. } => value,
        KeyMatch::Ternary { value, .. } => value,
        KeyMatch::Range { lo, .. } => lo,
        KeyMatch::Optional(v) => v.unwrap_or(0),
    }
}

fn lpm_key(ms: &[KeyMatch], lpm: usize, w: u32) -> (Vec<u128>, u32) {
    let mut len = 0;
    let k = ms
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if let (true, KeyMatch::Lpm { value, len: l }) = (i == lpm, *m) {
                len = l;
                return value & prefix_mask(l, w);
            }
            exact_part(m)
        })
        .collect();
    (k, len)
}

/// Mask of the top `len` bits of a `w`-bit field.
#[inline]
pub fn prefix_mask(len: u32, w: u32) -> u128 {
    if len == 0 {
        0
    } else {
        mask(w) & !mask(w - len.min(w))
    }
}

#[inline]
fn matches_all(ms: &[KeyMatch], key: &[u128], widths: &[u32]) -> bool {
    ms.iter()
        .zip(key)
        .zip(widths)
        .all(|((m, &k), &w)| match *m {
            KeyMatch::Exact(v) => k == v,
            KeyMatch::Lpm { value, len } => k & prefix_mask(len, w) == value,
            KeyMatch::Ternary { value, mask } => k & mask == value,
            KeyMatch::Range { lo, hi } => lo <= k && k <= hi,
            KeyMatch::Optional(v) => v.is_none_or(|v| v == k),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Expr, TableKey};

    fn table(kinds: &[(MatchKind, u32)], needs_priority: bool) -> Table {
        Table {
            name: "t".into(),
            id: 1,
            keys: kinds
                .iter()
                .enumerate()
                .map(|(i, (k, w))| TableKey {
                    name: format!("k{i}"),
                    id: i as u32 + 1,
                    e: Expr::Const(0),
                    width: *w,
                    kind: *k,
                })
                .collect(),
            actions: vec![],
            default_action: ActionCall {
                action: 0,
                args: vec![],
            },
            default_is_const: false,
            entries: vec![],
            entries_const: false,
            size: 1024,
            direct_counter: None,
            direct_meter: None,
            needs_priority,
        }
    }

    fn entry(matches: Vec<KeyMatch>, priority: i32, tag: u128) -> Entry {
        Entry {
            matches,
            priority,
            action: ActionCall {
                action: 0,
                args: vec![tag],
            },
            idle_timeout_ns: 0,
            metadata: vec![],
            counter: CounterData::default(),
            meter: None,
            from_source: false,
        }
    }

    fn tag(t: &TableState, key: &[u128]) -> Option<u128> {
        let mut s = Vec::new();
        t.lookup(key, &mut s)
            .map(|id| t.entry(id).unwrap().action.args[0])
    }

    #[test]
    fn exact_insert_lookup_delete() {
        let mut t = TableState::new(&table(
            &[(MatchKind::Exact, 16), (MatchKind::Exact, 4)],
            false,
        ));
        t.insert(entry(vec![KeyMatch::Exact(1), KeyMatch::Exact(1)], 0, 10))
            .unwrap();
        assert!(
            t.insert(entry(vec![KeyMatch::Exact(1), KeyMatch::Exact(1)], 0, 11))
                .is_err()
        );
        t.insert(entry(vec![KeyMatch::Exact(2), KeyMatch::Exact(1)], 0, 20))
            .unwrap();
        assert_eq!(tag(&t, &[1, 1]), Some(10));
        assert_eq!(tag(&t, &[2, 1]), Some(20));
        assert_eq!(tag(&t, &[2, 2]), None);
        let id = t
            .find(&[KeyMatch::Exact(1), KeyMatch::Exact(1)], 0)
            .unwrap();
        t.remove(id);
        assert_eq!(tag(&t, &[1, 1]), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = TableState::new(&table(&[(MatchKind::Lpm, 32)], false));
        for (v, l, g) in [
            (0x0a00_0000, 8, 1),
            (0x0a01_0000, 16, 2),
            (0x0a01_0200, 24, 3),
            (0, 0, 9),
        ] {
            t.insert(entry(vec![KeyMatch::Lpm { value: v, len: l }], 0, g))
                .unwrap();
        }
        assert_eq!(tag(&t, &[0x0a01_0203]), Some(3));
        assert_eq!(tag(&t, &[0x0a01_0303]), Some(2));
        assert_eq!(tag(&t, &[0x0a02_0303]), Some(1));
        assert_eq!(tag(&t, &[0x0b00_0000]), Some(9));
        assert_eq!(prefix_mask(8, 32), 0xff00_0000);
        assert_eq!(prefix_mask(32, 32), 0xffff_ffff);
    }

    #[test]
    fn ternary_priorities_and_ranges() {
        let mut t = TableState::new(&table(
            &[(MatchKind::Ternary, 8), (MatchKind::Range, 16)],
            true,
        ));
        let any16 = KeyMatch::Range { lo: 0, hi: 0xffff };
        t.insert(entry(
            vec![
                KeyMatch::Ternary {
                    value: 0x10,
                    mask: 0xf0,
                },
                any16,
            ],
            10,
            1,
        ))
        .unwrap();
        t.insert(entry(
            vec![
                KeyMatch::Ternary {
                    value: 0x12,
                    mask: 0xff,
                },
                any16,
            ],
            20,
            2,
        ))
        .unwrap();
        t.insert(entry(
            vec![
                KeyMatch::Ternary { value: 0, mask: 0 },
                KeyMatch::Range { lo: 100, hi: 200 },
            ],
            5,
            3,
        ))
        .unwrap();
        assert_eq!(tag(&t, &[0x12, 0]), Some(2));
        assert_eq!(tag(&t, &[0x13, 0]), Some(1));
        assert_eq!(tag(&t, &[0x33, 150]), Some(3));
        assert_eq!(tag(&t, &[0x33, 201]), None);
        // same key, different priority is a different entry
        t.insert(entry(
            vec![
                KeyMatch::Ternary {
                    value: 0x12,
                    mask: 0xff,
                },
                any16,
            ],
            30,
            4,
        ))
        .unwrap();
        assert_eq!(tag(&t, &[0x12, 0]), Some(4));
    }

    #[test]
    fn optional_wildcards() {
        let mut t = TableState::new(&table(
            &[(MatchKind::Optional, 12), (MatchKind::Optional, 8)],
            true,
        ));
        t.insert(entry(
            vec![KeyMatch::Optional(Some(0x123)), KeyMatch::Optional(None)],
            10,
            1,
        ))
        .unwrap();
        t.insert(entry(
            vec![KeyMatch::Optional(None), KeyMatch::Optional(Some(0x12))],
            20,
            2,
        ))
        .unwrap();
        assert_eq!(tag(&t, &[0x123, 0x12]), Some(2));
        assert_eq!(tag(&t, &[0x123, 0x13]), Some(1));
        assert_eq!(tag(&t, &[0x124, 0x13]), None);
    }
}
