//! Handoff on real anchors (durable stores, UDP on loopback): committees A and B of four
//! anchors each, neighbours in their committee files, and C of one anchor (a neighbour of A
//! only). A wallet pays in A, moves to B, and pays in B; A refuses the moved account; the
//! certificate arrives at B once and means nothing to C; a payment and a handoff raced for
//! the same nonce never both certify. Prints the handoff time and the interruption window.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::messages::{HandoffOrder, OwnedOrder, SignedHandoff};
use flashmesh_core::{Committee, ErrorCode, Keypair, Neighbour, SignedOrder, TransferOrder};
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{
    CommitteeClient, PayOptions, Wallet, WalletDir, certify_handoff, collect_votes, confirm_handoff,
};
use merchant_anchor::{Anchor, InitOptions, LocalCommittee, Ports, init_committee};
use tokio::net::UdpSocket;

fn opts() -> PayOptions {
    PayOptions {
        retry_interval: Duration::from_millis(100),
        phase_timeout: Duration::from_secs(5),
        epoch: 0,
        payee: None,
    }
}

async fn client(committee: &Committee) -> CommitteeClient {
    let t = Arc::new(
        UdpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    CommitteeClient::new(committee.clone(), t).unwrap()
}

fn setup(dir: &std::path::Path, name: &str, n: usize, accounts: usize) -> LocalCommittee {
    init_committee(
        &dir.join(name),
        &InitOptions {
            authorities: n,
            accounts,
            balance: 1000,
            ports: Ports::Free,
            workers: 1,
            ..InitOptions::default()
        },
    )
    .unwrap()
}

fn neighbour(name: &str, c: &Committee) -> Neighbour {
    Neighbour {
        name: name.into(),
        committee: Arc::new(c.clone()),
    }
}

/// Sends `datagram` to `addr` and returns the first decodable answer (a few tries).
async fn ask(sock: &UdpSocket, addr: &str, datagram: &[u8]) -> Option<Message> {
    let addr: SocketAddr = addr.parse().unwrap();
    let mut buf = vec![0u8; 65_536];
    for _ in 0..5 {
        sock.send_to(datagram, addr).await.unwrap();
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await
            && from == addr
            && let Ok(env) = Envelope::decode(&buf[..n])
        {
            return Some(env.message);
        }
    }
    None
}

fn order(from: &Keypair, to: &Keypair, amount: u64, nonce: u64) -> SignedOrder {
    SignedOrder::sign(
        TransferOrder {
            sender: from.public(),
            recipient: to.public(),
            token: 0,
            amount,
            nonce,
            epoch: 0,
            ttl: 8,
        },
        from,
    )
}

fn balance_at(anchor: &Anchor, key: &Keypair) -> (u64, Option<flashmesh_core::digest::Digest>) {
    let a = anchor.authority().lock();
    a.account(&key.public())
        .map_or((0, None), |s| (s.balance(0), s.moved))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_moves_between_committees_and_its_money_is_spendable_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let la = setup(dir.path(), "a", 4, 6);
    let lb = setup(dir.path(), "b", 4, 1);
    let lc = setup(dir.path(), "c", 1, 1);
    let ca = la
        .committee
        .clone()
        .with_neighbours(vec![
            neighbour("b", &lb.committee),
            neighbour("c", &lc.committee),
        ])
        .unwrap();
    let cb = lb
        .committee
        .clone()
        .with_neighbours(vec![neighbour("a", &la.committee)])
        .unwrap();
    let cc = lc
        .committee
        .clone()
        .with_neighbours(vec![neighbour("a", &la.committee)])
        .unwrap();
    std::fs::write(&la.committee_file, ca.to_toml()).unwrap();
    std::fs::write(&lb.committee_file, cb.to_toml()).unwrap();
    std::fs::write(&lc.committee_file, cc.to_toml()).unwrap();
    let mut anchors_a = Vec::new();
    for a in &la.anchors {
        anchors_a.push(Anchor::start(a).await.unwrap());
    }
    let mut anchors_b = Vec::new();
    for a in &lb.anchors {
        anchors_b.push(Anchor::start(a).await.unwrap());
    }
    let anchor_c = Anchor::start(&lc.anchors[0]).await.unwrap();

    let (alice, bob) = (&la.accounts[0], &la.accounts[1]);
    let carol = &lb.accounts[0];
    let mut wallet = Wallet::new(
        alice.clone(),
        client(&ca).await,
        WalletDir::open(&dir.path().join("alice")).unwrap(),
        opts(),
    );
    // a payment in A, then the move to B
    wallet.pay(bob.public(), 100, 0).await.unwrap();
    let window = Instant::now();
    let moved = wallet.handoff(&cb, &[0]).await.unwrap();
    let cert = moved.certificate.clone();
    assert_eq!(cert.order.order().balances, vec![(0, 900)]);
    assert_eq!(cert.order.order().nonce, 1);
    // the wallet, now on B's committee file, pays at once
    let mut wallet_b = Wallet::new(
        alice.clone(),
        client(&cb).await,
        WalletDir::open(&dir.path().join("alice")).unwrap(),
        opts(),
    );
    let paid = wallet_b.pay(carol.public(), 50, 0).await.unwrap();
    let interruption = window.elapsed();
    assert_eq!(paid.order.order().nonce, 2);
    println!(
        "handoff: {:.2} ms (votes {:.2}, left {:.2}, arrived {:.2}); payments interrupted for {:.2} ms",
        moved.total().as_secs_f64() * 1e3,
        moved.certify.as_secs_f64() * 1e3,
        moved.leave.as_secs_f64() * 1e3,
        moved.arrive.as_secs_f64() * 1e3,
        interruption.as_secs_f64() * 1e3
    );

    // wait for the anchors that were not in the quorums to apply it too
    let deadline = Instant::now() + Duration::from_secs(5);
    while anchors_a.iter().any(|a| balance_at(a, alice).1.is_none())
        || anchors_b.iter().any(|a| balance_at(a, alice).0 != 850)
    {
        assert!(
            Instant::now() < deadline,
            "the handoff did not reach every anchor"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for a in &anchors_a {
        assert_eq!(balance_at(a, alice), (0, Some(cb.id())));
    }
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // A refuses to spend the moved account
    let spend = Envelope::order(order(alice, bob, 10, 2)).encode().unwrap();
    for m in ca.members() {
        match ask(&sock, m.address(), &spend).await {
            Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::AccountMoved),
            other => panic!(
                "{} answered a moved account's order with {other:?}",
                m.name()
            ),
        }
    }
    // replayed to B: applied once only
    let replay = Envelope::handoff_certificate(cert.clone(), 0)
        .encode()
        .unwrap();
    for m in cb.members() {
        match ask(&sock, m.address(), &replay).await {
            Some(Message::Receipt(r)) => assert!(!r.applied),
            other => panic!("{} answered a replayed handoff with {other:?}", m.name()),
        }
    }
    for a in &anchors_b {
        assert_eq!(balance_at(a, alice).0, 850);
    }
    // replayed to C, a neighbour of A but not the destination: refused, counted
    match ask(&sock, cc.members()[0].address(), &replay).await {
        Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::WrongCommittee),
        other => panic!("C answered another committee's handoff with {other:?}"),
    }
    assert_eq!(balance_at(&anchor_c, alice).0, 0);
    assert!(
        anchor_c
            .metrics()
            .rejections(ErrorCode::WrongCommittee.to_u16() as u8)
            >= 1
    );

    // A payment and a handoff raced for the same nonce by four accounts: never both.
    let ab = client(&ca).await;
    let ac = client(&ca).await;
    for (i, k) in la.accounts[2..6].iter().enumerate() {
        let pay = order(k, bob, 40, 0);
        let handoff = SignedHandoff::sign(
            HandoffOrder {
                account: k.public(),
                from: ca.id(),
                to: cb.id(),
                balances: vec![(0, 1000)],
                nonce: 0,
                epoch: 0,
                ttl: 8,
            },
            k,
        );
        let quick = PayOptions {
            phase_timeout: Duration::from_millis(1500),
            ..opts()
        };
        // which request leaves first alternates
        let (p, h) = if i % 2 == 0 {
            tokio::join!(
                collect_votes(&ab, pay, &quick),
                certify_handoff(&ac, &handoff, &quick)
            )
        } else {
            let (h, p) = tokio::join!(
                certify_handoff(&ac, &handoff, &quick),
                collect_votes(&ab, pay, &quick)
            );
            (p, h)
        };
        assert!(
            !(p.is_ok() && h.is_ok()),
            "both a payment and a handoff certified nonce 0"
        );
        if let Ok(h) = &h {
            confirm_handoff(&ac, h, &opts()).await.unwrap();
            let cbc = client(&cb).await;
            confirm_handoff(&cbc, h, &opts()).await.unwrap();
        }
        // whatever won, the account's money is in one place: spendable in A (not moved) or
        // in B, and never more than it had
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (at_a, moved_a) = balance_at(&anchors_a[0], k);
        let at_b = balance_at(&anchors_b[0], k).0;
        let spendable = if moved_a.is_some() { 0 } else { at_a } + at_b;
        assert!(spendable <= 1000, "{spendable}");
        println!(
            "race {}: payment {}, handoff {}",
            &OwnedOrder::digest(&handoff).to_hex()[..8],
            p.is_ok(),
            h.is_ok()
        );
    }

    for a in anchors_a.into_iter().chain(anchors_b) {
        a.shutdown().await;
    }
    anchor_c.shutdown().await;
}
