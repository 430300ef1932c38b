//! Wallet push: a 4-authority committee on loopback UDP (core authorities behind sockets)
//! where one authority dropped everything during a payment. The next payment needs that
//! authority's vote (another one is silent then); it answers with a wrong nonce, the wallet
//! pushes the certificate it missed from its data directory, and then gets its vote.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flashmesh_core::{Authority, AuthorityInfo, Committee, Genesis, Keypair};
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{CommitteeClient, PayOptions, Wallet, WalletDir};
use std::sync::Mutex;
use tokio::net::UdpSocket;

struct Node {
    authority: Arc<Mutex<Authority>>,
    deaf: Arc<AtomicBool>,
}

async fn node(authority: Authority, socket: UdpSocket) -> Node {
    let authority = Arc::new(Mutex::new(authority));
    let deaf = Arc::new(AtomicBool::new(false));
    let (a, d) = (authority.clone(), deaf.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if d.load(Ordering::SeqCst) {
                continue;
            }
            let handled = a.lock().unwrap().handle_datagram(&buf[..n], 0);
            if let Some(reply) = handled.reply.and_then(|e| e.encode().ok()) {
                let _ = socket.send_to(&reply, from).await;
            }
        }
    });
    Node { authority, deaf }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authority_that_missed_a_certificate_votes_after_the_wallets_push() {
    let tmp = tempfile::tempdir().unwrap();
    let payer = Keypair::from_seed(&[1; 32]);
    let payee = Keypair::from_seed(&[2; 32]).public();
    let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_seed(&[100 + i; 32])).collect();
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    let committee = Arc::new(
        Committee::new(
            keys.iter()
                .zip(&sockets)
                .enumerate()
                .map(|(i, (k, s))| AuthorityInfo {
                    name: format!("a{i}"),
                    public_key: k.public(),
                    weight: 1,
                    address: s.local_addr().unwrap().to_string(),
                })
                .collect(),
        )
        .unwrap(),
    );
    let genesis = Genesis::uniform([payer.public()], 100);
    let mut nodes = Vec::new();
    for (k, s) in keys.iter().zip(sockets) {
        let a = Authority::new(k.clone(), committee.clone(), &genesis).unwrap();
        nodes.push(node(a, s).await);
    }
    let transport = Arc::new(
        UdpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let client = CommitteeClient::new((*committee).clone(), transport).unwrap();
    let opts = PayOptions {
        retry_interval: Duration::from_millis(50),
        phase_timeout: Duration::from_secs(3),
        ..PayOptions::default()
    };
    let dir = WalletDir::open(&tmp.path().join("w")).unwrap();
    let mut wallet = Wallet::new(payer.clone(), client, dir, opts);

    // a3 hears nothing of the first payment
    nodes[3].deaf.store(true, Ordering::SeqCst);
    let first = wallet.pay(payee, 10, 0).await.unwrap();
    assert_eq!(first.catch_up_pushes, 0);
    assert_eq!(wallet.dir().read_certificates(0, 8).unwrap().len(), 1);
    let seq = |i: usize| {
        nodes[i]
            .authority
            .lock()
            .unwrap()
            .account(&payer.public())
            .map_or(0, |a| a.next_sequence)
    };
    assert_eq!(seq(3), 0, "a3 missed the certificate");

    // now a2 is silent and a3 listens: the quorum of 3 needs a3, which is one behind
    nodes[2].deaf.store(true, Ordering::SeqCst);
    nodes[3].deaf.store(false, Ordering::SeqCst);
    let second = wallet.pay(payee, 5, 0).await.unwrap();
    assert!(second.catch_up_pushes >= 1, "no push");
    assert!(
        second
            .certificate
            .signatures
            .iter()
            .any(|s| s.authority == keys[3].tag()),
        "a3's vote is in the certificate"
    );
    assert_eq!(seq(3), 2, "a3 applied both certificates");
    let bal = nodes[3]
        .authority
        .lock()
        .unwrap()
        .account(&payer.public())
        .unwrap()
        .balance(0);
    assert_eq!(bal, 85);
}
