//! The supply check without a scan of every account after every commit: a mirror of one
//! authority's balances, updated from the accounts a commit's certificates touched (sender and
//! recipient), with the running total per token. The mirror is rebuilt from every account when
//! it is new (genesis, restart) and every [`FULL_EVERY`] updates, so a change to an account no
//! certificate named is still seen.

use std::collections::{BTreeMap, HashMap};

use flashmesh_core::authority::Authority;
use flashmesh_core::keys::PublicKey;
use flashmesh_core::messages::TokenId;

/// Updates between two rebuilds from every account.
pub const FULL_EVERY: u32 = 64;

/// One authority's balances as last seen, and their total per token.
#[derive(Debug, Default)]
pub struct SupplyMirror {
    balances: HashMap<PublicKey, BTreeMap<TokenId, u64>>,
    total: BTreeMap<TokenId, u128>,
    built: bool,
    since_full: u32,
}

impl SupplyMirror {
    /// Forgets everything: the next update rebuilds from every account.
    pub fn reset(&mut self) {
        self.built = false;
    }

    /// The total per token after the accounts in `touched` may have changed.
    pub fn update<'a>(
        &mut self,
        authority: &Authority,
        touched: impl IntoIterator<Item = &'a PublicKey>,
    ) -> &BTreeMap<TokenId, u128> {
        self.since_full += 1;
        if !self.built || self.since_full >= FULL_EVERY {
            self.rebuild(authority);
            return &self.total;
        }
        for pk in touched {
            let now = authority
                .account(pk)
                .map(|a| a.balances.clone())
                .unwrap_or_default();
            let before = self.balances.insert(*pk, now.clone()).unwrap_or_default();
            for (t, v) in before {
                let e = self.total.entry(t).or_insert(0);
                *e = e.saturating_sub(u128::from(v));
            }
            for (t, v) in now {
                *self.total.entry(t).or_insert(0) += u128::from(v);
            }
        }
        &self.total
    }

    fn rebuild(&mut self, authority: &Authority) {
        self.balances = authority
            .accounts()
            .map(|(k, a)| (*k, a.balances.clone()))
            .collect();
        self.total = authority.supply();
        self.built = true;
        self.since_full = 0;
    }
}
