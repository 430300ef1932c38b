//! Tests of handoff at the authority: an account leaves committee A for B on a quorum of A,
//! arrives at B once, is never spendable in both, and a handoff certificate means nothing to
//! a third committee. Recovery and snapshots keep moved accounts and arrivals.

use super::*;
use crate::codec::{Decode, Encode};
use crate::committee::Neighbour;
use crate::messages::HandoffOrder;
use crate::testing::{authority_keys, committee_of, user_keys};

/// Committees A, B (neighbours of each other) and C (neighbour of A only), four authorities
/// each; users 0 and 1 hold 100 in A; B's and C's genesis funds user 2 only.
struct World {
    users: Vec<Keypair>,
    a: Vec<Authority>,
    b: Vec<Authority>,
    c: Vec<Authority>,
    ids: [Digest; 3],
}

fn world() -> World {
    let ka = authority_keys(4, 100);
    let kb = authority_keys(4, 120);
    let kc = authority_keys(4, 140);
    let (ca, cb, cc) = (
        committee_of(&ka, 47000),
        committee_of(&kb, 47100),
        committee_of(&kc, 47200),
    );
    let n = |name: &str, c: &Committee| Neighbour {
        name: name.into(),
        committee: Arc::new(c.clone()),
    };
    let ids = [ca.id(), cb.id(), cc.id()];
    let a_full = ca
        .clone()
        .with_neighbours(vec![n("b", &cb), n("c", &cc)])
        .unwrap();
    let b_full = cb.clone().with_neighbours(vec![n("a", &ca)]).unwrap();
    let c_full = cc.clone().with_neighbours(vec![n("a", &ca)]).unwrap();
    let users = user_keys(3);
    let ga = Genesis::uniform(users[..2].iter().map(Keypair::public), 100);
    let gb = Genesis::uniform([users[2].public()], 50);
    let make = |keys: &[Keypair], c: &Committee, g: &Genesis| -> Vec<Authority> {
        let c = Arc::new(c.clone());
        keys.iter()
            .map(|k| Authority::new(k.clone(), c.clone(), g).unwrap())
            .collect()
    };
    World {
        a: make(&ka, &a_full, &ga),
        b: make(&kb, &b_full, &gb),
        c: make(&kc, &c_full, &gb),
        users,
        ids,
    }
}

impl World {
    fn handoff(
        &self,
        user: usize,
        to: usize,
        balances: &[(u32, u64)],
        nonce: u64,
    ) -> SignedHandoff {
        SignedHandoff::sign(
            HandoffOrder {
                account: self.users[user].public(),
                from: self.ids[0],
                to: self.ids[to],
                balances: balances.to_vec(),
                nonce,
                epoch: 10,
                ttl: 3,
            },
            &self.users[user],
        )
    }
    fn pay(&self, from: usize, to: usize, amount: u64, nonce: u64) -> SignedOrder {
        SignedOrder::sign(
            crate::messages::TransferOrder {
                sender: self.users[from].public(),
                recipient: self.users[to].public(),
                token: 0,
                amount,
                nonce,
                epoch: 10,
                ttl: 3,
            },
            &self.users[from],
        )
    }
}

fn lock_handoff(auths: &mut [Authority], order: &SignedHandoff) -> Vec<Vote> {
    auths
        .iter_mut()
        .map(|a| {
            a.handle_handoff_with(order.clone(), 10, &mut VerifyDirectly)
                .unwrap()
                .reply
        })
        .collect()
}

fn hand(auths: &mut [Authority], cert: &HandoffCertificate) -> Vec<Receipt> {
    auths
        .iter_mut()
        .map(|a| {
            a.handle_handoff_certificate_with(cert.clone(), &mut VerifyDirectly)
                .unwrap()
                .reply
        })
        .collect()
}

fn balance(a: &Authority, user: &Keypair) -> u64 {
    a.account(&user.public()).map_or(0, |s| s.balance(0))
}

fn supply(a: &Authority) -> u128 {
    a.supply().get(&0).copied().unwrap_or(0)
}

#[test]
fn an_account_moves_with_its_balance_and_is_spendable_only_where_it_arrived() {
    let mut w = world();
    let order = w.handoff(0, 1, &[(0, 100)], 0);
    let votes = lock_handoff(&mut w.a, &order);
    let cert = HandoffCertificate::new(order, &votes[..3]);
    let out = hand(&mut w.a, &cert);
    assert!(out.iter().all(|r| r.applied && r.next_sequence == 1));
    let arrived = hand(&mut w.b, &cert);
    assert!(arrived.iter().all(|r| r.applied && r.next_sequence == 1));
    let alice = w.users[0].clone();
    for a in &w.a {
        assert_eq!(balance(a, &alice), 0);
        assert_eq!(a.account(&alice.public()).unwrap().moved, Some(w.ids[1]));
        assert_eq!(supply(a), 200, "A's genesis supply, handed out counted");
    }
    for b in &w.b {
        assert_eq!(balance(b, &alice), 100);
        assert_eq!(supply(b), 50, "B's genesis supply, handed in counted");
    }
    // A refuses to spend the moved account, whatever the kind; B pays from it at nonce 1.
    let spend = w.pay(0, 1, 10, 1);
    assert_eq!(
        w.a[0].handle_order(spend, 10).unwrap_err(),
        Rejection::AccountMoved
    );
    let withdraw = SignedWithdrawal::sign(
        crate::messages::WithdrawalOrder {
            account: alice.public(),
            token: 0,
            amount: 1,
            recipient: b"x".to_vec(),
            nonce: 1,
            epoch: 10,
            ttl: 3,
        },
        &alice,
    );
    assert_eq!(
        w.a[0]
            .handle_withdrawal_with(withdraw, 10, &mut VerifyDirectly)
            .unwrap_err(),
        Rejection::AccountMoved
    );
    w.b[0].handle_order(spend, 10).unwrap();
    // orders signed before the move cannot be replayed at B
    let old = w.pay(0, 1, 10, 0);
    assert!(matches!(
        w.b[1].handle_order(old, 10).unwrap_err(),
        Rejection::WrongNonce { .. }
    ));
}

#[test]
fn a_handoff_arrives_once_and_a_third_committee_refuses_it() {
    let mut w = world();
    let order = w.handoff(0, 1, &[(0, 60)], 0);
    let votes = lock_handoff(&mut w.a, &order);
    let cert = HandoffCertificate::new(order, &votes[1..]);
    hand(&mut w.a, &cert);
    hand(&mut w.b, &cert);
    // replayed to B: no second credit; replayed to A: no second debit
    for r in hand(&mut w.b, &cert)
        .into_iter()
        .chain(hand(&mut w.a, &cert))
    {
        assert!(!r.applied);
    }
    assert_eq!(balance(&w.b[0], &w.users[0]), 60);
    assert_eq!(
        balance(&w.a[0], &w.users[0]),
        40,
        "what was not stated stays"
    );
    // replayed to C (a neighbour of A, but not the destination): refused, nothing credited
    for c in &mut w.c {
        assert_eq!(
            c.handle_handoff_certificate_with(cert.clone(), &mut VerifyDirectly)
                .unwrap_err(),
            Rejection::WrongCommittee
        );
        assert_eq!(balance(c, &w.users[0]), 0);
    }
    // B does not accept a certificate that claims to come from A but is signed by B's own
    let forged_order = w.handoff(1, 1, &[(0, 100)], 0);
    let forged_votes: Vec<Vote> =
        w.b.iter()
            .map(|b| Vote::sign(forged_order.digest(), 0, b.keypair()))
            .collect();
    let forged = HandoffCertificate::new(forged_order, &forged_votes);
    assert!(matches!(
        w.b[0]
            .handle_handoff_certificate_with(forged, &mut VerifyDirectly)
            .unwrap_err(),
        Rejection::UnknownSigner(_)
    ));
    // a handoff order to a committee A does not know, or from another committee: refused
    let mut unknown = w.handoff(1, 1, &[(0, 1)], 0).order().clone();
    unknown.to = Digest([7; 32]);
    let unknown = SignedHandoff::sign(unknown, &w.users[1]);
    assert_eq!(
        w.a[0]
            .handle_handoff_with(unknown, 10, &mut VerifyDirectly)
            .unwrap_err(),
        Rejection::WrongCommittee
    );
    let at_b = w.handoff(1, 1, &[(0, 1)], 0);
    assert_eq!(
        w.b[0]
            .handle_handoff_with(at_b, 10, &mut VerifyDirectly)
            .unwrap_err(),
        Rejection::WrongCommittee
    );
}

/// A payment and a handoff for the same nonce, locked at the four authorities in every
/// possible split: at most one of them certifies, and the money is never spendable twice.
#[test]
fn a_concurrent_payment_and_handoff_never_both_certify() {
    for split in 0u8..16 {
        let mut w = world();
        let pay = w.pay(0, 1, 30, 0);
        let handoff = w.handoff(0, 1, &[(0, 100)], 0);
        let (mut pay_votes, mut handoff_votes) = (Vec::new(), Vec::new());
        for (i, a) in w.a.iter_mut().enumerate() {
            // the order that reaches authority i first is locked; the other is refused
            if split >> i & 1 == 1 {
                pay_votes.push(a.handle_order(pay, 10).unwrap().reply);
                assert!(matches!(
                    a.handle_handoff_with(handoff.clone(), 10, &mut VerifyDirectly),
                    Err(Rejection::ConflictingOrder { .. })
                ));
            } else {
                handoff_votes.push(
                    a.handle_handoff_with(handoff.clone(), 10, &mut VerifyDirectly)
                        .unwrap()
                        .reply,
                );
                assert!(matches!(
                    a.handle_order(pay, 10),
                    Err(Rejection::ConflictingOrder { .. })
                ));
            }
        }
        let pay_cert = Certificate::new(pay, &pay_votes);
        let handoff_cert = HandoffCertificate::new(handoff.clone(), &handoff_votes);
        let pay_ok = pay_cert.check(w.a[0].committee()).is_ok();
        let handoff_ok = handoff_cert.check(w.a[0].committee()).is_ok();
        assert!(!(pay_ok && handoff_ok), "split {split:04b}: both certified");
        if pay_ok {
            for a in &mut w.a {
                a.handle_certificate(pay_cert.clone()).unwrap();
            }
            // the handoff of the old balance is now impossible at nonce 0 and short at 1
            let stale = w.handoff(0, 1, &[(0, 100)], 1);
            assert!(matches!(
                w.a[0].handle_handoff_with(stale, 10, &mut VerifyDirectly),
                Err(Rejection::InsufficientFunds { .. })
            ));
        }
        if handoff_ok {
            hand(&mut w.a, &handoff_cert);
            hand(&mut w.b, &handoff_cert);
            // the payment cannot certify any more at A: the nonce moved on, the account moved
            assert!(w.a.iter_mut().all(|a| a.handle_order(pay, 10).is_err()));
        }
        // spendable money of user 0, summed over both committees, never exceeds what it had
        let at_a = w.a[0]
            .account(&w.users[0].public())
            .filter(|s| s.moved.is_none())
            .map_or(0, |s| s.balance(0));
        let at_b = balance(&w.b[0], &w.users[0]);
        assert!(at_a + at_b <= 100, "split {split:04b}: {at_a} + {at_b}");
    }
}

#[test]
fn a_payment_certified_before_the_handoff_completes_in_a() {
    let mut w = world();
    let pay = w.pay(0, 1, 30, 0);
    let votes: Vec<Vote> =
        w.a.iter_mut()
            .map(|a| a.handle_order(pay, 10).unwrap().reply)
            .collect();
    let pay_cert = Certificate::new(pay, &votes[..3]);
    // three authorities applied it; the fourth has not yet
    for a in &mut w.a[..3] {
        a.handle_certificate(pay_cert.clone()).unwrap();
    }
    let order = w.handoff(0, 1, &[(0, 70)], 1);
    let hv: Vec<Vote> = w.a[..3]
        .iter_mut()
        .map(|a| {
            a.handle_handoff_with(order.clone(), 10, &mut VerifyDirectly)
                .unwrap()
                .reply
        })
        .collect();
    let cert = HandoffCertificate::new(order, &hv);
    // the laggard must apply the payment first
    assert!(matches!(
        w.a[3].handle_handoff_certificate_with(cert.clone(), &mut VerifyDirectly),
        Err(Rejection::MissingEarlierCertificates { .. })
    ));
    w.a[3].handle_certificate(pay_cert).unwrap();
    hand(&mut w.a, &cert);
    hand(&mut w.b, &cert);
    for a in &w.a {
        assert_eq!(balance(a, &w.users[0]), 0);
        assert_eq!(balance(a, &w.users[1]), 130);
    }
    assert_eq!(balance(&w.b[0], &w.users[0]), 70);
}

#[test]
fn credits_after_the_move_are_swept_by_a_second_handoff() {
    let mut w = world();
    let first = w.handoff(0, 1, &[(0, 100)], 0);
    let votes = lock_handoff(&mut w.a, &first);
    let cert = HandoffCertificate::new(first, &votes);
    hand(&mut w.a, &cert);
    hand(&mut w.b, &cert);
    // bob pays the moved account in A
    let pay = w.pay(1, 0, 25, 0);
    let pv: Vec<Vote> =
        w.a.iter_mut()
            .map(|a| a.handle_order(pay, 10).unwrap().reply)
            .collect();
    let pc = Certificate::new(pay, &pv);
    for a in &mut w.a {
        a.handle_certificate(pc.clone()).unwrap();
    }
    assert_eq!(balance(&w.a[0], &w.users[0]), 25);
    // meanwhile the account moved on at B (nonce 1, 2)
    for b in &mut w.b {
        b.accounts
            .get_mut(&w.users[0].public())
            .unwrap()
            .next_sequence = 3;
    }
    let sweep = w.handoff(0, 1, &[(0, 25)], 1);
    let sv = lock_handoff(&mut w.a, &sweep);
    let sc = HandoffCertificate::new(sweep, &sv);
    hand(&mut w.a, &sc);
    let r = hand(&mut w.b, &sc);
    assert!(r.iter().all(|r| r.applied && r.next_sequence == 3));
    assert_eq!(balance(&w.a[0], &w.users[0]), 0);
    assert_eq!(balance(&w.b[0], &w.users[0]), 125);
    assert_eq!(supply(&w.a[0]), 200);
    assert_eq!(supply(&w.b[0]), 50);
}

#[test]
fn recovery_and_snapshots_keep_moves_locks_and_arrivals() {
    let mut w = world();
    let order = w.handoff(0, 1, &[(0, 100)], 0);
    let votes = lock_handoff(&mut w.a, &order);
    let cert = HandoffCertificate::new(order, &votes);
    // user 1's handoff stays locked (pending) at A
    let pending = w.handoff(1, 1, &[(0, 50)], 0);
    let mut changes_a = Vec::new();
    let o = w.a[0]
        .handle_handoff_with(pending, 10, &mut VerifyDirectly)
        .unwrap();
    changes_a.push(o.persist.unwrap());
    let o = w.a[0]
        .handle_handoff_certificate_with(cert.clone(), &mut VerifyDirectly)
        .unwrap();
    changes_a.push(o.persist.unwrap());
    let o = w.b[0]
        .handle_handoff_certificate_with(cert.clone(), &mut VerifyDirectly)
        .unwrap();
    let change_b = o.persist.unwrap();
    // the journal records round-trip and replay to the same state
    for c in changes_a.iter().chain([&change_b]) {
        assert_eq!(&StateChange::from_bytes(&c.to_bytes()).unwrap(), c);
    }
    let committee_a = w.a[0].committee().clone();
    let committee_b = w.b[0].committee().clone();
    let ga = Genesis::uniform(w.users[..2].iter().map(Keypair::public), 100);
    let gb = Genesis::uniform([w.users[2].public()], 50);
    let mut ra = Authority::new(w.a[0].keypair().clone(), committee_a.clone(), &ga).unwrap();
    for c in &changes_a {
        ra.apply_change(c).unwrap();
        ra.apply_change(c).unwrap();
    }
    let mut rb = Authority::new(w.b[0].keypair().clone(), committee_b.clone(), &gb).unwrap();
    rb.apply_change(&change_b).unwrap();
    rb.apply_change(&change_b).unwrap();
    assert_eq!(ra.snapshot(), w.a[0].snapshot());
    assert_eq!(rb.snapshot(), w.b[0].snapshot());
    // snapshots restore moved marks, handoff locks and arrivals
    let sa = Authority::from_snapshot(w.a[0].keypair().clone(), committee_a, &ga, &ra.snapshot())
        .unwrap();
    let alice = sa.account(&w.users[0].public()).unwrap();
    assert_eq!(alice.moved, Some(w.ids[1]));
    let bob = sa.account(&w.users[1].public()).unwrap();
    assert!(matches!(
        bob.pending.as_ref().map(|p| &p.order),
        Some(LockedOrder::Handoff(_))
    ));
    let mut sb =
        Authority::from_snapshot(w.b[0].keypair().clone(), committee_b, &gb, &rb.snapshot())
            .unwrap();
    assert_eq!(sb.snapshot(), rb.snapshot());
    let again = sb
        .handle_handoff_certificate_with(cert, &mut VerifyDirectly)
        .unwrap();
    assert!(!again.reply.applied, "an arrival survives the snapshot");
}
