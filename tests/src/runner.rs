//! Runs packet tests ([`crate::pkt_test`]) on the flash-switch P4 engine, in-process: table
//! writes through the engine's state API (names resolved through the program's P4Info names,
//! values in p4runtime-shell syntax), frames through ingress and egress (so the queue priority
//! chosen by ingress can be checked), packet-outs from the CPU port, counter reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use flashmesh_p4::exec::shell_syntax::{bytes_to_value, parse_number};
use flashmesh_p4::testkit::{self, ShellEntry};
use flashmesh_p4::{
    EgressOutcome, IngressOutcome, Program, QueueMeta, Switch, SwitchConfig, TableEntry,
};

use crate::pkt_test::{Expect, Pair, Step, TestFile};

/// One failed step: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct StepFailure {
    /// The test file.
    pub file: String,
    /// The step's line.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

/// What one frame produced, with the priority ingress chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// `(port, priority, frame)` for each frame transmitted.
    pub frames: Vec<(u32, u8, Vec<u8>)>,
    /// `(metadata name -> value, payload)` for each packet-in.
    pub packet_ins: Vec<(BTreeMap<String, u128>, Vec<u8>)>,
}

/// A switch running one program, driven by test steps.
pub struct EngineHarness {
    program: Arc<Program>,
    switch: Switch,
}

impl EngineHarness {
    /// A fresh switch (CPU port 255, 8 priority queues) running `program`.
    pub fn new(program: Arc<Program>) -> EngineHarness {
        let switch = Switch::new(program.clone(), SwitchConfig::default());
        EngineHarness { program, switch }
    }

    /// The switch, for direct state access.
    pub fn switch(&mut self) -> &mut Switch {
        &mut self.switch
    }

    /// Runs every step of `test` on a fresh switch; returns the failures (empty = passed).
    /// With `keep_going` false it stops at the first failure.
    pub fn run(&mut self, test: &TestFile, keep_going: bool) -> Vec<StepFailure> {
        self.switch.reset();
        let mut failures = Vec::new();
        for step in &test.steps {
            if let Err(message) = self.step(step) {
                failures.push(StepFailure {
                    file: test.name.clone(),
                    line: step.line(),
                    message,
                });
                if !keep_going {
                    break;
                }
            }
        }
        failures
    }

    fn shell_entry(
        &self,
        table: &str,
        matches: &[Pair],
        action: &str,
        params: &[Pair],
        priority: Option<i32>,
        default: bool,
    ) -> Result<TableEntry, String> {
        let e = ShellEntry {
            table: table.to_string(),
            r#match: matches.iter().cloned().collect(),
            action: action.to_string(),
            params: params.iter().cloned().collect(),
            priority,
            default,
        };
        testkit::shell_entry(&self.program, &e).map_err(|e| e.to_string())
    }

    /// Executes one step.
    pub fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Entry {
                table,
                matches,
                action,
                params,
                priority,
                ..
            } => {
                let e = self.shell_entry(table, matches, action, params, *priority, false)?;
                self.switch
                    .insert_entry(&e)
                    .map_err(|e| format!("insert into {table}: {e}"))
            }
            Step::Default {
                table,
                action,
                params,
                ..
            } => {
                let e = self.shell_entry(table, &[], action, params, None, true)?;
                self.switch
                    .set_default_action(e.table_id, &e.action)
                    .map_err(|e| format!("default of {table}: {e}"))
            }
            Step::Delete {
                table,
                matches,
                priority,
                ..
            } => {
                let t = self
                    .program
                    .table_by_name(table)
                    .ok_or_else(|| format!("no table {table}"))?;
                let m: BTreeMap<String, String> = matches.iter().cloned().collect();
                let e = TableEntry {
                    table_id: self.program.tables[t as usize].id,
                    matches: testkit::shell_matches(&self.program, table, &m)
                        .map_err(|e| e.to_string())?,
                    priority: priority.unwrap_or(0),
                    ..Default::default()
                };
                self.switch
                    .delete_entry(&e)
                    .map_err(|e| format!("delete from {table}: {e}"))
            }
            Step::Send {
                port,
                bytes,
                expect,
                ..
            } => {
                let got = self.send(*port, bytes);
                compare(expect, &got)
            }
            Step::PacketOut {
                metadata,
                bytes,
                expect,
                ..
            } => {
                let m: BTreeMap<String, String> = metadata.iter().cloned().collect();
                let md = testkit::shell_packet_out_metadata(&self.program, &m)
                    .map_err(|e| e.to_string())?;
                let frame = self
                    .switch
                    .packet_out_frame(&md, bytes)
                    .map_err(|e| e.to_string())?;
                let cpu = self.switch.config().cpu_port;
                let got = self.send(cpu, &frame);
                compare(expect, &got)
            }
            Step::Counter {
                name,
                index,
                packets,
                bytes,
                ..
            } => {
                let (p, b) = self.counter(name, *index)?;
                if p != *packets || bytes.is_some_and(|want| want != b) {
                    let want = match bytes {
                        Some(wb) => format!("packets={packets} bytes={wb}"),
                        None => format!("packets={packets}"),
                    };
                    return Err(format!(
                        "counter {name}[{index}]: got packets={p} bytes={b}, expected {want}"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Runs a frame through ingress and egress; reports what came out.
    pub fn send(&mut self, port: u32, frame: &[u8]) -> Observed {
        let mut out = Observed::default();
        let q = match self.switch.ingress(port, frame) {
            IngressOutcome::Dropped(_) => return out,
            IngressOutcome::Queued(q) => q,
        };
        let priority = q.priority;
        match self.switch.egress(q, QueueMeta::default()) {
            EgressOutcome::Output { port, frame } => out.frames.push((port, priority, frame)),
            EgressOutcome::PacketIn(pi) => {
                let md = pi
                    .metadata
                    .iter()
                    .map(|(id, b)| {
                        let name = testkit::packet_in_metadata_name(&self.program, *id)
                            .map(str::to_string)
                            .unwrap_or_else(|| id.to_string());
                        (name, bytes_to_value(b, 128).unwrap_or(u128::MAX))
                    })
                    .collect();
                out.packet_ins.push((md, pi.payload));
            }
            EgressOutcome::Dropped(_) => {}
        }
        out
    }

    /// `(packets, bytes)` of one indirect counter cell.
    pub fn counter(&self, name: &str, index: u32) -> Result<(u64, u64), String> {
        let c = self
            .program
            .counters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("no counter {name}"))?;
        let cells = self
            .switch
            .read_counter(c.id, Some(index))
            .map_err(|e| format!("counter {name}[{index}]: {e}"))?;
        let (_, d) = cells
            .first()
            .ok_or_else(|| format!("counter {name}[{index}]: no cell"))?;
        Ok((d.packets, d.bytes))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares what came out with the expectations; the error lists every difference.
pub fn compare(expect: &[Expect], got: &Observed) -> Result<(), String> {
    let mut frames = got.frames.clone();
    let mut pins = got.packet_ins.clone();
    let mut problems = Vec::new();
    for e in expect {
        match e {
            Expect::Drop => {}
            Expect::Packet {
                port,
                priority,
                bytes,
            } => match frames.iter().position(|(p, _, f)| p == port && f == bytes) {
                Some(i) => {
                    let (_, prio, _) = frames.remove(i);
                    if let Some(want) = priority
                        && *want != prio
                    {
                        problems.push(format!(
                            "frame on port {port} has priority {prio}, expected {want}"
                        ));
                    }
                }
                None => problems.push(format!("missing frame on port {port}: {}", hex(bytes))),
            },
            Expect::PacketIn { metadata, bytes } => {
                let want: Result<BTreeMap<String, u128>, String> = metadata
                    .iter()
                    .map(|(k, v)| {
                        parse_number(v)
                            .map(|n| (k.clone(), n))
                            .map_err(|e| e.to_string())
                    })
                    .collect();
                let want = want?;
                match pins.iter().position(|(m, p)| *m == want && p == bytes) {
                    Some(i) => {
                        pins.remove(i);
                    }
                    None => problems.push(format!(
                        "missing packet-in {want:?} with payload {}",
                        hex(bytes)
                    )),
                }
            }
        }
    }
    for (port, prio, f) in &frames {
        problems.push(format!(
            "unexpected frame on port {port} (priority {prio}): {}",
            hex(f)
        ));
    }
    for (m, p) in &pins {
        problems.push(format!("unexpected packet-in {m:?}: {}", hex(p)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(port: u32, prio: u8, b: &[u8]) -> (u32, u8, Vec<u8>) {
        (port, prio, b.to_vec())
    }

    #[test]
    fn compare_accepts_exact_outputs_in_any_order() {
        let got = Observed {
            frames: vec![frame(3, 0, &[3]), frame(2, 7, &[2])],
            packet_ins: vec![],
        };
        let want = [
            Expect::Packet {
                port: 2,
                priority: Some(7),
                bytes: vec![2],
            },
            Expect::Packet {
                port: 3,
                priority: None,
                bytes: vec![3],
            },
        ];
        assert_eq!(compare(&want, &got), Ok(()));
    }

    #[test]
    fn compare_reports_missing_extra_and_priority() {
        let got = Observed {
            frames: vec![frame(2, 0, &[2]), frame(4, 0, &[4])],
            packet_ins: vec![],
        };
        let want = [
            Expect::Packet {
                port: 2,
                priority: Some(7),
                bytes: vec![2],
            },
            Expect::Packet {
                port: 3,
                priority: None,
                bytes: vec![3],
            },
        ];
        let e = compare(&want, &got).unwrap_err();
        assert!(e.contains("priority 0, expected 7"), "{e}");
        assert!(e.contains("missing frame on port 3"), "{e}");
        assert!(e.contains("unexpected frame on port 4"), "{e}");
        assert!(compare(&[Expect::Drop], &got).is_err());
        assert_eq!(compare(&[Expect::Drop], &Observed::default()), Ok(()));
    }

    #[test]
    fn compare_matches_packet_in_metadata_as_numbers() {
        let md: BTreeMap<String, u128> =
            [("ingress_port".to_string(), 3), ("reason".to_string(), 1)].into();
        let got = Observed {
            frames: vec![],
            packet_ins: vec![(md, vec![9])],
        };
        let want = |port: &str| Expect::PacketIn {
            metadata: vec![
                ("ingress_port".to_string(), port.to_string()),
                ("reason".to_string(), "0x01".to_string()),
            ],
            bytes: vec![9],
        };
        assert_eq!(compare(&[want("3")], &got), Ok(()));
        assert!(compare(&[want("2")], &got).is_err());
        assert!(compare(&[Expect::Drop], &got).is_err());
    }
}
