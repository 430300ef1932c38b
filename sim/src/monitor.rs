//! The invariants, checked as the run goes, by an observer that sees every vote an authority
//! sends, every change it makes durable, every certificate a payee accepts and every
//! authority's state. It keeps its own records, outside the processes it watches, so a crash
//! and restart does not make it forget what was said before.
//!
//! Certificates are judged by an oracle written here, independently of
//! `Certificate::check`: every signer a distinct committee member, their weight at least the
//! quorum, every vote and the order's signature valid one by one.

use std::collections::{BTreeMap, HashMap, HashSet};

use flashmesh_core::Committee;
use flashmesh_core::digest::Digest;
use flashmesh_core::keys::{AuthorityTag, PublicKey};
use flashmesh_core::messages::{Certificate, TokenId, Vote};
use serde::Serialize;

use crate::agenda::Micros;

/// A rule the run broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant (a stable name).
    pub invariant: &'static str,
    /// Virtual time.
    pub at: Micros,
    /// What was seen.
    pub detail: String,
}

/// Invariant names.
pub mod names {
    /// Two certificates for one (account, nonce) with different orders.
    pub const CONFLICTING_CERTIFICATES: &str = "conflicting_certificates";
    /// A token's supply changed at an authority.
    pub const SUPPLY: &str = "supply_conserved";
    /// An honest authority voted for two orders of one (account, nonce).
    pub const DOUBLE_VOTE: &str = "no_double_vote";
    /// An authority applied one certificate twice.
    pub const APPLY_ONCE: &str = "apply_at_most_once";
    /// A payee or an authority accepted a certificate the oracle finds invalid.
    pub const INVALID_ACCEPTED: &str = "no_invalid_certificate_accepted";
    /// An honest payment did not finish within the bound after the faults ended.
    pub const LIVENESS: &str = "liveness";
    /// An authority could not rebuild its state from its store.
    pub const RECOVERY: &str = "recovery";
    /// Honest authorities disagree on balances or sequences at the end.
    pub const CONVERGENCE: &str = "convergence";
}

/// The oracle's verdict on a certificate.
pub fn oracle_valid(cert: &Certificate, committee: &Committee) -> Result<(), String> {
    let mut seen: HashSet<AuthorityTag> = HashSet::new();
    let mut weight = 0u64;
    let order_digest = cert.order.digest();
    let nonce = cert.order.order().nonce;
    let mut votes = Vec::with_capacity(cert.signatures.len());
    for e in &cert.signatures {
        let Some(m) = committee.member(&e.authority) else {
            return Err(format!("signer {:?} is not a member", e.authority));
        };
        if !seen.insert(e.authority) {
            return Err(format!("signer {} appears twice", m.name()));
        }
        weight += m.weight();
        votes.push(Vote {
            order_digest,
            nonce,
            authority: e.authority,
            signature: e.signature,
        });
    }
    // Each signature as the vote it was, checked as a wallet checks the votes it gathers.
    let verdicts = Vote::verify_each(&votes, committee);
    if let Some(bad) = verdicts.iter().position(|v| v.is_err())
        && let Some(m) = committee.member(&votes[bad].authority)
    {
        return Err(format!("vote of {} does not verify", m.name()));
    }
    if weight < committee.quorum() {
        return Err(format!(
            "weight {weight} below quorum {}",
            committee.quorum()
        ));
    }
    if cert.order.check().is_err() {
        return Err("the order's signature does not verify".into());
    }
    Ok(())
}

/// The observer.
#[derive(Debug, Default)]
pub struct Monitor {
    /// (committee, account, nonce) → order digest of a certificate seen valid.
    certified: HashMap<(usize, PublicKey, u64), Digest>,
    /// (authority node, committee, account, nonce) → order digest it voted for.
    votes: HashMap<(usize, usize, PublicKey, u64), Digest>,
    /// (authority node, committee, account, nonce) applied.
    applied: HashSet<(usize, usize, PublicKey, u64)>,
    /// Genesis supply per committee.
    supply: Vec<BTreeMap<TokenId, u128>>,
    /// The oracle's verdicts, by (committee, certificate digest): it is a pure function.
    verdicts: HashMap<(usize, Digest), Result<(), String>>,
    /// What broke (first few).
    pub violations: Vec<Violation>,
    /// Checks made, per invariant.
    pub checks: BTreeMap<&'static str, u64>,
}

/// How many violations are kept.
const KEEP: usize = 16;

impl Monitor {
    /// A monitor for committees whose genesis supplies are `supply`.
    pub fn new(supply: Vec<BTreeMap<TokenId, u128>>) -> Monitor {
        Monitor {
            supply,
            ..Monitor::default()
        }
    }

    fn count(&mut self, name: &'static str) {
        *self.checks.entry(name).or_default() += 1;
    }

    /// Records a violation.
    pub fn violate(&mut self, invariant: &'static str, at: Micros, detail: String) {
        if self.violations.len() < KEEP {
            self.violations.push(Violation {
                invariant,
                at,
                detail,
            });
        }
    }

    /// Whether anything broke.
    pub fn broken(&self) -> bool {
        !self.violations.is_empty()
    }

    /// A certificate someone holds as valid (a payer formed it, a payee or authority accepted
    /// it): checked by the oracle when `check_valid`, then against every other certificate
    /// for its (account, nonce).
    pub fn certificate(
        &mut self,
        at: Micros,
        committee_ix: usize,
        committee: &Committee,
        cert: &Certificate,
        who: &str,
        check_valid: bool,
    ) {
        if check_valid {
            self.count(names::INVALID_ACCEPTED);
            let verdict = self
                .verdicts
                .entry((committee_ix, cert.digest()))
                .or_insert_with(|| oracle_valid(cert, committee))
                .clone();
            if let Err(why) = verdict {
                self.violate(
                    names::INVALID_ACCEPTED,
                    at,
                    format!("{who} accepted an invalid certificate: {why}"),
                );
                return;
            }
        }
        self.count(names::CONFLICTING_CERTIFICATES);
        let o = cert.order.order();
        let d = cert.order.digest();
        let key = (committee_ix, o.sender, o.nonce);
        match self.certified.get(&key) {
            Some(prev) if *prev != d => self.violate(
                names::CONFLICTING_CERTIFICATES,
                at,
                format!(
                    "two certificates for account {} nonce {}: orders {} and {} ({who})",
                    o.sender.tag().to_hex(),
                    o.nonce,
                    prev.to_hex(),
                    d.to_hex()
                ),
            ),
            Some(_) => {}
            None => {
                self.certified.insert(key, d);
            }
        }
    }

    /// A vote an honest authority sent.
    pub fn vote(
        &mut self,
        at: Micros,
        node: usize,
        committee_ix: usize,
        account: PublicKey,
        vote: &Vote,
    ) {
        self.count(names::DOUBLE_VOTE);
        let key = (node, committee_ix, account, vote.nonce);
        match self.votes.get(&key) {
            Some(prev) if *prev != vote.order_digest => self.violate(
                names::DOUBLE_VOTE,
                at,
                format!(
                    "authority at node {node} voted for two orders of account {} nonce {}",
                    account.tag().to_hex(),
                    vote.nonce
                ),
            ),
            Some(_) => {}
            None => {
                self.votes.insert(key, vote.order_digest);
            }
        }
    }

    /// A certificate an authority made durable as applied.
    pub fn applied(&mut self, at: Micros, node: usize, committee_ix: usize, cert: &Certificate) {
        self.count(names::APPLY_ONCE);
        let o = cert.order.order();
        if !self.applied.insert((node, committee_ix, o.sender, o.nonce)) {
            self.violate(
                names::APPLY_ONCE,
                at,
                format!(
                    "authority at node {node} applied the certificate of account {} nonce {} twice",
                    o.sender.tag().to_hex(),
                    o.nonce
                ),
            );
        }
    }

    /// An authority's supply after it changed state.
    pub fn supply(
        &mut self,
        at: Micros,
        node: usize,
        committee_ix: usize,
        supply: &BTreeMap<TokenId, u128>,
    ) {
        self.count(names::SUPPLY);
        let want = &self.supply[committee_ix];
        // A token at zero counts as absent on both sides.
        if !supply
            .iter()
            .filter(|(_, v)| **v != 0)
            .eq(want.iter().filter(|(_, v)| **v != 0))
        {
            self.violate(
                names::SUPPLY,
                at,
                format!("authority at node {node} holds supply {supply:?}, genesis {want:?}"),
            );
        }
    }

    /// Counts one check made by the caller.
    pub fn checked(&mut self, name: &'static str) {
        self.count(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::Keypair;
    use flashmesh_core::messages::{SignedOrder, TransferOrder};
    use flashmesh_core::testing::{authority_keys, committee_of};

    #[test]
    fn oracle_refuses_a_repeated_signer_and_accepts_a_quorum() {
        let keys = authority_keys(4, 1);
        let c = committee_of(&keys, 1000);
        let payer = Keypair::from_seed(&[9; 32]);
        let order = SignedOrder::sign(
            TransferOrder {
                sender: payer.public(),
                recipient: keys[0].public(),
                token: 0,
                amount: 5,
                nonce: 0,
                epoch: 1,
                ttl: 4,
            },
            &payer,
        );
        let votes: Vec<Vote> = keys[..3]
            .iter()
            .map(|k| Vote::sign(order.digest(), 0, k))
            .collect();
        let good = Certificate::new(order, &votes);
        assert_eq!(oracle_valid(&good, &c), Ok(()));
        let mut twice = Certificate::new(order, &votes[..2]);
        twice.signatures.push(twice.signatures[0]);
        assert!(oracle_valid(&twice, &c).unwrap_err().contains("twice"));
        let mut m = Monitor::new(vec![BTreeMap::new()]);
        m.certificate(1, 0, &c, &twice, "payee", true);
        assert_eq!(m.violations[0].invariant, names::INVALID_ACCEPTED);
    }
}
