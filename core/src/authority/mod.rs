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
mod external;
mod genesis;
mod handoff;
mod receipts;
mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use ahead::CheckedAhead;
pub use change::StateChange;
pub use datagram::Handled;
pub use external::ExternalFlows;
pub use genesis::{Genesis, GenesisBalance, GenesisError};
pub use snapshot::SnapshotError;

use crate::committee::Committee;
use crate::digest::Digest;
use crate::error::{Rejection, check_epoch};
use crate::keys::{AuthorityTag, Keypair, PublicKey};
use crate::messages::{
    Certificate, FundingCertificate, HandoffCertificate, OwnedOrder, Query, QueryReply, Receipt,
    SignedHandoff, SignedOrder, SignedWithdrawal, TokenId, Verified, Vote, WithdrawalCertificate,
};
use crate::planted::{self, PlantedBug};

/// The order an account's next nonce is locked to: one lock per (account, nonce), whatever
/// the order's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedOrder {
    Transfer(SignedOrder),
    Withdrawal(SignedWithdrawal),
    Handoff(SignedHandoff),
}

impl LockedOrder {
    /// The locked order's digest.
    pub fn digest(&self) -> Digest {
        match self {
            LockedOrder::Transfer(o) => o.digest(),
            LockedOrder::Withdrawal(o) => OwnedOrder::digest(o),
            LockedOrder::Handoff(o) => OwnedOrder::digest(o),
        }
    }
    /// The locked nonce.
    pub fn nonce(&self) -> u64 {
        match self {
            LockedOrder::Transfer(o) => o.order().nonce,
            LockedOrder::Withdrawal(o) => o.order().nonce,
            LockedOrder::Handoff(o) => o.order().nonce,
        }
    }
    /// The transfer, when the lock is one.
    pub fn transfer(&self) -> Option<&SignedOrder> {
        match self {
            LockedOrder::Transfer(o) => Some(o),
            LockedOrder::Withdrawal(_) | LockedOrder::Handoff(_) => None,
        }
    }
    /// The change that makes this lock durable.
    pub fn lock_change(&self, vote: Vote) -> StateChange {
        match self {
            LockedOrder::Transfer(order) => StateChange::Lock {
                order: *order,
                vote,
            },
            LockedOrder::Withdrawal(order) => StateChange::LockWithdrawal {
                order: order.clone(),
                vote,
            },
            LockedOrder::Handoff(order) => StateChange::LockHandoff {
                order: order.clone(),
                vote,
            },
        }
    }
    /// The account whose nonce is locked.
    pub fn account(&self) -> PublicKey {
        match self {
            LockedOrder::Transfer(o) => o.order().sender,
            LockedOrder::Withdrawal(o) => o.order().account,
            LockedOrder::Handoff(o) => o.order().account,
        }
    }
}

/// An order kind that locks an account's nonce.
pub trait Lockable: OwnedOrder {
    /// The order as a lock.
    fn into_locked(self) -> LockedOrder;
}

impl Lockable for SignedOrder {
    fn into_locked(self) -> LockedOrder {
        LockedOrder::Transfer(self)
    }
}

impl Lockable for SignedWithdrawal {
    fn into_locked(self) -> LockedOrder {
        LockedOrder::Withdrawal(self)
    }
}

impl Lockable for SignedHandoff {
    fn into_locked(self) -> LockedOrder {
        LockedOrder::Handoff(self)
    }
}

/// A pending (locked, not yet certified) order and this authority's vote on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVote {
    pub order: LockedOrder,
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
    /// The committee the account moved to by handoff (identity), if it left this one: only a
    /// further handoff (sweeping what was credited since) may lock it.
    pub moved: Option<Digest>,
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
    /// Checks a withdrawal order's signature.
    fn withdrawal(
        &mut self,
        order: SignedWithdrawal,
    ) -> Result<Verified<SignedWithdrawal>, Rejection> {
        order.verify()
    }
    /// Checks a withdrawal certificate against `committee`.
    fn withdrawal_certificate(
        &mut self,
        certificate: WithdrawalCertificate,
        committee: &Committee,
    ) -> Result<Verified<WithdrawalCertificate>, Rejection> {
        certificate.verify(committee)
    }
    /// Checks a handoff order's signature.
    fn handoff(&mut self, order: SignedHandoff) -> Result<Verified<SignedHandoff>, Rejection> {
        order.verify()
    }
    /// Checks a handoff certificate against `committee` (this one, or the neighbour the
    /// account arrives from).
    fn handoff_certificate(
        &mut self,
        certificate: HandoffCertificate,
        committee: &Committee,
    ) -> Result<Verified<HandoffCertificate>, Rejection> {
        certificate.verify(committee)
    }
    /// This authority's vote for the order `digest` at `nonce`, signed ahead by the caller
    /// (outside the lock that guards the authority), if it has one. It is used only when it is
    /// this authority's vote for that order and nonce; otherwise one is signed under the lock.
    fn presigned_vote(&mut self, _digest: &Digest, _nonce: u64) -> Option<Vote> {
        None
    }
    /// This authority's receipt for applying the certificate of the order `digest` at `nonce`
    /// (the account's next sequence then `next`), signed ahead, if the caller has one; used
    /// only when it says exactly that.
    fn presigned_receipt(&mut self, _digest: &Digest, _nonce: u64, _next: u64) -> Option<Receipt> {
        None
    }
    /// Checks a gateway's funding certificate against `committee`.
    fn funding(
        &mut self,
        funding: FundingCertificate,
        committee: &Committee,
    ) -> Result<Verified<FundingCertificate>, Rejection> {
        funding.verify(committee)
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
    /// Money withdrawn and deposited through gateways.
    flows: ExternalFlows,
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
            flows: ExternalFlows::default(),
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
    /// Money withdrawn and deposited through gateways, and handed to and from neighbours.
    pub fn flows(&self) -> &ExternalFlows {
        &self.flows
    }
    /// The genesis supply of every token as this state accounts for it: balances over all
    /// accounts, plus what was withdrawn, minus what was deposited (constant over the
    /// authority's life). Money handed out to neighbour committees counts as withdrawn, money
    /// handed in as deposited. Tokens whose supply is zero are left out.
    pub fn supply(&self) -> BTreeMap<TokenId, u128> {
        let mut s = BTreeMap::new();
        for a in self.accounts.values() {
            for (t, v) in &a.balances {
                *s.entry(*t).or_insert(0u128) += u128::from(*v);
            }
        }
        for (t, v) in &self.flows.withdrawn {
            *s.entry(*t).or_insert(0u128) += *v;
        }
        for (t, v) in &self.flows.handed_out {
            *s.entry(*t).or_insert(0u128) += *v;
        }
        for (t, v) in self.flows.deposited.iter().chain(&self.flows.handed_in) {
            let e = s.entry(*t).or_insert(0u128);
            *e = e.saturating_sub(*v);
        }
        s.retain(|_, v| *v > 0);
        s
    }

    /// Stateful checks of an order, without changing anything. `Ok(Some(vote))` means the
    /// identical order is already locked; `Ok(None)` means the order may be locked now.
    fn precheck<O: OwnedOrder>(
        &self,
        order: &O,
        current_epoch: u32,
    ) -> Result<Option<&PendingVote>, Rejection> {
        let nonce = order.nonce();
        let account = self
            .accounts
            .get(order.owner())
            .ok_or(Rejection::UnknownAccount)?;
        if account.moved.is_some() && !order.allowed_when_moved() {
            return Err(Rejection::AccountMoved);
        }
        if let Some(p) = &account.pending {
            if p.order.digest() == order.digest() {
                return Ok(Some(p));
            }
            if p.order.nonce() == nonce && !planted::active(PlantedBug::SkipLockCheck) {
                return Err(Rejection::ConflictingOrder {
                    nonce,
                    locked: p.order.digest(),
                });
            }
        }
        let (epoch, ttl) = order.window();
        check_epoch(epoch, ttl, current_epoch)?;
        if nonce != account.next_sequence {
            return Err(Rejection::WrongNonce {
                expected: account.next_sequence,
                got: nonce,
            });
        }
        order.check_funds(&|t| account.balance(t))?;
        Ok(None)
    }

    /// The answer to a certificate already applied for `account`'s `nonce`: the kept receipt
    /// (`applied = false`), nothing to persist.
    fn repeat_receipt(
        &mut self,
        digest: Digest,
        nonce: u64,
        account: &PublicKey,
    ) -> Outcome<Receipt> {
        let next = self.accounts.get(account).map_or(0, |a| a.next_sequence);
        Outcome {
            reply: self.repeats.get(digest, nonce, next, &self.key),
            persist: None,
        }
    }

    fn repeat(p: &PendingVote) -> Outcome<Vote> {
        Outcome {
            reply: p.vote,
            persist: (!p.persisted).then(|| p.order.lock_change(p.vote)),
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
        let vote = check.presigned_vote(&order.digest(), order.order().nonce);
        let verified = check.order(order)?;
        match vote {
            Some(vote) => self.handle_verified_order_presigned(verified, vote, current_epoch),
            None => self.lock(verified, current_epoch),
        }
    }

    /// Handles an ORDER whose signature the caller already checked with
    /// [`SignedOrder::verify`] (e.g. on another thread).
    pub fn handle_verified_order(
        &mut self,
        order: Verified<SignedOrder>,
        current_epoch: u32,
    ) -> Result<Outcome<Vote>, Rejection> {
        if let Some(p) = self.precheck(&*order, current_epoch)? {
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
        if let Some(p) = self.precheck(&*order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        let fits = vote.order_digest == order.digest()
            && vote.nonce == order.order().nonce
            && vote.authority == self.key.tag();
        self.lock_with(order, fits.then_some(vote))
    }

    /// Handles a WITHDRAWAL order: the same checks and lock as a transfer order (one lock per
    /// nonce, whatever the kind), then a vote. Whether the committee is reachable enough to
    /// withdraw is the runtime's call, before this.
    pub fn handle_withdrawal_with(
        &mut self,
        order: SignedWithdrawal,
        current_epoch: u32,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Vote>, Rejection> {
        if let Some(p) = self.precheck(&order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        let verified = check.withdrawal(order)?;
        self.lock(verified, current_epoch)
    }

    fn lock<O: Lockable>(
        &mut self,
        order: Verified<O>,
        current_epoch: u32,
    ) -> Result<Outcome<Vote>, Rejection> {
        // Re-check: cheap, and keeps `lock` correct on its own.
        if let Some(p) = self.precheck(&*order, current_epoch)? {
            return Ok(Self::repeat(p));
        }
        self.lock_with(order, None)
    }

    /// Locks the account's next nonce to `order` (already prechecked) with `vote` or a vote
    /// signed now.
    fn lock_with<O: Lockable>(
        &mut self,
        order: Verified<O>,
        vote: Option<Vote>,
    ) -> Result<Outcome<Vote>, Rejection> {
        let order = order.into_inner();
        let vote = vote.unwrap_or_else(|| Vote::sign(order.digest(), order.nonce(), &self.key));
        let account = self
            .accounts
            .get_mut(order.owner())
            .ok_or(Rejection::UnknownAccount)?;
        let order = order.into_locked();
        let persist = order.lock_change(vote);
        account.pending = Some(PendingVote {
            order,
            vote,
            persisted: false,
        });
        Ok(Outcome {
            reply: vote,
            persist: Some(persist),
        })
    }

    /// Tells the authority that `change` is durable, so repeats of a locked order need no
    /// further persisting. Optional: without it, repeats return the lock to persist again
    /// (persisting a change twice is harmless).
    pub fn mark_persisted(&mut self, change: &StateChange) {
        if matches!(
            change,
            StateChange::Lock { .. }
                | StateChange::LockWithdrawal { .. }
                | StateChange::LockHandoff { .. }
        ) && let Some(a) = self.accounts.get_mut(&change.account())
            && let Some(p) = &mut a.pending
            && p.order.digest() == change.order_digest()
        {
            p.persisted = true;
        }
    }

    /// Checks a certificate's sequence and funds against the state, without changing anything.
    /// `Ok(true)`: it would apply now; `Ok(false)`: its nonce is past (no-op).
    fn precheck_certificate(&self, certificate: &Certificate) -> Result<bool, Rejection> {
        if !self.precheck_spend(&certificate.order)? {
            return Ok(false);
        }
        let o = certificate.order.order();
        let credited = self
            .accounts
            .get(&o.recipient)
            .map_or(0, |a| a.balance(o.token));
        if credited.checked_add(o.amount).is_none() {
            return Err(Rejection::InvalidOrder("recipient balance would overflow"));
        }
        Ok(true)
    }

    /// The sequence and funds checks of a certificate on any order kind. `Ok(false)`: its
    /// nonce is past (no-op).
    fn precheck_spend<O: OwnedOrder>(&self, order: &O) -> Result<bool, Rejection> {
        let nonce = order.nonce();
        let account = self.accounts.get(order.owner());
        let next = account.map_or(0, |a| a.next_sequence);
        if nonce < next && !planted::active(PlantedBug::ApplyTwice) {
            return Ok(false);
        }
        if nonce > next {
            return Err(Rejection::MissingEarlierCertificates {
                expected: next,
                got: nonce,
            });
        }
        // Short funds here: this authority missed the credits that funded the sender.
        order.check_funds(&|t| account.map_or(0, |a| a.balance(t)))?;
        Ok(true)
    }

    /// Handles a WITHDRAWAL_CERTIFICATE: the sequence and funds checks, one batch verify, then
    /// debits the account once (the money is owed by the gateway from now on) and returns a
    /// signed receipt.
    pub fn handle_withdrawal_certificate_with(
        &mut self,
        certificate: WithdrawalCertificate,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Receipt>, Rejection> {
        self.precheck_spend(&certificate.order)?;
        let committee = self.committee.clone();
        let verified = check.withdrawal_certificate(certificate, &committee)?;
        self.handle_verified_withdrawal_certificate(verified)
    }

    /// Handles a withdrawal certificate the caller already checked against this committee.
    pub fn handle_verified_withdrawal_certificate(
        &mut self,
        certificate: Verified<WithdrawalCertificate>,
    ) -> Result<Outcome<Receipt>, Rejection> {
        let digest = OwnedOrder::digest(&certificate.order);
        let nonce = certificate.order.nonce();
        let account = *certificate.order.owner();
        if !self.precheck_spend(&certificate.order)? {
            return Ok(self.repeat_receipt(digest, nonce, &account));
        }
        let next = self.apply_withdrawal(&certificate.order);
        Ok(Outcome {
            reply: Receipt::sign(digest, nonce, true, next, &self.key),
            persist: Some(StateChange::ApplyWithdrawal {
                certificate: certificate.into_inner(),
            }),
        })
    }

    /// Debits the withdrawn amount, advances the sequence, clears the lock.
    fn apply_withdrawal(&mut self, order: &SignedWithdrawal) -> u64 {
        let o = order.order();
        let account = self.accounts.entry(o.account).or_default();
        let bal = account.balances.entry(o.token).or_default();
        *bal -= o.amount;
        account.next_sequence += 1;
        account.pending = None;
        let next = account.next_sequence;
        self.flows.add_withdrawn(o.token, o.amount);
        next
    }

    /// Whether a funding certificate applies now (`Ok(true)`), is past (`Ok(false)`), or is
    /// ahead of the gateway's sequence here.
    fn precheck_funding(&self, funding: &FundingCertificate) -> Result<bool, Rejection> {
        let f = funding.funding();
        let next = self.flows.next_deposit(&f.gateway);
        if f.sequence < next {
            return Ok(false);
        }
        if f.sequence > next {
            return Err(Rejection::MissingEarlierCertificates {
                expected: next,
                got: f.sequence,
            });
        }
        let credited = self
            .accounts
            .get(&f.account)
            .map_or(0, |a| a.balance(f.token));
        if credited.checked_add(f.amount).is_none() {
            return Err(Rejection::InvalidOrder("account balance would overflow"));
        }
        Ok(true)
    }

    /// Handles a DEPOSIT: a funding certificate of a gateway the committee pins, applied in
    /// the gateway's sequence order, each once. The receipt refers to the certificate's digest
    /// with the deposit sequence as its nonce and the gateway's next sequence here.
    pub fn handle_funding_with(
        &mut self,
        funding: FundingCertificate,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Receipt>, Rejection> {
        let committee = self.committee.clone();
        let verified = check.funding(funding, &committee)?;
        let f = *verified.funding();
        let digest = verified.digest();
        if !self.precheck_funding(&verified)? {
            let next = self.flows.next_deposit(&f.gateway);
            return Ok(Outcome {
                reply: self.repeats.get(digest, f.sequence, next, &self.key),
                persist: None,
            });
        }
        self.apply_funding(&verified);
        let next = self.flows.next_deposit(&f.gateway);
        Ok(Outcome {
            reply: Receipt::sign(digest, f.sequence, true, next, &self.key),
            persist: Some(StateChange::Deposit {
                funding: verified.into_inner(),
            }),
        })
    }

    fn apply_funding(&mut self, funding: &FundingCertificate) {
        let f = funding.funding();
        let account = self.accounts.entry(f.account).or_default();
        *account.balances.entry(f.token).or_default() += f.amount;
        self.flows.add_deposit(f.gateway, f.token, f.amount);
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
        self.apply_verified_certificate(verified, check)
    }

    /// Handles a CERTIFICATE that the caller already checked with [`Certificate::verify`]
    /// against this authority's committee.
    pub fn handle_verified_certificate(
        &mut self,
        certificate: Verified<Certificate>,
    ) -> Result<Outcome<Receipt>, Rejection> {
        self.apply_verified_certificate(certificate, &mut VerifyDirectly)
    }

    /// Applies a verified certificate; the receipt is `check`'s presigned one when it fits.
    fn apply_verified_certificate(
        &mut self,
        certificate: Verified<Certificate>,
        check: &mut dyn SignatureCheck,
    ) -> Result<Outcome<Receipt>, Rejection> {
        let o = *certificate.order.order();
        let digest = certificate.order.digest();
        if !self.precheck_certificate(&certificate)? {
            return Ok(self.repeat_receipt(digest, o.nonce, &o.sender));
        }
        let next = self.apply_transfer(&certificate.order);
        let certificate = certificate.into_inner();
        let tag = self.key.tag();
        let receipt = check
            .presigned_receipt(&digest, o.nonce, next)
            .filter(|r| {
                r.order_digest == digest
                    && r.nonce == o.nonce
                    && r.applied
                    && r.next_sequence == next
                    && r.authority == tag
            })
            .unwrap_or_else(|| Receipt::sign(digest, o.nonce, true, next, &self.key));
        Ok(Outcome {
            reply: receipt,
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
                a.pending.as_ref().and_then(|p| p.order.transfer().copied()),
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
            StateChange::Lock { order, vote } => self.replay_lock(order.into_locked(), *vote),
            StateChange::LockWithdrawal { order, vote } => {
                self.replay_lock(order.clone().into_locked(), *vote)
            }
            StateChange::ApplyWithdrawal { certificate } => {
                match self.precheck_spend(&certificate.order) {
                    Ok(false) => Ok(()),
                    Ok(true) => {
                        self.apply_withdrawal(&certificate.order);
                        Ok(())
                    }
                    Err(reason) => Err(self.recovery_error(change, reason)),
                }
            }
            StateChange::LockHandoff { order, vote } => {
                self.replay_lock(order.clone().into_locked(), *vote)
            }
            StateChange::HandOut { certificate } => match self.precheck_spend(&certificate.order) {
                Ok(false) => Ok(()),
                Ok(true) => {
                    self.apply_hand_out(&certificate.order);
                    Ok(())
                }
                Err(reason) => Err(self.recovery_error(change, reason)),
            },
            StateChange::HandIn { certificate } => match self.precheck_hand_in(certificate) {
                Ok(false) => Ok(()),
                Ok(true) => {
                    self.apply_hand_in(&certificate.order);
                    Ok(())
                }
                Err(reason) => Err(self.recovery_error(change, reason)),
            },
            StateChange::Deposit { funding } => match self.precheck_funding(funding) {
                Ok(false) => Ok(()),
                Ok(true) => {
                    self.apply_funding(funding);
                    Ok(())
                }
                Err(reason) => Err(self.recovery_error(change, reason)),
            },
            StateChange::Apply { certificate } => match self.precheck_certificate(certificate) {
                Ok(false) => Ok(()),
                Ok(true) => {
                    self.apply_transfer(&certificate.order);
                    Ok(())
                }
                Err(reason) => Err(self.recovery_error(change, reason)),
            },
        }
    }

    /// Why a persisted change could not be replayed.
    fn recovery_error(&self, change: &StateChange, reason: Rejection) -> RecoveryError {
        let (account, nonce) = (change.account(), change.nonce());
        match reason {
            Rejection::MissingEarlierCertificates { expected, got } => RecoveryError::Gap {
                account,
                nonce: got,
                expected,
            },
            reason => RecoveryError::Invalid {
                account,
                nonce,
                reason,
            },
        }
    }

    /// Replays a lock: a no-op for a past nonce, refused for a gap or a different lock.
    fn replay_lock(&mut self, order: LockedOrder, vote: Vote) -> Result<(), RecoveryError> {
        let (nonce, digest, account) = (order.nonce(), order.digest(), order.account());
        let a = self
            .accounts
            .get_mut(&account)
            .ok_or(RecoveryError::UnknownAccount(account))?;
        if nonce < a.next_sequence {
            return Ok(());
        }
        if nonce > a.next_sequence {
            return Err(RecoveryError::Gap {
                account,
                nonce,
                expected: a.next_sequence,
            });
        }
        match &a.pending {
            Some(p) if p.order.digest() != digest => {
                Err(RecoveryError::ConflictingLock { account, nonce })
            }
            _ => {
                a.pending = Some(PendingVote {
                    order,
                    vote,
                    persisted: true,
                });
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_external;

#[cfg(test)]
mod tests_handoff;
