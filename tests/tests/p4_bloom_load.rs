//! The duplicate filter of `p4src/flash_mesh.p4` at its design load, on the flash-switch engine.
//!
//! The program is sized for n = 4096 filtered messages per epoch, with two epochs live in the
//! window (8192 entries), k = 8 partitions of 32768 cells: a computed false-positive rate of
//! (1 - e^(-8192/32768))^8 = 5.7e-6. This test fills the filter with n random fresh ORDERs in
//! epoch 10 and n more in epoch 11 (none may be dropped as a duplicate), then sends more fresh
//! ORDERs at and above the design load and counts any dropped as duplicates (false positives).
//! It also derives the false-positive rate the filter's actual state gives (the product over
//! the partitions of the fraction of cells inside the window) and checks that replays of
//! messages already sent are all dropped, so the filter is really on.

use std::collections::HashSet;
use std::path::PathBuf;

use flashmesh_tests::packet::{Layer, LayerKind, build};
use flashmesh_tests::pkt_test;
use flashmesh_tests::runner::EngineHarness;

/// Filtered messages per epoch the program is sized for (see the comment in flash_mesh.p4).
const DESIGN_LOAD: usize = 4096;
/// Fresh messages sent after the filter holds two epochs' worth.
const PROBES: usize = 3000;
/// Cells per partition and partitions, as the program's #defines.
const PART: u32 = 32768;
const K: u32 = 8;

/// splitmix64: a small deterministic generator, so the test sees the same keys every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn order(epoch: u32, sender: u64, nonce: u64, retry: u8) -> Vec<u8> {
    let l = |kind, f: &[(&str, String)]| {
        Layer::new(
            kind,
            f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        )
        .expect("layer")
    };
    build(&[
        l(
            LayerKind::Eth,
            &[
                ("dst", "02:00:00:00:00:aa".into()),
                ("src", "02:00:00:00:01:01".into()),
            ],
        ),
        l(
            LayerKind::Ipv4,
            &[("src", "10.0.1.1".into()), ("dst", "10.0.2.1".into())],
        ),
        l(LayerKind::Udp, &[("sport", "40000".into())]),
        l(
            LayerKind::Fmh,
            &[
                ("msg_type", "ORDER".into()),
                ("epoch", epoch.to_string()),
                ("ttl", "1".into()),
                ("sender", sender.to_string()),
                ("nonce", nonce.to_string()),
                ("retry", retry.to_string()),
            ],
        ),
        l(LayerKind::Raw, &[("len", "64".into())]),
    ])
    .expect("frame")
}

fn set_epoch(h: &mut EngineHarness, epoch: u32) {
    let t = pkt_test::parse(
        "epoch",
        &format!(
            "default FmIngress.epoch_window -> \
             FmIngress.set_epoch(current_epoch={epoch}, retry_allowance=3)\n"
        ),
    )
    .expect("step");
    h.step(&t.steps[0]).expect("set epoch");
}

/// Predicted false-positive rate from the register: the product over partitions of the share
/// of cells stamped with the current or the previous epoch.
fn occupancy_fp(h: &mut EngineHarness, current: u32) -> f64 {
    let id = {
        let sw = h.switch();
        sw.program()
            .registers
            .iter()
            .find(|r| r.name == "FmIngress.bloom")
            .expect("register FmIngress.bloom")
            .id
    };
    let sw = h.switch();
    let mut fp = 1.0;
    for part in 0..K {
        let mut live = 0u32;
        for i in 0..PART {
            let bytes = sw
                .read_register(id, part * PART + i)
                .expect("register cell");
            let v = bytes.iter().fold(0u64, |a, b| (a << 8) | *b as u64) as u32;
            if v != 0 && (v == current || v == current - 1) {
                live += 1;
            }
        }
        fp *= live as f64 / PART as f64;
    }
    fp
}

fn harness() -> EngineHarness {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = flashmesh_p4::compile_file(repo.join("p4src/flash_mesh.p4"))
        .unwrap_or_else(|d| panic!("{d}"));
    let mut h = EngineHarness::new(program);
    let setup = pkt_test::parse(
        "setup",
        "entry FmIngress.ipv4_lpm hdr.ipv4.dstAddr=10.0.2.0/24 -> FmIngress.set_next_hop(port=2, \
         dmac=02:00:00:00:02:01, backup_port=3, backup_dmac=02:00:00:00:03:01, smac=02:00:00:00:00:aa)\n\
         entry FmIngress.dedup_types hdr.fmh.msg_type=1 -> FmIngress.dedup_enable()\n",
    )
    .expect("setup parses");
    for s in &setup.steps {
        h.step(s).expect("setup step");
    }

    h
}

#[test]
fn no_fresh_message_is_dropped_at_the_design_load() {
    let mut h = harness();

    let mut rng = SplitMix(0x5EED_F1A5_0000_0001);
    let mut keys = HashSet::new();
    let mut fresh = |rng: &mut SplitMix| loop {
        let k = (rng.next(), rng.next(), (rng.next() % 4) as u8);
        if keys.insert(k) {
            return k;
        }
    };
    let mut sent = Vec::new();
    let mut dropped_fill = 0usize;

    // Fill: n messages in epoch 10, n in epoch 11.
    for epoch in [10u32, 11] {
        set_epoch(&mut h, epoch);
        for _ in 0..DESIGN_LOAD {
            let (s, n, r) = fresh(&mut rng);
            let out = h.send(1, &order(epoch, s, n, r));
            if out.frames.is_empty() {
                dropped_fill += 1;
            }
            sent.push((epoch, s, n, r));
        }
    }
    let predicted = occupancy_fp(&mut h, 11);

    // Probe: fresh messages against a filter holding 2n live entries (and growing).
    let mut false_positives = 0usize;
    for _ in 0..PROBES {
        let (s, n, r) = fresh(&mut rng);
        if h.send(1, &order(11, s, n, r)).frames.is_empty() {
            false_positives += 1;
        }
    }

    // Replays of messages sent in both epochs of the window are all caught.
    let mut replays_caught = 0usize;
    let replays: Vec<_> = sent.iter().step_by(40).copied().collect();
    for (e, s, n, r) in &replays {
        if h.send(1, &order(*e, *s, *n, *r)).frames.is_empty() {
            replays_caught += 1;
        }
    }
    let (dup_drops, _) = h.counter("FmIngress.drops", 5).expect("drops counter");

    let computed = (1.0 - (-((2 * DESIGN_LOAD) as f64) / PART as f64).exp()).powi(K as i32);
    let total_fresh = 2 * DESIGN_LOAD + PROBES;
    eprintln!("duplicate filter at the design load ({DESIGN_LOAD} per epoch, 2 epochs live):");
    eprintln!("  computed false-positive rate:            {computed:.2e}");
    eprintln!("  rate predicted by the filled register:   {predicted:.2e}");
    eprintln!(
        "  fresh messages dropped while filling:    {dropped_fill} of {}",
        2 * DESIGN_LOAD
    );
    eprintln!(
        "  fresh messages dropped at full load:     {false_positives} of {PROBES} (observed rate {:.2e})",
        false_positives as f64 / PROBES as f64
    );
    eprintln!(
        "  observed over all {total_fresh} fresh messages: {:.2e}",
        (dropped_fill + false_positives) as f64 / total_fresh as f64
    );
    eprintln!(
        "  replays dropped:                         {replays_caught} of {}",
        replays.len()
    );

    assert_eq!(dropped_fill, 0, "a fresh message was dropped while filling");
    assert_eq!(
        false_positives, 0,
        "a fresh message was dropped at full load"
    );
    assert_eq!(replays_caught, replays.len(), "a replay got through");
    assert_eq!(
        dup_drops as usize,
        replays.len(),
        "drops[5] counts exactly the replays"
    );
    assert!(predicted <= 1e-4, "filled filter predicts {predicted:.2e}");
    assert!(predicted > 0.0, "the filter holds entries");
}

/// Above the design load the false-positive rate becomes large enough to measure; the observed
/// rate must agree with the rate the register's occupancy predicts, which shows the k hashes
/// behave as independent uniform hashes (the design-load figure rests on that).
#[test]
fn measured_rate_tracks_the_model_under_overload() {
    const PER_EPOCH: usize = 4 * DESIGN_LOAD;
    const OVERLOAD_PROBES: usize = 5000;
    let mut h = harness();
    let mut rng = SplitMix(0x0BAD_5EED_0000_0002);
    let mut keys = HashSet::new();
    let mut fresh = |rng: &mut SplitMix| loop {
        let k = (rng.next(), rng.next(), (rng.next() % 4) as u8);
        if keys.insert(k) {
            return k;
        }
    };
    for epoch in [10u32, 11] {
        set_epoch(&mut h, epoch);
        for _ in 0..PER_EPOCH {
            let (s, n, r) = fresh(&mut rng);
            h.send(1, &order(epoch, s, n, r));
        }
    }
    let before = occupancy_fp(&mut h, 11);
    let mut fp = 0usize;
    for _ in 0..OVERLOAD_PROBES {
        let (s, n, r) = fresh(&mut rng);
        if h.send(1, &order(11, s, n, r)).frames.is_empty() {
            fp += 1;
        }
    }
    let after = occupancy_fp(&mut h, 11);
    let observed = fp as f64 / OVERLOAD_PROBES as f64;
    eprintln!(
        "overload ({PER_EPOCH} per epoch): predicted {before:.3e} .. {after:.3e}, observed {observed:.3e} ({fp} of {OVERLOAD_PROBES})"
    );
    assert!(
        observed >= 0.7 * before && observed <= 1.3 * after,
        "observed {observed:.3e} outside the predicted {before:.3e} .. {after:.3e}"
    );
}
