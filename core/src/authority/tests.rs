//! Tests of the authority state machine.

use super::*;
use crate::codec::{Decode, Encode};
use crate::error::ErrorCode;
use crate::messages::QuorumCollector;
use crate::messages::TransferOrder;
use crate::testing::fixture;

fn certify(auths: &mut [Authority], order: SignedOrder, epoch: u32) -> Certificate {
    let votes: Vec<Vote> = auths
        .iter_mut()
        .map(|a| a.handle_order(order, epoch).unwrap().reply)
        .collect();
    Certificate::new(order, &votes)
}

#[test]
fn order_vote_certificate_receipt() {
    let f = fixture(4, 2, 100);
    let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
    let o = f.order(0, 1, 30, 0);
    let out = auths[0].handle_order(o, 10).unwrap();
    assert!(matches!(out.persist, Some(StateChange::Lock { .. })));
    out.reply.verify(&f.committee).unwrap();
    assert_eq!(out.reply.order_digest, o.digest());
    let cert = certify(&mut auths, o, 10);
    cert.check(&f.committee).unwrap();
    for a in &mut auths {
        let r = a.handle_certificate(cert.clone()).unwrap();
        assert!(r.reply.applied);
        assert_eq!(r.reply.next_sequence, 1);
        r.reply.verify(&f.committee).unwrap();
        assert!(matches!(r.persist, Some(StateChange::Apply { .. })));
        let s = a.account(&f.users[0].public()).unwrap();
        assert_eq!(s.balance(0), 70);
        assert_eq!(s.next_sequence, 1);
        assert!(s.pending.is_none());
        assert_eq!(a.account(&f.users[1].public()).unwrap().balance(0), 130);
        assert_eq!(a.supply()[&0], 200);
        // Applying again is a no-op success.
        let again = a.handle_certificate(cert.clone()).unwrap();
        assert!(!again.reply.applied);
        assert_eq!(again.persist, None);
        assert_eq!(a.account(&f.users[0].public()).unwrap().balance(0), 70);
    }
}

#[test]
fn same_order_same_vote_conflicting_refused() {
    let f = fixture(4, 2, 100);
    let mut a = f.authority(0);
    let o1 = f.order(0, 1, 30, 0);
    let v1 = a.handle_order(o1, 10).unwrap();
    let v1b = a.handle_order(o1, 10).unwrap();
    assert_eq!(v1.reply, v1b.reply);
    // Not yet marked durable: the repeat asks to persist the same lock again.
    assert_eq!(v1b.persist, v1.persist);
    a.mark_persisted(v1.persist.as_ref().unwrap());
    let v1c = a.handle_order(o1, 10).unwrap();
    assert_eq!(v1c.reply, v1.reply);
    assert_eq!(v1c.persist, None);
    // Still answered after the epoch window closed.
    assert_eq!(a.handle_order(o1, 100).unwrap().reply, v1.reply);
    let o2 = f.order(0, 1, 31, 0);
    let e = a.handle_order(o2, 10).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConflictingOrder);
    let before = a.account(&f.users[0].public()).unwrap().clone();
    assert_eq!(
        before.pending.as_ref().unwrap().order,
        LockedOrder::Transfer(o1)
    );
}

#[test]
fn order_rejections() {
    let f = fixture(4, 3, 100);
    let mut a = f.authority(0);
    let snapshot = |a: &Authority| {
        let mut v: Vec<_> = a.accounts().map(|(k, s)| (*k, s.clone())).collect();
        v.sort_by_key(|x| x.0);
        v
    };
    let start = snapshot(&a);
    let code = |a: &mut Authority, o: SignedOrder, epoch: u32| {
        a.handle_order(o, epoch).unwrap_err().code()
    };
    assert_eq!(
        code(&mut a, f.order(0, 1, 101, 0), 10),
        ErrorCode::InsufficientFunds
    );
    assert_eq!(code(&mut a, f.order(0, 1, 5, 1), 10), ErrorCode::WrongNonce);
    assert_eq!(code(&mut a, f.order(0, 1, 5, 0), 14), ErrorCode::StaleEpoch);
    assert_eq!(code(&mut a, f.order(0, 1, 5, 0), 8), ErrorCode::FutureEpoch);
    assert_eq!(
        code(&mut a, f.order(0, 1, 0, 0), 10),
        ErrorCode::InvalidOrder
    );
    assert_eq!(
        code(&mut a, f.order(0, 0, 5, 0), 10),
        ErrorCode::InvalidOrder
    );
    // Bad signature: signed by someone else.
    let o = *f.order(0, 1, 5, 0).order();
    let forged = SignedOrder::sign(o, &f.users[2]);
    assert_eq!(code(&mut a, forged, 10), ErrorCode::BadSignature);
    // Unknown account.
    let stranger = Keypair::from_seed(&[77; 32]);
    let so = SignedOrder::sign(
        TransferOrder {
            sender: stranger.public(),
            ..o
        },
        &stranger,
    );
    assert_eq!(code(&mut a, so, 10), ErrorCode::UnknownAccount);
    assert_eq!(snapshot(&a), start);
    // Epoch window edges.
    assert!(a.handle_order(f.order(1, 0, 5, 0), 13).is_ok());
    assert!(a.handle_order(f.order(2, 0, 5, 0), 9).is_ok());
}

#[test]
fn certificate_rejections() {
    let f = fixture(4, 2, 100);
    let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
    let o = f.order(0, 1, 30, 0);
    let votes: Vec<Vote> = auths
        .iter_mut()
        .map(|a| a.handle_order(o, 10).unwrap().reply)
        .collect();
    let a = &mut auths[0];
    let code = |a: &mut Authority, c: Certificate| a.handle_certificate(c).unwrap_err().code();
    // Below quorum: 2 of 4.
    assert_eq!(
        code(a, Certificate::new(o, &votes[..2])),
        ErrorCode::BelowQuorum
    );
    // Repeated signer (3 entries, 2 distinct).
    let mut rep = Certificate::new(o, &votes[..2]);
    rep.signatures.push(rep.signatures[0]);
    assert_eq!(code(a, rep), ErrorCode::RepeatedSigner);
    // Unknown signer.
    let outsider = Keypair::from_seed(&[222; 32]);
    let mut unk = Certificate::new(o, &votes[..3]);
    unk.signatures.push(crate::messages::SignerEntry {
        authority: outsider.tag(),
        signature: Vote::sign(o.digest(), 0, &outsider).signature,
    });
    assert_eq!(code(a, unk), ErrorCode::UnknownSigner);
    // Garbage signature from a member.
    let mut bad = Certificate::new(o, &votes[..3]);
    bad.signatures[1].signature.0[5] ^= 1;
    assert_eq!(code(a, bad), ErrorCode::BadSignature);
    // A vote for another order does not count for this one.
    let o_other = f.order(0, 1, 31, 0);
    let mut mixed = Certificate::new(o_other, &votes[..3]);
    mixed.signatures.truncate(3);
    assert_eq!(code(a, mixed), ErrorCode::BadSignature);
    // Ahead of sequence.
    let o1 = f.order(0, 1, 10, 1);
    let votes1: Vec<Vote> = f
        .keys
        .iter()
        .map(|k| Vote::sign(o1.digest(), 1, k))
        .collect();
    assert_eq!(
        code(a, Certificate::new(o1, &votes1)),
        ErrorCode::MissingEarlierCertificates
    );
    assert_eq!(a.account(&f.users[0].public()).unwrap().balance(0), 100);
    // The good one still works after all that.
    assert!(
        a.handle_certificate(Certificate::new(o, &votes[..3]))
            .unwrap()
            .reply
            .applied
    );
}

#[test]
fn committee_of_one() {
    let f = fixture(1, 2, 50);
    let mut a = f.authority(0);
    let o = f.order(0, 1, 50, 0);
    let v = a.handle_order(o, 10).unwrap().reply;
    let mut q = QuorumCollector::new(o, &f.committee);
    assert!(q.add(&v, &f.committee).unwrap());
    let c = q.certificate().unwrap();
    assert!(a.handle_certificate(c).unwrap().reply.applied);
    assert_eq!(a.account(&f.users[0].public()).unwrap().balance(0), 0);
    // Balance cannot go negative.
    let o2 = f.order(0, 1, 1, 1);
    assert_eq!(
        a.handle_order(o2, 10).unwrap_err().code(),
        ErrorCode::InsufficientFunds
    );
}

#[test]
fn recovery_replays_changes() {
    let f = fixture(4, 2, 100);
    let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
    let mut log: Vec<StateChange> = Vec::new();
    let o = f.order(0, 1, 30, 0);
    let cert = certify(&mut auths, o, 10);
    // Authority 0's log: lock, apply, then a new lock at nonce 1.
    let mut a0 = f.authority(0);
    log.extend(a0.handle_order(o, 10).unwrap().persist);
    log.extend(a0.handle_certificate(cert).unwrap().persist);
    let o1 = f.order(0, 1, 20, 1);
    let v1 = a0.handle_order(o1, 10).unwrap();
    log.extend(v1.persist.clone());
    assert_eq!(log.len(), 3);
    // Through bytes, as a store would keep them.
    let bytes: Vec<Vec<u8>> = log.iter().map(|c| c.to_bytes()).collect();
    let mut r = f.authority(0);
    for b in &bytes {
        r.apply_change(&StateChange::from_bytes(b).unwrap())
            .unwrap();
    }
    let s = r.account(&f.users[0].public()).unwrap();
    assert_eq!(s.balance(0), 70);
    assert_eq!(s.next_sequence, 1);
    assert_eq!(s.pending.as_ref().unwrap().order, LockedOrder::Transfer(o1));
    // After restart: the same vote for the same order, conflicting refused.
    let again = r.handle_order(o1, 10).unwrap();
    assert_eq!(again.reply, v1.reply);
    assert_eq!(again.persist, None);
    assert_eq!(
        r.handle_order(f.order(0, 1, 21, 1), 10).unwrap_err().code(),
        ErrorCode::ConflictingOrder
    );
    // Replaying twice is harmless.
    for b in &bytes {
        r.apply_change(&StateChange::from_bytes(b).unwrap())
            .unwrap();
    }
    assert_eq!(r.account(&f.users[0].public()).unwrap().balance(0), 70);
    assert_eq!(r.supply()[&0], 200);
}

#[test]
fn verified_entry_points() {
    let f = fixture(4, 2, 100);
    let mut auths: Vec<Authority> = (0..4).map(|i| f.authority(i)).collect();
    let o = f.order(0, 1, 30, 0);
    let verified = o.verify().unwrap();
    let v = auths[0].handle_verified_order(verified, 10).unwrap();
    assert_eq!(v.reply, auths[0].handle_order(o, 10).unwrap().reply);
    // Presigned: the same vote, only bookkeeping under the lock.
    let o2 = f.order(1, 0, 5, 0);
    let pre = Vote::sign(o2.digest(), 0, auths[2].keypair());
    let out = auths[2]
        .handle_verified_order_presigned(o2.verify().unwrap(), pre, 10)
        .unwrap();
    assert_eq!(out.reply, pre);
    assert!(out.persist.is_some());
    // A vote that does not fit (another authority's) is replaced by a correct one.
    let wrong = Vote::sign(o2.digest(), 0, auths[3].keypair());
    let out3 = auths[1]
        .handle_verified_order_presigned(o2.verify().unwrap(), wrong, 10)
        .unwrap();
    out3.reply.verify(&f.committee).unwrap();
    assert_eq!(out3.reply.authority, auths[1].tag());
    // Conflicting orders are refused whatever the vote.
    let o3 = f.order(1, 0, 6, 0);
    let pre3 = Vote::sign(o3.digest(), 0, auths[2].keypair());
    assert_eq!(
        auths[2]
            .handle_verified_order_presigned(o3.verify().unwrap(), pre3, 10)
            .unwrap_err()
            .code(),
        ErrorCode::ConflictingOrder
    );
    let cert = certify(&mut auths, o, 10);
    let vc = cert.verify(&f.committee).unwrap();
    assert!(
        auths[1]
            .handle_verified_certificate(vc)
            .unwrap()
            .reply
            .applied
    );
}

#[test]
fn datagrams_end_to_end() {
    use crate::envelope::{Envelope, Message};
    let f = fixture(4, 2, 100);
    let mut a = f.authority(0);
    let o = f.order(0, 1, 30, 0);
    let req = Envelope::order(o).with_retry(2).encode().unwrap();
    let h = a.handle_datagram(&req, 10);
    assert_eq!(h.request_type, Some(MsgType::Order));
    assert!(h.result.is_ok());
    assert!(h.persist.is_some());
    let reply = Envelope::decode(&h.reply.unwrap().encode().unwrap()).unwrap();
    assert_eq!(reply.header.sender, a.tag());
    assert_eq!(reply.header.nonce, 0);
    assert_eq!(reply.header.retry, 2);
    assert!(matches!(reply.message, Message::Vote(v) if v.order_digest == o.digest()));

    // Query.
    let q = Envelope::query(
        Query {
            account: f.users[0].public(),
            request: 42,
        },
        10,
    )
    .encode()
    .unwrap();
    let h = a.handle_datagram(&q, 10);
    let Message::QueryReply(r) = Envelope::decode(&h.reply.unwrap().encode().unwrap())
        .unwrap()
        .message
    else {
        panic!("expected a query reply");
    };
    r.verify(&f.committee).unwrap();
    assert_eq!(r.request, 42);
    assert_eq!(r.balance(0), 100);
    assert_eq!(r.pending, Some(o));

    // Conflicting order → typed ERROR reply.
    let bad = Envelope::order(f.order(0, 1, 31, 0)).encode().unwrap();
    let h = a.handle_datagram(&bad, 10);
    assert_eq!(
        h.result.as_ref().unwrap_err().code(),
        ErrorCode::ConflictingOrder
    );
    let Message::Error(e) = Envelope::decode(&h.reply.unwrap().encode().unwrap())
        .unwrap()
        .message
    else {
        panic!("expected an error");
    };
    assert_eq!(e.code, ErrorCode::ConflictingOrder);
    assert_eq!(e.request_type, MsgType::Order.to_u8());

    // Malformed body → ERROR with Malformed; truncated header → no reply.
    let mut trunc = req.clone();
    trunc.truncate(100);
    let h = a.handle_datagram(&trunc, 10);
    assert_eq!(
        h.result.as_ref().unwrap_err().code(),
        ErrorCode::BodyLengthMismatch
    );
    assert!(h.reply.is_some());
    let h = a.handle_datagram(&req[..10], 10);
    assert!(h.reply.is_none());
    assert_eq!(h.result.unwrap_err().code(), ErrorCode::Malformed);
    // Unknown type → ERROR; a vote sent to an authority → no reply.
    let mut unk = req.clone();
    unk[1] = 42;
    let h = a.handle_datagram(&unk, 10);
    assert_eq!(h.result.unwrap_err().code(), ErrorCode::UnknownMsgType);
    assert!(h.reply.is_some());
    let v = Envelope::reply(
        &Envelope::order(o).header,
        Message::Vote(Vote::sign(o.digest(), 0, &f.keys[1])),
        10,
    )
    .encode()
    .unwrap();
    let h = a.handle_datagram(&v, 10);
    assert!(h.reply.is_none());
    assert_eq!(h.result.unwrap_err().code(), ErrorCode::NotServed);
    // Header lying about the sender.
    let mut lie = req.clone();
    lie[8] ^= 0xff;
    let h = a.handle_datagram(&lie, 10);
    assert_eq!(h.result.unwrap_err().code(), ErrorCode::HeaderMismatch);
    // Oversized → no reply.
    let h = a.handle_datagram(&vec![0u8; 2000], 10);
    assert_eq!(h.result.unwrap_err().code(), ErrorCode::Oversized);
    assert!(h.reply.is_none());
}

use crate::wire::MsgType;
