//! The whole money path on real processes and sockets: four merchant anchors, the gateway
//! binary on SQLite, a wallet. The wallet withdraws (votes, receipts, settlement); a replay of
//! the certificate settles nothing more; an over-large withdrawal is refused; a deposit taken in
//! through the gateway's admin API reaches the account at a quorum, once, also when the bank
//! reports it twice.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::messages::OwnedOrder;
use flashmesh_core::{Committee, GatewayInfo, Keypair};
use flashmesh_transport::UdpTransport;
use flashmesh_wallet::{CommitteeClient, PayOptions, Wallet, WalletDir};
use merchant_anchor::{Anchor, InitOptions, Ports, init_committee};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn http(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn post_deposit(addr: SocketAddr, body: &str) -> String {
    http(
        addr,
        &format!(
            "POST /deposits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

async fn wallet_for(key: &Keypair, committee: &Committee, dir: &std::path::Path) -> Wallet {
    let transport = Arc::new(
        UdpTransport::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let client = CommitteeClient::new(committee.clone(), transport).unwrap();
    let opts = PayOptions {
        retry_interval: Duration::from_millis(100),
        phase_timeout: Duration::from_secs(5),
        epoch: 0,
        payee: None,
    };
    Wallet::new(key.clone(), client, WalletDir::open(dir).unwrap(), opts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdraw_and_deposit_through_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let lc = init_committee(
        dir.path(),
        &InitOptions {
            authorities: 4,
            accounts: 2,
            balance: 1000,
            ports: Ports::Free,
            workers: 1,
            ..InitOptions::default()
        },
    )
    .unwrap();
    // Pin a gateway in the committee file before the anchors read it.
    let gw_key = Keypair::from_seed(&[0x5e; 32]);
    let (udp, admin) = (free_udp(), free_tcp());
    let gw = GatewayInfo {
        name: "gw".into(),
        public_key: gw_key.public(),
        address: udp.to_string(),
    };
    let committee = lc
        .committee
        .clone()
        .with_gateways(vec![gw.clone()])
        .unwrap();
    std::fs::write(&lc.committee_file, committee.to_toml()).unwrap();
    let mut anchors = Vec::new();
    for a in &lc.anchors {
        anchors.push(Anchor::start(a).await.unwrap());
    }
    flashmesh_wallet::write_key(&dir.path().join("gw.key"), &gw_key).unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"gw\"\nkey_file = \"gw.key\"\ncommittee_file = {:?}\nlisten = \"{udp}\"\n\
             admin = \"{admin}\"\nadmin_token = \"t0ken\"\n[ledger]\nkind = \"sqlite\"\npath = \"gw.sqlite\"\n",
            lc.committee_file
        ),
    )
    .unwrap();
    let _gateway = Killed(
        Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(admin).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Withdraw 300 of 1000.
    let mut alice = wallet_for(&lc.accounts[0], &committee, &dir.path().join("alice")).await;
    let w = alice
        .withdraw(0, 300, b"IBAN DE00 1234".to_vec(), &gw)
        .await
        .unwrap();
    assert!(w.settlement.first);
    assert_eq!(w.settlement.amount, 300);
    let b = alice.balance(0).await.unwrap();
    assert_eq!(b.agreed, Some((1, 700)));
    // A replay of the certificate settles nothing more.
    let again =
        flashmesh_wallet::settle_at_gateway(alice.client(), &w.certificate, &gw, alice.options())
            .await
            .unwrap();
    assert!(!again.first);
    assert_eq!(again.reference, w.settlement.reference);
    // The authorities also apply it once.
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let d = Envelope::withdrawal_certificate(w.certificate.clone(), 0)
        .encode()
        .unwrap();
    probe.send_to(&d, committee.members()[0].address()).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = probe.recv_from(&mut buf).unwrap();
    match Envelope::decode(&buf[..n]).unwrap().message {
        Message::Receipt(r) => {
            assert!(!r.applied);
            assert_eq!(r.order_digest, OwnedOrder::digest(&w.certificate.order));
        }
        other => panic!("expected a receipt, got {other:?}"),
    }
    // More than the balance: refused by the committee, nothing settled.
    let refused = alice
        .withdraw(0, 701, b"IBAN DE00 1234".to_vec(), &gw)
        .await;
    assert!(refused.is_err());
    assert!(!dir.path().join("alice").join("withdrawal.json").exists());

    // A deposit for bob, reported twice by the bank.
    let bob_hex = lc.accounts[1].public().to_hex();
    let body = format!("{{\"account\":\"{bob_hex}\",\"amount\":250,\"reference\":\"bank-tx-1\"}}");
    let r1 = post_deposit(admin, &body);
    assert!(
        r1.contains("\"first\":true") && r1.contains("\"sequence\":0"),
        "{r1}"
    );
    let r2 = post_deposit(admin, &body);
    assert!(
        r2.contains("\"first\":false") && r2.contains("\"sequence\":0"),
        "{r2}"
    );
    let unauthorised = http(
        admin,
        &format!(
            "POST /deposits HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(unauthorised.starts_with("HTTP/1.1 401"), "{unauthorised}");
    let bob = wallet_for(&lc.accounts[1], &committee, &dir.path().join("bob")).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let b = bob.balance(0).await.unwrap();
        if b.agreed == Some((0, 1250)) && b.disagreeing().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "deposit not applied: {b:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = http(
        admin,
        "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        status.contains("\"deposits_confirmed_below\":1"),
        "{status}"
    );
    assert!(status.contains("\"withdrawals_settled\":1"), "{status}");
    for a in anchors {
        a.shutdown().await;
    }
}
