//! Test harness shared by the liveness and partition tests: a committee of in-process anchors
//! on loopback UDP, each behind a drop filter that can partition the committee, and a small
//! payer that speaks the protocol directly (orders, votes, certificate, queries).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_core::messages::{SignedWithdrawal, WithdrawalOrder};
use flashmesh_core::{
    Certificate, Committee, Envelope, Keypair, Message, Query, QueryReply, QuorumCollector,
    SignedOrder, TransferOrder,
};
use flashmesh_transport::{Transport, TransportError, UdpTransport, bind_reuseport_group};
use merchant_anchor::{Anchor, InitOptions, LivenessConfig, LocalCommittee, Ports, init_committee};
use parking_lot::Mutex;
use tokio::net::UdpSocket;

/// Which side of a partition each address is on; addresses on no side reach everyone.
#[derive(Debug, Default)]
pub struct Partition {
    sides: Mutex<HashMap<SocketAddr, u8>>,
}

impl Partition {
    /// Puts `addr` on `side`.
    pub fn place(&self, addr: SocketAddr, side: u8) {
        self.sides.lock().insert(addr, side);
    }
    /// Everyone reaches everyone again.
    pub fn heal(&self) {
        self.sides.lock().clear();
    }
    fn allowed(&self, a: SocketAddr, b: SocketAddr) -> bool {
        let sides = self.sides.lock();
        match (sides.get(&a), sides.get(&b)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
    }
}

/// A UDP transport that silently drops what crosses the partition, both ways.
pub struct Filtered {
    inner: UdpTransport,
    me: SocketAddr,
    partition: Arc<Partition>,
}

#[async_trait::async_trait]
impl Transport for Filtered {
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> Result<(), TransportError> {
        if !self.partition.allowed(self.me, to) {
            return Ok(());
        }
        self.inner.send_to(datagram, to).await
    }
    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), TransportError> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if self.partition.allowed(from, self.me) {
                return Ok((n, from));
            }
        }
    }
    fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.inner.local_addr()
    }
}

/// The liveness settings of the tests: fast heartbeats, a short timeout.
pub fn fast_liveness() -> LivenessConfig {
    LivenessConfig {
        heartbeat_interval_ms: 100,
        peer_timeout_ms: 400,
        ..LivenessConfig::default()
    }
}

/// A running committee.
pub struct Net {
    pub lc: LocalCommittee,
    pub anchors: Vec<Option<Anchor>>,
    pub addrs: Vec<SocketAddr>,
    pub partition: Arc<Partition>,
}

impl Net {
    /// `n` anchors (one worker each) and `accounts` accounts of 1000 each.
    pub async fn start(dir: &std::path::Path, n: usize, accounts: usize) -> Net {
        let partition = Arc::new(Partition::default());
        let groups: Vec<Vec<UdpTransport>> = (0..n)
            .map(|_| bind_reuseport_group("127.0.0.1:0".parse().unwrap(), 1).unwrap())
            .collect();
        let addrs: Vec<SocketAddr> = groups
            .iter()
            .map(|g| g[0].socket().local_addr().unwrap())
            .collect();
        let mut lc = init_committee(
            dir,
            &InitOptions {
                authorities: n,
                accounts,
                balance: 1000,
                ports: Ports::Given {
                    bcb: addrs.iter().map(|a| a.port()).collect(),
                },
                workers: 1,
                ..InitOptions::default()
            },
        )
        .unwrap();
        let mut anchors = Vec::new();
        for (i, group) in groups.into_iter().enumerate() {
            lc.anchors[i].liveness = fast_liveness();
            let transports: Vec<Arc<dyn Transport>> = group
                .into_iter()
                .map(|inner| {
                    Arc::new(Filtered {
                        me: addrs[i],
                        inner,
                        partition: partition.clone(),
                    }) as Arc<dyn Transport>
                })
                .collect();
            anchors.push(Some(
                Anchor::start_on(&lc.anchors[i], transports).await.unwrap(),
            ));
        }
        Net {
            lc,
            anchors,
            addrs,
            partition,
        }
    }

    pub fn anchor(&self, i: usize) -> &Anchor {
        self.anchors[i].as_ref().unwrap()
    }

    pub fn committee(&self) -> &Committee {
        &self.lc.committee
    }

    /// Stops anchor `i`.
    pub async fn stop(&mut self, i: usize) {
        if let Some(a) = self.anchors[i].take() {
            a.shutdown().await;
        }
    }

    /// Stops every anchor.
    pub async fn shutdown(mut self) {
        for i in 0..self.anchors.len() {
            self.stop(i).await;
        }
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A signed transfer order.
pub fn order(from: &Keypair, to: &Keypair, amount: u64, nonce: u64) -> SignedOrder {
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

/// A payer's socket.
pub async fn payer_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// Collects a quorum of votes for `order` from `addrs` (asking again every 200 ms), then sends
/// the certificate to all of them a few times. `None` if no quorum within `limit`.
pub async fn pay(
    sock: &UdpSocket,
    committee: &Committee,
    addrs: &[SocketAddr],
    order: SignedOrder,
    limit: Duration,
) -> Option<Certificate> {
    let until = Instant::now() + limit;
    let mut votes = QuorumCollector::new(order, committee);
    let request = Envelope::order(order).encode().unwrap();
    let mut buf = vec![0u8; 65_536];
    let certificate = 'collect: loop {
        if Instant::now() > until {
            return None;
        }
        for a in addrs {
            let _ = sock.send_to(&request, a).await;
        }
        let round = Instant::now() + Duration::from_millis(200);
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(round.into(), sock.recv_from(&mut buf)).await
        {
            if let Ok(env) = Envelope::decode(&buf[..n])
                && let Message::Vote(v) = env.message
                && votes.add(&v, committee) == Ok(true)
            {
                break 'collect votes.certificate().unwrap();
            }
        }
    };
    let datagram = Envelope::certificate(certificate.clone(), 0)
        .encode()
        .unwrap();
    for _ in 0..3 {
        for a in addrs {
            let _ = sock.send_to(&datagram, a).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(certificate)
}

/// Sends `datagram` to `addr` (a few tries) and returns the first message that comes back.
pub async fn ask(sock: &UdpSocket, addr: SocketAddr, datagram: &[u8]) -> Option<Message> {
    let mut buf = vec![0u8; 65_536];
    for _ in 0..5 {
        let _ = sock.send_to(datagram, addr).await;
        let wait = Duration::from_millis(300);
        if let Ok(Ok((n, from))) = tokio::time::timeout(wait, sock.recv_from(&mut buf)).await
            && from == addr
            && let Ok(env) = Envelope::decode(&buf[..n])
        {
            return Some(env.message);
        }
    }
    None
}

/// A withdrawal of `amount` by `from` with `nonce`, to a primary-ledger account.
pub fn withdrawal(from: &Keypair, amount: u64, nonce: u64) -> SignedWithdrawal {
    SignedWithdrawal::sign(
        WithdrawalOrder {
            account: from.public(),
            token: flashmesh_core::DEFAULT_TOKEN,
            amount,
            recipient: b"DE89370400440532013000".to_vec(),
            nonce,
            epoch: 0,
            ttl: 8,
        },
        from,
    )
}

/// The signed view of `account` at `addr` (a few tries), if it answers.
pub async fn query(sock: &UdpSocket, addr: SocketAddr, account: &Keypair) -> Option<QueryReply> {
    let mut buf = vec![0u8; 65_536];
    for request in 1..=5u64 {
        let q = Envelope::query(
            Query {
                account: account.public(),
                request,
            },
            0,
        )
        .encode()
        .unwrap();
        sock.send_to(&q, addr).await.ok()?;
        let round = Instant::now() + Duration::from_millis(200);
        while let Ok(Ok((n, from))) =
            tokio::time::timeout_at(round.into(), sock.recv_from(&mut buf)).await
        {
            if from == addr
                && let Ok(env) = Envelope::decode(&buf[..n])
                && let Message::QueryReply(r) = env.message
                && r.request == request
            {
                return Some(r);
            }
        }
    }
    None
}

/// Fetches `path` from an admin API.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
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

/// The JSON body of an admin API answer.
pub fn http_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let text = http_get(addr, path);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
