//! The README's main command, `flashmesh demo --json`, shortened: the mesh comes up, the
//! chosen phases run, and the JSON carries the KPI fields per phase.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary, killing it (and failing) if it outlives `limit`.
fn run_bounded(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashmesh"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flashmesh {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

#[test]
fn mesh_demo_command_prints_phase_kpis() {
    let out = run_bounded(
        &[
            "demo",
            "--json",
            "--phase-secs",
            "1",
            "--phases",
            "idle,replay",
        ],
        Duration::from_secs(240),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let phases = v["phases"].as_array().expect("phases");
    let names: Vec<&str> = phases.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["idle", "replay"]);
    for p in phases {
        for field in [
            "finality_ms_p50",
            "finality_ms_p95",
            "bcb_delay_ms_p95",
            "bcb_loss",
            "best_effort_throughput_pps",
            "replays_sent",
            "replays_dropped_in_switch",
            "replays_rejected_by_authority",
        ] {
            assert!(p.get(field).is_some(), "{field} missing in {p}");
        }
    }
    let idle = &phases[0];
    assert!(idle["payments"].as_u64().unwrap_or(0) > 0, "{idle}");
    let replay = &phases[1];
    assert!(replay["replays_sent"].as_u64().unwrap() > 0, "{replay}");
    assert!(
        replay["replays_dropped_in_switch"].as_u64().unwrap() > 0,
        "{replay}"
    );
}
