//! `flashmesh bench recovery`: how long an anchor takes to restart after a long history, with
//! and without a snapshot, measured in one run on one store.
//!
//! The store gets `certificates` applied certificates (real signatures, journaled as the
//! anchor journals them; see `merchant_anchor::history`). Then, each from a freshly opened
//! store: the restart replaying the whole journal (what every restart did before snapshots),
//! the snapshot write (what the anchor does every `SNAPSHOT_EVERY` records), and the restart
//! from the snapshot. Restarting checks the recovered state against the live one.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, ensure};
use merchant_anchor::history::History;
use merchant_anchor::{Store, recover};
use serde::Serialize;

/// What to measure.
#[derive(Debug, Clone)]
pub struct RecoveryBenchOptions {
    /// Applied certificates in the history.
    pub certificates: u64,
    /// Accounts paying in turn.
    pub accounts: usize,
    /// Where the store goes (a temporary directory if `None`).
    pub dir: Option<PathBuf>,
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    /// Applied certificates.
    pub certificates: u64,
    /// Accounts.
    pub accounts: usize,
    /// Writing the history (signing included), s.
    pub history_s: f64,
    /// The store file after the history, bytes.
    pub store_bytes: u64,
    /// Restart replaying the whole journal, s.
    pub restart_full_replay_s: f64,
    /// Writing the snapshot and compacting the journal, s.
    pub snapshot_write_s: f64,
    /// The snapshot, bytes.
    pub snapshot_bytes: usize,
    /// Restart from the snapshot, s.
    pub restart_from_snapshot_s: f64,
    /// Full replay time over snapshot restart time.
    pub speedup: f64,
}

/// Runs the benchmark.
pub fn run_recovery_bench(opts: &RecoveryBenchOptions) -> anyhow::Result<RecoveryReport> {
    let tmp;
    let dir = match &opts.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let h = History::new(opts.accounts);
    let mut live = h.authority();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = Instant::now();
    {
        let mut store = Store::open(&dir)?;
        ensure!(store.is_empty(), "{} already holds a store", dir.display());
        h.write(Some(&mut store), &mut live, 0..opts.certificates, threads)?;
    }
    let history_s = t.elapsed().as_secs_f64();
    let db = dir.join(merchant_anchor::store::DB_FILE);
    let store_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let want = live.snapshot();

    let t = Instant::now();
    let mut store = Store::open(&dir)?;
    let (full, replayed) = recover(h.key.clone(), h.committee.clone(), &h.genesis, &store)?;
    let restart_full_replay_s = t.elapsed().as_secs_f64();
    ensure!(replayed as u64 == opts.certificates, "replayed {replayed}");

    let t = Instant::now();
    let snap = full.snapshot();
    store.write_snapshot(store.len(), &snap)?;
    let snapshot_write_s = t.elapsed().as_secs_f64();
    ensure!(snap == want, "the full replay rebuilt another state");
    drop((store, full));

    let t = Instant::now();
    let store = Store::open(&dir)?;
    let (back, replayed) = recover(h.key.clone(), h.committee.clone(), &h.genesis, &store)?;
    let restart_from_snapshot_s = t.elapsed().as_secs_f64();
    ensure!(replayed == 0, "replayed {replayed} after the snapshot");
    ensure!(
        back.snapshot() == want,
        "the snapshot rebuilt another state"
    );
    Ok(RecoveryReport {
        certificates: opts.certificates,
        accounts: h.accounts.len(),
        history_s,
        store_bytes,
        restart_full_replay_s,
        snapshot_write_s,
        snapshot_bytes: snap.len(),
        restart_from_snapshot_s,
        speedup: restart_full_replay_s / restart_from_snapshot_s.max(1e-9),
    })
}

/// The report as a table.
pub fn render_recovery(r: &RecoveryReport) -> String {
    format!(
        "recovery after {} applied certificates ({} accounts; store {:.0} MB, written in {:.1} s)\n\
         restart, whole journal replayed   {:>9.3} s\n\
         snapshot write + compaction       {:>9.3} s  ({} bytes)\n\
         restart from the snapshot         {:>9.3} s\n\
         speed-up                          {:>9.0}x\n",
        r.certificates,
        r.accounts,
        r.store_bytes as f64 / 1e6,
        r.history_s,
        r.restart_full_replay_s,
        r.snapshot_write_s,
        r.snapshot_bytes,
        r.restart_from_snapshot_s,
        r.speedup
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_history_restarts_the_same_both_ways() {
        let r = run_recovery_bench(&RecoveryBenchOptions {
            certificates: 500,
            accounts: 5,
            dir: None,
        })
        .unwrap();
        assert_eq!(r.certificates, 500);
        assert!(r.snapshot_bytes > 0 && r.store_bytes > 0);
        assert!(render_recovery(&r).contains("restart from the snapshot"));
    }
}
