//! Receipts for certificates applied before, kept for their repeats.
//!
//! A wallet that did not hear a receipt sends the certificate again, and an attacker may
//! replay one at line rate; each repeat is answered with `applied = false` and the account's
//! current next sequence. Signing that answer again for every copy costs a signature each
//! time, so the last answers are kept (direct-mapped by order digest, bounded, allocated on
//! first use) and handed out again while the account has not moved. Signing is deterministic,
//! so a kept receipt is byte for byte the one that would be signed.

use crate::digest::Digest;
use crate::keys::Keypair;
use crate::messages::Receipt;

/// Slots per authority (a power of two).
const SLOTS: usize = 256;

/// The kept answers.
#[derive(Debug, Clone, Default)]
pub(super) struct RepeatReceipts(Vec<Option<Receipt>>);

impl RepeatReceipts {
    /// The `applied = false` receipt for `digest` at `nonce` with `next`, kept or signed now.
    pub(super) fn get(&mut self, digest: Digest, nonce: u64, next: u64, key: &Keypair) -> Receipt {
        let i = usize::from(u16::from_le_bytes([digest.0[0], digest.0[1]])) & (SLOTS - 1);
        if let Some(Some(r)) = self.0.get(i)
            && r.order_digest == digest
            && r.nonce == nonce
            && r.next_sequence == next
        {
            return *r;
        }
        let r = Receipt::sign(digest, nonce, false, next, key);
        if self.0.is_empty() {
            self.0.resize(SLOTS, None);
        }
        self.0[i] = Some(r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_receipt_is_the_one_signing_gives_and_follows_the_sequence() {
        let key = Keypair::from_seed(&[3; 32]);
        let d = Digest([7; 32]);
        let mut kept = RepeatReceipts::default();
        let first = kept.get(d, 4, 5, &key);
        assert_eq!(first, Receipt::sign(d, 4, false, 5, &key));
        assert_eq!(kept.get(d, 4, 5, &key), first);
        // the account moved on: a new answer, not the kept one
        let later = kept.get(d, 4, 6, &key);
        assert_eq!(later, Receipt::sign(d, 4, false, 6, &key));
        assert!(!later.applied);
        // another digest in the same slot evicts, never confuses
        let mut other = d;
        other.0[31] ^= 1;
        assert_eq!(kept.get(other, 4, 6, &key).order_digest, other);
        assert_eq!(kept.get(d, 4, 6, &key), later);
    }
}
