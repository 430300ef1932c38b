//! A 4-authority committee partitioned on loopback UDP (a drop filter in every anchor's
//! transport): 2-2, no payment certifies and no invariant breaks; 3-1, payments settle on the 3
//! side and after the heal the 1 catches up through anchor sync alone (no payer pushes), so all
//! 4 report identical balances and sequences by QUERY.

mod net;

use std::time::Duration;

use flashmesh_core::{Authority, DEFAULT_TOKEN};
use flashmesh_core::{Envelope, ErrorCode, Message};
use net::{Net, ask, eventually, order, pay, payer_socket, query, withdrawal};

/// Supply of the default token at one authority.
fn supply(a: &Authority) -> u128 {
    a.supply().get(&DEFAULT_TOKEN).copied().unwrap_or(0)
}

/// One authority's accounts: key, next sequence, balances.
type Accounts = Vec<(String, u64, Vec<(u32, u64)>)>;

/// Every account whose sequence two authorities agree on has the same balances at both.
fn consistent(net: &Net) {
    let states: Vec<Accounts> = net
        .anchors
        .iter()
        .flatten()
        .map(|a| {
            let a = a.authority().lock();
            let mut v: Vec<_> = a
                .accounts()
                .map(|(k, s)| {
                    (
                        k.to_hex(),
                        s.next_sequence,
                        s.balances.iter().map(|(t, b)| (*t, *b)).collect(),
                    )
                })
                .collect();
            v.sort();
            v
        })
        .collect();
    for x in &states {
        for y in &states {
            for (a, b) in x.iter().zip(y) {
                assert_eq!(a.0, b.0);
                if a.1 == b.1 {
                    assert_eq!(a.2, b.2, "account {} at sequence {}", a.0, a.1);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_two_two_certifies_nothing_and_breaks_no_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let net = Net::start(dir.path(), 4, 2).await;
    let committee = net.committee().clone();
    let genesis_supply = supply(&net.anchor(0).authority().lock());
    assert!(
        eventually(Duration::from_secs(5), || (0..4)
            .all(|i| net.anchor(i).sees_quorum()))
        .await
    );
    let (left, right) = (payer_socket().await, payer_socket().await);
    for (i, a) in net.addrs.iter().enumerate() {
        net.partition.place(*a, (i / 2) as u8);
    }
    net.partition.place(left.local_addr().unwrap(), 0);
    net.partition.place(right.local_addr().unwrap(), 1);
    assert!(
        eventually(Duration::from_secs(3), || (0..4)
            .all(|i| !net.anchor(i).sees_quorum()))
        .await
    );
    let (alice, bob) = (&net.lc.accounts[0], &net.lc.accounts[1]);
    // a withdrawal is refused as "not now" by every anchor, and locks nothing: the same nonce
    // pays below, after the heal
    let outside = payer_socket().await;
    let request = Envelope::withdrawal(withdrawal(alice, 5, 0))
        .encode()
        .unwrap();
    for (i, a) in net.addrs.iter().enumerate() {
        match ask(&outside, *a, &request).await {
            Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::QuorumNotVisible, "{i}"),
            other => panic!("anchor {i} answered a withdrawal in a 2-2 split with {other:?}"),
        }
        assert!(
            net.anchor(i)
                .metrics()
                .rejections(ErrorCode::QuorumNotVisible.to_u16() as u8)
                >= 1
        );
    }
    // each side gets a payer; neither can reach a quorum of 3
    let (l, r) = tokio::join!(
        pay(
            &left,
            &committee,
            &net.addrs,
            order(alice, bob, 10, 0),
            Duration::from_secs(2)
        ),
        pay(
            &right,
            &committee,
            &net.addrs,
            order(bob, alice, 20, 0),
            Duration::from_secs(2)
        ),
    );
    assert!(
        l.is_none() && r.is_none(),
        "a payment certified across a 2-2 split"
    );
    for i in 0..4 {
        let a = net.anchor(i).authority().lock();
        assert_eq!(supply(&a), genesis_supply);
    }
    consistent(&net);
    // healed, the same payment certifies
    net.partition.heal();
    assert!(
        eventually(Duration::from_secs(3), || (0..4)
            .all(|i| net.anchor(i).sees_quorum()))
        .await
    );
    let cert = pay(
        &left,
        &committee,
        &net.addrs,
        order(alice, bob, 10, 0),
        Duration::from_secs(5),
    )
    .await;
    assert!(cert.is_some(), "no certificate after the heal");
    // with the quorum in sight again, the next withdrawal gets votes
    let request = Envelope::withdrawal(withdrawal(alice, 5, 1))
        .encode()
        .unwrap();
    for (i, a) in net.addrs.iter().enumerate() {
        match ask(&outside, *a, &request).await {
            Some(Message::Vote(_)) => {}
            other => panic!("anchor {i} answered a withdrawal after the heal with {other:?}"),
        }
    }
    consistent(&net);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_three_one_settles_on_the_three_and_the_one_catches_up_by_anchor_sync() {
    let dir = tempfile::tempdir().unwrap();
    let net = Net::start(dir.path(), 4, 3).await;
    let committee = net.committee().clone();
    assert!(
        eventually(Duration::from_secs(5), || (0..4)
            .all(|i| net.anchor(i).sees_quorum()))
        .await
    );
    let sock = payer_socket().await;
    for (i, a) in net.addrs.iter().enumerate() {
        net.partition.place(*a, u8::from(i == 3));
    }
    net.partition.place(sock.local_addr().unwrap(), 0);
    assert!(eventually(Duration::from_secs(3), || !net.anchor(3).sees_quorum()).await);
    let k = &net.lc.accounts;
    let payments = [
        (0, 1, 0),
        (1, 2, 0),
        (0, 2, 1),
        (2, 0, 0),
        (0, 1, 2),
        (1, 0, 1),
    ];
    for (from, to, nonce) in payments {
        let c = pay(
            &sock,
            &committee,
            &net.addrs,
            order(&k[from], &k[to], 7, nonce),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            c.is_some(),
            "payment {from}->{to} #{nonce} did not settle on the 3 side"
        );
    }
    assert!(
        eventually(Duration::from_secs(3), || (0..3).all(|i| net
            .anchor(i)
            .liveness()
            .applied()
            .applied()
            == 6))
        .await
    );
    assert_eq!(
        net.anchor(3).liveness().applied().applied(),
        0,
        "the 1 heard nothing"
    );
    // heal: nothing is sent by the payer any more; the anchors sync the 1
    net.partition.heal();
    let same_everywhere = || async {
        for key in k {
            let mut views = Vec::new();
            for a in &net.addrs {
                match query(&sock, *a, key).await {
                    Some(r) => views.push((r.next_sequence, r.balances)),
                    None => return false,
                }
            }
            if views.windows(2).any(|w| w[0] != w[1]) {
                return false;
            }
        }
        true
    };
    let mut caught_up = false;
    for _ in 0..40 {
        if same_everywhere().await {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(caught_up, "the 1 did not catch up within 10 s");
    assert_eq!(net.anchor(3).liveness().applied().applied(), 6);
    let sent: u64 = (0..3)
        .map(|i| {
            net.anchor(i)
                .liveness()
                .metrics
                .sync_certificates_sent
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum();
    assert!(sent >= 6, "certificates sent by sync: {sent}");
    let receipts: u64 = (0..3)
        .map(|i| {
            net.anchor(i)
                .liveness()
                .metrics
                .peer_receipts
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum();
    assert!(receipts >= 6, "receipts from the 1: {receipts}");
    assert!((0..4).all(|i| net.anchor(i).sees_quorum()));
    consistent(&net);
    net.shutdown().await;
}
