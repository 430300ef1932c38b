//! A payment attempted again for the same order continues its retry numbering (the switches'
//! duplicate filter would drop copies numbered from 0 again), each number is on disk before the
//! copy carrying it is sent, and numbering restarts at 0 once two epochs have passed.
//!
//! The committee is one authority on loopback that votes for every order and never answers a
//! certificate, so both phases are exercised: the vote phase finishes, the receipt phase times
//! out and is attempted again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flashmesh_core::{AuthorityInfo, Committee, Envelope, Keypair, Message, MsgType, Vote};
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{
    CommitteeClient, PayError, PayOptions, Wallet, WalletDir, WalletError, WalletState,
};
use std::sync::Mutex;
use tokio::net::UdpSocket;

/// What the authority saw: (message type, retry) in arrival order.
type Seen = Arc<Mutex<Vec<(MsgType, u8)>>>;

/// Votes for every order; ignores certificates. Before recording a copy it checks that the
/// wallet's file already holds a count past that copy's retry number.
async fn authority(key: Keypair, state_file: std::path::PathBuf) -> (SocketAddr, Seen) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(env) = Envelope::decode(&buf[..n]) else {
                continue;
            };
            let retry = env.header.retry;
            let state: WalletState =
                serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
            let retries = state.pending.expect("pending while sending").retries;
            match env.message {
                Message::Order(order) => {
                    assert!(
                        retries.order.next > retry,
                        "ORDER {retry} sent before saved"
                    );
                    log.lock().unwrap().push((MsgType::Order, retry));
                    let vote = Vote::sign(order.digest(), order.order().nonce, &key);
                    let reply = Envelope::reply(&env.header, Message::Vote(vote), 1);
                    let _ = socket.send_to(&reply.encode().unwrap(), from).await;
                }
                Message::Certificate(_) => {
                    assert!(
                        retries.certificate.next > retry,
                        "CERTIFICATE {retry} sent before saved"
                    );
                    log.lock().unwrap().push((MsgType::Certificate, retry));
                }
                _ => {}
            }
        }
    });
    (addr, seen)
}

fn retries_of(seen: &Seen, kind: MsgType) -> Vec<u8> {
    let mut seen = seen.lock().unwrap();
    let v = seen
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, r)| *r)
        .collect();
    seen.retain(|(k, _)| *k != kind);
    v
}

async fn wallet(dir: &std::path::Path, committee: &Committee, epoch: u32) -> Wallet {
    let transport = Arc::new(
        UdpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let client = CommitteeClient::new(committee.clone(), transport).unwrap();
    let key = Keypair::from_seed(&[7; 32]);
    let opts = PayOptions {
        retry_interval: Duration::from_millis(40),
        phase_timeout: Duration::from_millis(200),
        epoch,
        payee: None,
    };
    Wallet::new(key, client, WalletDir::open(dir).unwrap(), opts)
}

fn is_receipt_timeout(e: &WalletError) -> bool {
    matches!(
        e,
        WalletError::Pay(PayError::Timeout {
            phase: "receipts",
            ..
        }) | WalletError::PendingUnfinished {
            source: PayError::Timeout {
                phase: "receipts",
                ..
            },
            ..
        }
    )
}

/// Numbers 0, 1, ... without gaps and with at least `min` copies.
fn assert_run(got: &[u8], from: u8, min: usize) {
    assert!(got.len() >= min, "{got:?}");
    let want: Vec<u8> = (0..got.len()).map(|i| from + i as u8).collect();
    assert_eq!(got, want.as_slice());
}

#[tokio::test]
async fn retries_of_the_same_order_continue_across_attempts_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("w");
    let key = Keypair::from_seed(&[1; 32]);
    let (addr, seen) = authority(key.clone(), wdir.join("wallet.json")).await;
    let committee = Committee::new(vec![AuthorityInfo {
        name: "a".into(),
        public_key: key.public(),
        weight: 1,
        address: addr.to_string(),
    }])
    .unwrap();
    let recipient = Keypair::from_seed(&[2; 32]).public();

    // First attempt: votes come, receipts never do.
    let mut w = wallet(&wdir, &committee, 1).await;
    w.dir()
        .save(&WalletState {
            next_nonce: Some(0),
            pending: None,
        })
        .unwrap();
    let err = w.pay(recipient, 5, 0).await.unwrap_err();
    assert!(is_receipt_timeout(&err), "{err}");
    assert_eq!(retries_of(&seen, MsgType::Order), vec![0]);
    let certs = retries_of(&seen, MsgType::Certificate);
    assert_run(&certs, 0, 3);
    let used = *certs.last().unwrap();
    let pending = w.dir().load().unwrap().pending.unwrap();
    assert!(pending.certificate.is_some());
    assert_eq!(pending.retries.certificate.next, used + 1);
    assert_eq!(pending.retries.order.next, 1);

    // The same wallet tries again in the same epoch: the certificate's numbering goes on.
    let err = w.finish_pending().await.unwrap_err();
    assert!(is_receipt_timeout(&err), "{err}");
    let certs = retries_of(&seen, MsgType::Certificate);
    assert_run(&certs, used + 1, 3);
    let used = *certs.last().unwrap();
    drop(w);

    // Restarted in the next epoch (the filters still remember): it goes on again, and asked
    // for a new payment it first finishes the pending one, with no new order.
    let mut w = wallet(&wdir, &committee, 2).await;
    let err = w.pay(recipient, 9, 0).await.unwrap_err();
    assert!(is_receipt_timeout(&err), "{err}");
    assert_eq!(retries_of(&seen, MsgType::Order), Vec::<u8>::new());
    let certs = retries_of(&seen, MsgType::Certificate);
    assert_run(&certs, used + 1, 3);
    drop(w);

    // Two epochs after the last copy every filter cell has aged out: numbering starts at 0.
    let mut w = wallet(&wdir, &committee, 4).await;
    let err = w.finish_pending().await.unwrap_err();
    assert!(is_receipt_timeout(&err), "{err}");
    assert_run(&retries_of(&seen, MsgType::Certificate), 0, 3);
}

#[tokio::test]
async fn order_retries_continue_when_the_votes_never_came() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("w");
    // An address nobody answers on: every ORDER copy goes unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let committee = Committee::new(vec![AuthorityInfo {
        name: "a".into(),
        public_key: Keypair::from_seed(&[1; 32]).public(),
        weight: 1,
        address: silent.local_addr().unwrap().to_string(),
    }])
    .unwrap();
    let recipient = Keypair::from_seed(&[2; 32]).public();
    let mut w = wallet(&wdir, &committee, 1).await;
    w.dir()
        .save(&WalletState {
            next_nonce: Some(0),
            pending: None,
        })
        .unwrap();
    let err = w.pay(recipient, 5, 0).await.unwrap_err();
    assert!(
        matches!(
            err,
            WalletError::Pay(PayError::Timeout { phase: "votes", .. })
        ),
        "{err}"
    );
    let first = w.dir().load().unwrap().pending.unwrap();
    assert!(first.retries.order.next >= 3, "{first:?}");
    drop(w);
    // Restarted: the copies it sends carry the numbers after those already used.
    let mut w = wallet(&wdir, &committee, 1).await;
    let mut buf = vec![0u8; 65_536];
    while silent.try_recv_from(&mut buf).is_ok() {}
    let resume = tokio::spawn(async move { w.finish_pending().await.map(|_| ()) });
    let (n, _) = silent.recv_from(&mut buf).await.unwrap();
    let env = Envelope::decode(&buf[..n]).unwrap();
    assert_eq!(env.header.msg_type, MsgType::Order);
    assert_eq!(env.header.retry, first.retries.order.next);
    let err = resume.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            WalletError::Pay(PayError::Timeout { phase: "votes", .. })
        ),
        "{err}"
    );
}
