//! The gateway binary over real UDP, on each ledger back-end: withdrawal certificates settle
//! exactly once under replays (sequential and concurrent, and a second certificate of the same
//! order), a kill -9 in the middle of a stream of settlements loses nothing acknowledged and
//! settles nothing twice, and bad certificates are refused with typed, counted errors.
//!
//! PostgreSQL runs when `FLASHMESH_TEST_POSTGRES` holds a libpq connection string (CI sets it);
//! otherwise that case prints why it is skipped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::messages::{
    OwnedOrder, Settlement, SignedWithdrawal, Vote, WithdrawalCertificate, WithdrawalOrder,
};
use flashmesh_core::{AuthorityInfo, Committee, GatewayInfo, Keypair};

struct Setup {
    authorities: Vec<Keypair>,
    gateway: Keypair,
    committee: Committee,
}

fn setup() -> Setup {
    let authorities: Vec<Keypair> = (0..4)
        .map(|i| Keypair::from_seed(&[0x90 + i; 32]))
        .collect();
    let gateway = Keypair::from_seed(&[0x9f; 32]);
    let committee = Committee::new(
        authorities
            .iter()
            .enumerate()
            .map(|(i, k)| AuthorityInfo {
                name: format!("a{i}"),
                public_key: k.public(),
                weight: 1,
                address: format!("127.0.0.1:{}", 1 + i),
            })
            .collect(),
    )
    .unwrap()
    .with_gateways(vec![GatewayInfo {
        name: "gw".into(),
        public_key: gateway.public(),
        address: "127.0.0.1:0".into(),
    }])
    .unwrap();
    Setup {
        authorities,
        gateway,
        committee,
    }
}

/// A certificate by authorities `signers` on `owner`'s withdrawal of `amount` at `nonce`.
fn certificate(
    s: &Setup,
    owner: &Keypair,
    nonce: u64,
    amount: u64,
    signers: &[usize],
) -> WithdrawalCertificate {
    let order = SignedWithdrawal::sign(
        WithdrawalOrder {
            account: owner.public(),
            token: 0,
            amount,
            recipient: format!("bank:{}", owner.tag().to_hex()).into_bytes(),
            nonce,
            epoch: 0,
            ttl: 3,
        },
        owner,
    );
    let votes: Vec<Vote> = signers
        .iter()
        .map(|i| Vote::sign(OwnedOrder::digest(&order), nonce, &s.authorities[*i]))
        .collect();
    WithdrawalCertificate::new(order, &votes)
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Gateway {
    child: Child,
    udp: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_files(
    dir: &Path,
    s: &Setup,
    ledger: &str,
) -> (std::path::PathBuf, SocketAddr, SocketAddr) {
    let udp: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
    flashmesh_wallet::write_key(&dir.join("gw.key"), &s.gateway).unwrap();
    std::fs::write(dir.join("committee.toml"), s.committee.to_toml()).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"gw\"\nkey_file = \"gw.key\"\ncommittee_file = \"committee.toml\"\n\
             listen = \"{udp}\"\nadmin = \"{admin}\"\nadmin_token = \"t0ken\"\n{ledger}\n"
        ),
    )
    .unwrap();
    (config, udp, admin)
}

/// Starts the gateway binary on `config` and waits for its admin port. Its stderr goes to a log
/// beside the config, shown in full when it exits early or does not come up in time.
fn start(config: &Path, udp: SocketAddr, admin: SocketAddr) -> Gateway {
    static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log_path = config.with_file_name(format!("gateway-{n}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut gw = Gateway { child, udp, admin };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(admin).is_err() {
        let exited = gw.child.try_wait().unwrap();
        if exited.is_some() || Instant::now() >= deadline {
            let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
            match exited {
                Some(status) => {
                    panic!("the gateway exited ({status}) before it came up:\n{stderr}")
                }
                None => panic!("the gateway did not come up within 20 s:\n{stderr}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    gw
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// Sends `datagram` until a reply that `answers` it arrives (or `tries` run out). Other replies
/// are skipped: late answers to an earlier request (a retry's second reply, the replies of a
/// burst still queued in the socket) must not be taken for this one's.
fn ask(
    s: &UdpSocket,
    to: SocketAddr,
    datagram: &[u8],
    tries: usize,
    answers: impl Fn(&Message) -> bool,
) -> Option<Message> {
    let mut buf = [0u8; 2048];
    for _ in 0..tries {
        s.send_to(datagram, to).unwrap();
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            if let Ok((n, _)) = s.recv_from(&mut buf)
                && let Ok(env) = Envelope::decode(&buf[..n])
                && answers(&env.message)
            {
                return Some(env.message);
            }
        }
    }
    None
}

/// Whether `m` answers a datagram carrying `c`: its settlement, or an error about its nonce.
fn answers_certificate(c: &WithdrawalCertificate) -> impl Fn(&Message) -> bool + use<> {
    let digest = OwnedOrder::digest(&c.order);
    let nonce = c.order.order().nonce;
    move |m| match m {
        Message::Settlement(st) => st.withdrawal == digest,
        Message::Error(e) => e.nonce == nonce,
        _ => false,
    }
}

fn settle(s: &UdpSocket, gw: &Gateway, c: &WithdrawalCertificate, key: &Keypair) -> Settlement {
    let d = Envelope::withdrawal_certificate(c.clone(), 0)
        .encode()
        .unwrap();
    match ask(s, gw.udp, &d, 30, answers_certificate(c)) {
        Some(Message::Settlement(st)) => {
            st.check(&key.public()).unwrap();
            st
        }
        other => panic!("expected a settlement, got {other:?}"),
    }
}

fn run_backend(ledger: &str) {
    let ledger_name = ledger.lines().nth(1).unwrap_or(ledger).to_string();
    let dir = tempfile::tempdir().unwrap();
    let s = setup();
    let (config, udp, admin) = write_files(dir.path(), &s, ledger);
    let owners: Vec<Keypair> = (0..60u8)
        .map(|i| Keypair::from_seed(&[i + 1; 32]))
        .collect();
    let certs: Vec<WithdrawalCertificate> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| certificate(&s, o, 0, 10 + i as u64, &[0, 1, 2]))
        .collect();

    // Replays, sequential and concurrent, and another signer set: one settlement.
    let gw = start(&config, udp, admin);
    let c = client();
    let first = settle(&c, &gw, &certs[0], &s.gateway);
    assert!(first.first);
    let again = settle(&c, &gw, &certs[0], &s.gateway);
    assert!(!again.first);
    assert_eq!(
        (again.reference, again.settled_at_ms),
        (first.reference, first.settled_at_ms)
    );
    let other_signers = certificate(&s, &owners[0], 0, 10, &[1, 2, 3]);
    assert_ne!(other_signers.digest(), certs[0].digest());
    assert_eq!(
        settle(&c, &gw, &other_signers, &s.gateway).reference,
        first.reference
    );
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let cert = certs[1].clone();
            let key = s.gateway.public();
            let udp = gw.udp;
            std::thread::spawn(move || {
                let c = client();
                let d = Envelope::withdrawal_certificate(cert.clone(), 0)
                    .encode()
                    .unwrap();
                match ask(&c, udp, &d, 30, answers_certificate(&cert)) {
                    Some(Message::Settlement(st)) => {
                        st.check(&key).unwrap();
                        (st.reference, st.first)
                    }
                    other => panic!("expected a settlement, got {other:?}"),
                }
            })
        })
        .collect();
    let answers: Vec<(u64, bool)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(answers.iter().all(|a| a.0 == answers[0].0), "{answers:?}");
    assert!(answers.iter().filter(|a| a.1).count() <= 1, "{answers:?}");

    // Bad certificates: refused with their reason, counted.
    let below = certificate(&s, &owners[2], 0, 5, &[0, 1]);
    let stranger = Keypair::from_seed(&[0xee; 32]);
    let mut forged = certificate(&s, &owners[2], 0, 5, &[0, 1, 2]);
    forged.signatures[0].signature.0[3] ^= 1;
    let mut foreign = certificate(&s, &owners[2], 0, 5, &[0, 1]);
    let sv = Vote::sign(OwnedOrder::digest(&foreign.order), 0, &stranger);
    foreign = WithdrawalCertificate::new(
        foreign.order.clone(),
        &[
            sv,
            Vote::sign(OwnedOrder::digest(&foreign.order), 0, &s.authorities[0]),
        ],
    );
    for (cert, code) in [
        (below, ErrorCode::BelowQuorum),
        (forged, ErrorCode::BadSignature),
        (foreign, ErrorCode::UnknownSigner),
    ] {
        let d = Envelope::withdrawal_certificate(cert.clone(), 0)
            .encode()
            .unwrap();
        match ask(&c, gw.udp, &d, 10, answers_certificate(&cert)) {
            Some(Message::Error(e)) => assert_eq!(e.code, code, "{}", e.detail),
            other => panic!("expected ERROR {code}, got {other:?}"),
        }
    }
    c.send_to(&[1, 2, 3], gw.udp).unwrap();
    let mut d = Envelope::withdrawal_certificate(certs[3].clone(), 0)
        .encode()
        .unwrap();
    d.truncate(d.len() - 5);
    c.send_to(&d, gw.udp).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let metrics = http_get(gw.admin, "/metrics");
    assert!(
        metrics.contains("gateway_refused_total{reason=\"below_quorum\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_refused_total{reason=\"bad_signature\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_malformed_total 2"), "{metrics}");

    // kill -9 in the middle of a stream of settlements: everything sent at once from two
    // clients, the gateway killed once a third is acknowledged.
    let mut acknowledged: HashMap<usize, u64> = HashMap::new();
    let mut gw = gw;
    let c2 = client();
    for cert in certs.iter().skip(2) {
        let d = Envelope::withdrawal_certificate(cert.clone(), 0)
            .encode()
            .unwrap();
        c.send_to(&d, gw.udp).unwrap();
        c2.send_to(&d, gw.udp).unwrap();
    }
    let mut buf = [0u8; 2048];
    let mut killed = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    'read: while Instant::now() < deadline {
        for sock in [&c, &c2] {
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                if killed {
                    break 'read;
                }
                continue;
            };
            if let Ok(Envelope {
                message: Message::Settlement(st),
                ..
            }) = Envelope::decode(&buf[..n])
            {
                let i = certs
                    .iter()
                    .position(|c| OwnedOrder::digest(&c.order) == st.withdrawal)
                    .unwrap();
                if let Some(r) = acknowledged.insert(i, st.reference) {
                    assert_eq!(r, st.reference);
                }
            }
            if !killed && acknowledged.len() >= certs.len() / 3 {
                let _ = gw.child.kill(); // SIGKILL
                let _ = gw.child.wait();
                killed = true;
            }
        }
    }
    assert!(
        killed,
        "the gateway answered too little before the deadline"
    );
    drop(gw);
    let gw = start(&config, udp, admin);
    let mut references = HashMap::new();
    for (i, cert) in certs.iter().enumerate() {
        let st = settle(&c, &gw, cert, &s.gateway);
        if let Some(r) = acknowledged.get(&i) {
            assert_eq!(
                *r, st.reference,
                "an acknowledged settlement changed after the crash"
            );
            assert!(!st.first);
        }
        assert!(
            references.insert(st.reference, i).is_none(),
            "reference reused"
        );
    }
    let status = http_get(gw.admin, "/status");
    let body = &status[status.find("\r\n\r\n").unwrap() + 4..];
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let t = &v["tokens"][0];
    assert_eq!(t["withdrawals_settled"], 60, "{v}");
    let want: u64 = (0..60u64).map(|i| 10 + i).sum();
    assert_eq!(t["withdrawn"], want.to_string(), "{v}");
    println!(
        "{ledger_name}: {} settlements acknowledged before the kill, all 60 settled once after it",
        acknowledged.len()
    );
}

#[test]
fn sqlite_settles_exactly_once_under_replay_and_kill_9() {
    run_backend("[ledger]\nkind = \"sqlite\"\npath = \"ledger.sqlite\"");
}

/// A database of its own on the server of `FLASHMESH_TEST_POSTGRES`, dropped with the value
/// (also when the test panics), so runs do not see each other's rows.
struct TestDatabase {
    admin: postgres::Client,
    name: String,
    dropped: bool,
}

impl TestDatabase {
    fn create(conninfo: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "flashmesh_gw_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(conninfo, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {POSTGRES_ENV} ({conninfo}): {e}"));
        // A leftover of an earlier run with the same process id.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Self {
            admin,
            name,
            dropped: false,
        }
    }

    /// `conninfo` leading to this database: a later `dbname` overrides an earlier one, in libpq
    /// as in the gateway's client.
    fn conninfo(&self, conninfo: &str) -> String {
        format!("{conninfo} dbname={}", self.name)
    }

    fn exists(&mut self) -> bool {
        self.admin
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1",
                &[&self.name],
            )
            .unwrap()
            .is_some()
    }

    /// Drops the database (the gateway's connections with it).
    fn drop_now(&mut self) -> Result<(), postgres::Error> {
        self.dropped = true;
        self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.dropped {
            let _ = self.drop_now();
        }
    }
}

const POSTGRES_ENV: &str = "FLASHMESH_TEST_POSTGRES";

#[test]
fn postgres_settles_exactly_once_under_replay_and_kill_9() {
    let Ok(conninfo) = std::env::var(POSTGRES_ENV) else {
        println!(
            "skipped: {POSTGRES_ENV} is not set, so the gateway binary is not tested on a \
             PostgreSQL ledger (set it to a libpq conninfo, e.g. \"host=/var/run/postgresql \
             user=root dbname=postgres\"; .ci/run does)"
        );
        return;
    };
    let mut db = TestDatabase::create(&conninfo);
    // Quoted as a TOML string, whatever the conninfo holds (quotes, backslashes).
    let quoted = toml::Value::String(db.conninfo(&conninfo)).to_string();
    run_backend(&format!(
        "[ledger]\nkind = \"postgres\"\nconninfo = {quoted}"
    ));
    // The gateway settled in this database, not in the one the conninfo named first.
    let mut mine = postgres::Client::connect(&db.conninfo(&conninfo), postgres::NoTls).unwrap();
    let rows: i64 = mine
        .query_one("SELECT count(*) FROM settlements", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 60);
    drop(mine);
    db.drop_now().expect("dropping the test database");
    assert!(!db.exists(), "the test database {} is still there", db.name);
}
