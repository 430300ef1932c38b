//! Format freeze of what operators sign and what probes carry: the canonical encoding of a fixed
//! policy body, its digest, a fixed operator key's signature over it, a controller's probe
//! sender tag and a whole probe frame.
//!
//! ed25519 signing is deterministic, so these never change unless the canonical encoding, the
//! policy domain, the tag derivation or the probe layout changes. If this test fails, every
//! signed bundle and audit log in the field stops verifying (or the switches stop reflecting
//! probes): change the literals only together with a new policy domain.

use std::net::Ipv4Addr;

use flashmesh_controller::OperatorKey;
use flashmesh_controller::policy::bundle::OperatorSignature;
use flashmesh_controller::policy::digest::canonical_encoding;
use flashmesh_controller::policy::{ClassRule, PolicyBundle, PolicySettings, PolicyVerifier};
use flashmesh_controller::runtime::config::sender_tag;
use flashmesh_controller::sdn::probe::{self, Probe};

fn bundle() -> PolicyBundle {
    // Every field is set here, so that a change of the defaults does not touch the freeze.
    let mut settings = PolicySettings::default();
    let rule = |msg_type, class, priority| ClassRule {
        msg_type,
        class,
        priority,
    };
    settings.classes = vec![
        rule(1, 0, 7),
        rule(2, 0, 7),
        rule(3, 0, 7),
        rule(4, 1, 3),
        rule(8, 1, 3),
        rule(9, 0, 7),
        rule(10, 2, 1),
    ];
    settings.retry_allowance = 3;
    settings.epoch_length_ms = 12_345;
    settings.probe_interval_ms = 25;
    settings.probe_miss_count = 4;
    settings.penalty_secs = 90;
    settings.dedup_types = vec![1, 2, 3];
    let mut b = PolicyBundle::new(7, 1_800_000_000, settings);
    b.body.note = "freeze ✓".into();
    b
}

fn operator() -> OperatorKey {
    OperatorKey::from_seed([0x5a; 32])
}

const ENCODING: &str = "0000000000000007000000006b49d2000000000a667265657a6520e29c93000000070100070200070300070401030801030900070a0201030000000000003039000000000000001900000004000000000000005a00000003010203";
const DIGEST: &str = "1d1a59a3caa8eb294d0397ce9e29615cee7ef4aee618182541f9dc691a80285d";
const OPERATOR_PUBLIC: &str = "0d7550754e0800a5d237eef5826035766b9b3e5a15868a940ab289958788e3b0";
const SIGNATURE: &str = "9e200a7df683d35ac06a52c51b4f185093da6731b4a2efc8fc2c5b5b43efd3586decd3e3fce3e9335c90ac568f8e84f5687ca0818e45f6baf0fc9d9d906a310d";
const SENDER_TAG_M1: &str = "d2d9c4375ee31451";
const PROBE_FRAME: &str = "02000000000202000000000108004500005a00004000401126910a0000010a000002b972b97200460000010900010000002ad2d9c4375ee314510102030405060708ff01001e00000000464d5042d2d9c4375ee314510003010203040506070800000000075bcd15";

fn probe_frame() -> Vec<u8> {
    let p = Probe {
        origin: sender_tag("m1"),
        port: 3,
        seq: 0x0102_0304_0506_0708,
        sent_ns: 123_456_789,
        epoch: 42,
        reply: true,
    };
    probe::build(
        &p,
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 2],
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
    )
}

#[test]
fn policy_digest_and_signature_are_frozen() {
    let mut b = bundle();
    let op = operator();
    op.sign(&mut b);
    let encoding = hex::encode(canonical_encoding(&b.body));
    let digest = b.digest_hex();
    let sig = &b.signatures[0];
    let tag = sender_tag("m1").to_hex();
    let frame = hex::encode(probe_frame());
    if std::env::var_os("FLASHMESH_PRINT_GOLDEN").is_some() {
        println!("const ENCODING: &str = \"{encoding}\";");
        println!("const DIGEST: &str = \"{digest}\";");
        println!("const OPERATOR_PUBLIC: &str = \"{}\";", sig.key);
        println!("const SIGNATURE: &str = \"{}\";", sig.signature);
        println!("const SENDER_TAG_M1: &str = \"{tag}\";");
        println!("const PROBE_FRAME: &str = \"{frame}\";");
    }
    assert_eq!(encoding, ENCODING, "canonical policy encoding changed");
    assert_eq!(digest, DIGEST, "policy digest changed");
    assert_eq!(sig.key, OPERATOR_PUBLIC);
    assert_eq!(op.public_hex(), OPERATOR_PUBLIC);
    assert_eq!(sig.signature, SIGNATURE, "operator signature changed");
    assert_eq!(tag, SENDER_TAG_M1, "probe sender tag derivation changed");
    assert_eq!(frame, PROBE_FRAME, "probe frame changed");
}

#[test]
fn a_bundle_signed_with_the_frozen_signature_still_verifies() {
    let mut b = bundle();
    b.signatures.push(OperatorSignature {
        key: OPERATOR_PUBLIC.into(),
        signature: SIGNATURE.into(),
    });
    let verifier = PolicyVerifier::from_hex(&[OPERATOR_PUBLIC.to_string()], 1).unwrap();
    let v = verifier.verify(&b, Some(6), 1_700_000_000).unwrap();
    assert_eq!(v.digest, DIGEST);
    assert_eq!(v.signers, vec![OPERATOR_PUBLIC.to_string()]);
    b.body.note.push('!');
    assert_eq!(
        verifier
            .verify(&b, Some(6), 1_700_000_000)
            .unwrap_err()
            .kind(),
        "tampered"
    );
}

#[test]
fn the_frozen_probe_frame_parses() {
    let frame = hex::decode(PROBE_FRAME).unwrap();
    let p = probe::parse(&frame).unwrap();
    assert_eq!(p.port, 3);
    assert_eq!(p.seq, 0x0102_0304_0506_0708);
    assert_eq!(p.sent_ns, 123_456_789);
    assert_eq!(p.epoch, 42);
    assert!(p.reply);
    assert_eq!(p.origin, sender_tag("m1"));
}
