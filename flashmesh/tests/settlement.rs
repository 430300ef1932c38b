//! Whole-settlement integration tests over real loopback UDP: a committee of four paying, a
//! double spend across the two halves of the committee, Byzantine authorities (garbage
//! signatures, silence), a restarted anchor, and the demo that the README runs.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use flashmesh::demo::{DemoOptions, PaymentResult, attempt_double_spend, run_demo, run_payments};
use flashmesh::local::LocalNet;
use flashmesh_core::{Envelope, Message, Receipt, Signature, Vote};
use flashmesh_transport::{Transport, UdpTransport};
use flashmesh_wallet::{PayOptions, WalletError};
use merchant_anchor::{InitOptions, Ports};

fn init(authorities: usize, accounts: usize) -> InitOptions {
    InitOptions {
        authorities,
        accounts,
        balance: 10_000,
        ports: Ports::Free,
        workers: 1,
        ..InitOptions::default()
    }
}

fn opts() -> PayOptions {
    PayOptions {
        retry_interval: Duration::from_millis(300),
        phase_timeout: Duration::from_secs(20),
        ..PayOptions::default()
    }
}

async fn supply_everywhere(net: &LocalNet) -> Vec<u128> {
    (0..net.len())
        .filter_map(|i| net.anchor(i))
        .map(|a| a.authority().lock().supply().get(&0).copied().unwrap_or(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committee_of_four_pays_and_agrees_on_balances() {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNet::start(&dir.path().join("c"), &init(4, 3))
        .await
        .unwrap();
    let mut alice = net.wallet(0, &dir.path().join("w0"), opts()).await.unwrap();
    let bob = net.accounts()[1].public();
    for amount in [10, 20, 30] {
        let p = alice.pay(bob, amount, 0).await.unwrap();
        assert!(p.certificate.signatures.len() >= 3);
        assert!(p.refusals.is_empty(), "{:?}", p.refusals);
    }
    let report = alice.balance(0).await.unwrap();
    assert_eq!(report.agreed, Some((3, 10_000 - 60)));
    assert!(report.disagreeing().is_empty());
    let bob_wallet = net.wallet(1, &dir.path().join("w1"), opts()).await.unwrap();
    assert_eq!(
        bob_wallet.balance(0).await.unwrap().agreed,
        Some((0, 10_060))
    );
    assert_eq!(alice.history().unwrap().len(), 3);
    // Paying more than the balance is refused by everyone and leaves nothing pending.
    let err = alice.pay(bob, 1_000_000, 0).await.unwrap_err();
    assert!(matches!(err, WalletError::Pay(_)), "{err}");
    assert!(alice.dir().load().unwrap().pending.is_none());
    // And the wallet still works afterwards.
    alice.pay(bob, 1, 0).await.unwrap();
    assert_eq!(supply_everywhere(&net).await, vec![30_000; 4]);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_spend_across_halves_gets_at_most_one_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNet::start(&dir.path().join("c"), &init(4, 3))
        .await
        .unwrap();
    let client = net.client().await.unwrap();
    let (mallory, a, b) = (
        net.accounts()[0].clone(),
        net.accounts()[1].public(),
        net.accounts()[2].public(),
    );
    let outcome = attempt_double_spend(&client, &mallory, 0, a, b, 100)
        .await
        .unwrap();
    assert_eq!(outcome.orders, 2);
    assert!(outcome.certified <= 1, "{outcome:?}");
    // No authority applied two transfers for the nonce, and the supply is intact.
    for i in 0..net.len() {
        let anchor = net.anchor(i).unwrap();
        let auth = anchor.authority().lock();
        let st = auth.account(&mallory.public()).unwrap();
        assert!(st.next_sequence <= 1);
        assert!(st.balance(0) >= 10_000 - 100);
    }
    assert_eq!(supply_everywhere(&net).await, vec![30_000; 4]);
    net.shutdown().await;
}

/// Replaces anchor `i` with a responder that answers every ORDER and CERTIFICATE with a vote
/// or receipt carrying a garbage signature.
async fn byzantine_responder(net: &LocalNet, i: usize) -> tokio::task::JoinHandle<()> {
    let member = net.committee().members()[i].clone();
    let addr = member.address().parse().unwrap();
    let socket = UdpTransport::bind(addr).await.unwrap();
    let tag = member.tag();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(env) = Envelope::decode(&buf[..n]) else {
                continue;
            };
            let reply = match env.message {
                Message::Order(o) => Message::Vote(Vote {
                    order_digest: o.digest(),
                    nonce: o.order().nonce,
                    authority: tag,
                    signature: Signature([0x42; 64]),
                }),
                Message::Certificate(c) => Message::Receipt(Receipt {
                    order_digest: c.order_digest(),
                    nonce: c.order.order().nonce,
                    applied: true,
                    next_sequence: c.order.order().nonce + 1,
                    authority: tag,
                    signature: Signature([0x43; 64]),
                }),
                _ => continue,
            };
            let bytes = Envelope::reply(&env.header, reply, 0).encode().unwrap();
            let _ = socket.send_to(&bytes, from).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_finalise_despite_a_garbage_signing_authority() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = LocalNet::start(&dir.path().join("c"), &init(4, 2))
        .await
        .unwrap();
    net.stop(3).await;
    let liar = byzantine_responder(&net, 3).await;
    let mut alice = net.wallet(0, &dir.path().join("w0"), opts()).await.unwrap();
    let bob = net.accounts()[1].public();
    for amount in [5, 6] {
        let p = alice.pay(bob, amount, 0).await.unwrap();
        let signers: Vec<_> = p
            .certificate
            .signatures
            .iter()
            .map(|s| s.authority)
            .collect();
        assert!(!signers.contains(&net.committee().members()[3].tag()));
        assert_eq!(signers.len(), 3);
    }
    liar.abort();
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_finalise_despite_a_silent_authority() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = LocalNet::start(&dir.path().join("c"), &init(4, 2))
        .await
        .unwrap();
    net.stop(1).await;
    let mut alice = net.wallet(0, &dir.path().join("w0"), opts()).await.unwrap();
    let bob = net.accounts()[1].public();
    let p = alice.pay(bob, 7, 0).await.unwrap();
    assert_eq!(p.certificate.signatures.len(), 3);
    // With two authorities silent the quorum is out of reach: the payment times out, the
    // order stays pending, and once an authority is back the same order finishes.
    net.stop(2).await;
    let short = PayOptions {
        phase_timeout: Duration::from_millis(600),
        ..opts()
    };
    let mut alice = net.wallet(0, &dir.path().join("w0"), short).await.unwrap();
    assert!(alice.pay(bob, 8, 0).await.is_err());
    let pending = alice
        .dir()
        .load()
        .unwrap()
        .pending
        .expect("order kept pending");
    let pending_order = pending.order().unwrap();
    net.restart(2).await.unwrap();
    let done = alice.finish_pending().await.unwrap().expect("resumed");
    assert!(done.resumed);
    assert_eq!(done.order, pending_order, "the same order, not a new one");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_anchor_keeps_serving_the_committee() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = LocalNet::start(&dir.path().join("c"), &init(4, 2))
        .await
        .unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let tasks = run_payments(
        &net,
        2,
        5,
        1,
        &dir.path().join("w"),
        opts(),
        finished.clone(),
    )
    .await
    .unwrap();
    let mut ok = 0;
    for t in tasks {
        ok += t
            .await
            .unwrap()
            .iter()
            .filter(|r| matches!(r, PaymentResult::Ok { .. }))
            .count();
    }
    assert_eq!(ok, 10);
    net.restart(0).await.unwrap();
    let before = net.anchor(1).unwrap().authority().lock().accounts().count();
    let after_restart = net.anchor(0).unwrap().authority().lock().accounts().count();
    assert_eq!(before, after_restart);
    assert_eq!(supply_everywhere(&net).await, vec![20_000; 4]);
    let mut w = net
        .wallet(0, &dir.path().join("w/wallet-0"), opts())
        .await
        .unwrap();
    let p = w.pay(net.accounts()[1].public(), 1, 0).await.unwrap();
    assert!(p.refusals.is_empty(), "{:?}", p.refusals);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_is_safe_and_succeeds() {
    let report = run_demo(&DemoOptions {
        payments: 32,
        kill_after: Some(12),
        retry_interval: Duration::from_millis(300),
        phase_timeout: Duration::from_secs(30),
        ..DemoOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(report.double_spend_certificates, 0);
    assert!(report.double_spend_orders_certified <= 1);
    assert!(report.supply_conserved);
    assert_eq!(report.payments_attempted, 32);
    assert!(report.success_rate >= 0.95, "{report:?}");
    assert!(report.finality_ms_p50 > 0.0);
    assert!(report.killed_authority.is_some());
}

#[test]
fn demo_command_prints_json_that_says_safe() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flashmesh"))
        .args([
            "demo",
            "--loopback",
            "--json",
            "--payments",
            "16",
            "--phase-timeout-ms",
            "30000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["double_spend_certificates"], 0);
    assert!(v["success_rate"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(v["finality_ms_p50"].as_f64().unwrap() > 0.0);
    assert!(v["finality_ms_p95"].as_f64().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_wallet_finishes_the_same_pending_order_first() {
    use flashmesh_core::{SignedOrder, TransferOrder};
    use flashmesh_wallet::{Pending, WalletState};

    let dir = tempfile::tempdir().unwrap();
    let net = LocalNet::start(&dir.path().join("c"), &init(4, 2))
        .await
        .unwrap();
    let (alice, bob) = (net.accounts()[0].clone(), net.accounts()[1].public());
    // A wallet that crashed right after persisting its order, before sending it.
    let order = SignedOrder::sign(
        TransferOrder {
            sender: alice.public(),
            recipient: bob,
            token: 0,
            amount: 42,
            nonce: 0,
            epoch: 0,
            ttl: 16,
        },
        &alice,
    );
    let wdir = dir.path().join("w0");
    let w = net.wallet(0, &wdir, opts()).await.unwrap();
    w.dir()
        .save(&WalletState {
            next_nonce: Some(0),
            pending: Some(Pending::new(&order)),
        })
        .unwrap();
    drop(w);
    // Restarted, it is asked for a different payment: the pending one goes first, unchanged.
    let mut w = net.wallet(0, &wdir, opts()).await.unwrap();
    let p = w.pay(bob, 7, 0).await.unwrap();
    assert_eq!(p.order.order().nonce, 1);
    let history = w.history().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].nonce, history[0].amount), (0, 42));
    assert_eq!((history[1].nonce, history[1].amount), (1, 7));
    assert_eq!(w.balance(0).await.unwrap().agreed, Some((2, 10_000 - 49)));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payee_receives_and_verifies_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNet::start(&dir.path().join("c"), &init(4, 2))
        .await
        .unwrap();
    let merchant = net.client().await.unwrap();
    let merchant_addr = merchant.transport().local_addr().unwrap();
    let bob = net.accounts()[1].public();
    let mut alice = net
        .wallet(
            0,
            &dir.path().join("w0"),
            PayOptions {
                payee: Some(merchant_addr),
                ..opts()
            },
        )
        .await
        .unwrap();
    let paid = alice.pay(bob, 12, 0).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let got = flashmesh_wallet::next_payment(&merchant, &bob, deadline)
        .await
        .unwrap()
        .expect("certificate delivered to the payee");
    assert_eq!(got.amount, 12);
    assert_eq!(got.certificate.digest(), paid.certificate_digest);
    // A certificate for someone else, or with a forged signer, is not accepted.
    let alice_pk = net.accounts()[0].public();
    assert_eq!(
        flashmesh_wallet::accept(&merchant, &alice_pk, paid.certificate.clone()).unwrap_err(),
        flashmesh_wallet::payee::Refused::NotForUs
    );
    let mut forged = paid.certificate.clone();
    forged.signatures[0].signature = Signature([9; 64]);
    assert!(matches!(
        flashmesh_wallet::accept(&merchant, &bob, forged),
        Err(flashmesh_wallet::payee::Refused::Invalid(_))
    ));
    net.shutdown().await;
}
