//! A settled history written into a store as an anchor would have journaled it: for the
//! recovery benchmark (`flashmesh bench recovery`) and the recovery tests.
//!
//! One authority (a committee of one, so one vote is a quorum) and `accounts` accounts that
//! pay each other in turn, one unit at a time; every certificate carries a real order
//! signature and a real vote, and is journaled as the `Apply` change the authority produced
//! for it. Signing runs on every core, in chunks, so memory stays bounded.

use std::sync::Arc;

use flashmesh_core::messages::{DEFAULT_TOKEN, TransferOrder};
use flashmesh_core::{
    Authority, AuthorityInfo, Certificate, Committee, Encode, Genesis, Keypair, SignedOrder,
    StateChange, Vote,
};

use crate::store::{Store, StoreError};

/// Certificates signed and journaled per step.
const CHUNK: u64 = 20_000;

/// What a history is made of.
#[derive(Debug, Clone)]
pub struct History {
    /// The authority's key.
    pub key: Keypair,
    /// Its committee (itself).
    pub committee: Arc<Committee>,
    /// The accounts' genesis.
    pub genesis: Genesis,
    /// The paying accounts.
    pub accounts: Vec<Keypair>,
}

impl History {
    /// A committee of one and `accounts` accounts, each rich enough for any history.
    pub fn new(accounts: usize) -> History {
        let key = Keypair::from_seed(&[0xa1; 32]);
        let committee = Arc::new(
            Committee::new(vec![AuthorityInfo {
                name: "history".into(),
                public_key: key.public(),
                weight: 1,
                address: "127.0.0.1:47474".into(),
            }])
            .expect("a committee of one"),
        );
        let accounts: Vec<Keypair> = (0..accounts.max(2) as u64)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&i.to_be_bytes());
                seed[8] = 0x5e;
                Keypair::from_seed(&seed)
            })
            .collect();
        let each = u64::MAX / 4 / accounts.len() as u64;
        let genesis = Genesis::uniform(accounts.iter().map(Keypair::public), each);
        History {
            key,
            committee,
            genesis,
            accounts,
        }
    }

    /// The `n`-th certificate: account `n mod k` pays one unit to the next account.
    pub fn certificate(&self, n: u64) -> Certificate {
        let k = self.accounts.len() as u64;
        let (from, to) = ((n % k) as usize, ((n + 1) % k) as usize);
        let order = SignedOrder::sign(
            TransferOrder {
                sender: self.accounts[from].public(),
                recipient: self.accounts[to].public(),
                token: DEFAULT_TOKEN,
                amount: 1,
                nonce: n / k,
                epoch: 1,
                ttl: 255,
            },
            &self.accounts[from],
        );
        let vote = Vote::sign(order.digest(), n / k, &self.key);
        Certificate::new(order, [&vote])
    }

    /// Journals certificates `range` into `store` (appending to what it holds) and applies
    /// them to `authority`, signing on `threads` threads. Pass `None` as the store to apply
    /// without journaling (changes not yet durable).
    pub fn write(
        &self,
        mut store: Option<&mut Store>,
        authority: &mut Authority,
        range: std::ops::Range<u64>,
        threads: usize,
    ) -> Result<(), StoreError> {
        let threads = threads.max(1) as u64;
        let (mut at, count) = (range.start, range.end);
        while at < count {
            let end = (at + CHUNK).min(count);
            let per = (end - at).div_ceil(threads);
            let parts: Vec<Vec<StateChange>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let lo = (at + t * per).min(end);
                        let hi = (lo + per).min(end);
                        s.spawn(move || {
                            (lo..hi)
                                .map(|n| StateChange::Apply {
                                    certificate: self.certificate(n),
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a signing thread"))
                    .collect()
            });
            let mut records = Vec::with_capacity((end - at) as usize);
            for change in parts.iter().flatten() {
                authority
                    .apply_change(change)
                    .expect("the history is consistent");
                records.push(change.to_bytes());
            }
            if let Some(store) = store.as_deref_mut() {
                store.append(&records)?;
            }
            at = end;
        }
        Ok(())
    }

    /// A fresh authority at this history's genesis.
    pub fn authority(&self) -> Authority {
        Authority::new(self.key.clone(), self.committee.clone(), &self.genesis)
            .expect("the history's own committee")
    }
}
