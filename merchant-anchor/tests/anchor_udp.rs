//! Integration tests of one anchor over real loopback UDP: typed errors for bad input counted in
//! `/metrics`, and recovery after `kill -9` (same vote for the same order, conflicting order
//! refused).

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flashmesh_core::{
    Certificate, Envelope, ErrorCode, HEADER_LEN, Keypair, MAX_DATAGRAM_LEN, Message, SignedOrder,
    SignerEntry, TransferOrder, Vote,
};
use merchant_anchor::{Anchor, InitOptions, LocalCommittee, Ports, init_committee};

fn committee_on(dir: &std::path::Path, authorities: usize, ports: Ports) -> LocalCommittee {
    init_committee(
        dir,
        &InitOptions {
            authorities,
            accounts: 2,
            balance: 1000,
            ports,
            workers: 2,
            ..InitOptions::default()
        },
    )
    .unwrap()
}

fn committee(dir: &std::path::Path, authorities: usize) -> LocalCommittee {
    committee_on(dir, authorities, Ports::Free)
}

/// A one-anchor committee whose sockets are bound before the committee file is written, and
/// the anchor serving on them.
async fn single_anchor(dir: &std::path::Path) -> (LocalCommittee, Anchor) {
    let group =
        flashmesh_transport::bind_reuseport_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let port = group[0].socket().local_addr().unwrap().port();
    let lc = committee_on(dir, 1, Ports::Given { bcb: vec![port] });
    let transports: Vec<std::sync::Arc<dyn flashmesh_transport::Transport>> = group
        .into_iter()
        .map(|t| std::sync::Arc::new(t) as std::sync::Arc<dyn flashmesh_transport::Transport>)
        .collect();
    let anchor = Anchor::start_on(&lc.anchors[0], transports).await.unwrap();
    (lc, anchor)
}

fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Sends `datagram` (retrying a few times) and returns the first decodable reply.
fn request(s: &UdpSocket, to: SocketAddr, datagram: &[u8]) -> Option<Envelope> {
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        s.send_to(datagram, to).unwrap();
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            if let Ok((n, _)) = s.recv_from(&mut buf)
                && let Ok(env) = Envelope::decode(&buf[..n])
            {
                return Some(env);
            }
        }
    }
    None
}

fn expect_error(reply: Option<Envelope>, code: ErrorCode) {
    match reply.map(|e| e.message) {
        Some(Message::Error(e)) => assert_eq!(e.code, code, "detail: {}", e.detail),
        other => panic!("expected ERROR {code}, got {other:?}"),
    }
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

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn metric(text: &str, line_prefix: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_typed_errors_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (lc, anchor) = single_anchor(dir.path()).await;
    let to = anchor.bcb_addr();
    let (alice, bob) = (&lc.accounts[0], &lc.accounts[1]);
    let good = Envelope::order(order(alice, bob, 5, 0)).encode().unwrap();

    tokio::task::spawn_blocking(move || {
        let s = client();
        // Unknown version.
        let mut d = good.clone();
        d[0] = 9;
        expect_error(request(&s, to, &d), ErrorCode::BadVersion);
        // Unknown message type.
        let mut d = good.clone();
        d[1] = 77;
        expect_error(request(&s, to, &d), ErrorCode::UnknownMsgType);
        // Truncated body.
        expect_error(
            request(&s, to, &good[..good.len() - 3]),
            ErrorCode::BodyLengthMismatch,
        );
        // Header disagrees with the signed body.
        let mut d = good.clone();
        d[16..24].copy_from_slice(&5u64.to_be_bytes());
        expect_error(request(&s, to, &d), ErrorCode::HeaderMismatch);
        // Bad signature.
        let mut d = good.clone();
        let last = d.len() - 1;
        d[last] ^= 0x55;
        expect_error(request(&s, to, &d), ErrorCode::BadSignature);
        // No reply for a runt or an oversized datagram, but both are counted.
        s.send_to(&[1, 2, 3], to).unwrap();
        s.send_to(&vec![0u8; MAX_DATAGRAM_LEN + 1], to).unwrap();
        s.send_to(&[0u8; HEADER_LEN - 1], to).unwrap();
    })
    .await
    .unwrap();

    let s = client();
    let wrong_nonce = Envelope::order(order(alice, bob, 5, 3)).encode().unwrap();
    let too_much = Envelope::order(order(alice, bob, 5000, 0))
        .encode()
        .unwrap();
    let mut stale = TransferOrder {
        sender: alice.public(),
        recipient: bob.public(),
        token: 0,
        amount: 1,
        nonce: 0,
        epoch: 0,
        ttl: 0,
    };
    stale.epoch = 7;
    let future = Envelope::order(SignedOrder::sign(stale, alice))
        .encode()
        .unwrap();
    // Certificates below quorum, with a repeated signer, or with an unknown signer.
    let o = order(alice, bob, 5, 0);
    let key = &lc.anchor_keys[0];
    let vote = Vote::sign(o.digest(), 0, key);
    let entry = SignerEntry {
        authority: vote.authority,
        signature: vote.signature,
    };
    let stranger = Keypair::from_seed(&[77; 32]);
    let cert = |signatures: Vec<SignerEntry>| {
        Envelope::certificate(
            Certificate {
                order: o,
                signatures,
            },
            0,
        )
        .encode()
        .unwrap()
    };
    let below = cert(vec![]);
    let repeated = cert(vec![entry, entry]);
    let unknown = cert(vec![SignerEntry {
        authority: stranger.tag(),
        signature: Vote::sign(o.digest(), 0, &stranger).signature,
    }]);
    let forged = cert(vec![SignerEntry {
        authority: vote.authority,
        signature: Vote::sign(o.digest(), 0, &stranger).signature,
    }]);
    let replies = tokio::task::spawn_blocking(move || {
        [
            request(&s, to, &wrong_nonce),
            request(&s, to, &too_much),
            request(&s, to, &future),
            request(&s, to, &below),
            request(&s, to, &repeated),
            request(&s, to, &unknown),
            request(&s, to, &forged),
        ]
    })
    .await
    .unwrap();
    let expected = [
        ErrorCode::WrongNonce,
        ErrorCode::InsufficientFunds,
        ErrorCode::FutureEpoch,
        ErrorCode::BelowQuorum,
        ErrorCode::RepeatedSigner,
        ErrorCode::UnknownSigner,
        ErrorCode::BadSignature,
    ];
    for (reply, code) in replies.into_iter().zip(expected) {
        expect_error(reply, code);
    }

    // A reply type is never answered (no error ping-pong), but is counted.
    let admin = anchor
        .admin_addr()
        .expect("the anchor serves its admin API");
    let metrics = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(200));
        http_get(admin, "/metrics")
    })
    .await
    .unwrap();
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metric(&metrics, "flashmesh_malformed_datagrams_total") >= 7,
        "{metrics}"
    );
    for reason in [
        "bad_version",
        "unknown_msg_type",
        "body_length_mismatch",
        "header_mismatch",
        "bad_signature",
        "wrong_nonce",
        "insufficient_funds",
        "future_epoch",
        "below_quorum",
        "repeated_signer",
        "unknown_signer",
    ] {
        let prefix = format!("flashmesh_rejections_total{{reason=\"{reason}\"");
        assert!(
            metric(&metrics, &prefix) >= 1,
            "{reason} not counted:\n{metrics}"
        );
    }
    assert!(metric(&metrics, "flashmesh_error_replies_total") >= 12);
    // Nothing changed: the account still has its full balance and no lock.
    {
        let a = anchor.authority().lock();
        let st = a.account(&alice.public()).unwrap();
        assert_eq!(st.balance(0), 1000);
        assert!(st.pending.is_none());
    }
    let status = http_get(admin, "/status");
    assert!(status.contains("\"store_healthy\":true"), "{status}");

    // Move the anchor's epoch forward (bearer token from its config): an order whose window
    // has closed is now stale.
    let token = lc.anchors[0].admin_token.clone().unwrap();
    let body = r#"{"epoch":10}"#;
    let mut h = std::net::TcpStream::connect(admin).unwrap();
    write!(
        h,
        "POST /epoch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    h.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let stale = Envelope::order(order(alice, bob, 5, 0)).encode().unwrap();
    let reply = tokio::task::spawn_blocking(move || request(&client(), to, &stale))
        .await
        .unwrap();
    expect_error(reply, ErrorCode::StaleEpoch);
    anchor.shutdown().await;
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_anchor(config: &std::path::Path) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_merchant-anchor"))
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn vote_of(reply: Option<Envelope>) -> Vote {
    match reply.map(|e| e.message) {
        Some(Message::Vote(v)) => v,
        other => panic!("expected a VOTE, got {other:?}"),
    }
}

#[test]
fn killed_anchor_recovers_its_locks() {
    let dir = tempfile::tempdir().unwrap();
    let lc = committee(dir.path(), 1);
    let to = lc.anchors[0].listen;
    let (alice, bob) = (&lc.accounts[0], &lc.accounts[1]);
    let first = order(alice, bob, 10, 0);
    let conflicting = order(alice, bob, 11, 0);
    let s = client();

    let mut p = spawn_anchor(&lc.anchor_config_files[0]);
    let v1 = vote_of(request(&s, to, &Envelope::order(first).encode().unwrap()));
    // kill -9: no shutdown path runs.
    p.0.kill().unwrap();
    p.0.wait().unwrap();
    drop(p);

    let _p = spawn_anchor(&lc.anchor_config_files[0]);
    let v2 = vote_of(request(&s, to, &Envelope::order(first).encode().unwrap()));
    assert_eq!(
        v1, v2,
        "the same order must get the same vote after a restart"
    );
    expect_error(
        request(&s, to, &Envelope::order(conflicting).encode().unwrap()),
        ErrorCode::ConflictingOrder,
    );
}

/// A transport that counts what it carries, to show the anchor runs on any [`Transport`].
struct Counting {
    inner: flashmesh_transport::UdpTransport,
    received: std::sync::atomic::AtomicUsize,
    sent: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl flashmesh_transport::Transport for Counting {
    async fn send_to(
        &self,
        datagram: &[u8],
        to: SocketAddr,
    ) -> Result<(), flashmesh_transport::TransportError> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.send_to(datagram, to).await
    }

    async fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), flashmesh_transport::TransportError> {
        let r = self.inner.recv_from(buf).await?;
        self.received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(r)
    }

    fn local_addr(&self) -> Result<SocketAddr, flashmesh_transport::TransportError> {
        self.inner.local_addr()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchor_serves_over_any_transport() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let lc = committee(dir.path(), 1);
    let transport = Arc::new(Counting {
        inner: flashmesh_transport::UdpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
        received: Default::default(),
        sent: Default::default(),
    });
    let anchor = Anchor::start_on(&lc.anchors[0], vec![transport.clone()])
        .await
        .unwrap();
    let to = anchor.bcb_addr();
    let o = order(&lc.accounts[0], &lc.accounts[1], 3, 0);
    let reply = tokio::task::spawn_blocking(move || {
        request(&client(), to, &Envelope::order(o).encode().unwrap())
    })
    .await
    .unwrap();
    let vote = vote_of(reply);
    assert_eq!(vote.order_digest, o.digest());
    assert!(transport.received.load(Ordering::Relaxed) >= 1);
    assert!(transport.sent.load(Ordering::Relaxed) >= 1);
    anchor.shutdown().await;
}

/// Datagrams that arrive together are handled as one batch (one signature batch, one lock
/// hold), and a forged order inside the batch is refused alone and counted: the burst is sent
/// before the anchor starts reading, so the worker finds it waiting as one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_order_in_a_batch_is_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let group =
        flashmesh_transport::bind_reuseport_group("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let port = group[0].socket().local_addr().unwrap().port();
    let lc = init_committee(
        dir.path(),
        &InitOptions {
            authorities: 1,
            accounts: 12,
            balance: 1000,
            ports: Ports::Given { bcb: vec![port] },
            workers: 1,
            ..InitOptions::default()
        },
    )
    .unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let payee = &lc.accounts[11];
    let mut burst: Vec<Vec<u8>> = lc.accounts[..10]
        .iter()
        .map(|a| Envelope::order(order(a, payee, 5, 0)).encode().unwrap())
        .collect();
    // account 10's order, signed with account 0's key
    let mut forged = order(&lc.accounts[10], payee, 5, 0);
    forged = SignedOrder::sign(*forged.order(), &lc.accounts[0]);
    burst.insert(4, Envelope::order(forged).encode().unwrap());
    let s = client();
    for d in &burst {
        s.send_to(d, to).unwrap();
    }
    let transports: Vec<std::sync::Arc<dyn flashmesh_transport::Transport>> = group
        .into_iter()
        .map(|t| std::sync::Arc::new(t) as std::sync::Arc<dyn flashmesh_transport::Transport>)
        .collect();
    let anchor = Anchor::start_on(&lc.anchors[0], transports).await.unwrap();
    let admin = anchor.admin_addr().expect("admin API");
    let (votes, errors, metrics) = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 2048];
        let (mut votes, mut errors) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + Duration::from_secs(10);
        while votes.len() + errors.len() < 11 && Instant::now() < deadline {
            if let Ok((n, _)) = s.recv_from(&mut buf)
                && let Ok(env) = Envelope::decode(&buf[..n])
            {
                match env.message {
                    Message::Vote(v) => votes.push(v),
                    Message::Error(e) => errors.push(e),
                    _ => {}
                }
            }
        }
        (votes, errors, http_get(admin, "/metrics"))
    })
    .await
    .unwrap();
    assert_eq!(votes.len(), 10, "every good order got its vote: {errors:?}");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, ErrorCode::BadSignature);
    assert_eq!(
        metric(
            &metrics,
            "flashmesh_rejections_total{reason=\"bad_signature\""
        ),
        1
    );
    let (batches, batched) = (
        metric(&metrics, "flashmesh_batches_total"),
        metric(&metrics, "flashmesh_batched_datagrams_total"),
    );
    assert!(
        batched >= 11 && batched > batches,
        "{batches} batches of {batched}"
    );
    drop(anchor);
}
