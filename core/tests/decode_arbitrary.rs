//! Arbitrary input to every decoder, from a fixed seed so a failure reproduces: random bytes and
//! mutations of valid datagrams of every message type (transfer, withdrawal, handoff, deposit,
//! settlement, heartbeat, sync) and of every journal record.
//!
//! What must hold: no decoder panics; whatever decodes encodes back to exactly the same bytes
//! (one encoding per value); and a mutated certificate body that still decodes never passes the
//! quorum check (a bit flip cannot forge a certificate). The cargo-fuzz targets in `fuzz/` search
//! the same properties without a bound; this test keeps them checked in CI.

use flashmesh_core::digest::Digest;
use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::messages::{
    Funding, FundingCertificate, HandoffCertificate, HandoffOrder, Heartbeat, Liveness, OwnedOrder,
    Receipt, Settlement, SignedHandoff, SignedWithdrawal, SyncRequest, WithdrawalCertificate,
    WithdrawalOrder,
};
use flashmesh_core::testing::committee_of;
use flashmesh_core::testing::mutation::Rng;
use flashmesh_core::wire::{HEADER_LEN, Header, HeaderRepr, MsgType};
use flashmesh_core::{
    Certificate, Committee, DEFAULT_TOKEN, Decode, Encode, GatewayInfo, Keypair, SignedOrder,
    StateChange, TransferOrder, Vote,
};

fn key(seed: u8) -> Keypair {
    Keypair::from_seed(&[seed; 32])
}

/// The committee every sample certificate is a quorum of.
struct World {
    committee: Committee,
    datagrams: Vec<Vec<u8>>,
    records: Vec<Vec<u8>>,
}

fn world() -> World {
    let owner = key(0x11);
    let payee = key(0x22);
    let gateway = key(0x41);
    let auths: Vec<Keypair> = (0..4).map(|i| key(0xa0 + i)).collect();
    let committee = committee_of(&auths, 47474)
        .with_gateways(vec![GatewayInfo {
            name: "gw".into(),
            public_key: gateway.public(),
            address: "127.0.0.1:47480".into(),
        }])
        .unwrap();
    let votes_on = |digest: Digest, nonce: u64| -> Vec<Vote> {
        auths.iter().map(|a| Vote::sign(digest, nonce, a)).collect()
    };

    let order = SignedOrder::sign(
        TransferOrder {
            sender: owner.public(),
            recipient: payee.public(),
            token: DEFAULT_TOKEN,
            amount: 1_000,
            nonce: 7,
            epoch: 42,
            ttl: 3,
        },
        &owner,
    );
    let order_votes = votes_on(order.digest(), 7);
    let certificate = Certificate::new(order, &order_votes[..3]);

    let withdrawal = SignedWithdrawal::sign(
        WithdrawalOrder {
            account: owner.public(),
            token: 0,
            amount: 250,
            recipient: b"primary:acct-1".to_vec(),
            nonce: 8,
            epoch: 42,
            ttl: 3,
        },
        &owner,
    );
    let withdrawal_votes = votes_on(OwnedOrder::digest(&withdrawal), 8);
    let withdrawal_certificate =
        WithdrawalCertificate::new(withdrawal.clone(), &withdrawal_votes[1..]);

    let handoff = SignedHandoff::sign(
        HandoffOrder {
            account: owner.public(),
            from: committee.id(),
            to: Digest::of("flash-mesh test committee", b"B"),
            balances: vec![(0, 700), (4, 12)],
            nonce: 9,
            epoch: 42,
            ttl: 3,
        },
        &owner,
    );
    let handoff_votes = votes_on(OwnedOrder::digest(&handoff), 9);
    let handoff_certificate = HandoffCertificate::new(handoff.clone(), &handoff_votes[..3]);

    let funding = FundingCertificate::sign(
        Funding {
            committee: committee.id(),
            gateway: gateway.public(),
            account: owner.public(),
            token: 0,
            amount: 1_000,
            sequence: 5,
            reference: Digest::of("flash-mesh test reference", b"bank-1"),
        },
        &gateway,
    );
    let settlement = Settlement {
        withdrawal: OwnedOrder::digest(&withdrawal),
        account: owner.public(),
        nonce: 8,
        token: 0,
        amount: 250,
        reference: 9,
        settled_at_ms: 1_800_000_000_000,
        first: true,
        gateway: gateway.public(),
        signature: flashmesh_core::keys::Signature([0; 64]),
    }
    .sign(&gateway);
    let heartbeat = Heartbeat::sign(42, 77, 1_000, &auths[0]);
    let sync = SyncRequest::sign(auths[1].tag(), 42, 78, 900, 64, &auths[0]);

    let request = Envelope::withdrawal_certificate(withdrawal_certificate.clone(), 43).header;
    let receipt = Receipt::sign(order.digest(), 7, true, 8, &auths[0]);
    let datagrams = [
        Envelope::order(order),
        Envelope::certificate(certificate.clone(), 43),
        Envelope::reply(
            &Envelope::order(order).header,
            Message::Receipt(receipt),
            43,
        ),
        Envelope::withdrawal(withdrawal.clone()),
        Envelope::withdrawal_certificate(withdrawal_certificate.clone(), 43),
        Envelope::handoff(handoff.clone()),
        Envelope::handoff_certificate(handoff_certificate.clone(), 43),
        Envelope::deposit(funding, 43),
        Envelope::reply(&request, Message::Settlement(settlement), 43),
        Liveness::Heartbeat(heartbeat).envelope(),
        Liveness::Sync(sync).envelope(),
    ]
    .iter()
    .map(|e| e.encode().unwrap())
    .collect();
    let records = [
        StateChange::Lock {
            order,
            vote: order_votes[0],
        },
        StateChange::Apply { certificate },
        StateChange::LockWithdrawal {
            order: withdrawal,
            vote: withdrawal_votes[0],
        },
        StateChange::ApplyWithdrawal {
            certificate: withdrawal_certificate,
        },
        StateChange::Deposit { funding },
        StateChange::LockHandoff {
            order: handoff,
            vote: handoff_votes[0],
        },
        StateChange::HandOut {
            certificate: handoff_certificate.clone(),
        },
        StateChange::HandIn {
            certificate: handoff_certificate,
        },
    ]
    .iter()
    .map(|c| c.to_bytes())
    .collect();
    World {
        committee,
        datagrams,
        records,
    }
}

/// Which certificate a body is, and whether it passes the quorum check under `committee`.
fn certifies(message: &Message, committee: &Committee) -> bool {
    match message {
        Message::Certificate(c) => c.check(committee).is_ok(),
        Message::WithdrawalCertificate(c) => c.check(committee).is_ok(),
        Message::HandoffCertificate(c) => c.check(committee).is_ok(),
        Message::Deposit(f) => f.check(committee).is_ok(),
        _ => false,
    }
}

/// Every decoder on `bytes`: canonical when it decodes; a changed certificate body never checks.
/// Returns how many decoders accepted the bytes.
fn feed(bytes: &[u8], world: &World, original: Option<&[u8]>) -> usize {
    let mut accepted = 0;
    if let Ok(env) = Envelope::decode(bytes) {
        accepted += 1;
        assert_eq!(env.encode().unwrap(), bytes, "envelope is not canonical");
        if let Some(live) = Liveness::from_message(&env.message) {
            let live = live.expect("a decoded envelope carries a well-formed liveness body");
            live.check_header(&env.header).unwrap();
        }
        let body = &bytes[HEADER_LEN..];
        let same_body = original.is_some_and(|o| o.len() >= HEADER_LEN && &o[HEADER_LEN..] == body);
        if !same_body && original.is_some() {
            assert!(
                !certifies(&env.message, &world.committee),
                "a mutated {} body passed the quorum check",
                env.header.msg_type.name()
            );
        }
    }
    if let Ok(view) = Header::new_checked(bytes) {
        let repr = HeaderRepr::parse(&view).expect("a checked header parses");
        assert_eq!(&repr.to_bytes()[..], &bytes[..HEADER_LEN]);
        for raw in 0..=u8::MAX {
            if let Some(t) = MsgType::from_u8(raw)
                && let Ok(m) = Message::decode_body(t, view.payload())
            {
                accepted += 1;
                let again = Envelope::new(repr, m).encode().unwrap();
                assert_eq!(
                    &again[HEADER_LEN..],
                    view.payload(),
                    "{} body is not canonical",
                    t.name()
                );
            }
        }
    }
    for t in [MsgType::Heartbeat, MsgType::Sync] {
        if let Some(Ok(live)) = Liveness::decode_body(t, bytes) {
            accepted += 1;
            let again = match live {
                Liveness::Heartbeat(h) => h.to_bytes(),
                Liveness::Sync(s) => s.to_bytes(),
            };
            assert_eq!(again, bytes, "{} body is not canonical", t.name());
        }
    }
    if let Ok(change) = StateChange::from_bytes(bytes) {
        accepted += 1;
        assert_eq!(change.to_bytes(), bytes, "journal record is not canonical");
    }
    accepted
}

#[test]
fn samples_decode_and_their_certificates_check() {
    let w = world();
    for d in &w.datagrams {
        let env = Envelope::decode(d).expect("a sample datagram decodes");
        assert_eq!(&env.encode().unwrap(), d);
        if matches!(
            env.message,
            Message::Certificate(_)
                | Message::WithdrawalCertificate(_)
                | Message::HandoffCertificate(_)
                | Message::Deposit(_)
        ) {
            assert!(certifies(&env.message, &w.committee), "{:?}", env.header);
        }
    }
    for r in &w.records {
        assert_eq!(&StateChange::from_bytes(r).unwrap().to_bytes(), r);
    }
}

#[test]
fn mutated_datagrams_and_records_never_panic_or_forge() {
    let w = world();
    let mut rng = Rng::new(0x5eed_f1a5_4d0e_c0de);
    let mut decoded = 0;
    for _ in 0..6_000 {
        let i = rng.below(w.datagrams.len());
        let m = rng.mutate(&w.datagrams[i]);
        decoded += usize::from(feed(&m, &w, Some(&w.datagrams[i])) > 0);
        let j = rng.below(w.records.len());
        let m = rng.mutate(&w.records[j]);
        feed(&m, &w, None);
    }
    // Mutations of header fields the body does not bind (retry, flags, hop limit) still decode:
    // the run must have reached past the header checks, or it tested nothing.
    assert!(decoded > 100, "only {decoded} mutated datagrams decoded");
}

#[test]
fn random_bytes_never_panic() {
    let w = world();
    let mut rng = Rng::new(0x0ddb_a11c_afe0_0001);
    for _ in 0..4_000 {
        let len = rng.below(700);
        let mut b = rng.bytes(len);
        // Half of them get a plausible header prefix, so the body decoders are reached.
        if rng.below(2) == 0 && b.len() >= HEADER_LEN {
            b[0] = 1;
            b[1] = 1 + rng.below(17) as u8;
            let body_len = (b.len() - HEADER_LEN) as u16;
            b[26..28].copy_from_slice(&body_len.to_be_bytes());
            b[28..32].fill(0);
        }
        feed(&b, &w, None);
    }
}
