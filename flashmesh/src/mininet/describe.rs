//! The run description the Python runner (`bmv2-testbed/mininet/run_scenario.py`) reads: every
//! node a Mininet host behind its own switch process, every link a veth pair between two switch
//! ports, the processes to start in the hosts, and the timeline as concrete actions (interfaces
//! to take down, bundles to push, processes to kill). Pure: built from the scenario and its
//! layout, written as JSON by [`super::files`].

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use flashmesh_mesh::plan::{HOST_PORT, MeshPlan, Role as PlanRole};
use flashmesh_scenario::resolve::Class as FloodClass;
use flashmesh_scenario::{EventKind, Scenario, SwitchKind};
use serde::{Deserialize, Serialize};

/// The root namespace's end of the management network (switch gRPC servers listen here).
pub const MGMT_ROOT_IP: Ipv4Addr = Ipv4Addr::new(172, 31, 255, 254);
/// Prefix length of the management network.
pub const MGMT_PREFIX: u8 = 16;
/// First P4Runtime port; node `i`'s switch serves on `GRPC_BASE_PORT + i`.
pub const GRPC_BASE_PORT: u16 = 50_100;
/// First BMv2 Thrift port; node `i`'s switch serves on `THRIFT_BASE_PORT + i`.
pub const THRIFT_BASE_PORT: u16 = 39_100;
/// The anchors' admin HTTP port (on their management address).
pub const ADMIN_PORT: u16 = 8474;
/// UDP port of flood datagrams (discard: nothing listens there).
pub const FLOOD_PORT: u16 = 9;
/// First UDP port of the reroute streams (the runner uses this plus the link index).
pub const STREAM_PORT: u16 = 47_000;
/// Queue sampling interval on flash-switch, ms (each sample is one `stats` command per switch).
pub const QUEUE_SAMPLE_MS: u64 = 50;
/// The BCB service port.
pub const BCB_PORT: u16 = 47_474;

/// Everything the runner needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDescription {
    /// Scenario name.
    pub scenario: String,
    /// `flash-switch` or `bmv2`.
    pub switch: String,
    /// The switch binary.
    pub switch_bin: PathBuf,
    /// Where logs and results go.
    pub run_dir: PathBuf,
    /// Management bridge name (root namespace).
    pub mgmt_bridge: String,
    /// Its address, `IP/PREFIX`.
    pub mgmt_root: String,
    /// Nodes, scenario order.
    pub nodes: Vec<NodeDesc>,
    /// Links, scenario order.
    pub links: Vec<LinkDesc>,
    /// Processes in hosts.
    pub processes: Vec<ProcessDesc>,
    /// Timeline, by time.
    pub timeline: Vec<Action>,
    /// Timeline length, ms.
    pub duration_ms: u64,
    /// How long the runner waits for the load generators after the timeline, ms.
    pub drain_ms: u64,
    /// Pause between every process being up and the clock starting, ms.
    pub settle_ms: u64,
    /// Queue sampling interval, ms (0: no sampling).
    pub queue_sample_ms: u64,
    /// When the anchors' `/metrics` are scraped (phase boundaries), ms.
    pub snapshot_ms: Vec<u64>,
    /// Bearer token of the anchors' admin routes.
    pub admin_token: String,
}

/// One node: a host with a switch in front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDesc {
    /// Scenario name (the Mininet host's name).
    pub name: String,
    /// Index.
    pub index: usize,
    /// `merchant`, `phone`, `forwarder` or `gateway`.
    pub role: String,
    /// The switch's Mininet name (`fmn<index>`).
    pub switch: String,
    /// P4Runtime device id.
    pub device_id: u64,
    /// P4Runtime server address of its switch.
    pub grpc_addr: String,
    /// BMv2 Thrift port.
    pub thrift_port: u16,
    /// flash-switch control socket (`unix:PATH`).
    pub control_addr: Option<String>,
    /// flash-switch options beyond the simple_switch_grpc command line.
    pub switch_extra_args: Vec<String>,
    /// Host address.
    pub host_ip: String,
    /// Host MAC.
    pub host_mac: String,
    /// The next hop the host's default route names (a static neighbour on the router MAC).
    pub gateway_ip: String,
    /// The switch's router MAC.
    pub router_mac: String,
    /// Switch port of the host.
    pub host_port: u32,
    /// Switch ports that carry links.
    pub link_ports: Vec<u32>,
    /// Management address (merchants: the anchor's admin API and P4Runtime client).
    pub mgmt_ip: Option<String>,
}

/// One link: a veth pair between two switch ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkDesc {
    /// Scenario name.
    pub name: String,
    /// One end (node name) and its switch port.
    pub a: String,
    /// Port at `a`.
    pub a_port: u32,
    /// Other end.
    pub b: String,
    /// Port at `b`.
    pub b_port: u32,
    /// Down from the start.
    pub down: bool,
    /// Rate limit for tc on BMv2 (bits/s; 0: none).
    pub tc_rate_bps: u64,
    /// Rate limit for BMv2's queues (packets/s; 0: none).
    pub queue_rate_pps: u64,
}

/// A process to start in a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessDesc {
    /// Unique name (`anchor-m0`, `load-p4`).
    pub name: String,
    /// Host it runs in.
    pub host: String,
    /// `anchor` (started before the clock, waited for) or `load` (started with the clock's
    /// start time, `{T0_UNIX_MS}` in its arguments replaced).
    pub kind: String,
    /// Command line.
    pub argv: Vec<String>,
    /// For anchors: the admin URL the runner polls (`/healthz`, `/metrics`, `/policy`).
    pub admin_url: Option<String>,
}

/// A timeline action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Start a flood of UDP datagrams from a host.
    FloodStart {
        /// When, ms.
        at_ms: u64,
        /// Source host.
        from: String,
        /// Sink host.
        to: String,
        /// Sink address.
        to_ip: String,
        /// UDP port.
        port: u16,
        /// Datagrams per second.
        rate_pps: u64,
        /// Payload bytes.
        size_bytes: u32,
        /// `best_effort` or `payment_data` (an FMH PAYMENT_DATA header first).
        class: String,
    },
    /// Stop it.
    FloodStop {
        /// When, ms.
        at_ms: u64,
        /// Source host.
        from: String,
        /// Sink host.
        to: String,
    },
    /// Push a signed policy bundle to every running anchor.
    Policy {
        /// When, ms.
        at_ms: u64,
        /// The bundle file (JSON).
        bundle: PathBuf,
        /// What it does, for the event log.
        note: String,
    },
    /// Take a link down (both veth ends) and time the detour with a stream across it.
    LinkDown {
        /// When, ms.
        at_ms: u64,
        /// Link index.
        link: usize,
        /// Stream source host (the link's `a` end).
        probe_from: String,
        /// Stream sink host.
        probe_to: String,
        /// Sink address.
        probe_to_ip: String,
        /// Why (`link_cut`, `partition`).
        cause: String,
    },
    /// Bring it up again.
    LinkUp {
        /// When, ms.
        at_ms: u64,
        /// Link index.
        link: usize,
        /// Why (`link_restore`, `heal`).
        cause: String,
    },
    /// Run-time commands on switches' control sockets (flash-switch link emulation).
    SwitchCommands {
        /// When, ms.
        at_ms: u64,
        /// Link index (for the event log).
        link: usize,
        /// (node name, command line).
        commands: Vec<(String, String)>,
    },
    /// SIGKILL a process.
    Kill {
        /// When, ms.
        at_ms: u64,
        /// Process name.
        process: String,
    },
    /// Start a process again (same command line).
    Restart {
        /// When, ms.
        at_ms: u64,
        /// Process name.
        process: String,
    },
}

impl Action {
    /// When.
    pub fn at_ms(&self) -> u64 {
        match self {
            Action::FloodStart { at_ms, .. }
            | Action::FloodStop { at_ms, .. }
            | Action::Policy { at_ms, .. }
            | Action::LinkDown { at_ms, .. }
            | Action::LinkUp { at_ms, .. }
            | Action::SwitchCommands { at_ms, .. }
            | Action::Kill { at_ms, .. }
            | Action::Restart { at_ms, .. } => *at_ms,
        }
    }
}

/// A timeline event the Mininet target cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {index} ({kind}): {why}")]
pub struct UnsupportedEvent {
    /// Index in the scenario's events.
    pub index: usize,
    /// Its kind.
    pub kind: &'static str,
    /// Why.
    pub why: &'static str,
}

/// The Mininet target's refusals, checked before anything starts: the events it cannot carry
/// out yet (replay attacker, phone moves).
pub fn check_events(s: &Scenario) -> Result<(), UnsupportedEvent> {
    for (index, e) in s.events.iter().enumerate() {
        let refuse = |kind, why| UnsupportedEvent { index, kind, why };
        match &e.kind {
            EventKind::Replay { .. } => {
                return Err(refuse(
                    "replay",
                    "the replay attacker (capture and resend in a host) is not built on mininet yet",
                ));
            }
            EventKind::Move { .. } => {
                return Err(refuse(
                    "move",
                    "phone moves (handoff between committees) are not built on mininet yet",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The switch's Mininet name.
pub fn switch_name(index: usize) -> String {
    format!("fmn{index}")
}

/// A node's management address (merchants only use it).
pub fn mgmt_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(172, 31, (1 + index / 250) as u8, (1 + index % 250) as u8)
}

/// The P4Runtime address of node `index`'s switch.
pub fn grpc_addr(index: usize) -> String {
    format!("{MGMT_ROOT_IP}:{}", GRPC_BASE_PORT + index as u16)
}

/// Where things are for [`describe`].
pub struct Layout<'a> {
    /// The run directory.
    pub run_dir: &'a Path,
    /// Which switch.
    pub switch: SwitchKind,
    /// The switch binary.
    pub switch_bin: &'a Path,
    /// Per-node link-emulation files (flash-switch).
    pub link_config: &'a dyn Fn(usize) -> PathBuf,
    /// Processes, already built.
    pub processes: Vec<ProcessDesc>,
    /// Policy bundle of each `priority` event, by event index.
    pub bundles: &'a dyn Fn(usize) -> PathBuf,
    /// Admin token.
    pub admin_token: String,
}

/// The run description of `s` laid out as `plan`.
pub fn describe(s: &Scenario, plan: &MeshPlan, l: Layout<'_>) -> RunDescription {
    let flash = l.switch == SwitchKind::FlashSwitch;
    let nodes = plan
        .nodes
        .iter()
        .map(|n| {
            let control = flash.then(|| {
                format!(
                    "unix:{}",
                    l.run_dir
                        .join(format!("{}.ctl", switch_name(n.index)))
                        .display()
                )
            });
            let mut extra = Vec::new();
            if let Some(c) = &control {
                extra.push("--control-addr".to_string());
                extra.push(c.clone());
                extra.push("--link-config".to_string());
                extra.push((l.link_config)(n.index).display().to_string());
            }
            let host = n.host_ip().octets();
            NodeDesc {
                name: n.name.clone(),
                index: n.index,
                role: s.nodes[n.index].role.name().to_string(),
                switch: switch_name(n.index),
                device_id: n.index as u64,
                grpc_addr: grpc_addr(n.index),
                thrift_port: THRIFT_BASE_PORT + n.index as u16,
                control_addr: control,
                switch_extra_args: extra,
                host_ip: n.host_ip().to_string(),
                host_mac: mac(n.host_mac()),
                gateway_ip: Ipv4Addr::new(host[0], host[1], host[2], 1).to_string(),
                router_mac: mac(n.router_mac()),
                host_port: HOST_PORT,
                link_ports: plan.link_ports(n.index),
                mgmt_ip: (n.role == PlanRole::Merchant).then(|| mgmt_ip(n.index).to_string()),
            }
        })
        .collect();
    let links = s
        .links
        .iter()
        .zip(&plan.links)
        .map(|(sl, pl)| LinkDesc {
            name: sl.name.clone(),
            a: plan.nodes[pl.a.0].name.clone(),
            a_port: pl.a.1,
            b: plan.nodes[pl.b.0].name.clone(),
            b_port: pl.b.1,
            down: sl.down,
            tc_rate_bps: if flash { 0 } else { sl.params.rate_bps },
            queue_rate_pps: if flash { 0 } else { sl.params.rate_pps },
        })
        .collect();
    RunDescription {
        scenario: s.name.clone(),
        switch: l.switch.name().to_string(),
        switch_bin: l.switch_bin.to_path_buf(),
        run_dir: l.run_dir.to_path_buf(),
        mgmt_bridge: "fmnbr0".into(),
        mgmt_root: format!("{MGMT_ROOT_IP}/{MGMT_PREFIX}"),
        nodes,
        links,
        processes: l.processes,
        timeline: timeline(s, plan, flash, l.bundles),
        duration_ms: s.duration_ms,
        // the load generators give up 3 phase timeouts per attempt after their last payment
        drain_ms: s
            .drain_ms
            .max(3 * s.workload.timeout_ms * (1 + u64::from(s.workload.retries)))
            + 5000,
        settle_ms: 1500,
        queue_sample_ms: if flash { QUEUE_SAMPLE_MS } else { 0 },
        snapshot_ms: snapshots(s),
        admin_token: l.admin_token,
    }
}

/// The phase boundaries inside the run, and its start: when counters are scraped.
fn snapshots(s: &Scenario) -> Vec<u64> {
    let mut v: Vec<u64> = std::iter::once(0)
        .chain(s.phases.iter().flat_map(|p| [p.start_ms, p.end_ms]))
        .filter(|&t| t <= s.duration_ms)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The scenario's events as runner actions.
fn timeline(
    s: &Scenario,
    plan: &MeshPlan,
    flash: bool,
    bundles: &dyn Fn(usize) -> PathBuf,
) -> Vec<Action> {
    let name = |n: usize| s.nodes[n].name.clone();
    let ip = |n: usize| plan.nodes[n].host_ip().to_string();
    let down = |at_ms, link: usize, cause: &str| {
        let l = &plan.links[link];
        Action::LinkDown {
            at_ms,
            link,
            probe_from: name(l.a.0),
            probe_to: name(l.b.0),
            probe_to_ip: ip(l.b.0),
            cause: cause.into(),
        }
    };
    let mut out = Vec::new();
    let mut partitioned: Vec<usize> = Vec::new();
    for (i, e) in s.events.iter().enumerate() {
        let at_ms = e.at_ms;
        match &e.kind {
            EventKind::FloodStart {
                from,
                to,
                rate_pps,
                size_bytes,
                class,
            } => out.push(Action::FloodStart {
                at_ms,
                from: name(*from),
                to: name(*to),
                to_ip: ip(*to),
                port: match class {
                    FloodClass::PaymentData => BCB_PORT,
                    _ => FLOOD_PORT,
                },
                rate_pps: *rate_pps,
                size_bytes: *size_bytes,
                class: match class {
                    FloodClass::PaymentData => "payment_data".into(),
                    _ => "best_effort".into(),
                },
            }),
            EventKind::FloodStop { from, to } => out.push(Action::FloodStop {
                at_ms,
                from: name(*from),
                to: name(*to),
            }),
            EventKind::Priority { enabled } => out.push(Action::Policy {
                at_ms,
                bundle: bundles(i),
                note: format!("priority flows {}", if *enabled { "on" } else { "off" }),
            }),
            EventKind::LinkCut { link } => out.push(down(at_ms, *link, "link_cut")),
            EventKind::LinkRestore { link } => out.push(Action::LinkUp {
                at_ms,
                link: *link,
                cause: "link_restore".into(),
            }),
            EventKind::LinkSet { link, params } if flash => {
                let l = &plan.links[*link];
                let line = |port: u32| {
                    format!(
                        "set_link {port} {} {} {} {} {}",
                        params.delay_ms,
                        params.jitter_ms,
                        params.loss,
                        params.rate_pps,
                        params.rate_bps
                    )
                };
                let mut commands = vec![(name(l.a.0), line(l.a.1)), (name(l.b.0), line(l.b.1))];
                if let Some(d) = params.queue_depth {
                    commands.push((name(l.a.0), format!("set_queue_depth {d} {}", l.a.1)));
                    commands.push((name(l.b.0), format!("set_queue_depth {d} {}", l.b.1)));
                }
                out.push(Action::SwitchCommands {
                    at_ms,
                    link: *link,
                    commands,
                });
            }
            EventKind::LinkSet { .. } => {}
            EventKind::AnchorCrash { node } => out.push(Action::Kill {
                at_ms,
                process: format!("anchor-{}", name(*node)),
            }),
            EventKind::AnchorRestart { node } => out.push(Action::Restart {
                at_ms,
                process: format!("anchor-{}", name(*node)),
            }),
            EventKind::Partition { groups } => {
                let group = |n: usize| groups.iter().position(|g| g.contains(&n)).unwrap_or(0);
                for (li, l) in plan.links.iter().enumerate() {
                    if group(l.a.0) != group(l.b.0) && !partitioned.contains(&li) {
                        partitioned.push(li);
                        out.push(down(at_ms, li, "partition"));
                    }
                }
            }
            EventKind::Heal => {
                for li in partitioned.drain(..) {
                    out.push(Action::LinkUp {
                        at_ms,
                        link: li,
                        cause: "heal".into(),
                    });
                }
            }
            EventKind::Replay { .. } | EventKind::Move { .. } => {}
        }
    }
    out.sort_by_key(Action::at_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mininet::tests::shipped;

    fn run(s: &Scenario, switch: SwitchKind) -> RunDescription {
        let plan = MeshPlan::from_scenario(s).unwrap();
        let dir = Path::new("/run/x");
        describe(
            s,
            &plan,
            Layout {
                run_dir: dir,
                switch,
                switch_bin: Path::new("/bin/flash-switch"),
                link_config: &|i| dir.join(format!("links-{i}.toml")),
                processes: Vec::new(),
                bundles: &|i| dir.join(format!("bundle-{i}.json")),
                admin_token: "t".into(),
            },
        )
    }

    #[test]
    fn failover_nodes_links_and_timeline() {
        let s = shipped("failover");
        let d = run(&s, SwitchKind::FlashSwitch);
        assert_eq!(d.nodes.len(), 16);
        assert_eq!(d.links.len(), s.links.len());
        let m0 = &d.nodes[0];
        assert_eq!(m0.name, "m0");
        assert_eq!(m0.switch, "fmn0");
        assert_eq!(m0.host_ip, "10.0.0.2");
        assert_eq!(m0.gateway_ip, "10.0.0.1");
        assert_eq!(m0.router_mac, "02:00:0a:00:00:01");
        assert_eq!(m0.grpc_addr, "172.31.255.254:50100");
        assert_eq!(m0.mgmt_ip.as_deref(), Some("172.31.1.1"));
        assert!(m0.switch_extra_args.contains(&"--link-config".to_string()));
        // phones have no management address; ports are distinct per switch
        let p = d.nodes.iter().find(|n| n.role == "phone").unwrap();
        assert!(p.mgmt_ip.is_none());
        for n in &d.nodes {
            let mut ports = n.link_ports.clone();
            ports.dedup();
            assert_eq!(ports, n.link_ports);
            assert!(!ports.contains(&n.host_port));
        }
        let kinds: Vec<(u64, &str)> = d
            .timeline
            .iter()
            .map(|a| {
                let k = match a {
                    Action::LinkDown { .. } => "down",
                    Action::LinkUp { .. } => "up",
                    Action::Kill { .. } => "kill",
                    Action::Restart { .. } => "restart",
                    _ => "other",
                };
                (a.at_ms(), k)
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (5000, "down"),
                (10000, "up"),
                (13000, "kill"),
                (18000, "restart")
            ]
        );
        let Action::LinkDown {
            probe_from,
            probe_to,
            ..
        } = &d.timeline[0]
        else {
            panic!()
        };
        assert_eq!((probe_from.as_str(), probe_to.as_str()), ("m0", "m1"));
        assert!(matches!(&d.timeline[2], Action::Kill { process, .. } if process == "anchor-m2"));
        // the JSON round-trips
        let back: RunDescription =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn congestion_floods_and_priority_bundles() {
        let s = shipped("congestion");
        let d = run(&s, SwitchKind::FlashSwitch);
        let Action::FloodStart {
            from,
            to_ip,
            port,
            rate_pps,
            ..
        } = &d.timeline[0]
        else {
            panic!("{:?}", d.timeline[0])
        };
        assert_eq!((from.as_str(), to_ip.as_str()), ("m0", "10.0.1.2"));
        assert_eq!((*port, *rate_pps), (FLOOD_PORT, 2000));
        assert!(matches!(&d.timeline[1], Action::Policy { bundle, note, .. }
            if bundle.ends_with("bundle-1.json") && note.contains("off")));
        assert!(matches!(&d.timeline[2], Action::FloodStop { .. }));
        assert_eq!(d.queue_sample_ms, QUEUE_SAMPLE_MS);
        assert_eq!(
            d.snapshot_ms,
            vec![0, 6000, 7000, 14000, 16000, 23000, 24000],
            "the start and the phase boundaries"
        );
        // on BMv2 the rate goes to tc and the queues, and nothing is sampled
        let b = run(&s, SwitchKind::Bmv2);
        let bottleneck = b.links.iter().find(|l| l.name == "bottleneck").unwrap();
        assert_eq!(bottleneck.queue_rate_pps, 1000);
        assert!(b.nodes[0].control_addr.is_none());
        assert_eq!(b.queue_sample_ms, 0);
    }

    #[test]
    fn replay_and_moves_are_refused_by_name() {
        let e = check_events(&shipped("replay")).unwrap_err();
        assert_eq!(e.kind, "replay");
        let e = check_events(&shipped("mobility")).unwrap_err();
        assert_eq!(e.kind, "move");
        assert!(check_events(&shipped("failover")).is_ok());
        assert!(check_events(&shipped("congestion")).is_ok());
    }
}
