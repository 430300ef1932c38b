//! Authority hosts: the real `flashmesh_core` authority behind a modelled store with group
//! commit, as the merchant anchor runs it. A datagram goes to
//! [`Authority::handle_datagram`]; the change it returns is appended to the store, and the reply
//! waits until the next group commit has made every change before it durable. A crash loses
//! the authority's memory and whatever was not committed (and the replies waiting for it); a
//! restart rebuilds it from genesis and the durable changes. A conflicting order makes the
//! anchor block its sender in its switch (the penalty path).
//!
//! Byzantine hosts run the same authority for their state, but answer as their behaviour says:
//! votes for anything (equivocate), garbage signatures, no votes, old votes again, or lies
//! (false refusals, receipts for certificates never applied, made-up query replies).

use std::sync::Arc;

use flashmesh_core::authority::{Authority, Genesis, StateChange};
use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::keys::{PublicKey, Signature};
use flashmesh_core::messages::{ErrorMessage, QueryReply, Receipt, Vote};
use flashmesh_core::wire::MsgType;
use flashmesh_core::{Committee, Keypair};
use flashmesh_scenario::file::ByzantineBehaviour;

use crate::net::{Addr, Packet, Port};
use crate::store::{RestoreError, StoreModel};
use crate::supply::SupplyMirror;
use crate::world::{Ev, GROUP_COMMIT, PENALTY_DELAY, World};

/// One authority of one committee on one merchant node.
pub struct AuthorityHost {
    /// Node.
    pub node: usize,
    /// Committee index.
    pub committee: usize,
    key: Keypair,
    members: Arc<Committee>,
    authority: Option<Authority>,
    store: StoreModel,
    /// Replies waiting for the next group commit, with the account a vote is about.
    held: Vec<(Addr, Envelope, Option<PublicKey>)>,
    supply: SupplyMirror,
    commit_scheduled: bool,
    /// Byzantine behaviour, if any.
    pub byzantine: Option<ByzantineBehaviour>,
    old_votes: Vec<Vote>,
}

impl AuthorityHost {
    /// A host at genesis.
    pub fn new(
        node: usize,
        committee: usize,
        key: Keypair,
        members: Arc<Committee>,
        genesis: &Genesis,
        byzantine: Option<ByzantineBehaviour>,
    ) -> Result<AuthorityHost, RestoreError> {
        let authority = Authority::new(key.clone(), members.clone(), genesis)?;
        Ok(AuthorityHost {
            node,
            committee,
            key,
            members,
            authority: Some(authority),
            store: StoreModel::default(),
            held: Vec::new(),
            supply: SupplyMirror::default(),
            commit_scheduled: false,
            byzantine,
            old_votes: Vec::new(),
        })
    }

    /// Whether the process runs.
    pub fn up(&self) -> bool {
        self.authority.is_some()
    }

    /// The running authority's state.
    pub fn authority(&self) -> Option<&Authority> {
        self.authority.as_ref()
    }

    /// Kills the process; returns how many uncommitted changes were lost.
    pub fn crash(&mut self) -> usize {
        if self.authority.is_none() {
            return 0;
        }
        self.authority = None;
        self.held.clear();
        self.supply.reset();
        self.store.crash()
    }

    /// Starts the process again from its store.
    pub fn restart(&mut self, genesis: &Genesis) -> Result<(), RestoreError> {
        if self.authority.is_some() {
            return Ok(());
        }
        self.authority = Some(self.store.restore(&self.key, &self.members, genesis)?);
        Ok(())
    }

    /// The certificates this host has made durable as applied: (sender, nonce, order digest).
    pub fn applied(
        &self,
    ) -> Vec<(
        flashmesh_core::keys::PublicKey,
        u64,
        flashmesh_core::digest::Digest,
    )> {
        let mut v: Vec<_> = self
            .store
            .durable()
            .iter()
            .filter_map(|c| match c {
                StateChange::Apply { certificate } => Some((
                    certificate.order.order().sender,
                    certificate.order.order().nonce,
                    certificate.order.digest(),
                )),
                _ => None,
            })
            .collect();
        v.sort_by_key(|a| (a.0, a.1));
        v.dedup();
        v
    }

    /// Plants the lose-locks-on-crash bug in this host's store.
    pub fn plant_lose_locks(&mut self) {
        self.store.lose_locks_on_crash = true;
    }
}

impl World {
    /// A datagram for authority host `h`.
    pub(crate) fn authority_receive(&mut self, h: usize, pkt: Packet) {
        let epoch = self.epoch;
        let now = self.agenda.now();
        let host = &mut self.hosts[h];
        let Some(authority) = host.authority.as_mut() else {
            self.count("host.drop.authority_down", 1.0);
            return;
        };
        if let Some(b) = host.byzantine {
            self.byzantine_receive(h, b, pkt);
            return;
        }
        let ci = host.committee;
        let handled = authority.handle_datagram_with(&pkt.bytes, epoch, &mut self.memos[ci]);
        let request = handled.request_type;
        if let Err(rej) = &handled.result {
            let code = rej.code();
            self.count_of("authority.rejected.", code.name(), 1.0);
            if code == ErrorCode::ConflictingOrder
                && let Ok(hdr) = flashmesh_core::wire::HeaderRepr::parse_bytes(&pkt.bytes)
            {
                let node = self.hosts[h].node;
                self.agenda.after(
                    PENALTY_DELAY,
                    Ev::Block {
                        node,
                        sender: hdr.sender.to_u64(),
                    },
                );
            }
        } else if let Some(t) = request {
            self.count_of("authority.accepted.", t.name(), 1.0);
        }
        let host = &mut self.hosts[h];
        // The account a vote is about: the sender of the order locked now, or of the order
        // whose lock the vote repeats.
        let locked = match (&handled.persist, &handled.reply) {
            (Some(StateChange::Lock { order, .. }), _) => Some(order.order().sender),
            (_, Some(r)) if matches!(r.message, Message::Vote(_)) => Envelope::decode(&pkt.bytes)
                .ok()
                .and_then(|e| match e.message {
                    Message::Order(o) => Some(o.order().sender),
                    _ => None,
                }),
            _ => None,
        };
        if let Some(change) = handled.persist {
            host.store.append(change);
        }
        if let Some(reply) = handled.reply {
            if host.store.has_pending() || !host.held.is_empty() {
                host.held.push((pkt.src, reply, locked));
            } else {
                self.release(h, pkt.src, reply, locked);
            }
        }
        let host = &mut self.hosts[h];
        if (host.store.has_pending() || !host.held.is_empty()) && !host.commit_scheduled {
            host.commit_scheduled = true;
            self.agenda.at(now + GROUP_COMMIT, Ev::Commit { host: h });
        }
    }

    /// Group commit of host `h`: what was appended is durable, the replies held for it go.
    pub(crate) fn commit(&mut self, h: usize) {
        let now = self.agenda.now();
        let host = &mut self.hosts[h];
        host.commit_scheduled = false;
        if host.authority.is_none() {
            return;
        }
        let done = host.store.commit();
        let held = std::mem::take(&mut host.held);
        let (node, ci) = (host.node, host.committee);
        let committee = self.committees[ci].committee.clone();
        let mut touched = Vec::new();
        for c in &done {
            if let StateChange::Apply { certificate } = c {
                let o = certificate.order.order();
                touched.extend([o.sender, o.recipient]);
                self.monitor.applied(now, node, ci, certificate);
                self.monitor
                    .certificate(now, ci, &committee, certificate, "an authority", true);
            }
        }
        let host = &mut self.hosts[h];
        if !touched.is_empty()
            && let Some(a) = host.authority.as_ref()
        {
            let supply = host.supply.update(a, &touched);
            self.monitor.supply(now, node, ci, supply);
        }
        self.count("store.commits", 1.0);
        for (to, reply, account) in held {
            self.release(h, to, reply, account);
        }
    }

    /// Sends reply `env` of host `h` to `to` (recording honest votes with the monitor; a vote's
    /// account is `locked` when the vote is new, else found by the lock it repeats).
    fn release(&mut self, h: usize, to: Addr, env: Envelope, locked: Option<PublicKey>) {
        let host = &self.hosts[h];
        let from = Addr {
            node: host.node,
            port: Port::Authority(host.committee as u16),
        };
        if host.byzantine.is_none()
            && let Message::Vote(v) = &env.message
        {
            let account = locked.or_else(|| {
                host.authority.as_ref().and_then(|a| {
                    a.accounts()
                        .find(|(_, s)| {
                            s.pending
                                .as_ref()
                                .is_some_and(|p| p.vote.order_digest == v.order_digest)
                        })
                        .map(|(k, _)| *k)
                })
            });
            let (node, ci) = (host.node, host.committee);
            let now = self.agenda.now();
            match account {
                Some(acc) => self.monitor.vote(now, node, ci, acc, v),
                // The lock was already cleared by a certificate: the vote is a repeat.
                None => self.monitor.checked(crate::monitor::names::DOUBLE_VOTE),
            }
        }
        if let Ok(bytes) = env.encode() {
            self.send(from, to, bytes);
        }
    }

    fn byzantine_receive(&mut self, h: usize, b: ByzantineBehaviour, pkt: Packet) {
        let epoch = self.epoch;
        let behaviour = match b {
            ByzantineBehaviour::Mixed => match self.byz_rng.index(5) {
                0 => ByzantineBehaviour::Equivocate,
                1 => ByzantineBehaviour::SignGarbage,
                2 => ByzantineBehaviour::WithholdVotes,
                3 => ByzantineBehaviour::ReplayVotes,
                _ => ByzantineBehaviour::LieInQueries,
            },
            other => other,
        };
        let Ok(env) = Envelope::decode(&pkt.bytes) else {
            self.count("byzantine.ignored_garbage", 1.0);
            return;
        };
        let header = env.header;
        let host = &mut self.hosts[h];
        let key = host.key.clone();
        let tag = key.tag();
        let from = Addr {
            node: host.node,
            port: Port::Authority(host.committee as u16),
        };
        let reply: Option<Message> = match (&env.message, behaviour) {
            (Message::Order(o), ByzantineBehaviour::Equivocate) => {
                let v = Vote::sign(o.digest(), o.order().nonce, &key);
                host.old_votes.push(v);
                Some(Message::Vote(v))
            }
            (Message::Order(o), ByzantineBehaviour::SignGarbage) => {
                let mut v = Vote::sign(o.digest(), o.order().nonce, &key);
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&self.byz_rng.bytes32());
                sig[32..].copy_from_slice(&self.byz_rng.bytes32());
                v.signature = Signature(sig);
                Some(Message::Vote(v))
            }
            (Message::Order(_), ByzantineBehaviour::WithholdVotes) => None,
            (Message::Order(o), ByzantineBehaviour::ReplayVotes) => {
                let n = host.old_votes.len();
                if n == 0 {
                    let v = Vote::sign(o.digest(), o.order().nonce, &key);
                    host.old_votes.push(v);
                    None
                } else {
                    Some(Message::Vote(host.old_votes[self.byz_rng.index(n)]))
                }
            }
            (Message::Order(o), _) => {
                let codes = [
                    ErrorCode::ConflictingOrder,
                    ErrorCode::WrongNonce,
                    ErrorCode::InsufficientFunds,
                ];
                Some(Message::Error(ErrorMessage {
                    code: codes[self.byz_rng.index(3)],
                    request_type: MsgType::Order.to_u8(),
                    nonce: o.order().nonce,
                    authority: tag,
                    detail: "made up".into(),
                }))
            }
            (Message::Certificate(c), ByzantineBehaviour::LieInQueries) => {
                let o = c.order.order();
                Some(Message::Receipt(Receipt::sign(
                    c.order.digest(),
                    o.nonce,
                    true,
                    o.nonce + 1000,
                    &key,
                )))
            }
            (Message::Query(q), ByzantineBehaviour::LieInQueries) => Some(Message::QueryReply(
                QueryReply::sign(q.request, q.account, 0, vec![(0, u64::MAX)], None, &key),
            )),
            _ => {
                // Otherwise it behaves, so that it keeps an up-to-date state to lie from.
                let host = &mut self.hosts[h];
                let Some(a) = host.authority.as_mut() else {
                    return;
                };
                let handled = a.handle_envelope(env, epoch);
                if let Some(change) = handled.persist {
                    host.store.append(change);
                    host.store.commit();
                }
                handled.reply.map(|e| e.message)
            }
        };
        self.count(&format!("byzantine.{behaviour:?}"), 1.0);
        if let Some(m) = reply {
            let env = Envelope::reply(&header, m, epoch);
            if let Ok(bytes) = env.encode() {
                self.send(from, pkt.src, bytes);
            }
        }
    }
}
