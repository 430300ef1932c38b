//! One switch instance running a shared [`Program`]: the v1model pipeline in two phases
//! (`ingress`, then `egress` after a traffic manager), controller packet-in/out, and the
//! per-instance state (tables, registers, counters, meters, digests, header storage).
//!
//! `Switch` is `Send` and not internally synchronised: put it behind a `Mutex` when a control
//! thread and a datapath thread share it.

use std::sync::Arc;
use std::time::Instant;

use crate::ir::{KeyMatch, Program};

use super::bits::read_bits;
use super::interp::{Ctx, DigestMessage, Phv, Runtime, deparse};
use super::meter::Meter;
use super::shell_syntax::{bytes_to_value, canonical_bytes};
use super::table::{CounterData, Entry, TableState};

/// Instance options (the `simple_switch_grpc` target options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchConfig {
    /// `--cpu-port` (default 255).
    pub cpu_port: u32,
    /// The v1model drop port (511).
    pub drop_port: u32,
    /// `--priority-queues` (1 when the flag is absent: any priority above 0 is dropped).
    pub priority_queues: u8,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            cpu_port: 255,
            drop_port: 511,
            priority_queues: 8,
        }
    }
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// `egress_spec` was the drop port at the end of ingress (`mark_to_drop`).
    IngressDrop,
    /// `egress_spec` was the drop port at the end of egress.
    EgressDrop,
    /// `standard_metadata.priority` >= the number of priority queues.
    PriorityOutOfRange,
    /// `mcast_grp` was set; no multicast groups are configured.
    Multicast,
    /// Packet-out metadata could not be encoded.
    BadPacketOut,
}

/// A packet between ingress and egress.
#[derive(Debug)]
pub struct QueuedPacket {
    phv: Phv,
    data: Vec<u8>,
    payload_off: usize,
    frame_len: u64,
    /// Ingress port.
    pub in_port: u32,
    /// The egress port chosen by ingress (`egress_spec`).
    pub egress_port: u32,
    /// `standard_metadata.priority` (queue to use).
    pub priority: u8,
    /// Ingress timestamp (µs since the switch started).
    pub ingress_ts_us: u64,
}

/// v1model `instance_type` of a multicast replica (BMv2's PKT_INSTANCE_TYPE_REPLICATION).
const INSTANCE_TYPE_REPLICATION: u128 = 5;

/// Where ingress left a packet.
enum Ingress {
    Dropped(DropReason),
    Unicast(QueuedPacket),
    Multicast(QueuedPacket, u32),
}

impl QueuedPacket {
    /// The scalar fields, with empty storage (for building replicas).
    fn shallow(&self) -> QueuedPacket {
        QueuedPacket {
            phv: Phv {
                slots: Vec::new(),
                valid: Vec::new(),
            },
            data: Vec::new(),
            payload_off: self.payload_off,
            frame_len: self.frame_len,
            in_port: self.in_port,
            egress_port: self.egress_port,
            priority: self.priority,
            ingress_ts_us: self.ingress_ts_us,
        }
    }

    /// Length of the frame as received (bytes).
    pub fn frame_len(&self) -> usize {
        self.frame_len as usize
    }
}

/// Result of ingress.
#[derive(Debug)]
pub enum IngressOutcome {
    Dropped(DropReason),
    Queued(QueuedPacket),
}

/// Queue measurements for egress (`standard_metadata` fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueMeta {
    pub enq_qdepth: u32,
    pub deq_qdepth: u32,
    pub deq_timedelta: u32,
    pub enq_timestamp: u32,
}

/// A packet for the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    /// `(metadata id, canonical bytes)` of the `packet_in` controller header, empty without one.
    pub metadata: Vec<(u32, Vec<u8>)>,
    pub payload: Vec<u8>,
}

/// Result of egress.
#[derive(Debug)]
pub enum EgressOutcome {
    Output { port: u32, frame: Vec<u8> },
    PacketIn(PacketIn),
    Dropped(DropReason),
}

/// Everything one packet produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProcessResult {
    pub outputs: Vec<(u32, Vec<u8>)>,
    pub packet_ins: Vec<PacketIn>,
    pub drops: Vec<DropReason>,
    pub digests: Vec<DigestMessage>,
}

/// A switch instance.
#[derive(Debug)]
pub struct Switch {
    pub(crate) program: Arc<Program>,
    pub(crate) config: SwitchConfig,
    pub(crate) rt: Runtime,
    phv_pool: Vec<Phv>,
    buf_pool: Vec<Vec<u8>>,
    start: Instant,
    manual_time_ns: Option<u64>,
    mcast_groups: std::collections::BTreeMap<u32, Vec<(u32, u32)>>,
    outcome_scratch: Vec<IngressOutcome>,
}

impl Switch {
    /// A fresh instance: source entries installed, registers and counters zero.
    pub fn new(program: Arc<Program>, config: SwitchConfig) -> Self {
        let rt = fresh_runtime(&program, &config);
        let phv = Phv::new(&program);
        Switch {
            program,
            config,
            rt,
            phv_pool: vec![phv],
            buf_pool: Vec::new(),
            start: Instant::now(),
            manual_time_ns: None,
            mcast_groups: Default::default(),
            outcome_scratch: Vec::with_capacity(4),
        }
    }

    /// The program.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The configuration.
    pub fn config(&self) -> SwitchConfig {
        self.config
    }

    /// Resets all state as a fresh process would have it (entries, defaults, registers,
    /// counters, meters, digests and stale header storage).
    pub fn reset(&mut self) {
        self.rt = fresh_runtime(&self.program, &self.config);
        self.mcast_groups.clear();
        self.phv_pool = vec![Phv::new(&self.program)];
    }

    /// Uses a manual clock (ns) from now on, for deterministic meters and timestamps.
    pub fn set_time_ns(&mut self, ns: u64) {
        self.manual_time_ns = Some(ns);
    }

    fn now_ns(&self) -> u64 {
        match self.manual_time_ns {
            Some(t) => t,
            // programs that neither read timestamps nor meter save the clock read
            None if !self.program.uses_clock => 0,
            None => self.start.elapsed().as_nanos() as u64,
        }
    }

    /// Approximate heap bytes used by this instance's own state (not the shared program).
    pub fn memory_bytes(&self) -> usize {
        let p = &self.program;
        let phv = p.layout.n_slots as usize * 16 + p.layout.headers.len();
        let mut n = std::mem::size_of::<Self>() + phv * self.phv_pool.len().max(1);
        n += self
            .rt
            .registers
            .iter()
            .map(|r| r.heap_bytes())
            .sum::<usize>();
        n += self
            .rt
            .counters
            .iter()
            .map(|c| c.capacity() * 16)
            .sum::<usize>();
        n += self
            .rt
            .meters
            .iter()
            .map(|m| m.capacity() * std::mem::size_of::<Meter>())
            .sum::<usize>();
        n += self
            .rt
            .tables
            .iter()
            .map(|t| std::mem::size_of::<TableState>() + t.len() * 160)
            .sum::<usize>();
        n += self.buf_pool.iter().map(|b| b.capacity()).sum::<usize>();
        n
    }

    fn take_phv(&mut self) -> Phv {
        // LIFO: the storage the last packet left is reused, which gives BMv2's stale header fields.
        let mut phv = self
            .phv_pool
            .pop()
            .unwrap_or_else(|| Phv::new(&self.program));
        phv.reset_for_packet(&self.program);
        phv
    }

    fn give_back(&mut self, phv: Phv, mut data: Vec<u8>) {
        self.phv_pool.push(phv);
        data.clear();
        if self.buf_pool.len() < 64 {
            self.buf_pool.push(data);
        }
    }

    /// Parser, checksum verification and ingress for a frame received on `in_port`.
    pub fn ingress(&mut self, in_port: u32, frame: &[u8]) -> IngressOutcome {
        let now = self.now_ns();
        self.ingress_at(in_port, frame, now)
    }

    /// Single-outcome form: a multicast packet is `Dropped(Multicast)` here; use
    /// [`Switch::ingress_all`] to get its replicas.
    fn ingress_at(&mut self, in_port: u32, frame: &[u8], now: u64) -> IngressOutcome {
        match self.ingress_core(in_port, frame, now) {
            Ingress::Dropped(r) => IngressOutcome::Dropped(r),
            Ingress::Unicast(q) => IngressOutcome::Queued(q),
            Ingress::Multicast(q, _) => {
                self.give_back(q.phv, q.data);
                IngressOutcome::Dropped(DropReason::Multicast)
            }
        }
    }

    fn ingress_core(&mut self, in_port: u32, frame: &[u8], now: u64) -> Ingress {
        let program = self.program.clone();
        let p = &*program;
        let mut phv = self.take_phv();
        let mut data = self.buf_pool.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(frame);
        let std = &p.std;
        let frame_len = frame.len() as u64;
        phv.slots[std.ingress_port as usize] = in_port as u128;
        phv.slots[std.packet_length as usize] = frame_len as u128;
        phv.slots[std.ingress_global_timestamp as usize] = (now / 1000) as u128 & 0xffff_ffff_ffff;
        let payload_off;
        {
            let mut cx = Ctx::new(p, &mut self.rt, &mut phv, &data, frame_len, now);
            cx.run_parser();
            payload_off = (cx.cursor / 8).min(data.len());
            cx.run_control(&p.verify_checksum.body);
            cx.run_control(&p.ingress.body);
        }
        let spec = phv.slots[std.egress_spec as usize] as u32;
        let mcast = phv.slots[std.mcast_grp as usize] as u32;
        let prio = phv.slots[std.priority as usize] as u32;
        let q = QueuedPacket {
            phv,
            data,
            payload_off,
            frame_len,
            in_port,
            egress_port: spec,
            priority: prio as u8,
            ingress_ts_us: now / 1000,
        };
        // As in BMv2, a multicast group takes precedence over egress_spec.
        if mcast != 0 {
            return Ingress::Multicast(q, mcast);
        }
        let reason = if spec == self.config.drop_port {
            DropReason::IngressDrop
        } else if prio >= self.priority_limit() {
            DropReason::PriorityOutOfRange
        } else {
            return Ingress::Unicast(q);
        };
        self.give_back(q.phv, q.data);
        Ingress::Dropped(reason)
    }

    fn priority_limit(&self) -> u32 {
        self.config.priority_queues.max(1) as u32
    }

    /// Parser, checksum verification and ingress; a multicast packet gives one outcome per
    /// replica of its group (`egress_rid` set, `instance_type` = replication), an unknown or
    /// empty group one `Dropped(Multicast)`. Outcomes are appended to `out`.
    pub fn ingress_all(&mut self, in_port: u32, frame: &[u8], out: &mut Vec<IngressOutcome>) {
        let now = self.now_ns();
        self.ingress_all_at(in_port, frame, now, out);
    }

    fn ingress_all_at(
        &mut self,
        in_port: u32,
        frame: &[u8],
        now: u64,
        out: &mut Vec<IngressOutcome>,
    ) {
        match self.ingress_core(in_port, frame, now) {
            Ingress::Dropped(r) => out.push(IngressOutcome::Dropped(r)),
            Ingress::Unicast(q) => out.push(IngressOutcome::Queued(q)),
            Ingress::Multicast(q, group) => {
                let replicas = self.mcast_groups.get(&group).cloned().unwrap_or_default();
                if replicas.is_empty() {
                    out.push(IngressOutcome::Dropped(DropReason::Multicast));
                }
                let std = self.program.std.clone();
                for (port, rid) in replicas {
                    if q.priority as u32 >= self.priority_limit() {
                        out.push(IngressOutcome::Dropped(DropReason::PriorityOutOfRange));
                        continue;
                    }
                    let mut phv = self.take_phv();
                    phv.slots.copy_from_slice(&q.phv.slots);
                    phv.valid.copy_from_slice(&q.phv.valid);
                    phv.slots[std.egress_rid as usize] = rid as u128;
                    phv.slots[std.instance_type as usize] = INSTANCE_TYPE_REPLICATION;
                    let mut data = self.buf_pool.pop().unwrap_or_default();
                    data.clear();
                    data.extend_from_slice(&q.data);
                    out.push(IngressOutcome::Queued(QueuedPacket {
                        phv,
                        data,
                        egress_port: port,
                        ..q.shallow()
                    }));
                }
                self.give_back(q.phv, q.data);
            }
        }
    }

    /// Sets the replicas `(port, egress_rid)` of a multicast group (the P4Runtime
    /// `MulticastGroupEntry`); an empty list removes the group.
    pub fn set_multicast_group(&mut self, group: u32, replicas: Vec<(u32, u32)>) {
        if replicas.is_empty() {
            self.mcast_groups.remove(&group);
        } else {
            self.mcast_groups.insert(group, replicas);
        }
    }

    /// The replicas of a multicast group.
    pub fn multicast_group(&self, group: u32) -> Option<&[(u32, u32)]> {
        self.mcast_groups.get(&group).map(|v| v.as_slice())
    }

    /// Egress, checksum update and deparser for a packet leaving the queues.
    pub fn egress(&mut self, q: QueuedPacket, meta: QueueMeta) -> EgressOutcome {
        let now = self.now_ns();
        self.egress_at(q, meta, now)
    }

    fn egress_at(&mut self, q: QueuedPacket, meta: QueueMeta, now: u64) -> EgressOutcome {
        let program = self.program.clone();
        let p = &*program;
        let QueuedPacket {
            mut phv,
            data,
            payload_off,
            frame_len,
            egress_port,
            ..
        } = q;
        let std = &p.std;
        // BMv2 shows egress_spec as 0 in egress.
        phv.slots[std.egress_spec as usize] = 0;
        phv.slots[std.egress_port as usize] = egress_port as u128;
        phv.slots[std.enq_qdepth as usize] = meta.enq_qdepth as u128;
        phv.slots[std.deq_qdepth as usize] = meta.deq_qdepth as u128;
        phv.slots[std.deq_timedelta as usize] = meta.deq_timedelta as u128;
        phv.slots[std.enq_timestamp as usize] = meta.enq_timestamp as u128;
        phv.slots[std.egress_global_timestamp as usize] = (now / 1000) as u128 & 0xffff_ffff_ffff;
        {
            let mut cx = Ctx::new(p, &mut self.rt, &mut phv, &[], frame_len, now);
            cx.run_control(&p.egress.body);
        }
        if phv.slots[std.egress_spec as usize] as u32 == self.config.drop_port {
            self.give_back(phv, data);
            return EgressOutcome::Dropped(DropReason::EgressDrop);
        }
        {
            let mut cx = Ctx::new(p, &mut self.rt, &mut phv, &[], frame_len, now);
            cx.run_control(&p.compute_checksum.body);
        }
        let mut frame = Vec::with_capacity(data.len() + 64);
        deparse(p, &phv, &data[payload_off..], &mut frame);
        self.give_back(phv, data);
        if egress_port == self.config.cpu_port {
            return EgressOutcome::PacketIn(self.to_packet_in(frame));
        }
        EgressOutcome::Output {
            port: egress_port,
            frame,
        }
    }

    /// BMv2's gRPC server strips the `packet_in` header's bytes from the front of a frame sent
    /// to the CPU port and decodes them, whether or not the program made that header valid.
    fn to_packet_in(&self, frame: Vec<u8>) -> PacketIn {
        let Some(h) = &self.program.packet_in else {
            return PacketIn {
                metadata: Vec::new(),
                payload: frame,
            };
        };
        let n = h.bytes().min(frame.len());
        let mut head = frame[..n].to_vec();
        head.resize(h.bytes(), 0);
        let mut off = 0;
        let metadata = h
            .fields
            .iter()
            .map(|(id, _, w)| {
                let v = read_bits(&head, off, *w);
                off += *w as usize;
                (*id, canonical_bytes(v))
            })
            .collect();
        PacketIn {
            metadata,
            payload: frame[n..].to_vec(),
        }
    }

    /// Runs a frame through both phases with zero queue metadata. Digests produced by this
    /// packet are moved from the digest queue into the result.
    pub fn process(&mut self, in_port: u32, frame: &[u8]) -> ProcessResult {
        let before = self.rt.digests.len();
        let mut r = ProcessResult::default();
        let now = self.now_ns();
        let mut outcomes = std::mem::take(&mut self.outcome_scratch);
        self.ingress_all_at(in_port, frame, now, &mut outcomes);
        for o in outcomes.drain(..) {
            match o {
                IngressOutcome::Dropped(d) => r.drops.push(d),
                IngressOutcome::Queued(q) => match self.egress_at(q, QueueMeta::default(), now) {
                    EgressOutcome::Output { port, frame } => r.outputs.push((port, frame)),
                    EgressOutcome::PacketIn(pi) => r.packet_ins.push(pi),
                    EgressOutcome::Dropped(d) => r.drops.push(d),
                },
            }
        }
        self.outcome_scratch = outcomes;
        if self.rt.digests.len() > before {
            r.digests = self.rt.digests.drain(before..).collect();
        }
        r
    }

    /// Builds the `packet_out` controller header from `(metadata id, bytes)` in front of
    /// `payload` and runs the pipeline from the CPU port, as BMv2 does.
    pub fn packet_out(
        &mut self,
        metadata: &[(u32, Vec<u8>)],
        payload: &[u8],
    ) -> Result<ProcessResult, super::StateError> {
        let frame = self.packet_out_frame(metadata, payload)?;
        Ok(self.process(self.config.cpu_port, &frame))
    }

    /// The frame a packet-out injects on the CPU port.
    pub fn packet_out_frame(
        &self,
        metadata: &[(u32, Vec<u8>)],
        payload: &[u8],
    ) -> Result<Vec<u8>, super::StateError> {
        let Some(h) = &self.program.packet_out else {
            return Ok(payload.to_vec());
        };
        let mut items = Vec::with_capacity(h.fields.len());
        for (id, name, w) in &h.fields {
            let v = match metadata.iter().find(|(i, _)| i == id) {
                Some((_, b)) => bytes_to_value(b, *w).ok_or_else(|| {
                    super::StateError::InvalidArgument(format!(
                        "packet-out metadata {name} does not fit in {w} bits"
                    ))
                })?,
                None => 0,
            };
            items.push((v, *w));
        }
        for (id, _) in metadata {
            if !h.fields.iter().any(|(i, _, _)| i == id) {
                return Err(super::StateError::InvalidArgument(format!(
                    "unknown packet-out metadata id {id}"
                )));
            }
        }
        let mut frame = super::interp::pack(&items);
        frame.extend_from_slice(payload);
        Ok(frame)
    }

    /// Digests not yet taken (oldest first).
    pub fn take_digests(&mut self) -> Vec<DigestMessage> {
        self.rt.digests.drain(..).collect()
    }
}

fn fresh_runtime(p: &Program, config: &SwitchConfig) -> Runtime {
    let mut tables: Vec<TableState> = p.tables.iter().map(TableState::new).collect();
    for (t, ts) in p.tables.iter().zip(tables.iter_mut()) {
        let n = t.entries.len() as i32;
        for (i, e) in t.entries.iter().enumerate() {
            // Source entries of a table with priorities: the first listed wins (BMv2 and p4c).
            let priority = if t.needs_priority && e.priority == 0 {
                n - i as i32
            } else {
                e.priority
            };
            let _ = ts.insert(Entry {
                matches: e.matches.clone(),
                priority,
                action: e.action.clone(),
                idle_timeout_ns: 0,
                metadata: Vec::new(),
                counter: CounterData::default(),
                meter: None,
                from_source: true,
            });
        }
    }
    Runtime {
        tables,
        registers: p
            .registers
            .iter()
            .map(|r| super::register::RegisterArray::new(r.width, r.size as usize))
            .collect(),
        counters: p
            .counters
            .iter()
            .map(|c| vec![CounterData::default(); c.size as usize])
            .collect(),
        meters: p
            .meters
            .iter()
            .map(|m| vec![Meter::default(); m.size as usize])
            .collect(),
        digests: Default::default(),
        key_scratch: Vec::with_capacity(8),
        lpm_scratch: Vec::with_capacity(8),
        hash_buf: Vec::with_capacity(64),
        rng: 0x2545_F491_4F6C_DD1D,
        drop_port: config.drop_port as u128,
    }
}

/// Checks a key match against its kind and width (used by the state API).
pub(crate) fn key_is_wildcard(m: &KeyMatch, w: u32) -> bool {
    match *m {
        KeyMatch::Ternary { mask, .. } => mask == 0,
        KeyMatch::Range { lo, hi } => lo == 0 && hi == super::value::mask(w),
        KeyMatch::Optional(v) => v.is_none(),
        KeyMatch::Lpm { len, .. } => len == 0,
        KeyMatch::Exact(_) => false,
    }
}
