//! Tests of withdrawals and deposits at the authority: one lock per nonce whatever the kind,
//! debits and credits once, the supply accounted for, recovery and snapshots.

use super::*;
use crate::codec::{Decode, Encode};
use crate::committee::GatewayInfo;
use crate::messages::{Funding, WithdrawalOrder};
use crate::testing::{Fixture, fixture};

fn withdrawal(f: &Fixture, user: usize, amount: u64, nonce: u64) -> SignedWithdrawal {
    SignedWithdrawal::sign(
        WithdrawalOrder {
            account: f.users[user].public(),
            token: 0,
            amount,
            recipient: b"primary:acct-7".to_vec(),
            nonce,
            epoch: 10,
            ttl: 3,
        },
        &f.users[user],
    )
}

fn certify(auths: &mut [Authority], order: &SignedWithdrawal) -> WithdrawalCertificate {
    let votes: Vec<Vote> = auths
        .iter_mut()
        .map(|a| {
            a.handle_withdrawal_with(order.clone(), 10, &mut VerifyDirectly)
                .unwrap()
                .reply
        })
        .collect();
    WithdrawalCertificate::new(order.clone(), &votes[..3])
}

fn gateway_fixture() -> (Fixture, Keypair) {
    let mut f = fixture(4, 2, 100);
    let gw = Keypair::from_seed(&[0x55; 32]);
    let c = (*f.committee)
        .clone()
        .with_gateways(vec![GatewayInfo {
            name: "gw".into(),
            public_key: gw.public(),
            address: "127.0.0.1:47480".into(),
        }])
        .unwrap();
    f.committee = Arc::new(c);
    (f, gw)
}

fn funding(f: &Fixture, gw: &Keypair, user: usize, amount: u64, seq: u64) -> FundingCertificate {
    FundingCertificate::sign(
        Funding {
            committee: f.committee.id(),
            gateway: gw.public(),
            account: f.users[user].public(),
            token: 0,
            amount,
            sequence: seq,
            reference: Digest::of(crate::digest::DOMAIN_FUNDING, &seq.to_be_bytes()),
        },
        gw,
    )
}

#[test]
fn a_withdrawal_locks_the_nonce_against_a_transfer_and_debits_once() {
    let f = fixture(4, 2, 100);
    let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
    let w = withdrawal(&f, 0, 40, 0);
    let cert = certify(&mut auths, &w);
    // The nonce is taken: a transfer for it is refused, at every authority.
    for a in &mut auths {
        assert!(matches!(
            a.handle_order(f.order(0, 1, 5, 0), 10),
            Err(Rejection::ConflictingOrder { .. })
        ));
    }
    cert.check(&f.committee).unwrap();
    for a in &mut auths {
        let r = a
            .handle_withdrawal_certificate_with(cert.clone(), &mut VerifyDirectly)
            .unwrap();
        assert!(r.reply.applied);
        assert!(matches!(
            r.persist,
            Some(StateChange::ApplyWithdrawal { .. })
        ));
        let s = a.account(&f.users[0].public()).unwrap();
        assert_eq!((s.balance(0), s.next_sequence), (60, 1));
        assert_eq!(a.flows().withdrawn[&0], 40);
        assert_eq!(a.supply()[&0], 200);
        let again = a
            .handle_withdrawal_certificate_with(cert.clone(), &mut VerifyDirectly)
            .unwrap();
        assert!(!again.reply.applied);
        assert_eq!(again.persist, None);
        assert_eq!(a.flows().withdrawn[&0], 40);
    }
    // More than the balance is refused; below quorum too.
    let big = withdrawal(&f, 1, 101, 0);
    assert!(matches!(
        auths[0].handle_withdrawal_with(big, 10, &mut VerifyDirectly),
        Err(Rejection::InsufficientFunds { .. })
    ));
    let w1 = withdrawal(&f, 1, 10, 0);
    let v = auths[0]
        .handle_withdrawal_with(w1.clone(), 10, &mut VerifyDirectly)
        .unwrap()
        .reply;
    let short = WithdrawalCertificate::new(w1, &[v]);
    assert!(matches!(
        auths[1].handle_withdrawal_certificate_with(short, &mut VerifyDirectly),
        Err(Rejection::BelowQuorum { .. })
    ));
}

#[test]
fn a_transfer_lock_refuses_a_withdrawal_for_its_nonce() {
    let f = fixture(4, 2, 100);
    let mut a = f.authority(0);
    a.handle_order(f.order(0, 1, 5, 0), 10).unwrap();
    assert!(matches!(
        a.handle_withdrawal_with(withdrawal(&f, 0, 5, 0), 10, &mut VerifyDirectly),
        Err(Rejection::ConflictingOrder { .. })
    ));
}

#[test]
fn deposits_apply_in_sequence_once_and_only_from_a_pinned_gateway() {
    let (f, gw) = gateway_fixture();
    let mut a = f.authority(0);
    let d0 = funding(&f, &gw, 1, 500, 0);
    let d1 = funding(&f, &gw, 1, 7, 1);
    assert!(matches!(
        a.handle_funding_with(d1, &mut VerifyDirectly),
        Err(Rejection::MissingEarlierCertificates {
            expected: 0,
            got: 1
        })
    ));
    let r = a.handle_funding_with(d0, &mut VerifyDirectly).unwrap();
    assert!(r.reply.applied);
    assert_eq!(r.reply.next_sequence, 1);
    r.reply.verify(&f.committee).unwrap();
    assert!(
        !a.handle_funding_with(d0, &mut VerifyDirectly)
            .unwrap()
            .reply
            .applied
    );
    a.handle_funding_with(d1, &mut VerifyDirectly).unwrap();
    assert_eq!(a.account(&f.users[1].public()).unwrap().balance(0), 607);
    assert_eq!(a.flows().deposited[&0], 507);
    assert_eq!(a.supply()[&0], 200);
    let stranger = Keypair::from_seed(&[0x56; 32]);
    assert_eq!(
        a.handle_funding_with(funding(&f, &stranger, 1, 5, 2), &mut VerifyDirectly),
        Err(Rejection::UnknownGateway)
    );
    // A gateway's funding for another committee is refused.
    let other = fixture(3, 2, 100);
    let foreign = FundingCertificate::sign(
        Funding {
            committee: other.committee.id(),
            ..*funding(&f, &gw, 1, 5, 2).funding()
        },
        &gw,
    );
    assert_eq!(
        a.handle_funding_with(foreign, &mut VerifyDirectly),
        Err(Rejection::WrongCommittee)
    );
}

#[test]
fn withdrawals_and_deposits_survive_replay_and_snapshots() {
    let (f, gw) = gateway_fixture();
    let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
    let mut journal = Vec::new();
    let d0 = funding(&f, &gw, 0, 50, 0);
    journal.push(
        auths[0]
            .handle_funding_with(d0, &mut VerifyDirectly)
            .unwrap()
            .persist
            .unwrap(),
    );
    for a in &mut auths[1..] {
        a.handle_funding_with(d0, &mut VerifyDirectly).unwrap();
    }
    let w = withdrawal(&f, 0, 120, 0);
    let cert = certify(&mut auths, &w);
    journal.push(StateChange::LockWithdrawal {
        order: w.clone(),
        vote: Vote::sign(OwnedOrder::digest(&w), 0, &f.keys[0]),
    });
    journal.push(
        auths[0]
            .handle_withdrawal_certificate_with(cert, &mut VerifyDirectly)
            .unwrap()
            .persist
            .unwrap(),
    );
    // Then a withdrawal lock left pending.
    let pending = withdrawal(&f, 1, 3, 0);
    journal.push(
        auths[0]
            .handle_withdrawal_with(pending, 10, &mut VerifyDirectly)
            .unwrap()
            .persist
            .unwrap(),
    );
    let mut replayed = f.authority(0);
    for c in &journal {
        let c = StateChange::from_bytes(&c.to_bytes()).unwrap();
        replayed.apply_change(&c).unwrap();
        // Replaying twice is a no-op.
        replayed.apply_change(&c).unwrap();
    }
    let want = auths[0].snapshot();
    assert_eq!(replayed.snapshot(), want);
    let back = Authority::from_snapshot(f.keys[0].clone(), f.committee.clone(), &f.genesis, &want)
        .unwrap();
    assert_eq!(back.snapshot(), want);
    assert_eq!(back.flows().withdrawn[&0], 120);
    assert_eq!(back.flows().deposited[&0], 50);
    assert_eq!(back.flows().next_deposit(&gw.public()), 1);
    assert!(matches!(
        back.account(&f.users[1].public()).unwrap().pending,
        Some(PendingVote {
            order: LockedOrder::Withdrawal(_),
            ..
        })
    ));
    assert_eq!(back.supply()[&0], 200);
}

#[test]
fn withdrawal_datagrams_get_votes_and_receipts() {
    use crate::envelope::{Envelope, Message};
    let f = fixture(4, 2, 100);
    let mut a = f.authority(0);
    let w = withdrawal(&f, 0, 10, 0);
    let bytes = Envelope::withdrawal(w).encode().unwrap();
    let h = a.handle_datagram(&bytes, 10);
    assert_eq!(h.result, Ok(()));
    assert!(matches!(
        h.reply.unwrap().message,
        Message::Vote(v) if v.nonce == 0
    ));
    assert!(matches!(
        h.persist,
        Some(StateChange::LockWithdrawal { .. })
    ));
}
