//! Pipeline benchmark: packets per second on one core through `tests/programs/router.p4`
//! (Ethernet/IPv4/UDP parse, checksum verify and update, a 1,000-route LPM table, a two-hash
//! register Bloom filter, two counters), and the memory one switch instance adds when many
//! instances share one compiled program.
//!
//! Run with `cargo bench -p flashmesh-p4 --bench pipeline`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_p4::exec::hash::csum16;
use flashmesh_p4::{ActionSpec, FieldMatch, MatchValue, Program, Switch, SwitchConfig, TableEntry};

fn frame(dst: u32, sport: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00];
    let mut ip = vec![
        0x45, 0, 0, 46, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 192, 168, 1, 1,
    ];
    ip.extend_from_slice(&dst.to_be_bytes());
    let c = csum16(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&[0x13, 0x88, 0, 26, 0, 0]);
    f.extend_from_slice(&[0xab; 18]);
    f
}

fn routes(p: &Program) -> Vec<TableEntry> {
    let t = &p.tables[p.table_by_name("MyIngress.routes").expect("routes table") as usize];
    let fwd = &p.actions[p.action_by_name("MyIngress.forward").expect("forward") as usize];
    (0..1000u32)
        .map(|i| {
            // a mix of /16, /24 and /32 routes
            let (addr, len) = match i % 10 {
                0 => (0x0b00_0000 | (i << 16), 16),
                1..=7 => (0x0a00_0000 | (i << 8), 24),
                _ => (0x0a00_0000 | (i << 8) | 7, 32),
            };
            TableEntry {
                table_id: t.id,
                matches: vec![FieldMatch {
                    field_id: t.keys[0].id,
                    value: MatchValue::Lpm {
                        value: addr.to_be_bytes().to_vec(),
                        prefix_len: len,
                    },
                }],
                action: ActionSpec {
                    action_id: fwd.id,
                    params: vec![
                        (fwd.params[0].id, vec![((i % 8) + 1) as u8]),
                        (
                            fwd.params[1].id,
                            vec![0x02, 0, 0, 0, (i >> 8) as u8, i as u8],
                        ),
                    ],
                },
                ..Default::default()
            }
        })
        .collect()
}

/// Nanoseconds this thread has run on a CPU (so that other load on the machine does not count).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<usize>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/router.p4");
    let program: Arc<Program> = flashmesh_p4::compile_file(path).expect("router.p4 compiles");
    let mut sw = Switch::new(program.clone(), SwitchConfig::default());
    for e in routes(&program) {
        sw.insert_entry(&e).expect("route");
    }
    // 1,024 frames: destinations spread over the routes, ports varied so the Bloom filter sees
    // both new and repeated flows.
    let frames: Vec<Vec<u8>> = (0..1024u32)
        .map(|i| {
            let r = i % 1000;
            let dst = 0x0a00_0000 | (r << 8) | (i & 0x7f);
            frame(dst, 1000 + (i % 300) as u16)
        })
        .collect();
    let mut forwarded = 0usize;
    for f in frames.iter().cycle().take(50_000) {
        forwarded += sw.process(1, f).outputs.len();
    }
    assert!(
        forwarded > 30_000,
        "the benchmark traffic must be forwarded ({forwarded})"
    );

    let budget = Duration::from_secs(3);
    let mut best = 0f64;
    let mut best_cpu = 0f64;
    for _round in 0..3 {
        let start = Instant::now();
        let cpu0 = thread_cpu_ns();
        let mut n = 0u64;
        while start.elapsed() < budget / 3 {
            for f in &frames {
                black_box(sw.process(1, black_box(f)));
            }
            n += frames.len() as u64;
        }
        let pps = n as f64 / start.elapsed().as_secs_f64();
        best = best.max(pps);
        if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
            best_cpu = best_cpu.max(n as f64 / ((b - a) as f64 / 1e9));
        }
    }
    println!(
        "pipeline: router.p4 (eth/ipv4/udp parse, csum verify+update, 1000-route LPM, 2-hash Bloom register, 2 counters)"
    );
    println!(
        "pipeline: {:.0} packets/s wall clock ({:.0} ns/packet)",
        best,
        1e9 / best
    );
    println!(
        "pipeline: {:.0} packets per CPU-second on one core ({:.0} ns of CPU/packet; excludes time other processes held the core)",
        best_cpu,
        1e9 / best_cpu
    );

    // Two-phase API (ingress, then egress) as a traffic manager would drive it.
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget / 3 {
        for f in &frames {
            if let flashmesh_p4::IngressOutcome::Queued(q) = sw.ingress(1, f) {
                black_box(sw.egress(q, Default::default()));
            }
        }
        n += frames.len() as u64;
    }
    let pps = n as f64 / start.elapsed().as_secs_f64();
    println!("pipeline: {pps:.0} packets/s through ingress()+egress()");

    // Memory per instance sharing one program.
    let before = resident_bytes();
    let mut many: Vec<Switch> = (0..1000)
        .map(|_| Switch::new(program.clone(), SwitchConfig::default()))
        .collect();
    for s in &mut many {
        black_box(s.process(1, &frames[0]));
    }
    let after = resident_bytes();
    println!(
        "memory: {} bytes resident per empty switch instance (1000 instances, one shared program); estimate {} bytes",
        (after.saturating_sub(before)) / 1000,
        many[0].memory_bytes()
    );
    let before = resident_bytes();
    let entries = routes(&program);
    for s in many.iter_mut().take(100) {
        for e in &entries {
            s.insert_entry(e).expect("route");
        }
    }
    let after = resident_bytes();
    println!(
        "memory: {} bytes resident per instance with 1000 routes (100 instances)",
        (after.saturating_sub(before)) / 100 + (resident_bytes().saturating_sub(after))
    );
}
