//! The files of a Mininet run, written before anything starts: the same committees, keys and
//! genesis as the embedded target (all from the scenario's seed), one anchor configuration per
//! merchant with its P4Runtime controller (the switches of its cluster, reached over the
//! management network) and its link-state relay to the other anchors, one key and payment schedule per phone, the signed policy bundles of
//! the `priority` events, the link emulation of each flash-switch, and the run description.
//!
//! ```text
//! RUN/run.json  flash_mesh.p4  committees/NAME.toml  committees/NAME.genesis.toml
//! RUN/anchors/m0/{anchor.toml, anchor.key, controller.toml, data/}
//! RUN/accounts/NODE.key  schedules/PHONE.json  switches/fmnI.links.toml  policy/bundle-I.json
//! RUN/payments/PHONE.csv  wallets/  logs/  results/      (written by the run)
//! ```

use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use flashmesh_controller::p4rt::{Backoff, SessionConfig, TargetConfig};
use flashmesh_controller::policy::{PolicyBody, PolicyBundle};
use flashmesh_controller::runtime::config::{OperatorsConfig, SwitchConfig};
use flashmesh_controller::{ControllerConfig, PolicySettings};
use flashmesh_mesh::experiment::population::population;
use flashmesh_mesh::experiment::workload;
use flashmesh_mesh::plan::MeshPlan;
use flashmesh_mesh::{MeshKeys, Population};
use flashmesh_scenario::{EventKind, Scenario, SwitchKind};
use merchant_anchor::config::{AnchorConfig, ControllerSource, LivenessConfig};
use merchant_anchor::link_relay::LinkRelayConfig;

use super::describe::{
    ADMIN_PORT, BCB_PORT, Layout, ProcessDesc, RunDescription, describe, grpc_addr, mgmt_ip,
    switch_name,
};
use crate::load::{ScheduleFile, ScheduledPayment};

/// Why the files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The scenario does not lay out (a node no merchant reaches, ...).
    #[error("layout: {0}")]
    Layout(String),
}

/// The programs the run starts.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `flash-switch` or `simple_switch_grpc`.
    pub switch: PathBuf,
    /// `merchant-anchor`.
    pub anchor: PathBuf,
    /// `flashmesh` (its `load` command runs in the phones).
    pub flashmesh: PathBuf,
}

/// The pipeline the controllers push.
#[derive(Debug, Clone)]
pub enum PipelineFiles {
    /// flash-switch: the P4 source (written into the run directory).
    FlashSwitch,
    /// BMv2: p4c's P4Info and JSON.
    Bmv2 {
        /// `.p4info.txtpb`.
        p4info: PathBuf,
        /// BMv2 JSON.
        json: PathBuf,
    },
}

/// What [`prepare`] wrote.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The run description.
    pub description: RunDescription,
    /// Where it is.
    pub description_file: PathBuf,
    /// The layout.
    pub plan: MeshPlan,
    /// Payments of every phone, for the records.
    pub payments: Vec<ScheduledPayment>,
}

fn write(path: &Path, text: &str) -> Result<(), FilesError> {
    let io = |source| FilesError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// Writes every file of a run of `s` into `run_dir`.
pub fn prepare(
    s: &Scenario,
    switch: SwitchKind,
    bins: &Binaries,
    pipeline: &PipelineFiles,
    run_dir: &Path,
) -> Result<Prepared, FilesError> {
    let plan = MeshPlan::from_scenario(s).map_err(|e| FilesError::Layout(e.to_string()))?;
    let pop = population(s).map_err(|e| FilesError::Layout(e.to_string()))?;
    let keys = MeshKeys::new(s.seed);
    let settings = flashmesh_mesh::experiment::scenario_settings(s);
    let operator = keys.operator();
    let token = format!(
        "{:016x}",
        s.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5eed
    );
    let target = match pipeline {
        PipelineFiles::FlashSwitch => {
            let p4 = run_dir.join("flash_mesh.p4");
            write(&p4, flashmesh_mesh::mesh::FLASH_MESH_P4)?;
            TargetConfig::FlashSwitch {
                program: p4,
                p4info: None,
            }
        }
        PipelineFiles::Bmv2 { p4info, json } => TargetConfig::Bmv2 {
            p4info: p4info.clone(),
            json: json.clone(),
        },
    };
    // committees and genesis
    let mut committee_files = Vec::new();
    for c in &pop.committees {
        let committee = keys
            .committee(&plan, c)
            .map_err(|e| FilesError::Layout(e.to_string()))?;
        let dir = run_dir.join("committees");
        let file = dir.join(format!("{}.toml", c.name));
        write(&file, &committee.to_toml())?;
        let genesis = dir.join(format!("{}.genesis.toml", c.name));
        write(&genesis, &keys.genesis(&plan, c).to_toml())?;
        committee_files.push((file, genesis));
    }
    // account keys of every node with an account
    for n in &plan.nodes {
        let key = keys.account(&plan, n.index);
        write(
            &account_key(run_dir, &n.name),
            &format!("{}\n", key.to_hex()),
        )?;
    }
    let topology = plan.topology();
    let mut processes = Vec::new();
    for m in plan.merchants() {
        let ci = pop
            .committee_of_merchant(m.index)
            .ok_or_else(|| FilesError::Layout(format!("merchant {} is in no committee", m.name)))?;
        let dir = run_dir.join("anchors").join(&m.name);
        let name = format!("anchor-{}", m.name);
        let controller = ControllerConfig {
            name: name.clone(),
            switches: plan
                .driven_by(m.index)
                .into_iter()
                .map(|n| SwitchConfig {
                    node: plan.nodes[n].name.clone(),
                    session: SessionConfig {
                        addr: grpc_addr(n),
                        device_id: n as u64,
                        election_id: 10,
                        election_id_high: 0,
                        role: String::new(),
                        backoff: Backoff::default(),
                    },
                    target: target.clone(),
                    probe_ip: plan.nodes[n].host_ip(),
                })
                .collect(),
            nodes: topology.nodes().cloned().collect(),
            links: topology.links().to_vec(),
            operators: OperatorsConfig {
                keys: vec![operator.public_hex()],
                threshold: 1,
                audit_log: None,
            },
            settings: settings.clone(),
        };
        let controller_file = dir.join("controller.toml");
        write(
            &controller_file,
            &toml::to_string_pretty(&controller)
                .map_err(|e| FilesError::Layout(format!("controller of {}: {e}", m.name)))?,
        )?;
        let key_file = dir.join("anchor.key");
        write(
            &key_file,
            &format!("{}\n", keys.authority(m.index).to_hex()),
        )?;
        let admin = SocketAddr::from((mgmt_ip(m.index), ADMIN_PORT));
        let anchor = AnchorConfig {
            name: name.clone(),
            listen: SocketAddr::V4(SocketAddrV4::new(m.host_ip(), BCB_PORT)),
            admin,
            data_dir: dir.join("data"),
            key_file,
            committee_file: committee_files[ci].0.clone(),
            genesis_file: committee_files[ci].1.clone(),
            admin_token: Some(token.clone()),
            workers: 1,
            epoch: 1,
            controller: Some(ControllerSource::File(controller_file)),
            liveness: LivenessConfig::default(),
            link_relay: Some(LinkRelayConfig {
                peers: plan
                    .merchants()
                    .filter(|o| o.index != m.index)
                    .map(|o| SocketAddr::from((mgmt_ip(o.index), ADMIN_PORT)).to_string())
                    .collect(),
                token: Some(token.clone()),
                settle_ms: 1000,
            }),
        };
        let anchor_file = dir.join("anchor.toml");
        write(&anchor_file, &anchor.to_toml())?;
        processes.push(ProcessDesc {
            name,
            host: m.name.clone(),
            kind: "anchor".into(),
            argv: vec![
                bins.anchor.display().to_string(),
                "--config".into(),
                anchor_file.display().to_string(),
            ],
            admin_url: Some(format!("http://{admin}")),
        });
    }
    let payments = schedules(s, &plan, &pop, run_dir)?;
    processes.extend(loads(s, &plan, &pop, bins, run_dir, &payments));
    let bundles = bundles(s, &settings, &operator, run_dir)?;
    if matches!(switch, SwitchKind::FlashSwitch) {
        for n in &plan.nodes {
            write(
                &link_config(run_dir, n.index),
                &links_toml(s, &plan, n.index),
            )?;
        }
    }
    let description = describe(
        s,
        &plan,
        Layout {
            run_dir,
            switch,
            switch_bin: &bins.switch,
            link_config: &|i| link_config(run_dir, i),
            processes,
            bundles: &|i| {
                bundles
                    .iter()
                    .find(|(e, _)| *e == i)
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default()
            },
            admin_token: token,
        },
    );
    let description_file = run_dir.join("run.json");
    write(&description_file, &json(&description))?;
    Ok(Prepared {
        description,
        description_file,
        plan,
        payments,
    })
}

fn account_key(run_dir: &Path, node: &str) -> PathBuf {
    run_dir.join("accounts").join(format!("{node}.key"))
}

fn link_config(run_dir: &Path, index: usize) -> PathBuf {
    run_dir
        .join("switches")
        .join(format!("{}.links.toml", switch_name(index)))
}

/// The payments of the run, as the embedded target draws them, one schedule file per phone.
fn schedules(
    s: &Scenario,
    plan: &MeshPlan,
    pop: &Population,
    run_dir: &Path,
) -> Result<Vec<ScheduledPayment>, FilesError> {
    let payer_nodes: Vec<usize> = pop.payers.iter().map(|p| p.node).collect();
    let all: Vec<ScheduledPayment> = workload::schedule(s, &payer_nodes, s.seed)
        .into_iter()
        .map(|p| ScheduledPayment {
            id: p.id,
            at_ms: p.at_ms,
            payer: plan.nodes[payer_nodes[p.payer]].name.clone(),
            payee: account_key(run_dir, &plan.nodes[p.payee].name),
            amount: p.amount,
        })
        .collect();
    for &node in &payer_nodes {
        let name = &plan.nodes[node].name;
        let mine: Vec<ScheduledPayment> =
            all.iter().filter(|p| p.payer == *name).cloned().collect();
        let path = run_dir.join("schedules").join(format!("{name}.json"));
        write(&path, &json(&ScheduleFile { payments: mine }))?;
    }
    Ok(all)
}

/// One `flashmesh load` per phone with payments, started with the clock.
fn loads(
    s: &Scenario,
    plan: &MeshPlan,
    pop: &Population,
    bins: &Binaries,
    run_dir: &Path,
    payments: &[ScheduledPayment],
) -> Vec<ProcessDesc> {
    let w = &s.workload;
    let give_up = 2 * w.timeout_ms * (1 + u64::from(w.retries));
    let mut out = Vec::new();
    for p in &pop.payers {
        let node = &plan.nodes[p.node];
        if !payments.iter().any(|x| x.payer == node.name) {
            continue;
        }
        let committee = &s.committees[p.committee].name;
        let arg = |v: &dyn std::fmt::Display| v.to_string();
        let path = |p: PathBuf| p.display().to_string();
        out.push(ProcessDesc {
            name: format!("load-{}", node.name),
            host: node.name.clone(),
            kind: "load".into(),
            argv: vec![
                path(bins.flashmesh.clone()),
                "load".into(),
                "--committee".into(),
                path(run_dir.join("committees").join(format!("{committee}.toml"))),
                "--key".into(),
                path(account_key(run_dir, &node.name)),
                "--schedule".into(),
                path(
                    run_dir
                        .join("schedules")
                        .join(format!("{}.json", node.name)),
                ),
                "--start-at-unix-ms".into(),
                "{T0_UNIX_MS}".into(),
                "--out".into(),
                path(run_dir.join("payments").join(format!("{}.csv", node.name))),
                "--state".into(),
                path(run_dir.join("wallets")),
                "--bind".into(),
                node.host_ip().to_string(),
                "--retry-ms".into(),
                arg(&w.retry_ms.max(1)),
                "--timeout-ms".into(),
                arg(&w.timeout_ms.max(1)),
                "--epoch".into(),
                "1".into(),
                "--committee-name".into(),
                committee.clone(),
                "--retries".into(),
                arg(&w.retries),
                "--give-up-ms".into(),
                arg(&give_up),
            ],
            admin_url: None,
        });
    }
    out
}

/// The signed bundle of each `priority` event: (event index, file).
fn bundles(
    s: &Scenario,
    base: &PolicySettings,
    operator: &flashmesh_controller::OperatorKey,
    run_dir: &Path,
) -> Result<Vec<(usize, PathBuf)>, FilesError> {
    let now = flashmesh_core::host::clock::unix_secs();
    let mut out = Vec::new();
    for (i, e) in s.events.iter().enumerate() {
        let EventKind::Priority { enabled } = e.kind else {
            continue;
        };
        let settings = if enabled {
            base.clone()
        } else {
            flashmesh_mesh::control::withheld(base)
        };
        let mut bundle = PolicyBundle {
            body: PolicyBody {
                version: out.len() as u64 + 1,
                expires_at: now + 86_400,
                note: format!(
                    "{}: priority flows {}",
                    s.name,
                    if enabled { "on" } else { "off" }
                ),
                settings,
            },
            signatures: Vec::new(),
        };
        operator.sign(&mut bundle);
        let path = run_dir.join("policy").join(format!("bundle-{i}.json"));
        write(&path, &json(&bundle))?;
        out.push((i, path));
    }
    Ok(out)
}

/// A flash-switch's link emulation: every link port with the scenario's parameters.
fn links_toml(s: &Scenario, plan: &MeshPlan, node: usize) -> String {
    let mut out = format!(
        "seed = {}\n",
        s.seed ^ (node as u64).wrapping_mul(0x1000_0001)
    );
    for (sl, pl) in s.links.iter().zip(&plan.links) {
        for (n, port) in [pl.a, pl.b] {
            if n != node {
                continue;
            }
            let p = &sl.params;
            out.push_str(&format!(
                "\n[[link]]\nport = {port}\ndelay_ms = {:?}\njitter_ms = {:?}\nloss = {:?}\n",
                p.delay_ms, p.jitter_ms, p.loss
            ));
            if p.rate_pps > 0 {
                out.push_str(&format!("rate_pps = {}.0\n", p.rate_pps));
            }
            if p.rate_bps > 0 {
                out.push_str(&format!("rate_bps = {}.0\n", p.rate_bps));
            }
            if let Some(d) = p.queue_depth {
                out.push_str(&format!("\n[[queue]]\nport = {port}\ndepth = {d}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mininet::tests::shipped;

    fn bins() -> Binaries {
        Binaries {
            switch: "/bin/flash-switch".into(),
            anchor: "/bin/merchant-anchor".into(),
            flashmesh: "/bin/flashmesh".into(),
        }
    }

    #[test]
    fn congestion_files_load_as_the_anchor_and_the_switch_read_them() {
        let s = shipped("congestion");
        let dir = tempfile::tempdir().unwrap();
        let p = prepare(
            &s,
            SwitchKind::FlashSwitch,
            &bins(),
            &PipelineFiles::FlashSwitch,
            dir.path(),
        )
        .unwrap();
        // every anchor's configuration loads, with a controller spec the anchor can start
        for m in ["m0", "m1", "m2", "m3"] {
            let cfg = AnchorConfig::load(&dir.path().join("anchors").join(m).join("anchor.toml"))
                .unwrap();
            assert_eq!(cfg.listen.port(), BCB_PORT);
            let spec = merchant_anchor::control::load_spec(
                cfg.controller.as_ref().unwrap(),
                &cfg.data_dir,
                1,
            )
            .unwrap();
            assert_eq!(spec.switches[0].node, m);
            assert_eq!(spec.switches.len(), 4, "a merchant and its 3 phones");
            let committee = flashmesh_core::Committee::from_toml(
                &std::fs::read_to_string(&cfg.committee_file).unwrap(),
            )
            .unwrap();
            assert_eq!(committee.len(), 4);
        }
        // the committee is the embedded target's: same keys from the same seed
        let keys = MeshKeys::new(s.seed);
        let text = std::fs::read_to_string(dir.path().join("committees/shared.toml"))
            .or_else(|_| {
                let c = &s.committees[0].name;
                std::fs::read_to_string(dir.path().join(format!("committees/{c}.toml")))
            })
            .unwrap();
        let committee = flashmesh_core::Committee::from_toml(&text).unwrap();
        assert!(
            committee
                .members()
                .iter()
                .any(|m| m.info().public_key == keys.authority(0).public())
        );
        // each flash-switch link file parses; the bottleneck's rate and queue depth are in m0's
        let m0 = flash_switch::config::LinkConfig::load(&link_config(dir.path(), 0)).unwrap();
        assert!(m0.links.iter().any(|l| l.rate_pps == Some(1000.0)));
        assert!(m0.queues.iter().all(|q| q.depth == Some(64)));
        assert!(m0.commands().is_ok());
        // schedules cover the embedded target's payments, one file per payer
        let total: usize = s
            .workload
            .payers
            .iter()
            .map(|&n| {
                let f = dir
                    .path()
                    .join("schedules")
                    .join(format!("{}.json", s.nodes[n].name));
                serde_json::from_str::<ScheduleFile>(&std::fs::read_to_string(f).unwrap())
                    .unwrap()
                    .payments
                    .len()
            })
            .sum();
        assert_eq!(total, p.payments.len());
        assert!(total > 100);
        // the priority-off bundle verifies against the pinned operator key
        let b: PolicyBundle = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("policy/bundle-1.json")).unwrap(),
        )
        .unwrap();
        let verifier = flashmesh_controller::PolicyVerifier::new(vec![keys.operator().public()], 1);
        assert!(verifier.verify(&b, None, b.body.expires_at - 10).is_ok());
        // one load per phone with payments, started with the clock
        let loads: Vec<&ProcessDesc> = p
            .description
            .processes
            .iter()
            .filter(|x| x.kind == "load")
            .collect();
        assert_eq!(loads.len(), 12);
        assert!(loads[0].argv.contains(&"{T0_UNIX_MS}".to_string()));
        assert!(p.description_file.is_file());
    }
}
