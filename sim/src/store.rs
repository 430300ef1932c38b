//! The store model with crash semantics: changes are appended, then made durable by a group
//! commit a moment later; a crash loses what was not yet committed, never what was. A restart
//! rebuilds the authority from genesis and the durable changes, as the anchor's recovery does.

use std::sync::Arc;

use flashmesh_core::authority::{Authority, AuthorityError, Genesis, RecoveryError, StateChange};
use flashmesh_core::{Committee, Keypair};

/// Why an authority could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The key, committee or genesis do not fit.
    #[error(transparent)]
    Build(#[from] AuthorityError),
    /// A durable change did not replay.
    #[error(transparent)]
    Replay(#[from] RecoveryError),
}

/// One authority's store.
#[derive(Debug, Default)]
pub struct StoreModel {
    durable: Vec<StateChange>,
    pending: Vec<StateChange>,
    /// Planted bug: a crash also loses the durable locks.
    pub lose_locks_on_crash: bool,
}

impl StoreModel {
    /// Appends a change; it is durable after the next [`StoreModel::commit`].
    pub fn append(&mut self, change: StateChange) {
        self.pending.push(change);
    }
    /// Whether changes wait for a commit.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
    /// Makes every appended change durable; returns them.
    pub fn commit(&mut self) -> Vec<StateChange> {
        let done = std::mem::take(&mut self.pending);
        self.durable.extend(done.iter().cloned());
        done
    }
    /// A crash: the uncommitted changes are gone.
    pub fn crash(&mut self) -> usize {
        let lost = self.pending.len();
        self.pending.clear();
        if self.lose_locks_on_crash {
            self.durable
                .retain(|c| !matches!(c, StateChange::Lock { .. }));
        }
        lost
    }
    /// Durable changes.
    pub fn durable(&self) -> &[StateChange] {
        &self.durable
    }
    /// The authority as recovery rebuilds it: genesis, then every durable change in order.
    pub fn restore(
        &self,
        key: &Keypair,
        committee: &Arc<Committee>,
        genesis: &Genesis,
    ) -> Result<Authority, RestoreError> {
        let mut a = Authority::new(key.clone(), committee.clone(), genesis)?;
        for c in &self.durable {
            a.apply_change(c)?;
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::messages::{SignedOrder, TransferOrder};
    use flashmesh_core::testing::committee_of_one;

    #[test]
    fn a_crash_keeps_what_was_committed_and_loses_the_rest() {
        let key = Keypair::from_seed(&[1; 32]);
        let payer = Keypair::from_seed(&[2; 32]);
        let committee = Arc::new(committee_of_one(&key));
        let genesis = Genesis::uniform([payer.public()], 100);
        let mut a = Authority::new(key.clone(), committee.clone(), &genesis).unwrap();
        let order = |nonce: u64| {
            SignedOrder::sign(
                TransferOrder {
                    sender: payer.public(),
                    recipient: key.public(),
                    token: 0,
                    amount: 1,
                    nonce,
                    epoch: 1,
                    ttl: 4,
                },
                &payer,
            )
        };
        let mut store = StoreModel::default();
        let locked = a.handle_order(order(0), 1).unwrap();
        store.append(locked.persist.unwrap());
        assert!(store.has_pending());
        assert_eq!(store.crash(), 1);
        let b = store.restore(&key, &committee, &genesis).unwrap();
        assert!(b.account(&payer.public()).unwrap().pending.is_none());
        let mut a = b;
        let locked = a.handle_order(order(0), 1).unwrap();
        store.append(locked.persist.unwrap());
        assert_eq!(store.commit().len(), 1);
        assert_eq!(store.crash(), 0);
        let c = store.restore(&key, &committee, &genesis).unwrap();
        assert!(c.account(&payer.public()).unwrap().pending.is_some());
        store.lose_locks_on_crash = true;
        store.crash();
        let d = store.restore(&key, &committee, &genesis).unwrap();
        assert!(d.account(&payer.public()).unwrap().pending.is_none());
    }
}
