//! Format freeze: golden bytes for every message type, built from fixed seeds.
//!
//! ed25519 signing is deterministic, so these bytes never change unless the wire format, the
//! canonical encoding or a signing domain changes. If this test fails, the format changed:
//! that breaks every deployed wallet, anchor and P4 parser, so change the golden bytes only
//! together with the FMH version.

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::messages::{ErrorMessage, Query, QueryReply, Receipt};
use flashmesh_core::wire::{HeaderRepr, MsgType};
use flashmesh_core::{
    Certificate, DEFAULT_TOKEN, Keypair, Rejection, SignedOrder, StateChange, TransferOrder, Vote,
};
use flashmesh_core::{Decode, Encode};

fn key(seed: u8) -> Keypair {
    Keypair::from_seed(&[seed; 32])
}

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let payer = key(0x11);
    let payee = key(0x22);
    let auths: Vec<Keypair> = (0..4).map(|i| key(0xa0 + i)).collect();
    let order = SignedOrder::sign(
        TransferOrder {
            sender: payer.public(),
            recipient: payee.public(),
            token: DEFAULT_TOKEN,
            amount: 1_000,
            nonce: 7,
            epoch: 42,
            ttl: 3,
        },
        &payer,
    );
    let votes: Vec<Vote> = auths
        .iter()
        .map(|a| Vote::sign(order.digest(), 7, a))
        .collect();
    let cert = Certificate::new(order, &votes[..3]);
    let req = Envelope::order(order).header;
    let receipt = Receipt::sign(order.digest(), 7, true, 8, &auths[0]);
    let query = Query {
        account: payer.public(),
        request: 0x0102_0304,
    };
    let reply = QueryReply::sign(
        0x0102_0304,
        payer.public(),
        7,
        vec![(0, 5_000), (9, 1)],
        Some(order),
        &auths[1],
    );
    let error = ErrorMessage::from_rejection(
        &Rejection::WrongNonce {
            expected: 8,
            got: 7,
        },
        Some(MsgType::Order),
        7,
        auths[2].tag(),
    );
    let probe = Envelope::new(
        HeaderRepr {
            msg_type: MsgType::Probe,
            retry: 0,
            flags: 1,
            epoch: 42,
            sender: auths[3].tag(),
            nonce: 99,
            ttl: 1,
            hop_limit: 16,
            body_len: 0,
        },
        Message::Opaque {
            msg_type: MsgType::Probe,
            body: vec![0xde, 0xad],
        },
    );
    let enc = |e: Envelope| e.encode().unwrap();
    vec![
        ("order", enc(Envelope::order(order))),
        (
            "vote",
            enc(Envelope::reply(&req, Message::Vote(votes[0]), 42)),
        ),
        ("certificate", enc(Envelope::certificate(cert.clone(), 43))),
        (
            "receipt",
            enc(Envelope::reply(&req, Message::Receipt(receipt), 43)),
        ),
        ("query", enc(Envelope::query(query, 42))),
        (
            "query_reply",
            enc(Envelope::reply(&req, Message::QueryReply(reply), 42)),
        ),
        (
            "error",
            enc(Envelope::reply(&req, Message::Error(error), 42)),
        ),
        ("probe", enc(probe)),
        (
            "state_change_lock",
            StateChange::Lock {
                order,
                vote: votes[0],
            }
            .to_bytes(),
        ),
        (
            "state_change_apply",
            StateChange::Apply { certificate: cert }.to_bytes(),
        ),
    ]
}

const GOLDEN: &[(&str, &str)] = &[
    (
        "order",
        "010100000000002a4a78877c4a0926fc00000000000000070310009900000000d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f00000000000000000000003e800000000000000070000002a03e8d64248512d11d10067b0e4c7046104dc7e70223c0c8c6d156bd2084896ea7a654690139795d52528fe0c6658733b523b958af334161f3ba5b1eda072eb1d0e",
    ),
    (
        "vote",
        "010200000000002a96f6ed35112ab92d00000000000000070110007000000000c959b3e480d1d4553a00a2eda85a83251c6d7777d22227ce4bc13a4f401a359b000000000000000796f6ed35112ab92de585f951bf44e2a54ed6c56adeb0a74f1cc75157342d7b3f4f8ed183bcf5dd24cbd3582d0a2d3bfa6f8b4d0bb2628705816c402fdc23ae9212038778c31b0a02",
    ),
    (
        "certificate",
        "010300000000002b4a78877c4a0926fc00000000000000070310017200000000d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f00000000000000000000003e800000000000000070000002a03e8d64248512d11d10067b0e4c7046104dc7e70223c0c8c6d156bd2084896ea7a654690139795d52528fe0c6658733b523b958af334161f3ba5b1eda072eb1d0e037bd6675cecfc1c7381307a49acda9ff30a1fcca62bb9d26b0922f8e23729e16fa3465eea46bad077d774d807817963659468beb78c536918a18d2fc62a86edb592a94777d453c90196f6ed35112ab92de585f951bf44e2a54ed6c56adeb0a74f1cc75157342d7b3f4f8ed183bcf5dd24cbd3582d0a2d3bfa6f8b4d0bb2628705816c402fdc23ae9212038778c31b0a02e48d2fb35ea3fa80a27919a4809498ee4954d0b9de1aaf78d5d8e059042b44c1dce575a545bb422834a84d5c0c3b1632c4eda7f531a2ec28720d8744d65e71c81f1c1973db535d01",
    ),
    (
        "receipt",
        "010400000000002b96f6ed35112ab92d00000000000000070110007900000000c959b3e480d1d4553a00a2eda85a83251c6d7777d22227ce4bc13a4f401a359b000000000000000701000000000000000896f6ed35112ab92d8f0fd6b25e2b9a910df7051e653acb91fc25b6fa0656144a04d1a9ab03a13219a475ae21b238ece37e159f3aa8fd1619d0bf9733c93a350b48719634e6cbec03",
    ),
    (
        "query",
        "010500000000002a4a78877c4a0926fc00000000010203040110002800000000d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c97787370000000001020304",
    ),
    (
        "query_reply",
        "010600000000002a7bd6675cecfc1c7300000000010203040110012c000000000000000001020304d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c97787370000000000000007000200000000000000000000138800000009000000000000000101d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f00000000000000000000003e800000000000000070000002a03e8d64248512d11d10067b0e4c7046104dc7e70223c0c8c6d156bd2084896ea7a654690139795d52528fe0c6658733b523b958af334161f3ba5b1eda072eb1d0e7bd6675cecfc1c73a30bd8d4091aec4586cfb08396b6fa527d0d0ef1274744d59f31bf99db0a1cc9992a6fbfe5f1b6bbba63a214103464672b161f41a1f3b5e99e390035083b640f",
    ),
    (
        "error",
        "010a00000000002ae48d2fb35ea3fa8000000000000000070110003300000000000d010000000000000007e48d2fb35ea3fa80001e77726f6e67206e6f6e63653a20657870656374656420382c20676f742037",
    ),
    (
        "probe",
        "010900010000002a856fd90be33a6d1a00000000000000630110000200000000dead",
    ),
    (
        "state_change_lock",
        "01d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f00000000000000000000003e800000000000000070000002a03e8d64248512d11d10067b0e4c7046104dc7e70223c0c8c6d156bd2084896ea7a654690139795d52528fe0c6658733b523b958af334161f3ba5b1eda072eb1d0ec959b3e480d1d4553a00a2eda85a83251c6d7777d22227ce4bc13a4f401a359b000000000000000796f6ed35112ab92de585f951bf44e2a54ed6c56adeb0a74f1cc75157342d7b3f4f8ed183bcf5dd24cbd3582d0a2d3bfa6f8b4d0bb2628705816c402fdc23ae9212038778c31b0a02",
    ),
    (
        "state_change_apply",
        "02d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f00000000000000000000003e800000000000000070000002a03e8d64248512d11d10067b0e4c7046104dc7e70223c0c8c6d156bd2084896ea7a654690139795d52528fe0c6658733b523b958af334161f3ba5b1eda072eb1d0e037bd6675cecfc1c7381307a49acda9ff30a1fcca62bb9d26b0922f8e23729e16fa3465eea46bad077d774d807817963659468beb78c536918a18d2fc62a86edb592a94777d453c90196f6ed35112ab92de585f951bf44e2a54ed6c56adeb0a74f1cc75157342d7b3f4f8ed183bcf5dd24cbd3582d0a2d3bfa6f8b4d0bb2628705816c402fdc23ae9212038778c31b0a02e48d2fb35ea3fa80a27919a4809498ee4954d0b9de1aaf78d5d8e059042b44c1dce575a545bb422834a84d5c0c3b1632c4eda7f531a2ec28720d8744d65e71c81f1c1973db535d01",
    ),
];

#[test]
fn golden_bytes() {
    let cases = cases();
    if std::env::var_os("FLASHMESH_PRINT_GOLDEN").is_some() {
        for (name, bytes) in &cases {
            println!("    (\"{name}\", \"{}\"),", hex::encode(bytes));
        }
    }
    assert_eq!(cases.len(), GOLDEN.len());
    for ((name, bytes), (gname, ghex)) in cases.iter().zip(GOLDEN) {
        assert_eq!(name, gname);
        assert_eq!(&hex::encode(bytes), ghex, "format of {name} changed");
    }
}

#[test]
fn golden_bytes_decode_and_verify() {
    for (name, hexstr) in GOLDEN {
        let bytes = hex::decode(hexstr).unwrap();
        if name.starts_with("state_change") {
            let c = StateChange::from_bytes(&bytes).unwrap();
            assert_eq!(c.to_bytes(), bytes);
            continue;
        }
        let env = Envelope::decode(&bytes).unwrap();
        assert_eq!(env.encode().unwrap(), bytes, "{name}");
        if let Message::Order(o) = env.message {
            o.check().unwrap();
        }
    }
}

/// The canonical encoding of a fixed policy body, as the controller writes it (frozen there too,
/// in `controller/tests/policy_freeze.rs`): operators sign its `DOMAIN_POLICY` digest.
const POLICY_BODY_ENCODING: &str = "0000000000000007000000006b49d2000000000a667265657a6520e29c93000000070100070200070300070401030801030900070a0201030000000000003039000000000000001900000004000000000000005a00000003010203";
const POLICY_BODY_DIGEST: &str = "1d1a59a3caa8eb294d0397ce9e29615cee7ef4aee618182541f9dc691a80285d";

#[test]
fn policy_digest_is_frozen() {
    use flashmesh_core::digest::{DOMAIN_POLICY, Digest};
    assert_eq!(DOMAIN_POLICY, "flashmesh 2026-11 policy bundle body v1");
    let body = hex::decode(POLICY_BODY_ENCODING).unwrap();
    let d = Digest::of(DOMAIN_POLICY, &body);
    assert_eq!(d.to_hex(), POLICY_BODY_DIGEST, "policy digest changed");
    // An operator signs the digest with strict ed25519, deterministically.
    let op = key(0x5a);
    assert_eq!(
        op.public().to_hex(),
        "0d7550754e0800a5d237eef5826035766b9b3e5a15868a940ab289958788e3b0"
    );
    let sig = op.sign_digest(&d);
    assert_eq!(
        sig.to_hex(),
        "9e200a7df683d35ac06a52c51b4f185093da6731b4a2efc8fc2c5b5b43efd3586decd3e3fce3e9335c90ac568f8e84f5687ca0818e45f6baf0fc9d9d906a310d"
    );
    op.public().verify_digest(&d, &sig).unwrap();
}

#[test]
fn controller_probe_tag_is_frozen() {
    use flashmesh_core::Tag;
    use flashmesh_core::digest::DOMAIN_CONTROLLER_TAG;
    assert_eq!(
        DOMAIN_CONTROLLER_TAG,
        "flashmesh 2026-11 controller probe tag v1"
    );
    assert_eq!(
        Tag::derive(DOMAIN_CONTROLLER_TAG, b"m1").to_hex(),
        "d2d9c4375ee31451"
    );
}

/// blake3 of the snapshot bytes of the state in `snapshot_is_frozen` (anchors keep snapshots on
/// disk across upgrades).
const SNAPSHOT_BLAKE3: &str = "252637ce6f00a8976dfd19135957f68cd40ad8e642c9aad47f0fe7d022a0a334";

#[test]
fn snapshot_is_frozen() {
    use flashmesh_core::{Authority, AuthorityInfo, Committee, Genesis};
    let auths: Vec<Keypair> = (0..4).map(|i| key(0xa0 + i)).collect();
    let committee = Committee::new(
        auths
            .iter()
            .enumerate()
            .map(|(i, k)| AuthorityInfo {
                name: format!("a{i}"),
                public_key: k.public(),
                weight: 1,
                address: format!("10.0.0.{i}:47474"),
            })
            .collect(),
    )
    .unwrap();
    let (payer, payee) = (key(0x11), key(0x22));
    let genesis = Genesis::uniform([payer.public(), payee.public()], 5_000);
    let mut a = Authority::new(auths[0].clone(), committee.clone(), &genesis).unwrap();
    let order = SignedOrder::sign(
        TransferOrder {
            sender: payer.public(),
            recipient: payee.public(),
            token: DEFAULT_TOKEN,
            amount: 1_000,
            nonce: 0,
            epoch: 42,
            ttl: 3,
        },
        &payer,
    );
    let votes: Vec<Vote> = auths
        .iter()
        .map(|k| Vote::sign(order.digest(), 0, k))
        .collect();
    a.handle_certificate(Certificate::new(order, &votes[..3]))
        .unwrap();
    let next = SignedOrder::sign(
        TransferOrder {
            sender: payee.public(),
            recipient: payer.public(),
            token: DEFAULT_TOKEN,
            amount: 10,
            nonce: 0,
            epoch: 42,
            ttl: 3,
        },
        &payee,
    );
    a.handle_order(next, 42).unwrap();
    let bytes = a.snapshot();
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        SNAPSHOT_BLAKE3,
        "snapshot format changed"
    );
    let back =
        Authority::from_snapshot(auths[0].clone(), committee.clone(), &genesis, &bytes).unwrap();
    assert_eq!(back.snapshot(), bytes);
    // Version 2 (no handoff section, no moved byte per account) and version 1 (no money
    // flows either) snapshots of the same state still load, to the same state.
    let body = &bytes[..bytes.len() - 32];
    assert_eq!(
        &body[body.len() - 28..],
        &[0u8; 28],
        "empty flows and handoffs"
    );
    let vote_len = votes[0].encoded_len();
    let mut accounts = Vec::new();
    let mut at = 8 + 32 + 8;
    for _ in 0..2 {
        let start = at;
        at += 32 + 8;
        let n = u32::from_be_bytes(body[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + 12 * n;
        at += 1 + match body[at] {
            0 => 0,
            1 => flashmesh_core::messages::SIGNED_ORDER_LEN + vote_len,
            t => panic!("pending tag {t}"),
        };
        accounts.push(&body[start..at]);
        assert_eq!(body[at], 0, "not moved");
        at += 1;
    }
    for (magic, tail) in [(b"FMSNAP02", 12), (b"FMSNAP01", 0)] {
        let mut old = magic.to_vec();
        old.extend_from_slice(&body[8..8 + 32 + 8]);
        for a in &accounts {
            old.extend_from_slice(a);
        }
        old.extend_from_slice(&[0u8; 12][..tail]);
        let sum = blake3::hash(&old);
        old.extend_from_slice(sum.as_bytes());
        let restored =
            Authority::from_snapshot(auths[0].clone(), committee.clone(), &genesis, &old).unwrap();
        assert_eq!(restored.snapshot(), bytes);
    }
}

/// Withdrawals, deposits and settlements: the datagrams and journal records, hashed together.
#[test]
fn withdrawal_deposit_and_settlement_are_frozen() {
    use flashmesh_core::messages::{
        Funding, FundingCertificate, Settlement, SignedWithdrawal, WithdrawalCertificate,
        WithdrawalOrder,
    };
    use flashmesh_core::{Committee, GatewayInfo, digest::Digest};
    let owner = key(0x31);
    let gw = key(0x41);
    let auths: Vec<Keypair> = (0..4).map(|i| key(0xa0 + i)).collect();
    let committee = Committee::new(
        auths
            .iter()
            .enumerate()
            .map(|(i, k)| flashmesh_core::AuthorityInfo {
                name: format!("a{i}"),
                public_key: k.public(),
                weight: 1,
                address: format!("127.0.0.1:{}", 47474 + i),
            })
            .collect(),
    )
    .unwrap()
    .with_gateways(vec![GatewayInfo {
        name: "gw".into(),
        public_key: gw.public(),
        address: "127.0.0.1:47480".into(),
    }])
    .unwrap();
    let w = SignedWithdrawal::sign(
        WithdrawalOrder {
            account: owner.public(),
            token: 0,
            amount: 250,
            recipient: b"primary:acct-1".to_vec(),
            nonce: 2,
            epoch: 42,
            ttl: 3,
        },
        &owner,
    );
    let votes: Vec<Vote> = auths
        .iter()
        .map(|a| Vote::sign(flashmesh_core::messages::OwnedOrder::digest(&w), 2, a))
        .collect();
    let cert = WithdrawalCertificate::new(w.clone(), &votes[..3]);
    let funding = FundingCertificate::sign(
        Funding {
            committee: committee.id(),
            gateway: gw.public(),
            account: owner.public(),
            token: 0,
            amount: 1_000,
            sequence: 5,
            reference: Digest::of("flash-mesh test reference", b"bank-1"),
        },
        &gw,
    );
    let settlement = Settlement {
        withdrawal: flashmesh_core::messages::OwnedOrder::digest(&w),
        account: owner.public(),
        nonce: 2,
        token: 0,
        amount: 250,
        reference: 9,
        settled_at_ms: 1_800_000_000_000,
        first: true,
        gateway: gw.public(),
        signature: flashmesh_core::keys::Signature([0; 64]),
    }
    .sign(&gw);
    let mut all = Vec::new();
    let datagrams = [
        Envelope::withdrawal(w.clone()),
        Envelope::withdrawal_certificate(cert.clone(), 43),
        Envelope::deposit(funding, 43),
    ];
    for d in &datagrams {
        let b = d.encode().unwrap();
        assert_eq!(Envelope::decode(&b).unwrap().message, d.message);
        all.extend_from_slice(&b);
    }
    all.extend_from_slice(&settlement.to_bytes());
    for c in [
        StateChange::LockWithdrawal {
            order: w,
            vote: votes[0],
        },
        StateChange::ApplyWithdrawal { certificate: cert },
        StateChange::Deposit { funding },
    ] {
        let b = c.to_bytes();
        assert_eq!(StateChange::from_bytes(&b).unwrap(), c);
        all.extend_from_slice(&b);
    }
    let hash = blake3::hash(&all).to_hex().to_string();
    if std::env::var_os("FLASHMESH_PRINT_GOLDEN").is_some() {
        println!("withdrawal golden: {hash}");
    }
    assert_eq!(
        hash, WITHDRAWAL_BLAKE3,
        "withdrawal, deposit or settlement format changed"
    );
}

const WITHDRAWAL_BLAKE3: &str = "c63d234db52502f918bff36c73c265809da8fb142cd1fb65cbd0840d78ebf1e9";

/// Handoffs: the order and certificate datagrams and the three journal records, hashed
/// together.
#[test]
fn handoff_is_frozen() {
    use flashmesh_core::digest::Digest;
    use flashmesh_core::messages::{HandoffCertificate, HandoffOrder, OwnedOrder, SignedHandoff};
    let owner = key(0x32);
    let auths: Vec<Keypair> = (0..4).map(|i| key(0xa0 + i)).collect();
    let h = SignedHandoff::sign(
        HandoffOrder {
            account: owner.public(),
            from: Digest::of("flash-mesh test committee", b"A"),
            to: Digest::of("flash-mesh test committee", b"B"),
            balances: vec![(0, 700), (4, 12)],
            nonce: 6,
            epoch: 42,
            ttl: 3,
        },
        &owner,
    );
    let votes: Vec<Vote> = auths
        .iter()
        .map(|a| Vote::sign(OwnedOrder::digest(&h), 6, a))
        .collect();
    let cert = HandoffCertificate::new(h.clone(), &votes[1..]);
    let mut all = Vec::new();
    for d in [
        Envelope::handoff(h.clone()),
        Envelope::handoff_certificate(cert.clone(), 43),
    ] {
        let b = d.encode().unwrap();
        assert_eq!(Envelope::decode(&b).unwrap().message, d.message);
        all.extend_from_slice(&b);
    }
    for c in [
        StateChange::LockHandoff {
            order: h,
            vote: votes[0],
        },
        StateChange::HandOut {
            certificate: cert.clone(),
        },
        StateChange::HandIn { certificate: cert },
    ] {
        let b = c.to_bytes();
        assert_eq!(StateChange::from_bytes(&b).unwrap(), c);
        all.extend_from_slice(&b);
    }
    let hash = blake3::hash(&all).to_hex().to_string();
    if std::env::var_os("FLASHMESH_PRINT_GOLDEN").is_some() {
        println!("handoff golden: {hash}");
    }
    assert_eq!(hash, HANDOFF_BLAKE3, "handoff format changed");
}

const HANDOFF_BLAKE3: &str = "be36080a896f697a62598f8e829ac67e786d5e75d9f64ed0b9ae9b02b95bbbd5";
