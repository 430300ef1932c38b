//! Priority flows under congestion: a best-effort flood at twice a bottleneck link's rate, with
//! BCB votes mixed in, once with the controller's classification installed and once withheld.
//! The test asserts the ordering (votes are faster and lose less with priority), not times.

mod controller_common;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use controller_common::*;
use flash_switch::link::LinkParams;
use flashmesh_controller::Controller;

/// A plain UDP datagram (not BCB): best effort.
fn best_effort(dst: Ipv4Addr, n: u32) -> Vec<u8> {
    let mut f = Fmh::new(8, 1, [0; 8], u64::from(n), dst).frame();
    // move it off the BCB port: UDP ports 9999
    f[34..36].copy_from_slice(&9999u16.to_be_bytes());
    f[36..38].copy_from_slice(&9999u16.to_be_bytes());
    f
}

struct Phase {
    sent: usize,
    delivered: usize,
    median_ms: f64,
}

/// Floods a -> b for `dur` at `flood_pps`, with a vote every 20 ms; returns the votes' fate.
async fn run_phase(
    t: &Triangle,
    ctrl: &Controller,
    flood_pps: u32,
    dur: Duration,
    tag: u8,
) -> Phase {
    let dst = Ipv4Addr::new(10, 0, 2, 9);
    drain(&t.b.sw, 3);
    let start = Instant::now();
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let mut delays = Vec::new();
    let mut flood = 0u32;
    let mut votes = 0u64;
    let deadline = start + dur + Duration::from_millis(500);
    while Instant::now() < deadline {
        let el = start.elapsed();
        if el < dur {
            let due = (el.as_secs_f64() * f64::from(flood_pps)) as u32;
            while flood < due {
                t.a.sw.port(3).unwrap().send(best_effort(dst, flood));
                flood += 1;
            }
            if votes < (el.as_millis() / 20) as u64 {
                votes += 1;
                let nonce = u64::from(tag) << 32 | votes;
                let f = Fmh::new(2, ctrl.epoch(), [tag; 8], nonce, dst).frame();
                sent_at.insert(nonce, Instant::now());
                t.a.sw.port(3).unwrap().send(f);
            }
        }
        while let Some(f) = t.b.sw.port(3).unwrap().try_recv() {
            let is_vote = f.len() > 50 && f[36..38] == 47474u16.to_be_bytes() && f[43] == 2;
            if is_vote {
                let nonce = u64::from_be_bytes(f[58..66].try_into().unwrap());
                if let Some(at) = sent_at.get(&nonce) {
                    delays.push(at.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Phase {
        sent: sent_at.len(),
        delivered: delays.len(),
        median_ms: delays
            .get(delays.len() / 2)
            .copied()
            .unwrap_or(f64::INFINITY),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_flows_keep_votes_fast_under_a_best_effort_flood() {
    let mut t = triangle().await;
    t.spec.settings.probe_miss_count = 50; // about queues, not links
    let ctrl = Controller::start(t.spec.clone())
        .await
        .expect("controller starts");
    // the bottleneck: a's port towards b serves 300 packets per second
    t.a.sw
        .device()
        .set_link(
            1,
            LinkParams {
                rate_pps: Some(300.0),
                ..Default::default()
            },
        )
        .unwrap();
    let dur = Duration::from_millis(1200);

    let with = run_phase(&t, &ctrl, 600, dur, 0xa1).await;
    // let the queue empty before the control run
    tokio::time::sleep(Duration::from_millis(500)).await;
    ctrl.set_classification(false).await.unwrap();
    let without = run_phase(&t, &ctrl, 600, dur, 0xa2).await;
    println!(
        "congestion (flood 2x a 300 pps bottleneck): with priority {}/{} votes, median {:.1} ms; \
         without {}/{} votes, median {:.1} ms",
        with.delivered,
        with.sent,
        with.median_ms,
        without.delivered,
        without.sent,
        without.median_ms
    );
    assert!(with.sent > 10 && without.sent > 10);
    assert!(
        with.delivered >= without.delivered,
        "priority never loses more votes"
    );
    assert!(
        with.median_ms < without.median_ms,
        "votes are faster with priority flows"
    );
    assert!(
        with.delivered * 10 >= with.sent * 9,
        "with priority nearly every vote arrives"
    );
}
