//! Signatures to verify together: the items of one or many messages (an order's owner
//! signature; a certificate's votes and owner signature), checked in one ed25519 batch.
//!
//! When a batch fails, halves are batch-checked in turn until the messages whose signatures are
//! bad are found, so one bad message among `n` costs about `2 log2 n` extra batches instead of
//! `n` single checks, and a bad message is refused alone: the good ones beside it still pass.
//! A message of one signature is decided by the strict single check ([`VerifyingKey::
//! verify_strict`]), as when it is checked alone.

use std::ops::Range;

use ed25519_dalek::VerifyingKey;

use crate::digest::Digest;
use crate::error::Rejection;
use crate::keys::Signature;

/// Signed digests with their signatures and keys, in order.
#[derive(Debug, Clone, Default)]
pub struct SignedItems {
    digests: Vec<Digest>,
    signatures: Vec<ed25519_dalek::Signature>,
    keys: Vec<VerifyingKey>,
}

impl SignedItems {
    /// Room for `n` items.
    pub fn with_capacity(n: usize) -> SignedItems {
        SignedItems {
            digests: Vec::with_capacity(n),
            signatures: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
        }
    }
    /// Adds `signature` by `key` on `digest`.
    pub fn push(&mut self, digest: Digest, signature: Signature, key: VerifyingKey) {
        self.digests.push(digest);
        self.signatures.push(signature.to_dalek());
        self.keys.push(key);
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.digests.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
    /// Appends all of `other`'s items; the range they occupy here.
    pub fn append(&mut self, other: SignedItems) -> Range<usize> {
        let start = self.len();
        self.digests.extend(other.digests);
        self.signatures.extend(other.signatures);
        self.keys.extend(other.keys);
        start..self.len()
    }

    /// Whether the items in `ranges` all verify, in one batch.
    fn batch_ok(&self, ranges: &[Range<usize>]) -> bool {
        let n: usize = ranges.iter().map(|r| r.len()).sum();
        match n {
            0 => true,
            1 => {
                let i = ranges.iter().find(|r| !r.is_empty()).map_or(0, |r| r.start);
                self.keys[i]
                    .verify_strict(&self.digests[i].0, &self.signatures[i])
                    .is_ok()
            }
            _ => {
                let mut msgs: Vec<&[u8]> = Vec::with_capacity(n);
                let mut sigs = Vec::with_capacity(n);
                let mut keys = Vec::with_capacity(n);
                for r in ranges {
                    for i in r.clone() {
                        msgs.push(&self.digests[i].0[..]);
                        sigs.push(self.signatures[i]);
                        keys.push(self.keys[i]);
                    }
                }
                ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
            }
        }
    }

    /// All items, one batch: `Ok` or [`Rejection::BadSignature`].
    pub fn verify_all(&self) -> Result<(), Rejection> {
        let all = 0..self.len();
        if self.batch_ok(std::slice::from_ref(&all)) {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }

    /// The verdict for each message, given as the range of its items: whether all of its
    /// signatures verify. One batch when all are good; halves of a failed batch are checked in
    /// turn until each bad message is isolated.
    pub fn verify_messages(&self, messages: &[Range<usize>]) -> Vec<bool> {
        let mut verdict = vec![true; messages.len()];
        let mut stack = Vec::with_capacity(2 * messages.len().max(1));
        stack.push(0..messages.len());
        // bounded: each split halves a range of messages, so at most 2n ranges are pushed
        while let Some(span) = stack.pop() {
            if span.is_empty() || self.batch_ok(&messages[span.clone()]) {
                continue;
            }
            if span.len() == 1 {
                verdict[span.start] = false;
                continue;
            }
            let mid = span.start + span.len() / 2;
            stack.push(mid..span.end);
            stack.push(span.start..mid);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn items(n: usize, bad: &[usize]) -> (SignedItems, Vec<Range<usize>>) {
        let mut all = SignedItems::default();
        let mut ranges = Vec::new();
        for m in 0..n {
            // messages of one to three signatures
            let mut one = SignedItems::default();
            for j in 0..1 + m % 3 {
                let k = Keypair::from_seed(&[(m * 3 + j) as u8 + 1; 32]);
                let d = Digest::of("flash-mesh test", &[m as u8, j as u8]);
                let mut s = k.sign_digest(&d);
                if bad.contains(&m) && j == 0 {
                    s.0[5] ^= 1;
                }
                one.push(d, s, k.public().verifying_key().unwrap());
            }
            ranges.push(all.append(one));
        }
        (all, ranges)
    }

    #[test]
    fn all_good_pass_in_one_batch() {
        let (all, ranges) = items(20, &[]);
        assert!(all.verify_messages(&ranges).iter().all(|&v| v));
        assert!(all.verify_all().is_ok());
    }

    #[test]
    fn bad_messages_are_found_alone() {
        for bad in [
            vec![0],
            vec![19],
            vec![3, 4, 11],
            (0..20).collect::<Vec<_>>(),
        ] {
            let (all, ranges) = items(20, &bad);
            let v = all.verify_messages(&ranges);
            for (m, ok) in v.iter().enumerate() {
                assert_eq!(*ok, !bad.contains(&m), "message {m} with bad {bad:?}");
            }
            assert_eq!(all.verify_all(), Err(Rejection::BadSignature));
        }
    }

    #[test]
    fn nothing_to_check_passes() {
        assert!(SignedItems::default().verify_all().is_ok());
        assert!(SignedItems::default().verify_messages(&[]).is_empty());
    }
}
