//! Signature checks shared by the authorities of one committee in a run: each distinct order
//! or certificate is verified once (by the same `verify` functions the authority would call)
//! and the answer reused by every other authority that receives it. Verification is a pure
//! function of the bytes and the committee, so the run is unchanged; only the cost of checking
//! one certificate fifty times is saved, as a node holding several authorities would.

use std::collections::HashMap;

use flashmesh_core::Committee;
use flashmesh_core::authority::SignatureCheck;
use flashmesh_core::digest::Digest;
use flashmesh_core::error::Rejection;
use flashmesh_core::messages::{Certificate, SignedOrder, Verified};

/// One committee's cache of verdicts.
#[derive(Debug, Default)]
pub struct VerifyMemo {
    orders: HashMap<(Digest, [u8; 64]), Result<Verified<SignedOrder>, Rejection>>,
    certificates: HashMap<Digest, Result<Verified<Certificate>, Rejection>>,
    /// Verifications made.
    pub verified: u64,
    /// Answers reused.
    pub reused: u64,
}

impl SignatureCheck for VerifyMemo {
    fn order(&mut self, order: SignedOrder) -> Result<Verified<SignedOrder>, Rejection> {
        let key = (order.digest(), order.signature().0);
        if let Some(r) = self.orders.get(&key) {
            self.reused += 1;
            return r.clone();
        }
        self.verified += 1;
        let r = order.verify();
        self.orders.insert(key, r.clone());
        r
    }

    fn certificate(
        &mut self,
        certificate: Certificate,
        committee: &Committee,
    ) -> Result<Verified<Certificate>, Rejection> {
        let key = certificate.digest();
        if let Some(r) = self.certificates.get(&key) {
            self.reused += 1;
            return r.clone();
        }
        self.verified += 1;
        let r = certificate.verify(committee);
        self.certificates.insert(key, r.clone());
        r
    }
}
