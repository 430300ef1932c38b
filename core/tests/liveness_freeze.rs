//! Format freeze of the liveness datagrams (HEARTBEAT, SYNC): golden bytes from fixed seeds, as
//! in `format_freeze.rs`. A failure means the wire format or a signing domain changed; change
//! the golden bytes only together with the FMH version.

use flashmesh_core::digest::{DOMAIN_HEARTBEAT, DOMAIN_SYNC};
use flashmesh_core::messages::{Heartbeat, Liveness, SyncRequest};
use flashmesh_core::{Envelope, Keypair};

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let a = Keypair::from_seed(&[0xa0; 32]);
    let b = Keypair::from_seed(&[0xa1; 32]);
    let hb = Heartbeat::sign(42, 0x0001_0203_0405_0607, 1_000, &a);
    let sync = SyncRequest::sign(b.tag(), 42, 0x0001_0203_0405_0608, 900, 64, &a);
    vec![
        (
            "heartbeat",
            Liveness::Heartbeat(hb).envelope().encode().unwrap(),
        ),
        ("sync", Liveness::Sync(sync).envelope().encode().unwrap()),
    ]
}

const GOLDEN: &[(&str, &str)] = &[
    (
        "heartbeat",
        "011000000000002a96f6ed35112ab92d00010203040506070110005c0000000096f6ed35112ab92d0000002a000102030405060700000000000003e80848de3dc2a9f7a8618a86b720f4b85c43fb56ac5b9267421ce38b8b29187260d7ecf4ce77b02b57ec838cc9afe801d7b97c7871dfccfd1a7222e9339eb1cc0e",
    ),
    (
        "sync",
        "011100000000002a96f6ed35112ab92d0001020304050608011000680000000096f6ed35112ab92d7bd6675cecfc1c730000002a00010203040506080000000000000384000000404c9a499e5fd0306ebd90bd4cd9910feb71cbcb02c1e5d268b568d786bb0253ee2afb3967c294e64d9c8bd2dec0d70a82c3de71c7d40da2e015c2907b2f484406",
    ),
];

#[test]
fn golden_bytes() {
    assert_eq!(DOMAIN_HEARTBEAT, "flash-mesh v1 heartbeat");
    assert_eq!(DOMAIN_SYNC, "flash-mesh v1 sync-request");
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
    let a = Keypair::from_seed(&[0xa0; 32]);
    let b = Keypair::from_seed(&[0xa1; 32]);
    let committee = flashmesh_core::testing::committee_of_one(&a);
    for (name, hexstr) in GOLDEN {
        let bytes = hex::decode(hexstr).unwrap();
        let env = Envelope::decode(&bytes).unwrap();
        assert_eq!(env.encode().unwrap(), bytes, "{name}");
        match Liveness::from_message(&env.message).unwrap().unwrap() {
            Liveness::Heartbeat(h) => {
                h.verify(&committee).unwrap();
            }
            Liveness::Sync(s) => {
                assert_eq!(s.peer, b.tag());
                let mut to = s;
                to.peer = a.tag();
                assert!(to.verify(&committee, &a.tag()).is_err(), "signed peer");
            }
        }
    }
}
