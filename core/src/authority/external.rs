//! Money that crossed the mesh's edge through a gateway: per token, the total withdrawn
//! (debited by withdrawal certificates, owed to the primary ledger) and deposited (credited by
//! funding certificates), and per gateway the next deposit sequence this authority expects.
//! Per token, balances + withdrawn − deposited is the genesis supply, always.
//!
//! Snapshot encoding: a u32 count then (token u32, withdrawn u128 as two u64) in token order,
//! the same for deposited, then a u32 count of (gateway key, next sequence u64) in key order.

use std::collections::BTreeMap;

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::keys::PublicKey;
use crate::messages::TokenId;

/// Totals of money that left and entered through gateways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalFlows {
    pub withdrawn: BTreeMap<TokenId, u128>,
    pub deposited: BTreeMap<TokenId, u128>,
    pub next_deposit: BTreeMap<PublicKey, u64>,
}

impl ExternalFlows {
    /// The next deposit sequence expected from `gateway`.
    pub fn next_deposit(&self, gateway: &PublicKey) -> u64 {
        self.next_deposit.get(gateway).copied().unwrap_or(0)
    }
    pub(super) fn add_withdrawn(&mut self, token: TokenId, amount: u64) {
        *self.withdrawn.entry(token).or_default() += u128::from(amount);
    }
    pub(super) fn add_deposit(&mut self, gateway: PublicKey, token: TokenId, amount: u64) {
        *self.deposited.entry(token).or_default() += u128::from(amount);
        *self.next_deposit.entry(gateway).or_default() += 1;
    }
    pub(super) fn encode_to(&self, out: &mut Vec<u8>) {
        for totals in [&self.withdrawn, &self.deposited] {
            out.put_u32(totals.len() as u32);
            for (t, v) in totals {
                out.put_u32(*t);
                out.put_u64((*v >> 64) as u64);
                out.put_u64(*v as u64);
            }
        }
        out.put_u32(self.next_deposit.len() as u32);
        for (g, n) in &self.next_deposit {
            g.encode_to(out);
            out.put_u64(*n);
        }
    }
    pub(super) fn decode_from(r: &mut Reader<'_>) -> Result<ExternalFlows, DecodeError> {
        let mut totals = [BTreeMap::new(), BTreeMap::new()];
        for map in &mut totals {
            let n = r.u32()?;
            let mut last = None;
            for _ in 0..n {
                let t = r.u32()?;
                if last.is_some_and(|l| l >= t) {
                    return Err(DecodeError::InvalidField("flow tokens out of order"));
                }
                last = Some(t);
                let v = (u128::from(r.u64()?) << 64) | u128::from(r.u64()?);
                map.insert(t, v);
            }
        }
        let n = r.u32()?;
        let mut next_deposit = BTreeMap::new();
        let mut last: Option<PublicKey> = None;
        for _ in 0..n {
            let g = PublicKey::decode_from(r)?;
            if last.is_some_and(|l| l >= g) {
                return Err(DecodeError::InvalidField("gateways out of order"));
            }
            last = Some(g);
            next_deposit.insert(g, r.u64()?);
        }
        let [withdrawn, deposited] = totals;
        Ok(ExternalFlows {
            withdrawn,
            deposited,
            next_deposit,
        })
    }
}
