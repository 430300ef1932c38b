//! Money that crossed the committee's edge: per token, the total withdrawn (debited by
//! withdrawal certificates, owed to the primary ledger) and deposited (credited by funding
//! certificates), per gateway the next deposit sequence this authority expects, and the money
//! handed out to and in from neighbour committees by handoff (with the handoffs that arrived,
//! so each arrives once). Per token, balances + withdrawn − deposited + handed out − handed in
//! is the genesis supply, always.
//!
//! Snapshot encoding: a u32 count then (token u32, withdrawn u128 as two u64) in token order,
//! the same for deposited, then a u32 count of (gateway key, next sequence u64) in key order;
//! from snapshot version 3 the same totals for handed out and handed in, then a u64 count of
//! arrived handoff order digests in increasing order.

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::{Decode, DecodeError, Encode, Reader, Writer};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::messages::TokenId;

/// Totals of money that left and entered through gateways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalFlows {
    pub withdrawn: BTreeMap<TokenId, u128>,
    pub deposited: BTreeMap<TokenId, u128>,
    pub next_deposit: BTreeMap<PublicKey, u64>,
    pub handed_out: BTreeMap<TokenId, u128>,
    pub handed_in: BTreeMap<TokenId, u128>,
    /// Digests of the handoff orders whose accounts arrived here.
    pub arrivals: BTreeSet<Digest>,
}

fn encode_totals(totals: &BTreeMap<TokenId, u128>, out: &mut Vec<u8>) {
    out.put_u32(totals.len() as u32);
    for (t, v) in totals {
        out.put_u32(*t);
        out.put_u64((*v >> 64) as u64);
        out.put_u64(*v as u64);
    }
}

fn decode_totals(r: &mut Reader<'_>) -> Result<BTreeMap<TokenId, u128>, DecodeError> {
    let n = r.u32()?;
    let mut map = BTreeMap::new();
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
    Ok(map)
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
    pub(super) fn add_handed_out(&mut self, token: TokenId, amount: u64) {
        *self.handed_out.entry(token).or_default() += u128::from(amount);
    }
    pub(super) fn add_handed_in(&mut self, token: TokenId, amount: u64) {
        *self.handed_in.entry(token).or_default() += u128::from(amount);
    }
    pub(super) fn encode_to(&self, out: &mut Vec<u8>) {
        encode_totals(&self.withdrawn, out);
        encode_totals(&self.deposited, out);
        out.put_u32(self.next_deposit.len() as u32);
        for (g, n) in &self.next_deposit {
            g.encode_to(out);
            out.put_u64(*n);
        }
    }
    /// The handoff part (snapshot version 3).
    pub(super) fn encode_handoffs_to(&self, out: &mut Vec<u8>) {
        encode_totals(&self.handed_out, out);
        encode_totals(&self.handed_in, out);
        out.put_u64(self.arrivals.len() as u64);
        for d in &self.arrivals {
            d.encode_to(out);
        }
    }
    pub(super) fn decode_from(r: &mut Reader<'_>) -> Result<ExternalFlows, DecodeError> {
        let withdrawn = decode_totals(r)?;
        let deposited = decode_totals(r)?;
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
        Ok(ExternalFlows {
            withdrawn,
            deposited,
            next_deposit,
            ..ExternalFlows::default()
        })
    }
    /// Reads the handoff part (snapshot version 3) into `self`.
    pub(super) fn decode_handoffs_from(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        self.handed_out = decode_totals(r)?;
        self.handed_in = decode_totals(r)?;
        let n = r.u64()?;
        let mut last: Option<Digest> = None;
        for _ in 0..n {
            let d = Digest::decode_from(r)?;
            if last.is_some_and(|l| l >= d) {
                return Err(DecodeError::InvalidField("arrivals out of order"));
            }
            last = Some(d);
            self.arrivals.insert(d);
        }
        Ok(())
    }
}
