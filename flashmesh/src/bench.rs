//! `flashmesh bench authority`: throughput of ONE authority over UDP loopback, durability on,
//! next to the crypto ceiling measured on the same cores in the same run.
//!
//! Phases (each bounded in time):
//! 1. set-up, untimed: one funded account per order, every order signed and encoded up front,
//!    so the clients' signing does not count against the server;
//! 2. crypto ceilings: threads run verify-then-sign (`SignedOrder::check` then `Vote::sign`)
//!    and check-then-sign-the-receipt (`Certificate::check`, `Receipt::sign`) in a loop over
//!    the same orders the server will get (so the cache of decompressed keys helps both alike);
//! 3. orders: many client sockets keep a window of ORDERs in flight to one anchor (a committee
//!    of one, every lock group-committed to redb before its vote leaves); votes per second;
//! 4. certificates: the same clients send a certificate for every vote received; receipts per
//!    second.
//!
//! The clients run in the same process on the same cores as the server, so the server's share
//! of the CPU is smaller than in a deployment; the report says so.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashmesh_core::{
    AuthorityInfo, Certificate, Committee, Digest, Envelope, Genesis, Keypair, Message, MsgType,
    Receipt, SignedOrder, TransferOrder, Vote,
};
use flashmesh_transport::{Transport, UdpTransport};
use merchant_anchor::{Anchor, AnchorConfig, metrics::get};
use serde::Serialize;

/// What the benchmark runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Orders prepared (one account each).
    pub orders: usize,
    /// Concurrent client sockets.
    pub clients: usize,
    /// Requests in flight per client.
    pub window: usize,
    /// Time limit of each measured phase.
    pub phase: Duration,
    /// Cores of the machine.
    pub cores: usize,
    /// Server sockets sharing the port (`SO_REUSEPORT`), one worker task each.
    pub sockets: usize,
    /// Threads of the runtime that serves and loads the anchor, and of the ceiling loop. More
    /// threads than cores keep a core busy while one thread waits for the authority's lock;
    /// the ceiling uses as many threads so that both get the same share of a shared machine.
    pub threads: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            orders: 60_000,
            clients: 32,
            window: 16,
            phase: Duration::from_secs(3),
            cores: cores(),
            sockets: cores(),
            threads: 2 * cores(),
        }
    }
}

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Cores of the machine.
    pub cores: usize,
    /// Threads of the serving runtime and of the ceiling loop.
    pub threads: usize,
    /// Server sockets (worker tasks).
    pub sockets: usize,
    /// Votes received per second.
    pub orders_per_sec: f64,
    /// Orders per core per second.
    pub orders_per_sec_per_core: f64,
    /// Verify-then-sign operations per second on `cores` threads.
    pub crypto_ceiling_per_sec: f64,
    /// The ceiling measured before the server started.
    pub crypto_ceiling_before_per_sec: f64,
    /// The ceiling measured after the server stopped.
    pub crypto_ceiling_after_per_sec: f64,
    /// Orders per CPU-second of this process (clients included) divided by verify-then-sign
    /// operations per CPU-second: the same ratio, immune to other load on the machine.
    pub ratio_cpu_time: Option<f64>,
    /// `orders_per_sec / crypto_ceiling_per_sec`.
    pub ratio: f64,
    /// Receipts received per second.
    pub certificates_per_sec: f64,
    /// ORDERs sent / VOTEs received.
    pub orders_sent: u64,
    /// VOTEs received.
    pub votes: u64,
    /// CERTIFICATEs sent.
    pub certificates_sent: u64,
    /// RECEIPTs received.
    pub receipts: u64,
    /// Durable commits made by the anchor.
    pub store_commits: u64,
    /// Changes made durable.
    pub store_records: u64,
    /// Mean changes per commit.
    pub mean_commit_batch: f64,
    /// Mean datagrams the server's workers took together (one signature batch and one lock
    /// hold each).
    pub mean_signature_batch: f64,
    /// Check-a-certificate-then-sign-the-receipt on the same threads, same run (mean of before
    /// and after).
    pub certificate_ceiling_per_sec: f64,
    /// `certificates_per_sec / certificate_ceiling_per_sec`.
    pub certificates_ratio: f64,
    /// Concurrent clients and window.
    pub clients: usize,
    /// Requests in flight per client.
    pub window: usize,
    /// How to read the figures.
    pub note: String,
}

/// CPU time used so far by this process (all threads), from `/proc/self/stat`; `None` where
/// that file is unavailable.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in USER_HZ ticks, 100 per second on every mainstream platform.
    Some((utime + stime) / 100.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn account_key(i: usize) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    seed[8] = 0xB7;
    Keypair::from_seed(&seed)
}

/// Signs `n` orders from `n` fresh accounts to `recipient`, on every core.
fn presign(n: usize, recipient: flashmesh_core::PublicKey, cores: usize) -> Vec<SignedOrder> {
    let chunk = n.div_ceil(cores.max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores.max(1))
            .map(|c| {
                s.spawn(move || {
                    (c * chunk..((c + 1) * chunk).min(n))
                        .map(|i| {
                            let k = account_key(i);
                            SignedOrder::sign(
                                TransferOrder {
                                    sender: k.public(),
                                    recipient,
                                    token: 0,
                                    amount: 1,
                                    nonce: 0,
                                    epoch: 0,
                                    ttl: 16,
                                },
                                &k,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

/// Verify-then-sign on `cores` threads for `duration`; operations per second.
pub fn crypto_ceiling(
    orders: &[SignedOrder],
    key: &Keypair,
    cores: usize,
    duration: Duration,
) -> f64 {
    ops_per_sec(orders, cores, duration, |o| {
        o.check().is_ok() && {
            std::hint::black_box(Vote::sign(o.digest(), o.order().nonce, key));
            true
        }
    })
}

/// The same for certificates: check one against `committee` (its votes and the owner's
/// signature, one batch), then sign the receipt; certificates per second.
pub fn certificate_ceiling(
    certificates: &[Certificate],
    committee: &Committee,
    key: &Keypair,
    cores: usize,
    duration: Duration,
) -> f64 {
    ops_per_sec(certificates, cores, duration, |c| {
        c.check(committee).is_ok() && {
            let (d, n) = (c.order.digest(), c.order.order().nonce);
            std::hint::black_box(Receipt::sign(d, n, true, n + 1, key));
            true
        }
    })
}

/// `op` over `items` on `cores` threads for `duration`, round robin; successful operations per
/// second.
fn ops_per_sec<T: Sync>(
    items: &[T],
    cores: usize,
    duration: Duration,
    op: impl Fn(&T) -> bool + Sync,
) -> f64 {
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..cores.max(1) {
            let (done, op) = (&done, &op);
            s.spawn(move || {
                let mut n = 0u64;
                let mut i = c;
                while started.elapsed() < duration {
                    for _ in 0..64 {
                        n += u64::from(op(&items[i % items.len()]));
                        i += cores;
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// One client: keeps `window` requests in flight until all are answered or `deadline`.
/// Returns every reply datagram.
async fn drive(
    socket: UdpTransport,
    server: SocketAddr,
    requests: Vec<Vec<u8>>,
    window: usize,
    deadline: Instant,
) -> Vec<Vec<u8>> {
    let mut replies = Vec::with_capacity(requests.len());
    let mut buf = vec![0u8; 2048];
    let mut next = 0usize;
    let mut outstanding = 0usize;
    while next < requests.len() && outstanding < window {
        let _ = socket.send_to(&requests[next], server).await;
        next += 1;
        outstanding += 1;
    }
    while (outstanding > 0 || next < requests.len()) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                replies.push(buf[..n].to_vec());
                outstanding = outstanding.saturating_sub(1);
                while next < requests.len() && outstanding < window {
                    let _ = socket.send_to(&requests[next], server).await;
                    next += 1;
                    outstanding += 1;
                }
            }
            Ok(Err(_)) => {}
            Err(_) => {
                // Lost datagrams: refill the window with fresh requests.
                outstanding = 0;
                if next >= requests.len() {
                    break;
                }
                while next < requests.len() && outstanding < window {
                    let _ = socket.send_to(&requests[next], server).await;
                    next += 1;
                    outstanding += 1;
                }
            }
        }
    }
    replies
}

/// Sends `requests` from `clients` sockets; returns the replies and the elapsed time until the
/// last reply.
async fn load(
    server: SocketAddr,
    requests: Vec<Vec<u8>>,
    clients: usize,
    window: usize,
    limit: Duration,
) -> anyhow::Result<(Vec<Vec<u8>>, Duration)> {
    let mut slices: Vec<Vec<Vec<u8>>> = (0..clients).map(|_| Vec::new()).collect();
    for (i, r) in requests.into_iter().enumerate() {
        slices[i % clients].push(r);
    }
    let mut sockets = Vec::new();
    for _ in 0..clients {
        sockets.push(UdpTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?);
    }
    let started = Instant::now();
    let deadline = started + limit;
    let tasks: Vec<_> = sockets
        .into_iter()
        .zip(slices)
        .map(|(s, slice)| tokio::spawn(drive(s, server, slice, window, deadline)))
        .collect();
    let mut replies = Vec::new();
    for t in tasks {
        replies.extend(t.await?);
    }
    Ok((replies, started.elapsed().min(limit)))
}

fn write(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)?;
    Ok(())
}

/// Runs the benchmark (call from a multi-threaded runtime with `opts.threads` workers).
pub async fn run_authority_bench(opts: &BenchOptions) -> anyhow::Result<BenchReport> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let key = Keypair::from_seed(&[0xA5; 32]);
    let merchant = Keypair::from_seed(&[0x5A; 32]).public();
    let orders = tokio::task::block_in_place(|| presign(opts.orders, merchant, opts.cores));

    let port = std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let committee = Committee::new(vec![AuthorityInfo {
        name: "bench-anchor".into(),
        public_key: key.public(),
        weight: 1,
        address: listen.to_string(),
    }])?;
    // Every order's certificate, as the server will see them (the ceilings run over the same
    // accounts as the server, so that the per-thread cache of decompressed keys helps both
    // alike: a ceiling looping over a few thousand accounts would find every key cached).
    let sample_certificates: Vec<Certificate> = tokio::task::block_in_place(|| {
        orders
            .iter()
            .map(|o| Certificate::new(*o, [&Vote::sign(o.digest(), o.order().nonce, &key)]))
            .collect()
    });
    let ceiling_phase = opts.phase.min(Duration::from_secs(2));
    // Both ceilings, with the CPU time of the order ceiling: run before the server exists and
    // again at the end (the machine may be shared, so the two are averaged to compare like
    // with like).
    let ceilings = || {
        tokio::task::block_in_place(|| {
            let cpu = process_cpu_seconds();
            let orders = crypto_ceiling(&orders, &key, opts.threads, ceiling_phase);
            let cpu = cpu_delta(cpu);
            let certificates = certificate_ceiling(
                &sample_certificates,
                &committee,
                &key,
                opts.threads,
                opts.phase.min(Duration::from_secs(1)),
            );
            (orders, cpu, certificates)
        })
    };

    // Phase 2: the ceilings.
    let (ceiling_before, cpu_ceiling_before, certificate_ceiling_before) = ceilings();
    let genesis = Genesis::uniform(orders.iter().map(|o| o.order().sender), 10);
    write(&dir.join("committee.toml"), &committee.to_toml())?;
    write(&dir.join("genesis.toml"), &genesis.to_toml())?;
    write(&dir.join("anchor.key"), &key.to_hex())?;
    let config = AnchorConfig {
        name: "bench-anchor".into(),
        listen,
        admin: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.join("data"),
        key_file: dir.join("anchor.key"),
        committee_file: dir.join("committee.toml"),
        genesis_file: dir.join("genesis.toml"),
        admin_token: None,
        workers: opts.sockets,
        epoch: 0,
        controller: None,
        liveness: Default::default(),
        link_relay: None,
    };
    let anchor = Anchor::start(&config).await?;

    // Phase 3: orders.
    let requests: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| Envelope::order(*o).encode())
        .collect::<Result<_, _>>()?;
    let orders_sent = requests.len() as u64;
    let cpu1 = process_cpu_seconds();
    let (replies, elapsed) = load(listen, requests, opts.clients, opts.window, opts.phase).await?;
    let cpu_orders = cpu_delta(cpu1);
    let by_digest: HashMap<Digest, usize> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.digest(), i))
        .collect();
    let mut votes: Vec<(usize, Vote)> = Vec::with_capacity(replies.len());
    for r in &replies {
        if r.get(1) != Some(&MsgType::Vote.to_u8()) {
            continue;
        }
        if let Ok(Envelope {
            message: Message::Vote(v),
            ..
        }) = Envelope::decode(r)
            && let Some(&i) = by_digest.get(&v.order_digest)
        {
            votes.push((i, v));
        }
    }
    let orders_per_sec = votes.len() as f64 / elapsed.as_secs_f64();

    // Phase 4: certificates for every vote received.
    let certs: Vec<Vec<u8>> = votes
        .iter()
        .map(|(i, v)| Envelope::certificate(Certificate::new(orders[*i], [v]), 0).encode())
        .collect::<Result<_, _>>()?;
    let certificates_sent = certs.len() as u64;
    let (replies, elapsed) = load(listen, certs, opts.clients, opts.window, opts.phase).await?;
    let receipts = replies
        .iter()
        .filter(|r| r.get(1) == Some(&MsgType::Receipt.to_u8()))
        .count() as u64;
    let certificates_per_sec = receipts as f64 / elapsed.as_secs_f64();

    let m = anchor.metrics().clone();
    anchor.shutdown().await;
    let (ceiling_after, cpu_ceiling_after, certificate_ceiling_after) = ceilings();
    let certificates_ceiling = (certificate_ceiling_before + certificate_ceiling_after) / 2.0;
    let ceiling = (ceiling_before + ceiling_after) / 2.0;
    let ceiling_secs = ceiling_phase.as_secs_f64();
    // Work per CPU-second of this process: independent of what else the machine runs.
    let ratio_cpu = match (cpu_ceiling_before, cpu_ceiling_after, cpu_orders) {
        (Some(b), Some(a), Some(o)) if a + b > 0.0 && o > 0.0 => {
            let ceiling_per_cpu = (ceiling_before + ceiling_after) * ceiling_secs / (a + b);
            Some((votes.len() as f64 / o) / ceiling_per_cpu)
        }
        _ => None,
    };
    let commits = get(&m.store_commits);
    let records = get(&m.store_records);
    let (batches, batched) = (get(&m.batches), get(&m.batched));
    Ok(BenchReport {
        cores: opts.cores,
        threads: opts.threads,
        sockets: opts.sockets,
        orders_per_sec,
        orders_per_sec_per_core: orders_per_sec / opts.cores as f64,
        crypto_ceiling_per_sec: ceiling,
        crypto_ceiling_before_per_sec: ceiling_before,
        crypto_ceiling_after_per_sec: ceiling_after,
        ratio: orders_per_sec / ceiling,
        ratio_cpu_time: ratio_cpu,
        certificates_per_sec,
        orders_sent,
        votes: votes.len() as u64,
        certificates_sent,
        receipts,
        store_commits: commits,
        store_records: records,
        mean_commit_batch: if commits == 0 {
            0.0
        } else {
            records as f64 / commits as f64
        },
        mean_signature_batch: if batches == 0 {
            0.0
        } else {
            batched as f64 / batches as f64
        },
        certificate_ceiling_per_sec: certificates_ceiling,
        certificates_ratio: certificates_per_sec / certificates_ceiling,
        clients: opts.clients,
        window: opts.window,
        note: format!(
            "one authority, durability on (redb, group commit); the {} client sockets run in the \
             same process on the same {} cores as the server ({} runtime threads), with orders \
             signed before timing",
            opts.clients, opts.cores, opts.threads
        ),
    })
}

/// The human-readable report.
pub fn render(r: &BenchReport) -> String {
    format!(
        "authority benchmark ({} cores, {} server sockets, {} clients x {} in flight)\n\
         orders/s           {:>10.0}  ({:.0} per core)\n\
         crypto ceiling/s   {:>10.0}  (verify-then-sign, {} threads; mean of {:.0} before, {:.0} after)\n\
         ratio              {:>10.2}  (per CPU-second of this process: {})\n\
         certificates/s     {:>10.0}  (ceiling check-then-sign {:.0}/s; ratio {:.2})\n\
         votes {} of {} orders, receipts {} of {} certificates\n\
         store: {} records in {} commits (mean batch {:.1}); signature batches of {:.1} datagrams on average\n\
         note: {}\n",
        r.cores,
        r.sockets,
        r.clients,
        r.window,
        r.orders_per_sec,
        r.orders_per_sec_per_core,
        r.crypto_ceiling_per_sec,
        r.threads,
        r.crypto_ceiling_before_per_sec,
        r.crypto_ceiling_after_per_sec,
        r.ratio,
        r.ratio_cpu_time
            .map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}")),
        r.certificates_per_sec,
        r.certificate_ceiling_per_sec,
        r.certificates_ratio,
        r.votes,
        r.orders_sent,
        r.receipts,
        r.certificates_sent,
        r.store_records,
        r.store_commits,
        r.mean_commit_batch,
        r.mean_signature_batch,
        r.note
    )
}

fn cpu_delta(start: Option<f64>) -> Option<f64> {
    Some(process_cpu_seconds()? - start?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_time_is_readable_and_grows() {
        let a = process_cpu_seconds().expect("linux /proc");
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(process_cpu_seconds().unwrap() >= a);
    }
}
