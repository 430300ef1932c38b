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
