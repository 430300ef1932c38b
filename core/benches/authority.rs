//! `cargo bench -p flashmesh-core`: per-core cost of the authority's hot paths, printed as
//! operations per second next to the ed25519 verify-then-sign ceiling measured in the same run.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use flashmesh_core::envelope::Envelope;
use flashmesh_core::testing::{authority_keys, committee_of};
use flashmesh_core::{
    Authority, Certificate, DEFAULT_TOKEN, Genesis, Keypair, SignedOrder, TransferOrder, Vote,
};

const N: usize = 4000;

fn rate(label: &str, n: usize, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    let per_sec = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "{label:<44} {per_sec:>10.0} /s  ({:.1} µs each)",
        1e6 / per_sec
    );
    per_sec
}

fn main() {
    let keys = authority_keys(4, 200);
    let committee = Arc::new(committee_of(&keys, 47474));
    let users: Vec<Keypair> = (0..N)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            Keypair::from_seed(&seed)
        })
        .collect();
    let payee = Keypair::from_seed(&[255; 32]).public();
    let genesis = Genesis::uniform(users.iter().map(Keypair::public), 1_000);
    let orders: Vec<SignedOrder> = users
        .iter()
        .map(|u| {
            SignedOrder::sign(
                TransferOrder {
                    sender: u.public(),
                    recipient: payee,
                    token: DEFAULT_TOKEN,
                    amount: 10,
                    nonce: 0,
                    epoch: 1,
                    ttl: 2,
                },
                u,
            )
        })
        .collect();
    let datagrams: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| Envelope::order(*o).encode().unwrap())
        .collect();

    println!("flashmesh-core authority hot paths, one core, {N} operations each");
    let ceiling = rate("crypto ceiling (verify order + sign vote)", N, || {
        for o in &orders {
            o.check().unwrap();
            black_box(Vote::sign(o.digest(), 0, &keys[0]));
        }
    });
    rate("verify order only (SignedOrder::check)", N, || {
        for o in &orders {
            o.check().unwrap();
        }
    });
    rate("decompress public key", N, || {
        for o in &orders {
            black_box(o.order().recipient.verifying_key().unwrap());
        }
    });
    rate("verify_strict only (key decompressed)", N, || {
        for o in &orders {
            let vk = o.order().sender.verifying_key().unwrap();
            vk.verify_strict(&o.digest().0, &o.signature().to_dalek())
                .unwrap();
        }
    });
    rate("sign vote only", N, || {
        for o in &orders {
            black_box(Vote::sign(o.digest(), 0, &keys[0]));
        }
    });
    rate("decode ORDER datagram", N, || {
        for d in &datagrams {
            black_box(Envelope::decode(d).unwrap());
        }
    });
    let mut a = Authority::new(keys[0].clone(), committee.clone(), &genesis).unwrap();
    let per_order = rate("handle_order", N, || {
        for o in &orders {
            black_box(a.handle_order(*o, 1).unwrap());
        }
    });
    let mut a = Authority::new(keys[0].clone(), committee.clone(), &genesis).unwrap();
    let per_datagram = rate("handle_datagram(ORDER) + encode reply", N, || {
        for d in &datagrams {
            let h = a.handle_datagram(d, 1);
            black_box(h.reply.unwrap().encode().unwrap());
        }
    });
    rate("handle_order repeat (stored vote)", N, || {
        for o in &orders {
            black_box(a.handle_order(*o, 1).unwrap());
        }
    });
    let certs: Vec<Certificate> = orders
        .iter()
        .map(|o| {
            let votes: Vec<Vote> = keys[..3]
                .iter()
                .map(|k| Vote::sign(o.digest(), 0, k))
                .collect();
            Certificate::new(*o, &votes)
        })
        .collect();
    rate("handle_certificate (batch verify 4 + sign)", N, || {
        for c in &certs {
            black_box(a.handle_certificate(c.clone()).unwrap());
        }
    });
    let ceiling = ceiling.max(rate("crypto ceiling again", N, || {
        for o in &orders {
            o.check().unwrap();
            black_box(Vote::sign(o.digest(), 0, &keys[0]));
        }
    }));
    println!("handle_order / ceiling ratio: {:.2}", per_order / ceiling);
    println!(
        "handle_datagram / ceiling ratio: {:.2}",
        per_datagram / ceiling
    );
}
