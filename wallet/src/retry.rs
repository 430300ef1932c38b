//! Retry numbering of a payment's ORDER and CERTIFICATE copies, kept across attempts.
//!
//! The switches' duplicate filter remembers every `(sender, nonce, type, retry, destination)` it
//! passed, for the epoch it saw it in and the next one. A payment attempted again for the same
//! order (after a timeout, or by a restarted wallet) must therefore go on from the retry number
//! after the last one it used: copies numbered from 0 again would be dropped as duplicates. Once
//! two epochs have passed since the last copy, every filter cell has aged out and numbering
//! starts again at 0 (the filter also drops retries above the policy's allowance, so a count that
//! only grew would lock a long-unfinished order out of the network for good).
//!
//! A [`RetryLedger`] hands out the numbers; a persistent one (the wallet's pending file) makes
//! each number durable before the copy carrying it is sent.

use flashmesh_core::wire::MsgType;
use serde::{Deserialize, Serialize};

/// The retry numbering of one message (the ORDER or the CERTIFICATE of one payment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryCount {
    /// Retry number of the next copy to send.
    pub next: u8,
    /// Epoch in which the last copy was sent; `None` before the first.
    #[serde(default)]
    pub epoch: Option<u32>,
}

impl RetryCount {
    /// Whether every copy sent so far has aged out of the duplicate filters when the current
    /// epoch is `epoch` (a copy counts as seen in the epoch it passed and the next).
    pub fn aged_out(&self, epoch: u32) -> bool {
        self.epoch
            .is_none_or(|last| epoch >= last.saturating_add(2))
    }

    /// The retry number of a copy sent now, in `epoch`: the next one after the last copy, or 0
    /// when all earlier copies have aged out. Saturates at 255.
    pub fn claim(&mut self, epoch: u32) -> u8 {
        if self.aged_out(epoch) {
            self.next = 0;
        }
        let r = self.next;
        self.next = self.next.saturating_add(1);
        self.epoch = Some(epoch);
        r
    }
}

/// The retry numbering of one payment: its ORDER copies and its CERTIFICATE copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retries {
    /// ORDER copies.
    #[serde(default)]
    pub order: RetryCount,
    /// CERTIFICATE copies.
    #[serde(default)]
    pub certificate: RetryCount,
}

impl Retries {
    /// The count of messages of type `kind` (CERTIFICATE, or ORDER for anything else).
    pub fn of(&mut self, kind: MsgType) -> &mut RetryCount {
        match kind {
            MsgType::Certificate => &mut self.certificate,
            _ => &mut self.order,
        }
    }
}

/// Error of a ledger that could not record a retry number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot record the retry count: {0}")]
pub struct LedgerError(pub String);

/// Hands out the retry numbers of a payment's copies. The payment protocol calls
/// [`RetryLedger::claim`] before every ORDER or CERTIFICATE copy it sends, and sends the copy
/// only once the number is returned.
pub trait RetryLedger {
    /// The retry number of the next copy of `kind` sent in `epoch`; a persistent ledger makes it
    /// durable before returning.
    fn claim(&mut self, kind: MsgType, epoch: u32) -> Result<u8, LedgerError>;
}

/// An in-memory ledger: kept by the caller for as long as the payment is unfinished.
impl RetryLedger for Retries {
    fn claim(&mut self, kind: MsgType, epoch: u32) -> Result<u8, LedgerError> {
        Ok(self.of(kind).claim(epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_continues_within_two_epochs_and_restarts_after() {
        let mut c = RetryCount::default();
        assert!(c.aged_out(5));
        assert_eq!((c.claim(5), c.claim(5), c.claim(5)), (0, 1, 2));
        // A later attempt in the same or the next epoch goes on where the last one stopped.
        assert!(!c.aged_out(6));
        assert_eq!(c.claim(6), 3);
        assert_eq!(c.claim(7), 4);
        // Two epochs after the last copy the filters have forgotten them all.
        assert!(c.aged_out(9));
        assert_eq!(c.claim(9), 0);
        assert_eq!(c.epoch, Some(9));
    }

    #[test]
    fn numbers_saturate_and_kinds_are_counted_apart() {
        let mut r = Retries::default();
        r.order.next = 254;
        r.order.epoch = Some(1);
        assert_eq!(r.claim(MsgType::Order, 1).unwrap(), 254);
        assert_eq!(r.claim(MsgType::Order, 1).unwrap(), 255);
        assert_eq!(r.claim(MsgType::Order, 1).unwrap(), 255);
        assert_eq!(r.claim(MsgType::Certificate, 1).unwrap(), 0);
        assert_eq!(r.certificate.next, 1);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Retries>(&json).unwrap(), r);
        assert_eq!(
            serde_json::from_str::<Retries>("{}").unwrap(),
            Retries::default()
        );
    }
}
