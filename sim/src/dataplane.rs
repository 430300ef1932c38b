//! The data plane's filters as `p4src/flash_mesh.p4` does them, per switch: the epoch window,
//! the retry allowance, blocked senders and the duplicate filter (a Bloom filter over
//! `(sender, nonce, msg_type, retry, IPv4 destination)` with eight cells from four CRC-32 hashes
//! of the key in four field orders, cells holding the epoch they were stamped in).
//!
//! The cells are kept sparse (only those ever stamped), so a thousand switches cost little.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use flashmesh_core::wire::MsgType;

/// Cell indices come from CRC-32 already, so the map uses them as their own hash.
#[derive(Debug, Default, Clone, Copy)]
pub struct CellHasher(u64);

impl Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u32(&mut self, v: u32) {
        // Spread the index over the high bits too (hashbrown uses the top 7 for its tags).
        self.0 = u64::from(v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Cells = HashMap<u32, u32, BuildHasherDefault<CellHasher>>;

/// Cells per partition (`BLOOM_PART_SIZE`).
pub const PART_SIZE: u32 = 32_768;
const PART_MASK: u32 = PART_SIZE - 1;

static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The FMH fields and destination the filters read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterKey {
    /// `msg_type` byte.
    pub msg_type: u8,
    /// `retry`.
    pub retry: u8,
    /// `epoch`.
    pub epoch: u32,
    /// `ttl`.
    pub ttl: u8,
    /// `sender` as a big-endian u64.
    pub sender: u64,
    /// `nonce`.
    pub nonce: u64,
    /// IPv4 destination.
    pub dst: u32,
}

/// Why the data plane dropped a datagram (the program's drop reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drop {
    /// `epoch + ttl < current` (reason 1).
    Stale,
    /// `epoch > current + 1` (reason 2).
    Future,
    /// Retry above the allowance (reason 3).
    Retry,
    /// Blocked sender (reason 4).
    Blocked,
    /// Duplicate (reason 5).
    Duplicate,
}

impl Drop {
    /// Counter name.
    pub fn name(self) -> &'static str {
        match self {
            Drop::Stale => "stale_epoch",
            Drop::Future => "future_epoch",
            Drop::Retry => "retry",
            Drop::Blocked => "blocked",
            Drop::Duplicate => "duplicate",
        }
    }
}

/// One switch's filter state and configuration.
#[derive(Debug, Clone)]
pub struct SwitchFilters {
    /// Current epoch (0: not configured, the window and the filter are off).
    pub current_epoch: u32,
    /// Retries allowed.
    pub retry_allowance: u8,
    /// Message types the duplicate filter applies to.
    pub dedup_types: Vec<u8>,
    /// Blocked senders.
    pub blocked: HashSet<u64>,
    cells: Cells,
}

impl Default for SwitchFilters {
    fn default() -> Self {
        SwitchFilters {
            current_epoch: 0,
            retry_allowance: 255,
            dedup_types: vec![MsgType::Order as u8, MsgType::Certificate as u8],
            blocked: HashSet::new(),
            cells: Cells::default(),
        }
    }
}

fn hash(parts: &[&[u8]]) -> u32 {
    let mut d = CRC32.digest();
    for p in parts {
        d.update(p);
    }
    d.finalize()
}

/// The eight cell indices of `k`, as the program computes them.
pub fn cell_indices(k: &FilterKey) -> [u32; 8] {
    let s = k.sender.to_be_bytes();
    let n = k.nonce.to_be_bytes();
    let t = [k.msg_type];
    let r = [k.retry];
    let d = k.dst.to_be_bytes();
    let h0 = hash(&[&s, &n, &t, &r, &d]);
    let h1 = hash(&[&n, &d, &r, &t, &s]);
    let h2 = hash(&[&d, &r, &s, &t, &n]);
    let h3 = hash(&[&t, &n, &s, &d, &r]);
    let mut out = [0u32; 8];
    for (i, h) in [h0, h1, h2, h3].into_iter().enumerate() {
        out[2 * i] = (2 * i as u32) * PART_SIZE + (h & PART_MASK);
        out[2 * i + 1] = (2 * i as u32 + 1) * PART_SIZE + ((h >> 16) & PART_MASK);
    }
    out
}

impl SwitchFilters {
    /// Runs the filters on one FMH datagram: `Err` is the drop, `Ok` lets it through (and
    /// stamps the filter when the type is filtered).
    pub fn check(&mut self, k: &FilterKey) -> Result<(), Drop> {
        let cur = self.current_epoch;
        if cur != 0 {
            if u64::from(k.epoch) + u64::from(k.ttl) < u64::from(cur) {
                return Err(Drop::Stale);
            }
            if u64::from(k.epoch) > u64::from(cur) + 1 {
                return Err(Drop::Future);
            }
        }
        if k.retry > self.retry_allowance {
            return Err(Drop::Retry);
        }
        if self.blocked.contains(&k.sender) {
            return Err(Drop::Blocked);
        }
        if cur != 0 && self.dedup_types.contains(&k.msg_type) {
            let prev = cur.wrapping_sub(1);
            let idx = cell_indices(k);
            let seen = idx.iter().all(|i| {
                let c = self.cells.get(i).copied().unwrap_or(0);
                c == cur || (c != 0 && c == prev)
            });
            if seen {
                return Err(Drop::Duplicate);
            }
            for i in idx {
                self.cells.insert(i, cur);
            }
        }
        Ok(())
    }

    /// Forgets cells stamped before the previous epoch (they no longer match anything), so the
    /// sparse model stays small.
    pub fn prune(&mut self) {
        let prev = self.current_epoch.wrapping_sub(1);
        let cur = self.current_epoch;
        self.cells.retain(|_, c| *c == cur || *c == prev);
    }

    /// Cells stamped so far (memory of the model).
    pub fn stamped_cells(&self) -> usize {
        self.cells.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> FilterKey {
        FilterKey {
            msg_type: 1,
            retry: 0,
            epoch: 1,
            ttl: 1,
            sender: 0x3333_3333_3333_3333,
            nonce: 1,
            dst: 0x0a00_0201,
        }
    }

    #[test]
    fn indices_stay_in_their_partition() {
        for (i, c) in cell_indices(&order()).into_iter().enumerate() {
            assert_eq!(c / PART_SIZE, i as u32);
        }
    }

    #[test]
    fn unconfigured_switch_filters_nothing_but_retries() {
        let mut f = SwitchFilters::default();
        assert_eq!(f.check(&order()), Ok(()));
        assert_eq!(f.check(&order()), Ok(()));
        f.retry_allowance = 0;
        assert_eq!(
            f.check(&FilterKey {
                retry: 1,
                ..order()
            }),
            Err(Drop::Retry)
        );
    }
}
