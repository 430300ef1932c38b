//! The gateway's datagram triage under arbitrary input, from a fixed seed: random bytes and
//! mutations of a valid withdrawal certificate never panic, and nothing but the certificate's
//! own body (any header bits the body does not bind aside) is ever sent to the ledger. The
//! cargo-fuzz target `gateway_datagram` searches the same property without a bound.

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::messages::{
    OwnedOrder, SignedWithdrawal, WithdrawalCertificate, WithdrawalOrder,
};
use flashmesh_core::testing::mutation::Rng;
use flashmesh_core::testing::{Fixture, authority_keys, committee_of, fixture};
use flashmesh_core::wire::HEADER_LEN;
use flashmesh_core::{ErrorCode, Vote};
use flashmesh_gateway::server::{Triage, triage};

fn certificate(f: &Fixture, signers: usize) -> WithdrawalCertificate {
    let owner = &f.users[0];
    let order = SignedWithdrawal::sign(
        WithdrawalOrder {
            account: owner.public(),
            token: 0,
            amount: 250,
            recipient: b"primary:acct-1".to_vec(),
            nonce: 0,
            epoch: 0,
            ttl: 3,
        },
        owner,
    );
    let votes: Vec<Vote> = f.keys[..signers]
        .iter()
        .map(|k| Vote::sign(OwnedOrder::digest(&order), 0, k))
        .collect();
    WithdrawalCertificate::new(order, &votes)
}

fn bytes(e: Envelope) -> Vec<u8> {
    e.encode().unwrap()
}

#[test]
fn a_quorum_settles_and_everything_else_is_refused_by_kind() {
    let f = fixture(4, 2, 1_000);
    let good = bytes(Envelope::withdrawal_certificate(certificate(&f, 3), 0));
    assert!(matches!(triage(&good, &f.committee), Triage::Settle { .. }));

    let short = bytes(Envelope::withdrawal_certificate(certificate(&f, 2), 0));
    let Triage::Refuse(_, r) = triage(&short, &f.committee) else {
        panic!("an under-quorum certificate was not refused")
    };
    assert_eq!(r.code(), ErrorCode::BelowQuorum);

    let other_committee = committee_of(&authority_keys(4, 200), 47000);
    let Triage::Refuse(_, r) = triage(&good, &other_committee) else {
        panic!("another committee's certificate was not refused")
    };
    assert_eq!(r.code(), ErrorCode::UnknownSigner);

    let order = bytes(Envelope::order(f.order(0, 1, 5, 0)));
    let Triage::Refuse(_, r) = triage(&order, &f.committee) else {
        panic!("a transfer order was not refused")
    };
    assert_eq!(r.code(), ErrorCode::NotServed);

    let request = Envelope::order(f.order(0, 1, 5, 0)).header;
    let vote = Vote::sign(f.order(0, 1, 5, 0).digest(), 0, &f.keys[0]);
    let reply = bytes(Envelope::reply(&request, Message::Vote(vote), 0));
    assert!(matches!(triage(&reply, &f.committee), Triage::Reply));

    assert!(matches!(
        triage(&good[..good.len() - 1], &f.committee),
        Triage::Malformed(_)
    ));
}

#[test]
fn mutated_and_random_datagrams_never_reach_the_ledger() {
    let f = fixture(4, 2, 1_000);
    let good = bytes(Envelope::withdrawal_certificate(certificate(&f, 3), 0));
    let Triage::Settle { row: good_row, .. } = triage(&good, &f.committee) else {
        panic!("the sample does not settle")
    };
    let mut rng = Rng::new(0xfee1_900d_0bad_cafe);
    let (mut settled, mut refused, mut malformed) = (0, 0, 0);
    for i in 0..6_000 {
        let input = if i % 4 == 0 {
            let len = rng.below(600);
            rng.bytes(len)
        } else {
            rng.mutate(&good)
        };
        match triage(&input, &f.committee) {
            Triage::Settle { row, .. } => {
                assert_eq!(
                    &input[HEADER_LEN..],
                    &good[HEADER_LEN..],
                    "a changed certificate body was accepted"
                );
                assert_eq!(row.certificate_digest, good_row.certificate_digest);
                settled += 1;
            }
            Triage::Refuse(..) => refused += 1,
            Triage::Malformed(_) => malformed += 1,
            Triage::Reply => {}
        }
    }
    // Header-only mutations still settle, others are refused after decoding: both paths ran.
    assert!(
        settled > 0 && refused > 0 && malformed > 0,
        "{settled} {refused} {malformed}"
    );
}
