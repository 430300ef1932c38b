//! Sender penalties: which sender tags are blocked until when. Pure bookkeeping; the runtime
//! turns starts and expiries into `blocked_senders` inserts and deletes.

use std::collections::BTreeMap;

/// Blocked senders with their expiry (milliseconds on the caller's clock).
#[derive(Debug, Clone, Default)]
pub struct PenaltyBook {
    until: BTreeMap<[u8; 8], u64>,
}

/// What the runtime must do after a penalty request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PenaltyAction {
    /// The sender was not blocked: insert its entry.
    Insert,
    /// Already blocked: only the expiry moved.
    Extend,
}

impl PenaltyBook {
    /// Blocks `sender` until `now_ms + duration_ms` (never shortening an existing penalty).
    pub fn block(&mut self, sender: [u8; 8], now_ms: u64, duration_ms: u64) -> PenaltyAction {
        let until = now_ms.saturating_add(duration_ms);
        match self.until.get_mut(&sender) {
            Some(u) => {
                *u = (*u).max(until);
                PenaltyAction::Extend
            }
            None => {
                self.until.insert(sender, until);
                PenaltyAction::Insert
            }
        }
    }

    /// Removes and returns the senders whose penalty is over at `now_ms`.
    pub fn expire(&mut self, now_ms: u64) -> Vec<[u8; 8]> {
        let gone: Vec<[u8; 8]> = self
            .until
            .iter()
            .filter(|(_, u)| **u <= now_ms)
            .map(|(s, _)| *s)
            .collect();
        for s in &gone {
            self.until.remove(s);
        }
        gone
    }

    /// The earliest expiry, to schedule the next wake-up.
    pub fn next_expiry(&self) -> Option<u64> {
        self.until.values().min().copied()
    }

    /// True when `sender` is blocked.
    pub fn is_blocked(&self, sender: &[u8; 8]) -> bool {
        self.until.contains_key(sender)
    }

    /// All blocked senders with their expiry.
    pub fn blocked(&self) -> impl Iterator<Item = (&[u8; 8], &u64)> {
        self.until.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_extend_expire() {
        let mut b = PenaltyBook::default();
        let s = [1; 8];
        assert_eq!(b.block(s, 0, 1000), PenaltyAction::Insert);
        assert_eq!(b.block(s, 500, 100), PenaltyAction::Extend); // does not shorten
        assert_eq!(b.next_expiry(), Some(1000));
        assert!(b.expire(999).is_empty());
        assert!(b.is_blocked(&s));
        assert_eq!(b.expire(1000), vec![s]);
        assert!(!b.is_blocked(&s));
        assert_eq!(b.next_expiry(), None);
    }
}
