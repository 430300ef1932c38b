//! The anchor's applied certificates in apply order, the most recent ones kept in a bounded
//! ring: what heartbeats report as `applied`, and what catch-up sends a peer that missed some.
//!
//! Position `n` is the `n`-th certificate applied by this authority. The count starts at the
//! certificates the recovered state already holds (the sum of every account's next sequence);
//! certificates applied before this process started are not in the ring, so a peer missing
//! those is caught up by the wallets' pushes instead (counted as unavailable).

use std::collections::VecDeque;

use flashmesh_core::Certificate;
use parking_lot::Mutex;

/// The applied log (shared; every method locks briefly).
#[derive(Debug)]
pub struct AppliedLog {
    inner: Mutex<Ring>,
}

#[derive(Debug)]
struct Ring {
    /// Position of `certs[0]`.
    first: u64,
    certs: VecDeque<Certificate>,
    capacity: usize,
}

/// What [`AppliedLog::range`] found.
#[derive(Debug, Default)]
pub struct Range {
    /// The certificates found, in apply order.
    pub certificates: Vec<Certificate>,
    /// Positions asked for that are no longer (or never were) in the ring.
    pub unavailable: u64,
}

impl AppliedLog {
    /// An empty ring after `applied` certificates, keeping the last `capacity` (at least 1).
    pub fn new(applied: u64, capacity: usize) -> AppliedLog {
        AppliedLog {
            inner: Mutex::new(Ring {
                first: applied,
                certs: VecDeque::new(),
                capacity: capacity.max(1),
            }),
        }
    }

    /// Certificates applied so far.
    pub fn applied(&self) -> u64 {
        let r = self.inner.lock();
        r.first + r.certs.len() as u64
    }

    /// Appends the certificate just applied (call in apply order).
    pub fn push(&self, certificate: Certificate) {
        let mut r = self.inner.lock();
        if r.certs.len() == r.capacity {
            r.certs.pop_front();
            r.first += 1;
        }
        r.certs.push_back(certificate);
    }

    /// The certificates at positions `from..to` still in the ring.
    pub fn range(&self, from: u64, to: u64) -> Range {
        let r = self.inner.lock();
        let end = r.first + r.certs.len() as u64;
        let (lo, hi) = (from.max(r.first), to.min(end));
        let certificates: Vec<Certificate> = if lo < hi {
            r.certs
                .range((lo - r.first) as usize..(hi - r.first) as usize)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let wanted = to.saturating_sub(from);
        Range {
            unavailable: wanted - certificates.len() as u64,
            certificates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::{Keypair, SignedOrder, TransferOrder};

    fn cert(n: u64) -> Certificate {
        let k = Keypair::from_seed(&[7; 32]);
        let o = SignedOrder::sign(
            TransferOrder {
                sender: k.public(),
                recipient: k.public(),
                token: 0,
                amount: 1,
                nonce: n,
                epoch: 0,
                ttl: 1,
            },
            &k,
        );
        Certificate::new(o, [])
    }

    #[test]
    fn keeps_the_last_certificates_by_position() {
        let log = AppliedLog::new(10, 3);
        for n in 0..5 {
            log.push(cert(n));
        }
        assert_eq!(log.applied(), 15);
        let r = log.range(11, 15);
        assert_eq!(r.unavailable, 1);
        let nonces: Vec<u64> = r
            .certificates
            .iter()
            .map(|c| c.order.order().nonce)
            .collect();
        assert_eq!(nonces, vec![2, 3, 4]);
        assert_eq!(log.range(15, 20).unavailable, 5);
        assert_eq!(log.range(3, 1).unavailable, 0);
    }
}
