use flashmesh_sim::{RunConfig, run_one};
#[test]
fn smoke() {
    let s = flashmesh_scenario::load_file(std::path::Path::new("../bmv2-testbed/scenarios/sim-faults.toml")).unwrap();
    for seed in 0..300 {
        let t = std::time::Instant::now();
        let r = run_one(&s, RunConfig::new(&s, seed));
        let all = r.kpis.phase("all").unwrap();
        println!("seed {seed}: {:?} steps {} vt {} ms wall {:?} payments {} ok {} p50 {:?} viol {:?}", r.plan.items.iter().map(|i| i.kind()).collect::<Vec<_>>(), r.steps, r.virtual_ms, t.elapsed(), all.payments, all.succeeded, all.finality_p50_ms, r.violations);
    }
}
