//! `plot_dir` and `plot_scaling` on run folders written the way the targets write them: each
//! chart exists, decodes as a PNG of the chart size and is not one flat colour; edge cases
//! (no payments, no queues.csv, all failed, a collection of runs) write what they can.

use std::path::{Path, PathBuf};

use flashmesh_plot::{HEIGHT, PlotError, WIDTH, files, plot_dir, plot_scaling};
use flashmesh_scenario::outputs::{
    EventRecord, PaymentOutcome, PaymentRecord, QueueRecord, write_outputs, write_queues,
};
use flashmesh_scenario::{Kpis, PhaseKpis, RunInfo};

fn phase(name: &str, start_ms: u64, end_ms: u64, p50: f64) -> PhaseKpis {
    PhaseKpis {
        phase: name.into(),
        start_ms,
        end_ms,
        finality_p50_ms: Some(p50),
        finality_p95_ms: Some(p50 * 3.0),
        ..PhaseKpis::default()
    }
}

fn kpis(merchants: usize, p50: f64) -> Kpis {
    Kpis {
        run: RunInfo {
            scenario: "test".into(),
            merchants,
            ..RunInfo::default()
        },
        phases: vec![
            phase("all", 0, 9000, p50),
            phase("warmup", 0, 3000, p50),
            phase("flood", 3000, 6000, p50 * 2.0),
            phase("recovery", 6000, 9000, p50),
        ],
        ..Kpis::default()
    }
}

fn payment(id: u64, start_ms: f64, outcome: PaymentOutcome, finality_ms: f64) -> PaymentRecord {
    PaymentRecord {
        id,
        payer: format!("p{}", id % 4),
        payee: "m0".into(),
        committee: "shared".into(),
        amount: 5,
        nonce: id,
        start_ms,
        end_ms: (outcome != PaymentOutcome::Unfinished).then_some(start_ms + finality_ms),
        outcome,
        reason: if outcome == PaymentOutcome::Failed {
            "timeout".into()
        } else {
            String::new()
        },
        cert_ms: None,
        retries: 0,
        path: "p0>m0".into(),
    }
}

/// A mixed run: three phases, the flood slower, some failed and unfinished payments.
fn payments() -> Vec<PaymentRecord> {
    (0..300)
        .map(|i| {
            let start = i as f64 * 30.0;
            let slow = (3000.0..6000.0).contains(&start);
            let finality = 20.0 + (i * 7 % 23) as f64 + if slow { 60.0 } else { 0.0 };
            let outcome = match i % 37 {
                0 => PaymentOutcome::Failed,
                1 if slow => PaymentOutcome::Unfinished,
                _ => PaymentOutcome::Ok,
            };
            payment(i, start, outcome, finality)
        })
        .collect()
}

fn events() -> Vec<EventRecord> {
    let ev = |at_ms, kind: &str| EventRecord {
        at_ms,
        kind: kind.into(),
        detail: "m0-m1".into(),
    };
    vec![
        ev(3000.0, "flood_start"),
        ev(4500.0, "link_cut"),
        ev(4520.0, "reroute"),
        ev(6000.0, "flood_stop"),
    ]
}

fn queues() -> Vec<QueueRecord> {
    (0..90)
        .map(|i| {
            let flood = (30..60).contains(&i);
            QueueRecord {
                at_ms: i as f64 * 100.0,
                class0: if flood { 2 } else { 0 },
                class2: if flood { 40 + i % 7 } else { i % 3 },
            }
        })
        .collect()
}

fn run_dir(
    dir: &Path,
    kpis: &Kpis,
    payments: &[PaymentRecord],
    queues: Option<&[QueueRecord]>,
) -> PathBuf {
    write_outputs(dir, kpis, payments, &events()).unwrap();
    if let Some(q) = queues {
        write_queues(dir, q).unwrap();
    }
    dir.to_path_buf()
}

/// Decodes `path` and checks it is a chart-sized PNG that is not one flat colour.
fn assert_chart(path: &Path) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.dimensions(), (WIDTH, HEIGHT), "{}", path.display());
    let first = img.get_pixel(0, 0);
    let other = img.pixels().filter(|p| *p != first).count();
    assert!(
        other > 1000,
        "{} is almost flat ({other} pixels differ)",
        path.display()
    );
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_full_run_gets_every_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_dir(tmp.path(), &kpis(4, 30.0), &payments(), Some(&queues()));
    let report = plot_dir(&dir).unwrap();
    assert_eq!(
        names(&report.written),
        [
            files::FINALITY_CDF,
            files::FINALITY_OVER_TIME,
            files::QUEUE_DEPTH
        ]
    );
    for path in &report.written {
        assert_eq!(path.parent(), Some(dir.as_path()));
        assert_chart(path);
    }
    // Plotting again overwrites.
    assert_eq!(plot_dir(&dir).unwrap().written.len(), 3);
}

#[test]
fn without_queues_csv_there_is_no_queue_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_dir(tmp.path(), &kpis(4, 30.0), &payments(), None);
    let report = plot_dir(&dir).unwrap();
    assert_eq!(
        names(&report.written),
        [files::FINALITY_CDF, files::FINALITY_OVER_TIME]
    );
    assert!(!dir.join(files::QUEUE_DEPTH).exists());
    // An empty queues.csv is noted, not drawn.
    write_queues(&dir, &[]).unwrap();
    let report = plot_dir(&dir).unwrap();
    assert_eq!(report.written.len(), 2);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains(files::QUEUE_DEPTH)),
        "{:?}",
        report.warnings
    );
}

#[test]
fn no_payments_writes_what_it_can_or_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let with_queues = run_dir(&tmp.path().join("q"), &kpis(4, 30.0), &[], Some(&queues()));
    let report = plot_dir(&with_queues).unwrap();
    assert_eq!(names(&report.written), [files::QUEUE_DEPTH]);
    assert_chart(&report.written[0]);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);

    let bare = run_dir(&tmp.path().join("bare"), &Kpis::default(), &[], None);
    assert!(matches!(plot_dir(&bare), Err(PlotError::Empty { .. })));
}

#[test]
fn an_all_failed_run_still_shows_its_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let failed: Vec<PaymentRecord> = (0..20)
        .map(|i| payment(i, i as f64 * 100.0, PaymentOutcome::Failed, 0.0))
        .collect();
    let dir = run_dir(tmp.path(), &kpis(4, 30.0), &failed, None);
    let report = plot_dir(&dir).unwrap();
    assert_eq!(names(&report.written), [files::FINALITY_OVER_TIME]);
    assert_chart(&report.written[0]);
    assert!(!dir.join(files::FINALITY_CDF).exists());
}

#[test]
fn odd_values_do_not_break_the_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let odd = vec![
        payment(0, 10.0, PaymentOutcome::Ok, f64::NAN),
        payment(1, 20.0, PaymentOutcome::Ok, 1e300),
        payment(2, 30.0, PaymentOutcome::Ok, 5.0),
    ];
    let dir = run_dir(tmp.path(), &Kpis::default(), &odd, None);
    let report = plot_dir(&dir).unwrap();
    assert_eq!(report.written.len(), 2);
    report.written.iter().for_each(|p| assert_chart(p));

    let single = run_dir(
        &tmp.path().join("one"),
        &kpis(1, 5.0),
        &[payment(0, 100.0, PaymentOutcome::Ok, 12.0)],
        Some(&queues()[..1]),
    );
    let report = plot_dir(&single).unwrap();
    assert_eq!(report.written.len(), 3);
    report.written.iter().for_each(|p| assert_chart(p));
}

#[test]
fn a_missing_run_is_a_read_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = plot_dir(&tmp.path().join("absent")).unwrap_err();
    assert!(matches!(err, PlotError::Read { .. }), "{err}");
}

#[test]
fn scaling_compares_three_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = [(2, 20.0), (8, 45.0), (4, 30.0)]
        .into_iter()
        .map(|(m, p50)| {
            run_dir(
                &tmp.path().join(format!("m{m}")),
                &kpis(m, p50),
                &payments(),
                None,
            )
        })
        .collect();
    let out = tmp.path().join("collection");
    let path = plot_scaling(&dirs, &out).unwrap();
    assert_eq!(path, out.join(files::SCALING));
    assert_chart(&path);
}
