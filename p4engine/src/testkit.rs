//! Packet-test support shared by the engine's tests and the data-plane program's tests: the
//! BMv2 reference vectors format, hex helpers, and conversion of p4runtime-shell style entries
//! (names and shell value syntax) into the state API's id-based [`TableEntry`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::exec::shell_syntax::{self, ShellMatch, canonical_bytes, parse_match, parse_value};
use crate::exec::{ActionSpec, FieldMatch, MatchValue, TableEntry};
use crate::ir::{MatchKind, Program};

/// A `NAME.vectors.json` file.
#[derive(Debug, Clone, Deserialize)]
pub struct Vectors {
    pub program: String,
    #[serde(default)]
    pub cpu_port: Option<u32>,
    #[serde(default)]
    pub port_map: BTreeMap<String, String>,
    #[serde(default)]
    pub entries: Vec<ShellEntry>,
    pub cases: Vec<Case>,
    #[serde(default)]
    pub counters: BTreeMap<String, BTreeMap<String, CounterValue>>,
    #[serde(default)]
    pub direct_counters: BTreeMap<String, Vec<DirectCounterValue>>,
}

/// A control-plane write in shell syntax.
#[derive(Debug, Clone, Deserialize)]
pub struct ShellEntry {
    pub table: String,
    #[serde(default)]
    pub r#match: BTreeMap<String, String>,
    pub action: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub default: bool,
}

impl ShellEntry {
    /// An entry of `table` (the default entry when `matches` is empty) running
    /// `action(params)`; match keys and values, parameter names and values in shell syntax.
    pub fn new(
        table: &str,
        matches: &[(&str, &str)],
        action: &str,
        params: &[(&str, &str)],
    ) -> Self {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        ShellEntry {
            table: table.into(),
            r#match: pairs(matches),
            action: action.into(),
            params: pairs(params),
            priority: None,
            default: matches.is_empty(),
        }
    }
}

/// One packet (or packet-out) and what came out.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub in_port: Option<u32>,
    #[serde(default)]
    pub packet: Option<String>,
    #[serde(default)]
    pub packet_out: Option<PacketOutSpec>,
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
    #[serde(default)]
    pub packet_ins: Vec<PacketInSpec>,
}

/// A packet-out: payload hex and metadata in shell syntax.
#[derive(Debug, Clone, Deserialize)]
pub struct PacketOutSpec {
    pub payload: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// An expected output frame.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputSpec {
    pub port: u32,
    pub packet: String,
}

/// An expected packet-in.
#[derive(Debug, Clone, Deserialize)]
pub struct PacketInSpec {
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub payload: String,
}

/// Packets and bytes of a counter cell.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct CounterValue {
    pub packets: u64,
    pub bytes: u64,
}

/// A direct counter reading for one entry.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectCounterValue {
    pub table: String,
    #[serde(default)]
    pub r#match: BTreeMap<String, String>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub packets: Option<u64>,
    #[serde(default)]
    pub bytes: Option<u64>,
}

/// Why a test file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("bad hex: {0}")]
    Hex(String),
    #[error("unknown {kind} {name:?}")]
    Unknown { kind: &'static str, name: String },
    #[error(transparent)]
    Syntax(#[from] shell_syntax::SyntaxError),
}

/// Parses a vectors file.
pub fn load_vectors(json: &str) -> Result<Vectors, TestkitError> {
    Ok(serde_json::from_str(json)?)
}

/// Decodes lowercase or uppercase hex (no separators).
pub fn from_hex(s: &str) -> Result<Vec<u8>, TestkitError> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(TestkitError::Hex(s.to_string()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| TestkitError::Hex(s.to_string())))
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unknown(kind: &'static str, name: &str) -> TestkitError {
    TestkitError::Unknown {
        kind,
        name: name.to_string(),
    }
}

/// Builds the match list of an entry from `field name -> shell value` (names as in P4Info).
pub fn shell_matches(
    program: &Program,
    table: &str,
    m: &BTreeMap<String, String>,
) -> Result<Vec<FieldMatch>, TestkitError> {
    let t = program
        .table_by_name(table)
        .ok_or_else(|| unknown("table", table))?;
    let tab = &program.tables[t as usize];
    let mut out = Vec::new();
    for (name, text) in m {
        let k = tab
            .keys
            .iter()
            .find(|k| &k.name == name)
            .ok_or_else(|| unknown("match field", name))?;
        let sm = parse_match(text, k.width)?;
        let value = match (k.kind, sm) {
            (MatchKind::Exact, ShellMatch::Value(v)) => MatchValue::Exact(canonical_bytes(v)),
            (MatchKind::Optional, ShellMatch::Value(v)) => MatchValue::Optional(canonical_bytes(v)),
            (MatchKind::Lpm, ShellMatch::Lpm(v, l)) => MatchValue::Lpm {
                value: canonical_bytes(v),
                prefix_len: l,
            },
            (MatchKind::Lpm, ShellMatch::Value(v)) => MatchValue::Lpm {
                value: canonical_bytes(v),
                prefix_len: k.width,
            },
            (MatchKind::Ternary, ShellMatch::Ternary(v, m)) => MatchValue::Ternary {
                value: canonical_bytes(v),
                mask: canonical_bytes(m),
            },
            (MatchKind::Ternary, ShellMatch::Value(v)) => MatchValue::Ternary {
                value: canonical_bytes(v),
                mask: canonical_bytes(crate::exec::value::mask(k.width)),
            },
            (MatchKind::Range, ShellMatch::Range(lo, hi)) => MatchValue::Range {
                low: canonical_bytes(lo),
                high: canonical_bytes(hi),
            },
            (MatchKind::Range, ShellMatch::Value(v)) => MatchValue::Range {
                low: canonical_bytes(v),
                high: canonical_bytes(v),
            },
            _ => return Err(unknown("match syntax for this kind", text)),
        };
        out.push(FieldMatch {
            field_id: k.id,
            value,
        });
    }
    Ok(out)
}

/// Converts a shell-syntax entry to an id-based [`TableEntry`] (`is_default` for defaults).
pub fn shell_entry(program: &Program, e: &ShellEntry) -> Result<TableEntry, TestkitError> {
    let t = program
        .table_by_name(&e.table)
        .ok_or_else(|| unknown("table", &e.table))?;
    let a = program
        .action_by_name(&e.action)
        .ok_or_else(|| unknown("action", &e.action))?;
    let act = &program.actions[a as usize];
    let mut params = Vec::new();
    for (name, text) in &e.params {
        let prm = act
            .params
            .iter()
            .find(|p| &p.name == name)
            .ok_or_else(|| unknown("parameter", name))?;
        params.push((prm.id, canonical_bytes(parse_value(text, prm.width)?)));
    }
    Ok(TableEntry {
        table_id: program.tables[t as usize].id,
        matches: if e.default {
            Vec::new()
        } else {
            shell_matches(program, &e.table, &e.r#match)?
        },
        action: ActionSpec {
            action_id: act.id,
            params,
        },
        priority: e.priority.unwrap_or(0),
        is_default: e.default,
        ..Default::default()
    })
}

/// Packet-out metadata `(id, bytes)` from `name -> shell value`.
pub fn shell_packet_out_metadata(
    program: &Program,
    m: &BTreeMap<String, String>,
) -> Result<Vec<(u32, Vec<u8>)>, TestkitError> {
    let h = program
        .packet_out
        .as_ref()
        .ok_or_else(|| unknown("controller header", "packet_out"))?;
    m.iter()
        .map(|(name, text)| {
            let (id, _, w) = h
                .fields
                .iter()
                .find(|(_, n, _)| n == name)
                .ok_or_else(|| unknown("packet_out metadata", name))?;
            Ok((*id, canonical_bytes(parse_value(text, *w)?)))
        })
        .collect()
}

/// Packet-in metadata name of an id.
pub fn packet_in_metadata_name(program: &Program, id: u32) -> Option<&str> {
    program
        .packet_in
        .as_ref()?
        .fields
        .iter()
        .find(|(i, _, _)| *i == id)
        .map(|(_, n, _)| n.as_str())
}

/// The result of replaying a vectors file.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Cases whose outputs and packet-ins matched byte for byte.
    pub passed: usize,
    /// Cases in the file.
    pub total: usize,
    /// One line per mismatch or unusable item (entries, cases, counters, direct counters).
    pub failures: Vec<String>,
}

type PacketInView = (Vec<(String, String)>, String);
type CaseView = (Vec<(u32, String)>, Vec<PacketInView>);

/// What one case produced, in the vectors' terms: outputs on `ports` and packet-ins.
fn run_case(
    program: &Program,
    sw: &mut crate::Switch,
    c: &Case,
    ports: &[u32],
) -> Result<CaseView, String> {
    let result = if let Some(po) = &c.packet_out {
        let md = shell_packet_out_metadata(program, &po.metadata).map_err(|e| e.to_string())?;
        let payload = from_hex(&po.payload).map_err(|e| e.to_string())?;
        sw.packet_out(&md, &payload).map_err(|e| e.to_string())?
    } else {
        let port = c.in_port.ok_or("case without in_port")?;
        let frame = from_hex(c.packet.as_deref().ok_or("case without packet")?)
            .map_err(|e| e.to_string())?;
        sw.process(port, &frame)
    };
    let mut outputs: Vec<(u32, String)> = result
        .outputs
        .iter()
        .filter(|(p, _)| ports.contains(p))
        .map(|(p, f)| (*p, to_hex(f)))
        .collect();
    outputs.sort();
    let pins = result
        .packet_ins
        .iter()
        .map(|pi| {
            let mut md: Vec<(String, String)> = pi
                .metadata
                .iter()
                .map(|(id, b)| {
                    (
                        packet_in_metadata_name(program, *id)
                            .unwrap_or("?")
                            .to_string(),
                        format!("0x{}", to_hex(b)),
                    )
                })
                .collect();
            md.sort();
            (md, to_hex(&pi.payload))
        })
        .collect();
    Ok((outputs, pins))
}

/// Replays a vectors file on a fresh switch running `program`: the entries in order, the
/// cases in order (outputs on the ports of `port_map` and packet-ins compared byte for byte),
/// then the indirect and direct counters after the last case.
pub fn replay(program: &std::sync::Arc<Program>, vectors: &Vectors) -> ReplayReport {
    let name = vectors.program.trim_end_matches(".p4");
    let mut report = ReplayReport {
        total: vectors.cases.len(),
        ..Default::default()
    };
    let config = crate::SwitchConfig {
        cpu_port: vectors.cpu_port.unwrap_or(255),
        drop_port: 511,
        priority_queues: 8,
    };
    let mut sw = crate::Switch::new(program.clone(), config);
    for e in &vectors.entries {
        let r = shell_entry(program, e)
            .map_err(|err| err.to_string())
            .and_then(|te| {
                if e.default {
                    sw.modify_entry(&te)
                } else {
                    sw.insert_entry(&te)
                }
                .map_err(|err| err.to_string())
            });
        if let Err(err) = r {
            report.failures.push(format!("{name}: entry {e:?}: {err}"));
        }
    }
    let ports: Vec<u32> = vectors
        .port_map
        .keys()
        .filter_map(|k| k.parse().ok())
        .collect();
    for c in &vectors.cases {
        let expected: Vec<(u32, String)> = c
            .outputs
            .iter()
            .map(|o| (o.port, o.packet.to_lowercase()))
            .collect();
        let exp_pins: Vec<PacketInView> = c
            .packet_ins
            .iter()
            .map(|pi| {
                let mut md: Vec<(String, String)> = pi
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_lowercase()))
                    .collect();
                md.sort();
                (md, pi.payload.to_lowercase())
            })
            .collect();
        match run_case(program, &mut sw, c, &ports) {
            Ok((outputs, pins)) if outputs == expected && pins == exp_pins => report.passed += 1,
            Ok((outputs, pins)) => report.failures.push(format!(
                "{name}/{}: outputs {outputs:?} expected {expected:?}; packet-ins {pins:?} expected {exp_pins:?}",
                c.name
            )),
            Err(e) => report.failures.push(format!("{name}/{}: {e}", c.name)),
        }
    }
    for (cname, cells) in &vectors.counters {
        let Some(c) = program.counters.iter().find(|c| &c.name == cname) else {
            report
                .failures
                .push(format!("{name}: counter {cname} missing"));
            continue;
        };
        let Ok(got) = sw.read_counter(c.id, None) else {
            continue;
        };
        for (idx, v) in cells {
            let d = idx
                .parse::<usize>()
                .ok()
                .and_then(|i| got.get(i))
                .map(|x| x.1);
            if d.is_none_or(|d| d.packets != v.packets || d.bytes != v.bytes) {
                report.failures.push(format!(
                    "{name}: counter {cname}[{idx}] = {d:?}, expected {v:?}"
                ));
            }
        }
    }
    for (cname, list) in &vectors.direct_counters {
        for v in list.iter().filter(|v| !v.default) {
            let got = shell_matches(program, &v.table, &v.r#match)
                .map_err(|e| e.to_string())
                .and_then(|m| {
                    let t = program.table_by_name(&v.table).ok_or("unknown table")?;
                    sw.read_direct_counter(
                        program.tables[t as usize].id,
                        &m,
                        v.priority.unwrap_or(0),
                    )
                    .map_err(|e| e.to_string())
                });
            match got {
                Ok(d) if Some(d.packets) == v.packets && Some(d.bytes) == v.bytes => {}
                other => report.failures.push(format!(
                    "{name}: direct counter {cname} {:?}: {other:?}, expected {v:?}",
                    v.r#match
                )),
            }
        }
    }
    report
}
