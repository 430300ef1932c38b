//! The data plane's filters as `p4src/flash_mesh.p4` does them, per switch: the epoch window,
//! the retry allowance, blocked senders and the duplicate filter (a Bloom filter over
//! `(sender, nonce, msg_type, retry, IPv4 destination)` with eight cells from four CRC-32 hashes
//! of the key in four field orders, cells holding the epoch they were stamped in).
//!
//! A cell holds a one-byte stamp of its epoch (`1 + epoch % 255`, 0 for never stamped) rather
//! than the whole epoch: only the current and the previous epoch ever match, and cells of older
//! epochs are cleared whenever the epoch changes, so the stamp is exact. The cells are allocated
//! when a switch first stamps one (256 KiB), so switches that filter nothing cost nothing.

use std::collections::HashSet;

use flashmesh_core::wire::MsgType;

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
    cells: Vec<u8>,
    /// Cells stamped in the epoch the cells were last cleared for, and in the one before.
    stamped: [Vec<u32>; 2],
    /// The epoch the cells were last cleared for.
    cleared_for: u32,
    /// Clearings still to be done by scanning every cell (the lists overflowed).
    full_scans: u8,
}

impl Default for SwitchFilters {
    fn default() -> Self {
        SwitchFilters {
            current_epoch: 0,
            retry_allowance: 255,
            dedup_types: vec![MsgType::Order as u8, MsgType::Certificate as u8],
            blocked: HashSet::new(),
            cells: Vec::new(),
            stamped: [Vec::new(), Vec::new()],
            cleared_for: 0,
            full_scans: 0,
        }
    }
}

/// A cell's stamp for `epoch` (never 0, the empty cell).
fn stamp(epoch: u32) -> u8 {
    (epoch % 255) as u8 + 1
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
            if self.cleared_for != cur {
                self.prune();
            }
            if self.cells.is_empty() {
                self.cells = vec![0; 8 * PART_SIZE as usize];
            }
            let (now, before) = (stamp(cur), stamp(cur.wrapping_sub(1)));
            // Epoch 0 stamps nothing, so a cell of "epoch 0" never matches.
            let before = if cur == 1 { 0 } else { before };
            let idx = cell_indices(k);
            let seen = idx.iter().all(|&i| {
                let c = self.cells[i as usize];
                c == now || (c != 0 && c == before)
            });
            if seen {
                return Err(Drop::Duplicate);
            }
            for i in idx {
                self.cells[i as usize] = now;
            }
            if self.stamped[0].len() < self.cells.len() {
                self.stamped[0].extend_from_slice(&idx);
            } else {
                // A long epoch: cheaper to scan the cells at the next two clearings.
                self.stamped[0] = Vec::new();
                self.full_scans = 2;
            }
        }
        Ok(())
    }

    /// Clears cells stamped before the previous epoch (they no longer match anything), so a
    /// stamp is never mistaken for a later epoch's. Runs by itself when the epoch has changed.
    pub fn prune(&mut self) {
        let cur = self.current_epoch;
        let last = std::mem::replace(&mut self.cleared_for, cur);
        if last == cur {
            return;
        }
        // Cells hold epochs `last` and `last - 1`; only `last` survives a step to `last + 1`.
        let step = cur == last.wrapping_add(1);
        if self.full_scans > 0 {
            self.full_scans -= 1;
            self.stamped = [Vec::new(), Vec::new()];
            let keep = step.then(|| stamp(last));
            for c in &mut self.cells {
                if Some(*c) != keep {
                    *c = 0;
                }
            }
            return;
        }
        let older = std::mem::take(&mut self.stamped[1]);
        let dead = stamp(last.wrapping_sub(1));
        for i in older {
            if self.cells[i as usize] == dead {
                self.cells[i as usize] = 0;
            }
        }
        let recent = std::mem::take(&mut self.stamped[0]);
        if step {
            self.stamped[1] = recent;
        } else {
            for i in recent {
                self.cells[i as usize] = 0;
            }
        }
    }

    /// Cells stamped in the current or the previous epoch.
    pub fn stamped_cells(&self) -> usize {
        self.cells.iter().filter(|&&c| c != 0).count()
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
    fn duplicates_live_two_epochs_and_stamps_never_alias() {
        let mut f = SwitchFilters {
            current_epoch: 1,
            ..SwitchFilters::default()
        };
        let k = order();
        assert_eq!(f.check(&k), Ok(()));
        assert_eq!(f.check(&k), Err(Drop::Duplicate));
        f.current_epoch = 2;
        assert_eq!(f.check(&k), Err(Drop::Duplicate));
        // A key that passes in epoch 3 is stamped 3; a jump to 258 (same one-byte stamp)
        // must not find it.
        f.current_epoch = 3;
        let k3 = FilterKey { epoch: 3, ..k };
        assert_eq!(f.check(&k3), Ok(()));
        f.current_epoch = 258;
        let k258 = FilterKey { epoch: 258, ..k3 };
        assert_eq!(f.check(&k258), Ok(()));
        // Stepping one epoch at a time through two stamp cycles, the key seen every other
        // epoch: each sighting passes (the last one is two epochs old), its repeat does not.
        for e in 259..259 + 600 {
            f.current_epoch = e;
            if e % 2 == 0 {
                let ke = FilterKey { epoch: e, ..k };
                assert_eq!(f.check(&ke), Ok(()), "epoch {e}");
                assert_eq!(f.check(&ke), Err(Drop::Duplicate), "epoch {e}");
            } else {
                let other = FilterKey {
                    epoch: e,
                    nonce: 99,
                    ..k
                };
                assert_eq!(f.check(&other), Ok(()), "epoch {e}");
            }
        }
        assert!(f.stamped_cells() <= 16);
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
