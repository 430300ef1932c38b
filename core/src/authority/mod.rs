//! The FastPay authority as a pure state machine.
//!
//! Per account: balances per token, the next sequence number, and at most one pending order
//! (locked, with the vote this authority gave it). The rules:
//!
//! - **order**: the sender's signature verifies (one strict verify); the account is known
//!   here; an identical pending order gets the *same* stored vote back (even after its epoch
//!   window closed); a different order for a locked nonce is refused (`ConflictingOrder`); a
//!   fresh order must be inside the epoch window (`epoch + ttl ≥ current`, `epoch ≤ current + 1`),
//!   have `nonce == next_sequence` and an amount within the balance; then the authority signs
//!   one vote and locks the nonce.
//! - **certificate**: signers known and distinct, weight ≥ quorum, all signatures valid (one
//!   batch verify); a past nonce is a no-op success (receipt with `applied = false`); a nonce
//!   ahead of the sequence is refused (`MissingEarlierCertificates`); otherwise debit the
//!   sender, credit the recipient, advance the sequence, clear the lock. Balances never go
//!   negative, and the supply of every token is conserved. Certificates do not expire.
//!
//! Durability: each state-changing call returns an [`Outcome`] whose `persist` field, when set,
//! must be made durable *before* the reply is sent. [`Authority::apply_change`] replays
//! persisted changes after a restart. Rejections never change state.

mod ahead;
mod change;
mod datagram;
mod genesis;
mod receipts;
mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use ahead::CheckedAhead;
pub use change::StateChange;
pub use datagram::Handled;
pub use genesis::{Genesis, GenesisBalance, GenesisError};
pub use snapshot::SnapshotError;

use crate::committee::Committee;
use crate::error::{Rejection, check_epoch};
use crate::keys::{AuthorityTag, Keypair, PublicKey};
use crate::messages::{
    Certificate, Query, QueryReply, Receipt, SignedOrder, TokenId, Verified, Vote,
};
use crate::planted::{self, PlantedBug};

/// A pending (locked, not yet certified) order and this authority's vote on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVote {
    pub order: SignedOrder,
    pub vote: Vote,
    /// Whether the runtime confirmed the lock durable ([`Authority::mark_persisted`]).
    pub persisted: bool,
}

/// One account's state at an authority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub balances: BTreeMap<TokenId, u64>,
    pub next_sequence: u64,
    pub pending: Option<PendingVote>,
}

impl AccountState {
    /// Balance of `token` (0 if none).
    pub fn balance(&self, token: TokenId) -> u64 {
        self.balances.get(&token).copied().unwrap_or(0)
    }
}

/// How an authority checks the signatures of what it is asked to handle: directly
/// ([`VerifyDirectly`], what [`Authority::handle_datagram`] uses), or by a runtime's own means
/// (a pool of worker threads, a cache shared by the authorities of one process), as long as
/// the answer is what [`SignedOrder::verify`] and [`Certificate::verify`] would give.
pub trait SignatureCheck {
    /// Checks an order's signature.
    fn order(&mut self, order: SignedOrder) -> Result<Verified<SignedOrder>, Rejection> {
        order.verify()
    }
    /// Checks a certificate against `committee`.
    fn certificate(
        &mut self,
        certificate: Certificate,
        committee: &Committee,
    ) -> Result<Verified<Certificate>, Rejection> {
        certificate.verify(committee)
    }
}

/// Signatures checked on the spot.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyDirectly;

impl SignatureCheck for VerifyDirectly {}

/// The result of a state-changing request: the reply, and the change to make durable before
/// the reply is sent (None when nothing new needs persisting).
///
/// `persist: None` on a repeat (stored vote, or a certificate already applied) means the
/// change was handed out earlier. A runtime that sends every reply only after the commit of
/// all changes queued before it (one FIFO commit queue, filled in state order) therefore never
/// lets a reply overtake the durability of what it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<R> {
    pub reply: R,
    pub persist: Option<StateChange>,
}

/// Why the authority could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    #[error("this key is not a member of the committee")]
    NotInCommittee,
    #[error(transparent)]
    Genesis(#[from] GenesisError),
}

/// Why a persisted change could not be replayed (a corrupt or inconsistent store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    #[error("change for unknown account {0}")]
    UnknownAccount(PublicKey),
    #[error("lock for nonce {nonce} of account {account} conflicts with another lock")]
    ConflictingLock { account: PublicKey, nonce: u64 },
    #[error("change for nonce {nonce} but account {account} is at sequence {expected}")]
    Gap {
        account: PublicKey,
        nonce: u64,
        expected: u64,
    },
    #[error("applying the certificate for nonce {nonce} of account {account} failed: {reason}")]
    Invalid {
        account: PublicKey,
        nonce: u64,
        reason: Rejection,
    },
}

/// The authority state machine. Pure: time (the epoch) is passed in, I/O is the caller's.
#[derive(Debug, Clone)]
pub struct Authority {
    key: Keypair,
    committee: Arc<Committee>,
    accounts: HashMap<PublicKey, AccountState>,
    /// Answers to repeated certificates (not state: a restart starts without them).
    repeats: receipts::RepeatReceipts,
}

impl Authority {
    /// A new authority at genesis. `key` must belong to a member of `committee`.
    pub fn new(
        key: Keypair,
        committee: impl Into<Arc<Committee>>,
        genesis: &Genesis,
    ) -> Result<Authority, AuthorityError> {
        let committee = committee.into();
        if committee.member_by_key(&key.public()).is_none() {
            return Err(AuthorityError::NotInCommittee);
        }
        genesis.supply()?;
        let mut accounts: HashMap<PublicKey, AccountState> = HashMap::new();
        for b in &genesis.balances {
            let a = accounts.entry(b.account).or_default();
            // Cannot overflow: the total supply of the token fits (checked above).
            *a.balances.entry(b.token).or_default() += b.amount;
        }
        Ok(Authority {
            key,
            committee,
            accounts,
            repeats: receipts::RepeatReceipts::default(),
        })
    }
    /// This authority's key.
    pub fn keypair(&self) -> &Keypair {
        &self.key
    }
    /// This authority's tag.
    pub fn tag(&self) -> AuthorityTag {
        self.key.tag()
    }
    /// The committee.
    pub fn committee(&self) -> &Arc<Committee> {
        &self.committee
    }
    /// The state of one account.
    pub fn account(&self, account: &PublicKey) -> Option<&AccountState> {
        self.accounts.get(account)
    }
    /// All accounts.
    pub fn accounts(&self) -> impl Iterator<Item = (&PublicKey, &AccountState)> {
        self.accounts.iter()
    }
    /// Total of every token over all accounts (constant over the authority's life).
    pub fn supply(&self) -> BTreeMap<TokenId, u128> {
        let mut s = BTreeMap::new();
        for a in self.accounts.values() {
            for (t, v) in &a.balances {
                *s.entry(*t).or_insert(0u128) += u128::from(*v);
            }
        }
        s
    }

    /// Stateful checks of an order, without changing anything. `Ok(Some(vote))` means the
    /// identical order is already locked; `Ok(None)` means the order may be locked now.
    fn precheck(
        &self,
        order: &SignedOrder,
        current_epoch: u32,
    ) -> Result<Option<&PendingVote>, Rejection> {
        let o = order.order();
        let account = self
            .accounts
            .get(&o.sender)
            .ok_or(Rejection::UnknownAccount)?;
        if let Some(p) = &account.pending {
            if p.order.digest() == order.digest() {
                return Ok(Some(p));
            }
            if p.order.order().nonce == o.nonce && !planted::active(PlantedBug::SkipLockCheck) {
                return Err(Rejection::ConflictingOrder {
                    nonce: o.nonce,
                    locked: p.order.digest(),
                });
            }
        }
        check_epoch(o.epoch, o.ttl, current_epoch)?;
        if o.nonce != account.next_sequence {
            return Err(Rejection::WrongNonce {
                expected: account.next_sequence,
                got: o.nonce,
            });
        }
        let balance = account.balance(o.token);
        if balance < o.amount {
            return Err(Rejection::InsufficientFunds {
                token: o.token,
                balance,
                amount: o.amount,
            });
        }
        Ok(None)
    }

    fn repeat(p: &PendingVote) -> Outcome<Vote> {
        Outcome {
            reply: p.vote,
            persist: (!p.persisted).then_some(StateChange::Lock {
                order: p.order,
                vote: p.vote,
            }),
        }
    }

    /// Handles an ORDER: checks it (including one signature verify) and returns a vote.
    /// A repeat of the locked order returns the stored vote without verifying again.
    pub fn handle_order(
        &mut self,
        order: SignedOrder,
        current_epoch: u32,
    ) -> Result<Outcome<Vote>, Rejection> {
        self.handle_order_with(order, current_epoch, &mut VerifyDirectly)
    }

    /// [`Authority::handle_order`], with the signature checked by `check`.
    pub fn handle_order_with(
        &mut self,
        order: SignedOrder,
        current_epoch: u32,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Vote>, Rejection> {
        if let Some(p) = self.precheck(&order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        let verified = check.order(order)?;
        self.lock(verified, current_epoch)
    }

    /// Handles an ORDER whose signature the caller already checked with
    /// [`SignedOrder::verify`] (e.g. on another thread).
    pub fn handle_verified_order(
        &mut self,
        order: Verified<SignedOrder>,
        current_epoch: u32,
    ) -> Result<Outcome<Vote>, Rejection> {
        if let Some(p) = self.precheck(&order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        self.lock(order, current_epoch)
    }

    /// Like [`Authority::handle_verified_order`], with the vote already signed by the caller
    /// (`Vote::sign(order.digest(), order.order().nonce, authority.keypair())`, e.g. on a worker
    /// thread outside the lock that guards the authority), so that only bookkeeping remains.
    /// A repeat of the locked order returns the *stored* vote. A `vote` that is not this
    /// authority's vote for this order is ignored and a correct one is signed here.
    pub fn handle_verified_order_presigned(
        &mut self,
        order: Verified<SignedOrder>,
        vote: Vote,
        current_epoch: u32,
    ) -> Result<Outcome<Vote>, Rejection> {
        if let Some(p) = self.precheck(&order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        let fits = vote.order_digest == order.digest()
            && vote.nonce == order.order().nonce
            && vote.authority == self.key.tag();
        self.lock_with(order, fits.then_some(vote))
    }

    fn lock(
        &mut self,
        order: Verified<SignedOrder>,
        current_epoch: u32,
    ) -> Result<Outcome<Vote>, Rejection> {
        // Re-check: cheap, and keeps `lock` correct on its own.
        if let Some(p) = self.precheck(&order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        self.lock_with(order, None)
    }

    /// Locks the account's next nonce to `order` (already prechecked) with `vote` or a vote
    /// signed now.
    fn lock_with(
        &mut self,
        order: Verified<SignedOrder>,
        vote: Option<Vote>,
    ) -> Result<Outcome<Vote>, Rejection> {
        let order = order.into_inner();
        let vote =
            vote.unwrap_or_else(|| Vote::sign(order.digest(), order.order().nonce, &self.key));
        let account = self
            .accounts
            .get_mut(&order.order().sender)
            .ok_or(Rejection::UnknownAccount)?;
        account.pending = Some(PendingVote {
            order,
            vote,
            persisted: false,
        });
        Ok(Outcome {
            reply: vote,
            persist: Some(StateChange::Lock { order, vote }),
        })
    }

    /// Tells the authority that `change` is durable, so repeats of a locked order need no
    /// further persisting. Optional: without it, repeats return the lock to persist again
    /// (persisting a change twice is harmless).
    pub fn mark_persisted(&mut self, change: &StateChange) {
        if let StateChange::Lock { order, .. } = change
            && let Some(a) = self.accounts.get_mut(&order.order().sender)
            && let Some(p) = &mut a.pending
            && p.order.digest() == order.digest()
        {
            p.persisted = true;
        }
    }

    /// Checks a certificate's sequence and funds against the state, without changing anything.
    /// `Ok(true)`: it would apply now; `Ok(false)`: its nonce is past (no-op).
    fn precheck_certificate(&self, certificate: &Certificate) -> Result<bool, Rejection> {
        let o = certificate.order.order();
        let (next, balance) = match self.accounts.get(&o.sender) {
            Some(a) => (a.next_sequence, a.balance(o.token)),
            None => (0, 0),
        };
        if o.nonce < next && !planted::active(PlantedBug::ApplyTwice) {
            return Ok(false);
        }
        if o.nonce > next {
            return Err(Rejection::MissingEarlierCertificates {
                expected: next,
                got: o.nonce,
            });
        }
        if balance < o.amount {
            // This authority missed the credits that funded the sender.
            return Err(Rejection::InsufficientFunds {
                token: o.token,
                balance,
                amount: o.amount,
            });
        }
        let credited = self
            .accounts
            .get(&o.recipient)
            .map_or(0, |a| a.balance(o.token));
        if credited.checked_add(o.amount).is_none() {
            return Err(Rejection::InvalidOrder("recipient balance would overflow"));
        }
        Ok(true)
    }

    /// Handles a CERTIFICATE: cheap sequence and funds checks, one batch verification, then
    /// applies it once and returns a signed receipt.
    pub fn handle_certificate(
        &mut self,
        certificate: Certificate,
    ) -> Result<Outcome<Receipt>, Rejection> {
        self.handle_certificate_with(certificate, &mut VerifyDirectly)
    }

    /// [`Authority::handle_certificate`], with the signatures checked by `check`.
    pub fn handle_certificate_with(
        &mut self,
        certificate: Certificate,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Receipt>, Rejection> {
        self.precheck_certificate(&certificate)?;
        let committee = self.committee.clone();
        let verified = check.certificate(certificate, &committee)?;
        self.handle_verified_certificate(verified)
    }

    /// Handles a CERTIFICATE that the caller already checked with [`Certificate::verify`]
    /// against this authority's committee.
    pub fn handle_verified_certificate(
        &mut self,
        certificate: Verified<Certificate>,
    ) -> Result<Outcome<Receipt>, Rejection> {
        let o = *certificate.order.order();
        let digest = certificate.order.digest();
        if !self.precheck_certificate(&certificate)? {
            let next = self.accounts.get(&o.sender).map_or(0, |a| a.next_sequence);
            return Ok(Outcome {
                reply: self.repeats.get(digest, o.nonce, next, &self.key),
                persist: None,
            });
        }
        let next = self.apply_transfer(&certificate.order);
        let certificate = certificate.into_inner();
        Ok(Outcome {
            reply: Receipt::sign(digest, o.nonce, true, next, &self.key),
            persist: Some(StateChange::Apply { certificate }),
        })
    }

    /// Debits, credits, advances the sequence and clears the lock. The caller checked that the
    /// nonce is the next one and that funds suffice. Returns the new next sequence.
    fn apply_transfer(&mut self, order: &SignedOrder) -> u64 {
        let o = order.order();
        let sender = self.accounts.entry(o.sender).or_default();
        let bal = sender.balances.entry(o.token).or_default();
        *bal -= o.amount;
        sender.next_sequence += 1;
        sender.pending = None;
        let next = sender.next_sequence;
        let recipient = self.accounts.entry(o.recipient).or_default();
        *recipient.balances.entry(o.token).or_default() += o.amount;
        next
    }

    /// Handles a QUERY: a signed view of the account (zeros for an account unknown here).
    pub fn handle_query(&self, query: &Query) -> QueryReply {
        let (next, balances, pending) = match self.accounts.get(&query.account) {
            Some(a) => (
                a.next_sequence,
                a.balances.iter().map(|(t, v)| (*t, *v)).collect(),
                a.pending.as_ref().map(|p| p.order),
            ),
            None => (0, Vec::new(), None),
        };
        QueryReply::sign(
            query.request,
            query.account,
            next,
            balances,
            pending,
            &self.key,
        )
    }

    /// Replays a persisted change (recovery after a restart). Changes must be replayed in the
    /// order they were persisted. Replaying a change already reflected in the state is a no-op.
    pub fn apply_change(&mut self, change: &StateChange) -> Result<(), RecoveryError> {
        match change {
            StateChange::Lock { order, vote } => {
                let o = order.order();
                let a = self
                    .accounts
                    .get_mut(&o.sender)
                    .ok_or(RecoveryError::UnknownAccount(o.sender))?;
                if o.nonce < a.next_sequence {
                    return Ok(());
                }
                if o.nonce > a.next_sequence {
                    return Err(RecoveryError::Gap {
                        account: o.sender,
                        nonce: o.nonce,
                        expected: a.next_sequence,
                    });
                }
                match &a.pending {
                    Some(p) if p.order.digest() != order.digest() => {
                        Err(RecoveryError::ConflictingLock {
                            account: o.sender,
                            nonce: o.nonce,
                        })
                    }
                    _ => {
                        a.pending = Some(PendingVote {
                            order: *order,
                            vote: *vote,
                            persisted: true,
                        });
                        Ok(())
                    }
                }
            }
            StateChange::Apply { certificate } => {
                let o = certificate.order.order();
                match self.precheck_certificate(certificate) {
                    Ok(false) => Ok(()),
                    Ok(true) => {
                        self.apply_transfer(&certificate.order);
                        Ok(())
                    }
                    Err(Rejection::MissingEarlierCertificates { expected, got }) => {
                        Err(RecoveryError::Gap {
                            account: o.sender,
                            nonce: got,
                            expected,
                        })
                    }
                    Err(reason) => Err(RecoveryError::Invalid {
                        account: o.sender,
                        nonce: o.nonce,
                        reason,
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
