//! Every shipped scenario loads; bad files are refused with the file, line and field named.

use std::path::{Path, PathBuf};

use flashmesh_scenario::target::{SwitchKind, Target, TargetKind};
use flashmesh_scenario::{EventKind, load_file, load_str};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bmv2-testbed/scenarios")
}

#[test]
fn shipped_scenarios_load() {
    let mut n = 0;
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.merchants().is_empty());
            let sim = Target {
                kind: TargetKind::Sim,
                switch: SwitchKind::Model,
            };
            sim.check(&s).unwrap();
            n += 1;
        }
    }
    assert!(n >= 10, "only {n} scenarios shipped");
}

#[test]
fn baseline_is_fifty_by_two_hundred_multi_hop() {
    let s = load_file(&scenarios_dir().join("baseline.toml")).unwrap();
    assert_eq!(s.merchants().len(), 50);
    let phones = s.nodes.iter().filter(|n| n.role.name() == "phone").count();
    assert_eq!(phones, 200);
    // Phones two radio hops from their merchant exist.
    let p1 = s.node("p1").unwrap();
    let l = s.links.iter().find(|l| l.b == p1).unwrap();
    assert_eq!(s.nodes[l.a].name, "p0");
    assert_eq!(s.committees.len(), 1);
    assert_eq!(s.committees[0].quorum_weight(), 34);
}

#[test]
fn congestion_bottleneck_overrides_the_generated_link() {
    let s = load_file(&scenarios_dir().join("congestion.toml")).unwrap();
    let l = &s.links[s.link("bottleneck").unwrap()];
    assert_eq!(
        (s.nodes[l.a].name.as_str(), s.nodes[l.b].name.as_str()),
        ("m0", "m1")
    );
    assert_eq!(l.params.rate_pps, 1000);
    assert!(s.link("m0-m1").is_none());
    let bmv2 = Target {
        kind: TargetKind::Mininet,
        switch: SwitchKind::Bmv2,
    };
    let err = bmv2.check(&s).unwrap_err();
    assert!(err.to_string().contains("delay"), "{err}");
    let short = s.scaled(0.5);
    assert_eq!(short.duration_ms, 12_000);
    assert!(matches!(short.events[0].kind, EventKind::FloodStart { .. }));
    assert_eq!(short.events[0].at_ms, 3_000);
}

#[test]
fn mobility_resolves_trace_and_committees() {
    let s = load_file(&scenarios_dir().join("mobility.toml")).unwrap();
    assert_eq!(s.committees.len(), 2);
    let p0 = s.node("p0").unwrap();
    assert_eq!(s.committee_of(p0), Some(0));
    let mv = s
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Move { .. }))
        .unwrap();
    let EventKind::Move { trace, handoff, .. } = &mv.kind else {
        unreachable!()
    };
    assert!(handoff);
    assert_eq!(trace.len(), 2);
    assert!(s.links[s.link("p0-m4").unwrap()].down);
}

const GOOD: &str = r#"
[scenario]
name = "t"
duration_ms = 1000

[topology.generate]
kind = "clusters"
merchants = 2
phones_per_merchant = 1
"#;

fn bad(extra: &str) -> String {
    let text = format!("{GOOD}{extra}");
    match load_str(&text, Path::new("bad.toml")) {
        Ok(_) => panic!("accepted:\n{extra}"),
        Err(e) => {
            assert_eq!(e.file, Path::new("bad.toml"));
            assert!(e.line.is_some(), "no line in {e}");
            e.to_string()
        }
    }
}

#[test]
fn good_base_loads() {
    load_str(GOOD, Path::new("good.toml")).unwrap();
}

#[test]
fn unknown_top_level_field() {
    let e = bad("\n[extra]\nx = 1\n");
    assert!(e.starts_with("bad.toml:11:"), "{e}");
    assert!(e.contains("unknown field `extra`"), "{e}");
}

#[test]
fn unknown_field_in_generator() {
    let text = GOOD.replace("merchants = 2", "merchants = 2\nmerchnts = 3");
    let e = load_str(&text, Path::new("bad.toml")).unwrap_err();
    // The line is the key's own or that of the table holding it.
    assert!(matches!(e.line, Some(9) | Some(10)), "{e}");
    assert!(e.to_string().contains("unknown field `merchnts`"), "{e}");
}

#[test]
fn wrong_type() {
    let text = GOOD.replace("duration_ms = 1000", "duration_ms = \"long\"");
    let e = load_str(&text, Path::new("bad.toml")).unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert_eq!(e.field.as_deref(), Some("scenario.duration_ms"), "{e}");
}

#[test]
fn toml_syntax_error() {
    let e = bad("\n[[event]\nat_ms = 1\n");
    assert!(e.starts_with("bad.toml:11:"), "{e}");
}

#[test]
fn link_to_unknown_node() {
    let e = bad("\n[[topology.link]]\na = \"m0\"\nb = \"m9\"\n");
    assert!(e.contains("bad.toml:13:"), "{e}");
    assert!(
        e.contains("field `topology.link[0].b`: no node named `m9`"),
        "{e}"
    );
}

#[test]
fn loss_out_of_range() {
    let e = bad("\n[topology.defaults]\nradio = { loss = 1.5 }\n");
    assert!(e.contains("topology.defaults.radio.loss"), "{e}");
    assert!(e.contains("[0, 1]"), "{e}");
}

#[test]
fn event_unknown_kind() {
    let e = bad("\n[[event]]\nat_ms = 5\nkind = \"explode\"\n");
    assert!(e.contains("bad.toml:13:"), "{e}");
    assert!(e.contains("explode"), "{e}");
}

#[test]
fn event_unknown_link() {
    let e = bad("\n[[event]]\nat_ms = 5\nkind = \"link_cut\"\nlink = \"m0-m7\"\n");
    assert!(e.contains("bad.toml:14:"), "{e}");
    assert!(
        e.contains("field `event[0].link`: no link named `m0-m7`"),
        "{e}"
    );
}

#[test]
fn event_field_that_does_not_apply() {
    let e = bad("\n[[event]]\nat_ms = 5\nkind = \"heal\"\nlink = \"m0-m1\"\n");
    assert!(
        e.contains("field `event[0].link`: does not apply to a `heal` event"),
        "{e}"
    );
    assert!(e.contains("bad.toml:14:"), "{e}");
}

#[test]
fn event_missing_required_field() {
    let e = bad("\n[[event]]\nat_ms = 5\nkind = \"flood_start\"\nfrom = \"m0\"\n");
    assert!(e.contains("needs `to`"), "{e}");
    assert!(e.contains("bad.toml:11:"), "{e}");
}

#[test]
fn event_after_the_end() {
    let e = bad("\n[[event]]\nat_ms = 5000\nkind = \"heal\"\n");
    assert!(e.contains("field `event[0].at_ms`"), "{e}");
}

#[test]
fn crash_of_a_phone() {
    let e = bad("\n[[event]]\nat_ms = 5\nkind = \"anchor_crash\"\nnode = \"p0\"\n");
    assert!(e.contains("`p0` is a phone; this needs a merchant"), "{e}");
}

#[test]
fn unknown_kpi_in_assert() {
    let e = bad("\n[[assert]]\nkpi = \"speed\"\nop = \">\"\nvalue = 1\n");
    assert!(
        e.contains("field `assert[0].kpi`: unknown KPI `speed`"),
        "{e}"
    );
    assert!(e.contains("bad.toml:12:"), "{e}");
}

#[test]
fn assert_with_unknown_phase_and_op() {
    let e = bad("\n[[assert]]\nkpi = \"success_rate\"\nphase = \"nope\"\nop = \">\"\nvalue = 1\n");
    assert!(e.contains("no phase named `nope`"), "{e}");
    let e = bad("\n[[assert]]\nkpi = \"success_rate\"\nop = \"~\"\nvalue = 1\n");
    assert!(e.contains("unknown comparison"), "{e}");
}

#[test]
fn duplicate_node_name() {
    let e = bad("\n[[topology.node]]\nname = \"m1\"\nrole = \"forwarder\"\n");
    assert!(e.contains("node `m1` is defined twice"), "{e}");
}

#[test]
fn committee_member_not_a_merchant_and_unserved_phones() {
    let e = bad(
        "\n[committees]\nmode = \"explicit\"\n[[committees.committee]]\nname = \"A\"\nmembers = [\"p0\"]\n",
    );
    assert!(e.contains("members are merchants"), "{e}");
    let e = bad(
        "\n[committees]\nmode = \"explicit\"\n[[committees.committee]]\nname = \"A\"\nmembers = [\"m0\"]\n",
    );
    assert!(e.contains("phone `p1` is served by 0 committees"), "{e}");
}

#[test]
fn phase_out_of_range() {
    let e = bad("\n[[phase]]\nname = \"late\"\nstart_ms = 500\nend_ms = 2000\n");
    assert!(e.contains("field `phase[0].end_ms`"), "{e}");
}

#[test]
fn faults_refused_outside_the_simulator() {
    let text = format!("{GOOD}\n[faults]\nloss = 0.2\n");
    let s = load_str(&text, Path::new("f.toml")).unwrap();
    let embedded = Target {
        kind: TargetKind::Embedded,
        switch: SwitchKind::FlashSwitch,
    };
    assert!(
        embedded
            .check(&s)
            .unwrap_err()
            .to_string()
            .contains("[faults]")
    );
    let e = bad("\n[faults]\nloss = 0.2\nduplicate = 2.0\n");
    assert!(e.contains("faults.duplicate"), "{e}");
}
