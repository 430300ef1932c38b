//! The README's main command, `flashmesh demo --json`, shortened: the mesh comes up, the
//! chosen phases run, and the JSON carries the KPI fields per phase.

#[test]
fn mesh_demo_command_prints_phase_kpis() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flashmesh"))
        .args([
            "demo",
            "--json",
            "--phase-secs",
            "1",
            "--phases",
            "idle,replay",
        ])
        .output()
        .unwrap();
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
