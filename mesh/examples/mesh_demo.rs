//! Runs the mesh demo and prints its KPI table (and the JSON report with `--json`).
//! `cargo run --release -p flashmesh-mesh --example mesh_demo -- [--json] [--phase NAME]...
//! [--secs S] [--committee per-merchant|shared] [--current-thread]`

use flashmesh_mesh::{DemoOptions, DemoProgress, run_demo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rt = if std::env::args().any(|a| a == "--current-thread") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    rt.enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = DemoOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--phase" => opts.phases.extend(it.next().cloned()),
            "--committee" => {
                if let Some(c) = it.next() {
                    opts.mesh.committee = c.parse()?;
                }
            }
            "--secs" => {
                if let Some(s) = it.next() {
                    opts.phase_secs = s.parse()?;
                }
            }
            _ => {}
        }
    }
    let progress = DemoProgress::new();
    let report = run_demo(opts, progress.callback()).await;
    progress.finish();
    let report = report?;
    if args.iter().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_table());
    }
    Ok(())
}
