//! The tree-walking interpreter over the IR: expressions, statements, table application,
//! externs, the parser and the deparser. All state is in pre-sized arrays indexed by the slots
//! and ids the IR resolved at compile time.

use std::collections::VecDeque;

use crate::ir::{
    ActionId, BinOp, Expr, ExternCall, HeaderId, HeaderRef, KeySet, LValue, ListItem, Program,
    StackId, StackIndex, Stmt, TableId, Target, Transition, UnOp, errors,
};

use super::bits::{BitWriter, read_bits};
use super::hash::{HashAlgo, csum16, hash_result, pack_fields};
use super::meter::Meter;
use super::table::{CounterData, TableState};
use super::value as v;

/// One packet's header, metadata and local storage.
#[derive(Debug, Clone)]
pub struct Phv {
    /// Values by slot.
    pub slots: Vec<u128>,
    /// Header validity by header id.
    pub valid: Vec<bool>,
}

impl Phv {
    /// Storage for `p`, all zero.
    pub fn new(p: &Program) -> Self {
        Phv {
            slots: vec![0; p.layout.n_slots as usize],
            valid: vec![false; p.layout.headers.len()],
        }
    }

    /// Starts a new packet: clears validity and metadata, keeps header fields (as BMv2 does).
    pub fn reset_for_packet(&mut self, p: &Program) {
        self.valid.fill(false);
        self.slots[p.layout.persistent_slots as usize..].fill(0);
    }
}

/// A digest produced by the data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMessage {
    /// P4Info digest id.
    pub digest_id: u32,
    /// Member values as canonical byte strings, in declaration order.
    pub members: Vec<Vec<u8>>,
}

/// Mutable run-time state of one switch (everything but the packet).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub tables: Vec<TableState>,
    pub registers: Vec<super::register::RegisterArray>,
    pub counters: Vec<Vec<CounterData>>,
    pub meters: Vec<Vec<Meter>>,
    pub digests: VecDeque<DigestMessage>,
    pub key_scratch: Vec<u128>,
    pub lpm_scratch: Vec<u128>,
    pub hash_buf: Vec<u8>,
    pub rng: u64,
    pub drop_port: u128,
}

/// What ended a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Next,
    Exit,
    Return,
    /// A parser error was raised (parser only).
    ParserError,
}

/// Execution context of one pipeline stage for one packet.
pub struct Ctx<'a> {
    pub p: &'a Program,
    pub rt: &'a mut Runtime,
    pub phv: &'a mut Phv,
    /// The frame being parsed (parser only).
    pub pkt: &'a [u8],
    /// Parser position in bits.
    pub cursor: usize,
    /// Parser error raised (0 = none).
    pub perr: u32,
    /// Ingress frame length (counter bytes, meter bytes).
    pub frame_len: u64,
    /// Time for meters.
    pub now_ns: u64,
    /// The table entry whose action is running (for direct meters).
    cur_entry: Option<(TableId, usize)>,
    /// An action run by `t.apply().hit` inside an expression executed `exit`.
    exit_pending: bool,
}

impl<'a> Ctx<'a> {
    /// A context over one packet.
    pub fn new(
        p: &'a Program,
        rt: &'a mut Runtime,
        phv: &'a mut Phv,
        pkt: &'a [u8],
        frame_len: u64,
        now_ns: u64,
    ) -> Self {
        Ctx {
            p,
            rt,
            phv,
            pkt,
            cursor: 0,
            perr: 0,
            frame_len,
            now_ns,
            cur_entry: None,
            exit_pending: false,
        }
    }

    fn stack_elem(&mut self, stack: StackId, idx: &'a StackIndex) -> Option<HeaderId> {
        let s = &self.p.layout.stacks[stack as usize];
        let next = self.phv.slots[s.next_index as usize];
        let i = match idx {
            StackIndex::Expr(e) => self.eval(e),
            StackIndex::Last => next.wrapping_sub(1),
            StackIndex::Next => next,
        };
        s.elems.get(usize::try_from(i).ok()?).copied()
    }

    fn header(&mut self, h: &'a HeaderRef) -> Option<HeaderId> {
        match h {
            HeaderRef::Fixed(id) => Some(*id),
            HeaderRef::Dyn(s, idx) => self.stack_elem(*s, idx),
        }
    }

    /// Evaluates an expression, with the leaves inlined.
    #[inline(always)]
    fn ev(&mut self, e: &'a Expr) -> u128 {
        match e {
            Expr::Slot(s) => self.phv.slots[*s as usize],
            Expr::Const(c) => *c,
            _ => self.eval(e),
        }
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &'a Expr) -> u128 {
        match e {
            Expr::Const(c) => *c,
            Expr::Slot(s) => self.phv.slots[*s as usize],
            Expr::DynField {
                stack,
                index,
                field,
            } => match self.stack_elem(*stack, index) {
                Some(h) => {
                    let slot = self.p.layout.headers[h as usize].fields[*field as usize].slot;
                    self.phv.slots[slot as usize]
                }
                None => 0,
            },
            Expr::IsValid(h) => match self.header(h) {
                Some(h) => self.phv.valid[h as usize] as u128,
                None => 0,
            },
            Expr::Unary { op, width, e } => {
                let x = self.eval(e);
                match op {
                    UnOp::LNot => (x == 0) as u128,
                    UnOp::BitNot => v::not(x, *width),
                    UnOp::Neg => v::neg(x, *width),
                }
            }
            Expr::Binary {
                op,
                width,
                signed,
                a,
                b,
            } => {
                let x = self.ev(a);
                let y = self.ev(b);
                let w = *width;
                let s = *signed;
                match op {
                    BinOp::Add => v::add(x, y, w),
                    BinOp::Sub => v::sub(x, y, w),
                    BinOp::Mul => v::mul(x, y, w),
                    BinOp::Div => v::div(x, y, w),
                    BinOp::Mod => v::rem(x, y, w),
                    BinOp::SatAdd => v::sat_add(x, y, w, s),
                    BinOp::SatSub => v::sat_sub(x, y, w, s),
                    BinOp::Shl => v::shl(x, y, w),
                    BinOp::Shr => v::shr(x, y, w, s),
                    BinOp::BitAnd => x & y,
                    BinOp::BitOr => x | y,
                    BinOp::BitXor => x ^ y,
                    BinOp::Eq => (x == y) as u128,
                    BinOp::Ne => (x != y) as u128,
                    BinOp::Lt => v::lt(x, y, w, s) as u128,
                    BinOp::Le => v::le(x, y, w, s) as u128,
                    BinOp::Gt => v::lt(y, x, w, s) as u128,
                    BinOp::Ge => v::le(y, x, w, s) as u128,
                }
            }
            Expr::And(a, b) => (self.eval(a) != 0 && self.eval(b) != 0) as u128,
            Expr::Or(a, b) => (self.eval(a) != 0 || self.eval(b) != 0) as u128,
            Expr::Slice { e, hi, lo } => v::slice(self.eval(e), *hi, *lo),
            Expr::Concat { a, b, wb } => {
                let x = self.eval(a);
                let y = self.eval(b);
                v::concat(x, y, *wb)
            }
            Expr::Cast {
                e,
                from_w,
                from_signed,
                to_w,
            } => v::cast(self.eval(e), *from_w, *from_signed, *to_w),
            Expr::Cond { c, a, b } => {
                if self.eval(c) != 0 {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            Expr::TableHit { table, hit } => {
                let (h, _, f) = self.apply_table(*table);
                if f == Flow::Exit {
                    self.exit_pending = true;
                }
                (h == *hit) as u128
            }
            Expr::Lookahead { width } => {
                if self.cursor + *width as usize > self.pkt.len() * 8 {
                    if self.perr == 0 {
                        self.perr = errors::PACKET_TOO_SHORT;
                    }
                    0
                } else {
                    read_bits(self.pkt, self.cursor, *width)
                }
            }
            Expr::StackLastIndex(s) => {
                let st = &self.p.layout.stacks[*s as usize];
                self.phv.slots[st.next_index as usize].wrapping_sub(1) & 0xffff_ffff
            }
        }
    }

    fn store(&mut self, dst: &'a LValue, val: u128) {
        match dst {
            LValue::Slot { slot, width } => self.phv.slots[*slot as usize] = val & v::mask(*width),
            LValue::Slice { slot, hi, lo } => {
                let s = &mut self.phv.slots[*slot as usize];
                *s = v::set_slice(*s, *hi, *lo, val);
            }
            LValue::DynField {
                stack,
                index,
                field,
                slice,
            } => {
                if let Some(h) = self.stack_elem(*stack, index) {
                    let f = &self.p.layout.headers[h as usize].fields[*field as usize];
                    let s = &mut self.phv.slots[f.slot as usize];
                    *s = match slice {
                        Some((hi, lo)) => v::set_slice(*s, *hi, *lo, val),
                        None => val & v::mask(f.width),
                    };
                }
            }
            LValue::Discard => {}
        }
    }

    /// Runs a block of statements.
    pub fn exec_block(&mut self, stmts: &'a [Stmt]) -> Flow {
        for s in stmts {
            let f = self.exec(s);
            if f != Flow::Next {
                return f;
            }
        }
        Flow::Next
    }

    fn exec(&mut self, s: &'a Stmt) -> Flow {
        match s {
            Stmt::Assign { dst, e } => {
                let val = self.ev(e);
                if self.perr != 0 {
                    return Flow::ParserError;
                }
                self.store(dst, val);
            }
            Stmt::SetValid { h, valid } => {
                if let Some(h) = self.header(h) {
                    // BMv2 (add_header) zeroes the fields of a header that was invalid; a
                    // header that is already valid keeps its values.
                    if *valid && !self.phv.valid[h as usize] {
                        for f in &self.p.layout.headers[h as usize].fields {
                            self.phv.slots[f.slot as usize] = 0;
                        }
                    }
                    self.phv.valid[h as usize] = *valid;
                }
            }
            Stmt::CopyHeader { dst, src } => {
                if let (Some(d), Some(s)) = (self.header(dst), self.header(src)) {
                    let hs = &self.p.layout.headers;
                    for (fd, fs) in hs[d as usize].fields.iter().zip(&hs[s as usize].fields) {
                        self.phv.slots[fd.slot as usize] = self.phv.slots[fs.slot as usize];
                    }
                    self.phv.valid[d as usize] = self.phv.valid[s as usize];
                }
            }
            Stmt::If { c, then, els } => {
                let c = self.eval(c);
                if self.perr != 0 {
                    return Flow::ParserError;
                }
                if self.exit_pending {
                    return Flow::Exit;
                }
                return if c != 0 {
                    self.exec_block(then)
                } else {
                    self.exec_block(els)
                };
            }
            Stmt::Block(b) => return self.exec_block(b),
            Stmt::ActionBody(b) => {
                let f = self.exec_block(b);
                return if f == Flow::Return { Flow::Next } else { f };
            }
            Stmt::Apply(t) => {
                let (_, _, f) = self.apply_table(*t);
                return f;
            }
            Stmt::Switch {
                table,
                cases,
                default,
            } => {
                let (_, act, f) = self.apply_table(*table);
                if f != Flow::Next {
                    return f;
                }
                for (acts, body) in cases {
                    if acts.contains(&act) {
                        return self.exec_block(body);
                    }
                }
                return self.exec_block(default);
            }
            Stmt::Extern(x) => return self.exec_extern(x),
            Stmt::Exit => return Flow::Exit,
            Stmt::Return => return Flow::Return,
            Stmt::Extract(h) => {
                let stack_next = match h {
                    HeaderRef::Dyn(s, StackIndex::Next) => Some(*s),
                    _ => None,
                };
                let Some(id) = self.header(h) else {
                    self.perr = errors::STACK_OUT_OF_BOUNDS;
                    return Flow::ParserError;
                };
                let hd = &self.p.layout.headers[id as usize];
                if self.cursor + hd.bits as usize > self.pkt.len() * 8 {
                    self.perr = errors::PACKET_TOO_SHORT;
                    return Flow::ParserError;
                }
                let mut off = self.cursor;
                for f in &hd.fields {
                    self.phv.slots[f.slot as usize] = read_bits(self.pkt, off, f.width);
                    off += f.width as usize;
                }
                self.cursor = off;
                self.phv.valid[id as usize] = true;
                if let Some(s) = stack_next {
                    let slot = self.p.layout.stacks[s as usize].next_index as usize;
                    self.phv.slots[slot] += 1;
                }
            }
            Stmt::LookaheadHeader(id) => {
                let hd = &self.p.layout.headers[*id as usize];
                if self.cursor + hd.bits as usize > self.pkt.len() * 8 {
                    self.perr = errors::PACKET_TOO_SHORT;
                    return Flow::ParserError;
                }
                let mut off = self.cursor;
                for f in &hd.fields {
                    self.phv.slots[f.slot as usize] = read_bits(self.pkt, off, f.width);
                    off += f.width as usize;
                }
                self.phv.valid[*id as usize] = true;
            }
            Stmt::Advance(e) => {
                let n = usize::try_from(self.eval(e)).unwrap_or(usize::MAX);
                if self.cursor.saturating_add(n) > self.pkt.len() * 8 {
                    self.perr = errors::PACKET_TOO_SHORT;
                    return Flow::ParserError;
                }
                self.cursor += n;
            }
            Stmt::Verify { c, error } => {
                let c = self.eval(c);
                if self.perr != 0 {
                    return Flow::ParserError;
                }
                if c == 0 {
                    self.perr = *error;
                    return Flow::ParserError;
                }
            }
        }
        Flow::Next
    }

    fn pack(&mut self, fields: &'a [ListItem]) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.rt.hash_buf);
        buf.clear();
        let mut w = BitWriter::default();
        for it in fields {
            let x = self.ev(&it.e);
            w.push(&mut buf, x, it.width);
        }
        w.finish(&mut buf);
        buf
    }

    fn exec_extern(&mut self, x: &'a ExternCall) -> Flow {
        let std = &self.p.std;
        match x {
            ExternCall::MarkToDrop => {
                self.phv.slots[std.egress_spec as usize] = self.rt.drop_port;
                self.phv.slots[std.mcast_grp as usize] = 0;
            }
            ExternCall::RegisterRead { reg, dst, index } => {
                let i = self.eval(index);
                let r = &self.rt.registers[*reg as usize];
                // BMv2 refuses an out-of-range index; the destination reads 0.
                let val = usize::try_from(i).ok().and_then(|i| r.get(i)).unwrap_or(0);
                self.store(dst, val);
            }
            ExternCall::RegisterWrite { reg, index, value } => {
                let i = self.eval(index);
                let val = self.eval(value) & v::mask(self.p.registers[*reg as usize].width);
                if let Ok(i) = usize::try_from(i) {
                    self.rt.registers[*reg as usize].set(i, val);
                }
            }
            ExternCall::CounterCount { counter, index } => {
                let i = self.eval(index);
                let len = self.frame_len;
                if let Some(c) = usize::try_from(i)
                    .ok()
                    .and_then(|i| self.rt.counters[*counter as usize].get_mut(i))
                {
                    c.packets += 1;
                    c.bytes += len;
                }
            }
            ExternCall::MeterExecute { meter, index, dst } => {
                let i = self.eval(index);
                let size = match self.p.meters[*meter as usize].unit {
                    crate::ir::CounterUnit::Packets => 1,
                    _ => self.frame_len,
                };
                let now = self.now_ns;
                let colour = match usize::try_from(i)
                    .ok()
                    .and_then(|i| self.rt.meters[*meter as usize].get_mut(i))
                {
                    Some(m) => m.execute(now, size),
                    None => super::meter::GREEN,
                };
                self.store(dst, colour);
            }
            ExternCall::DirectMeterRead { meter, dst } => {
                let size = match self.p.direct_meters[*meter as usize].unit {
                    crate::ir::CounterUnit::Packets => 1,
                    _ => self.frame_len,
                };
                let now = self.now_ns;
                let colour = match self.cur_entry {
                    Some((t, id)) => match self.rt.tables[t as usize].entry_mut(id) {
                        Some(e) => e
                            .meter
                            .as_mut()
                            .map_or(super::meter::GREEN, |m| m.execute(now, size)),
                        None => super::meter::GREEN,
                    },
                    None => super::meter::GREEN,
                };
                self.store(dst, colour);
            }
            ExternCall::Hash {
                dst,
                out_width,
                algo,
                base,
                fields,
                max,
            } => {
                let b = self.eval(base);
                let m = self.eval(max);
                let buf = self.pack(fields);
                let h = algo.compute(&buf);
                self.rt.hash_buf = buf;
                self.store(dst, hash_result(h, b, m, *out_width));
            }
            ExternCall::Random { dst, width, lo, hi } => {
                let lo = self.eval(lo);
                let hi = self.eval(hi);
                let mut s = self.rt.rng;
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                self.rt.rng = s;
                let val = if hi <= lo {
                    lo
                } else {
                    match (hi - lo).checked_add(1) {
                        Some(span) => lo + (s as u128) % span,
                        None => s as u128,
                    }
                };
                self.store(dst, val & v::mask(*width));
            }
            ExternCall::Digest { digest, fields } => {
                let members = fields.iter().map(|f| self.eval(&f.e)).collect::<Vec<_>>();
                let members = members
                    .into_iter()
                    .map(super::shell_syntax::canonical_bytes)
                    .collect();
                let id = self.p.digests[*digest as usize].id;
                self.rt.digests.push_back(DigestMessage {
                    digest_id: id,
                    members,
                });
            }
            ExternCall::VerifyChecksum {
                cond,
                fields,
                checksum,
                width,
                algo,
            } => {
                if self.eval(cond) != 0 {
                    let buf = self.pack(fields);
                    let computed = checksum_of(*algo, &buf) & v::mask(*width);
                    self.rt.hash_buf = buf;
                    let expected = self.eval(checksum);
                    if computed != expected {
                        self.phv.slots[self.p.std.checksum_error as usize] = 1;
                    }
                }
            }
            ExternCall::UpdateChecksum {
                cond,
                fields,
                dst,
                width,
                algo,
            } => {
                if self.eval(cond) != 0 {
                    let buf = self.pack(fields);
                    let computed = checksum_of(*algo, &buf) & v::mask(*width);
                    self.rt.hash_buf = buf;
                    self.store(dst, computed);
                }
            }
        }
        Flow::Next
    }

    /// Applies a table: looks up, counts, runs the action. Returns (hit, action run, flow).
    pub fn apply_table(&mut self, t: TableId) -> (bool, ActionId, Flow) {
        let p = self.p;
        let tab = &p.tables[t as usize];
        let mut key = std::mem::take(&mut self.rt.key_scratch);
        key.clear();
        for k in &tab.keys {
            let x = self.ev(&k.e);
            key.push(x);
        }
        let ts = &mut self.rt.tables[t as usize];
        let found = ts.lookup(&key, &mut self.rt.lpm_scratch);
        self.rt.key_scratch = key;
        let (action, hit) = match found {
            Some(id) => {
                let e = ts.entry_mut(id).expect("looked-up entry exists");
                if tab.direct_counter.is_some() {
                    e.counter.packets += 1;
                    e.counter.bytes += self.frame_len;
                }
                let a = &p.actions[e.action.action as usize];
                for (prm, val) in a.params.iter().zip(&e.action.args) {
                    self.phv.slots[prm.slot as usize] = *val;
                }
                (e.action.action, true)
            }
            None => {
                let d = &ts.default_action;
                let a = &p.actions[d.action as usize];
                for (prm, val) in a.params.iter().zip(&d.args) {
                    self.phv.slots[prm.slot as usize] = *val;
                }
                (d.action, false)
            }
        };
        let prev = self.cur_entry;
        self.cur_entry = found.map(|id| (t, id));
        let f = self.exec_block(&p.actions[action as usize].body);
        self.cur_entry = prev;
        let f = if f == Flow::Return { Flow::Next } else { f };
        (hit, action, f)
    }

    /// Runs the parser from the start state; returns the error code (0 = none).
    pub fn run_parser(&mut self) -> u32 {
        let p = self.p;
        let mut state = p.parser.start as usize;
        let mut steps = 0u32;
        loop {
            steps += 1;
            if steps > 100_000 {
                self.perr = errors::PARSER_TIMEOUT;
                break;
            }
            let st = &p.parser.states[state];
            if self.exec_block(&st.stmts) != Flow::Next {
                break;
            }
            let target = match &st.transition {
                Transition::Direct(t) => *t,
                Transition::Select { keys, cases } => {
                    let mut vals = [0u128; 16];
                    for (i, k) in keys.iter().enumerate().take(16) {
                        vals[i] = self.eval(k);
                    }
                    if self.perr != 0 {
                        break;
                    }
                    let n = keys.len().min(16);
                    let hit = cases.iter().find(|(sets, _)| {
                        sets.iter().zip(&vals[..n]).all(|(s, &x)| match *s {
                            KeySet::Value(c) => x == c,
                            KeySet::Mask(c, m) => x & m == c & m,
                            KeySet::Range(lo, hi) => lo <= x && x <= hi,
                            KeySet::Any => true,
                        })
                    });
                    match hit {
                        Some((_, t)) => *t,
                        None => {
                            self.perr = errors::NO_MATCH;
                            break;
                        }
                    }
                }
            };
            match target {
                Target::Accept | Target::Reject => break,
                Target::State(s) => state = s as usize,
            }
        }
        let e = self.perr;
        self.phv.slots[p.std.parser_error as usize] = e as u128;
        self.perr = 0;
        e
    }

    /// Runs a control body (`exit` and `return` both end it).
    pub fn run_control(&mut self, body: &'a [Stmt]) {
        let _ = self.exec_block(body);
    }
}

fn checksum_of(algo: HashAlgo, data: &[u8]) -> u128 {
    match algo {
        HashAlgo::Csum16 => csum16(data) as u128,
        other => other.compute(data) as u128,
    }
}

/// Deparses the valid headers in emit order, then appends `payload`.
pub fn deparse(p: &Program, phv: &Phv, payload: &[u8], out: &mut Vec<u8>) {
    let mut w = BitWriter::at_end(out);
    for &h in &p.deparser {
        if phv.valid[h as usize] {
            for f in &p.layout.headers[h as usize].fields {
                w.push(out, phv.slots[f.slot as usize], f.width);
            }
        }
    }
    w.finish(out);
    out.extend_from_slice(payload);
}

/// Packs `(value, width)` pairs (re-exported helper for the state API).
pub fn pack(items: &[(u128, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    pack_fields(items.iter().copied(), &mut out);
    out
}
