//! Fuzz target: feed a sequence of datagrams to an authority of a 4-member committee.
//!
//! The input is split into chunks (u16 big-endian length, then bytes). A chunk whose first byte
//! is 0xff is a *structured* step that signs a well-formed order or certificate from the
//! chunk's bytes (so the fuzzer reaches deep states); any other chunk is fed as raw datagram
//! bytes. After every step: no panic, supply conserved, and a reply (if any) encodes and
//! decodes.

#![no_main]

use std::sync::{Arc, OnceLock};

use flashmesh_core::envelope::Envelope;
use flashmesh_core::{
    Authority, AuthorityInfo, Certificate, Committee, Genesis, Keypair, SignedOrder, TransferOrder,
    Vote,
};
use libfuzzer_sys::fuzz_target;

struct Setup {
    keys: Vec<Keypair>,
    users: Vec<Keypair>,
    committee: Arc<Committee>,
    genesis: Genesis,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let keys: Vec<Keypair> = (0..4u8)
            .map(|i| Keypair::from_seed(&[100 + i; 32]))
            .collect();
        let users: Vec<Keypair> = (0..3u8).map(|i| Keypair::from_seed(&[1 + i; 32])).collect();
        let committee = Arc::new(
            Committee::new(
                keys.iter()
                    .enumerate()
                    .map(|(i, k)| AuthorityInfo {
                        name: format!("a{i}"),
                        public_key: k.public(),
                        weight: 1,
                        address: format!("127.0.0.1:{}", 47474 + i),
                    })
                    .collect(),
            )
            .expect("valid committee"),
        );
        let genesis = Genesis::uniform(users.iter().map(Keypair::public), 1000);
        Setup {
            keys,
            users,
            committee,
            genesis,
        }
    })
}

fn byte(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

/// Builds a signed order, and a certificate of it with `signers` votes, from fuzz bytes.
fn structured(s: &Setup, d: &[u8]) -> Vec<u8> {
    let from = byte(d, 1) as usize % s.users.len();
    let to = byte(d, 2) as usize % s.users.len();
    let order = SignedOrder::sign(
        TransferOrder {
            sender: s.users[from].public(),
            recipient: s.users[to].public(),
            token: u32::from(byte(d, 3) % 2),
            amount: u64::from(byte(d, 4)) * 8,
            nonce: u64::from(byte(d, 5) % 4),
            epoch: u32::from(byte(d, 6) % 8),
            ttl: byte(d, 7) % 4,
        },
        &s.users[from],
    );
    let signers = byte(d, 8) as usize % 6;
    let env = if signers == 0 {
        Envelope::order(order)
    } else {
        let votes: Vec<Vote> = (0..signers)
            .map(|i| Vote::sign(order.digest(), order.order().nonce, &s.keys[i % 4]))
            .collect();
        let mut cert = Certificate::new(order, &votes);
        if byte(d, 9) & 1 == 1 && !cert.signatures.is_empty() {
            let dup = cert.signatures[0];
            cert.signatures.push(dup);
        }
        Envelope::certificate(cert, u32::from(byte(d, 10) % 8))
    };
    env.encode().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let mut authority =
        Authority::new(s.keys[0].clone(), s.committee.clone(), &s.genesis).expect("authority");
    let supply = authority.supply();
    let mut rest = data;
    let mut epoch = 3u32;
    while rest.len() >= 2 {
        let n = (usize::from(rest[0]) << 8 | usize::from(rest[1])) % 1600;
        rest = &rest[2..];
        let chunk = &rest[..n.min(rest.len())];
        rest = &rest[chunk.len()..];
        let bytes = if chunk.first() == Some(&0xff) {
            structured(s, chunk)
        } else {
            chunk.to_vec()
        };
        epoch = epoch.wrapping_add(u32::from(byte(chunk, 11) % 2));
        let handled = authority.handle_datagram(&bytes, epoch);
        if let Some(reply) = handled.reply {
            let encoded = reply.encode().expect("replies fit in a datagram");
            Envelope::decode(&encoded).expect("replies decode");
        }
        if let Some(change) = &handled.persist {
            authority.mark_persisted(change);
        }
        assert_eq!(authority.supply(), supply, "supply changed");
    }
});
