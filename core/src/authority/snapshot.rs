//! Snapshots: an authority's whole state as bytes, so a restart need not replay its journal
//! from genesis.
//!
//! A snapshot holds every account (balances, next sequence, the pending lock and its vote),
//! sorted by account key, so one state has exactly one encoding. Encoding (the canonical codec
//! of [`crate::codec`]):
//!
//! - the 8 bytes `FMSNAP03` (format and version; `FMSNAP01` snapshots, without withdrawal locks
//!   and money flows, and `FMSNAP02` ones, without handoffs, are still read);
//! - the committee's identity: a digest of its members' keys and weights in order (a snapshot
//!   belongs to one committee);
//! - a u64 count of accounts, then per account: the key, the next sequence (u64), a u32 count
//!   of balances, each a token (u32) and an amount (u64) in token order, then the pending lock:
//!   0 none, 1 a transfer (the signed order, then the vote), 2 a withdrawal, 3 a handoff
//!   (likewise); then (version 3) whether the account moved away: 0, or 1 and the identity of
//!   the committee it moved to;
//! - (version 2) the money withdrawn and deposited through gateways, and (version 3) the money
//!   handed out and in and the handoffs that arrived ([`super::ExternalFlows`]);
//! - the blake3 digest of every byte before it (a damaged file is refused, never half-loaded).
//!
//! Restoring checks more than the bytes: the supply of every token must be the genesis supply,
//! and the authority's key must be a member of the committee, as at genesis.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::committee::Committee;
use crate::digest::Digest;
use crate::keys::{Keypair, PublicKey};
use crate::messages::{SignedOrder, TokenId, Vote};

use super::{
    AccountState, Authority, AuthorityError, ExternalFlows, Genesis, LockedOrder, PendingVote,
};
use crate::messages::{SignedHandoff, SignedWithdrawal};

const MAGIC: &[u8; 8] = b"FMSNAP03";
const MAGIC_V2: &[u8; 8] = b"FMSNAP02";
const MAGIC_V1: &[u8; 8] = b"FMSNAP01";
const DIGEST_LEN: usize = 32;

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this format.
    #[error("not a snapshot (or an unknown snapshot version)")]
    NotASnapshot,
    /// The checksum does not match the bytes.
    #[error("snapshot checksum mismatch: the file is damaged")]
    Checksum,
    /// The bytes do not decode.
    #[error("snapshot does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// Taken for another committee.
    #[error("snapshot belongs to another committee")]
    WrongCommittee,
    /// Its supply differs from genesis.
    #[error("snapshot supply of token {token} is {found}, genesis has {genesis}")]
    Supply {
        /// The token.
        token: TokenId,
        /// In the snapshot.
        found: u128,
        /// At genesis.
        genesis: u128,
    },
    /// The authority could not be built (key not in the committee, bad genesis).
    #[error(transparent)]
    Authority(#[from] AuthorityError),
}

/// The committee a snapshot belongs to: its members' keys and weights, in order.
fn committee_id(c: &Committee) -> Digest {
    c.id()
}

impl Authority {
    /// This authority's state as snapshot bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut keys: Vec<&PublicKey> = self.accounts.keys().collect();
        keys.sort_unstable();
        let mut out = Vec::with_capacity(64 + keys.len() * 64);
        out.put_bytes(MAGIC);
        committee_id(&self.committee).encode_to(&mut out);
        out.put_u64(keys.len() as u64);
        for k in keys {
            let a = &self.accounts[k];
            k.encode_to(&mut out);
            out.put_u64(a.next_sequence);
            out.put_u32(a.balances.len() as u32);
            for (t, v) in &a.balances {
                out.put_u32(*t);
                out.put_u64(*v);
            }
            match &a.pending {
                None => out.put_u8(0),
                Some(p) => {
                    match &p.order {
                        LockedOrder::Transfer(o) => {
                            out.put_u8(1);
                            o.encode_to(&mut out);
                        }
                        LockedOrder::Withdrawal(o) => {
                            out.put_u8(2);
                            o.encode_to(&mut out);
                        }
                        LockedOrder::Handoff(o) => {
                            out.put_u8(3);
                            o.encode_to(&mut out);
                        }
                    }
                    p.vote.encode_to(&mut out);
                }
            }
            match &a.moved {
                None => out.put_u8(0),
                Some(to) => {
                    out.put_u8(1);
                    to.encode_to(&mut out);
                }
            }
        }
        self.flows.encode_to(&mut out);
        self.flows.encode_handoffs_to(&mut out);
        let sum = blake3::hash(&out);
        out.put_bytes(sum.as_bytes());
        out
    }

    /// The authority a snapshot describes, checked against `committee` and `genesis`. Pending
    /// locks come back as durable (the snapshot is on disk).
    pub fn from_snapshot(
        key: Keypair,
        committee: impl Into<Arc<Committee>>,
        genesis: &Genesis,
        bytes: &[u8],
    ) -> Result<Authority, SnapshotError> {
        let committee = committee.into();
        let mut authority = Authority::new(key, committee.clone(), genesis)?;
        if bytes.len() < MAGIC.len() + DIGEST_LEN {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = match &bytes[..MAGIC.len()] {
            m if m == MAGIC => 3,
            m if m == MAGIC_V2 => 2,
            m if m == MAGIC_V1 => 1,
            _ => return Err(SnapshotError::NotASnapshot),
        };
        let (body, sum) = bytes.split_at(bytes.len() - DIGEST_LEN);
        if blake3::hash(body).as_bytes() != sum {
            return Err(SnapshotError::Checksum);
        }
        let mut r = Reader::new(&body[MAGIC.len()..]);
        if Digest::decode_from(&mut r)? != committee_id(&committee) {
            return Err(SnapshotError::WrongCommittee);
        }
        let count = r.u64()?;
        let mut accounts = std::collections::HashMap::new();
        let mut last: Option<PublicKey> = None;
        for _ in 0..count {
            let k = PublicKey::decode_from(&mut r)?;
            if last.is_some_and(|l| l >= k) {
                return Err(DecodeError::InvalidField("snapshot accounts out of order").into());
            }
            last = Some(k);
            let next_sequence = r.u64()?;
            let n = r.u32()?;
            let mut balances = BTreeMap::new();
            for _ in 0..n {
                let t = r.u32()?;
                let v = r.u64()?;
                if balances.insert(t, v).is_some() {
                    return Err(DecodeError::InvalidField("snapshot token repeated").into());
                }
            }
            let pending = match r.u8()? {
                0 => None,
                1 => Some(PendingVote {
                    order: LockedOrder::Transfer(SignedOrder::decode_from(&mut r)?),
                    vote: Vote::decode_from(&mut r)?,
                    persisted: true,
                }),
                2 if version >= 2 => Some(PendingVote {
                    order: LockedOrder::Withdrawal(SignedWithdrawal::decode_from(&mut r)?),
                    vote: Vote::decode_from(&mut r)?,
                    persisted: true,
                }),
                3 if version >= 3 => Some(PendingVote {
                    order: LockedOrder::Handoff(SignedHandoff::decode_from(&mut r)?),
                    vote: Vote::decode_from(&mut r)?,
                    persisted: true,
                }),
                _ => return Err(DecodeError::InvalidField("snapshot option byte").into()),
            };
            let moved = match version {
                3.. => match r.u8()? {
                    0 => None,
                    1 => Some(Digest::decode_from(&mut r)?),
                    _ => return Err(DecodeError::InvalidField("snapshot moved byte").into()),
                },
                _ => None,
            };
            accounts.insert(
                k,
                AccountState {
                    balances,
                    next_sequence,
                    pending,
                    moved,
                },
            );
        }
        let mut flows = if version >= 2 {
            ExternalFlows::decode_from(&mut r)?
        } else {
            ExternalFlows::default()
        };
        if version >= 3 {
            flows.decode_handoffs_from(&mut r)?;
        }
        r.finish()?;
        let genesis_supply = authority.supply();
        authority.accounts = accounts;
        authority.flows = flows;
        let found = authority.supply();
        for t in genesis_supply.keys().chain(found.keys()) {
            let (g, f) = (
                genesis_supply.get(t).copied().unwrap_or(0),
                found.get(t).copied().unwrap_or(0),
            );
            if g != f {
                return Err(SnapshotError::Supply {
                    token: *t,
                    found: f,
                    genesis: g,
                });
            }
        }
        Ok(authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Certificate;
    use crate::testing::{Fixture, fixture};

    /// Four authorities; user 0 pays user 1 `amount` (certified and applied at `a[0]`), then
    /// user 2's next order is locked at `a[0]` (a pending vote).
    fn paid(f: &Fixture, amount: u64) -> Authority {
        let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
        let order = f.order(0, 1, amount, 0);
        let votes: Vec<Vote> = auths
            .iter_mut()
            .map(|a| a.handle_order(order, 10).unwrap().reply)
            .collect();
        let cert = Certificate::new(order, &votes);
        let mut a = auths.swap_remove(0);
        a.handle_certificate(cert).unwrap();
        a.handle_order(f.order(2, 0, 1, 0), 10).unwrap();
        a
    }

    #[test]
    fn a_snapshot_restores_the_same_state_and_encodes_the_same() {
        let f = fixture(4, 3, 100);
        let a = paid(&f, 7);
        let bytes = a.snapshot();
        let back =
            Authority::from_snapshot(f.keys[0].clone(), f.committee.clone(), &f.genesis, &bytes)
                .unwrap();
        let sorted = |x: &Authority| {
            let mut v: Vec<(PublicKey, AccountState)> =
                x.accounts().map(|(k, s)| (*k, s.clone())).collect();
            v.sort_by_key(|(k, _)| *k);
            v
        };
        let mut want = sorted(&a);
        for (_, s) in want.iter_mut() {
            if let Some(p) = s.pending.as_mut() {
                p.persisted = true;
            }
        }
        assert!(want.iter().any(|(_, s)| s.pending.is_some()));
        assert!(want.iter().any(|(_, s)| s.next_sequence == 1));
        assert_eq!(sorted(&back), want);
        assert_eq!(back.snapshot(), bytes, "one state, one encoding");
    }

    #[test]
    fn damaged_or_foreign_snapshots_are_refused() {
        let f = fixture(4, 3, 100);
        let bytes = paid(&f, 3).snapshot();
        let restore = |b: &[u8]| {
            Authority::from_snapshot(f.keys[0].clone(), f.committee.clone(), &f.genesis, b)
        };
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(restore(&flipped).unwrap_err(), SnapshotError::Checksum);
        assert_eq!(
            restore(&bytes[..10]).unwrap_err(),
            SnapshotError::NotASnapshot
        );
        assert_eq!(restore(b"hello").unwrap_err(), SnapshotError::NotASnapshot);
        let other = fixture(5, 3, 100);
        assert_eq!(
            Authority::from_snapshot(other.keys[0].clone(), other.committee, &f.genesis, &bytes)
                .unwrap_err(),
            SnapshotError::WrongCommittee
        );
    }

    #[test]
    fn a_snapshot_with_another_supply_is_refused() {
        let f = fixture(4, 3, 100);
        let bytes = paid(&f, 3).snapshot();
        let mut richer = f.genesis.clone();
        richer.balances[0].amount += 1;
        assert!(matches!(
            Authority::from_snapshot(f.keys[0].clone(), f.committee.clone(), &richer, &bytes)
                .unwrap_err(),
            SnapshotError::Supply { .. }
        ));
    }
}
