//! The lowered program that the interpreter runs.
//!
//! Every scalar (header field, metadata field, local variable, action parameter) has a fixed
//! slot in a flat `u128` array, header validity has a fixed index, and every table, action and
//! extern is referred to by its index. Nothing is looked up by name while a packet runs.
//! Slots `0..Layout::persistent_slots` are header fields: BMv2 keeps them between packets (it
//! clears only the valid bits), so the interpreter does too. The other slots are metadata and
//! locals, zeroed for each packet.

pub mod lower;
pub mod visit;

use crate::exec::hash::HashAlgo;

/// Index of a `u128` slot.
pub type Slot = u32;
/// Index of a header instance in [`Layout::headers`].
pub type HeaderId = u32;
/// Index of a header stack in [`Layout::stacks`].
pub type StackId = u32;
/// Index in [`Program::tables`].
pub type TableId = u32;
/// Index in [`Program::actions`].
pub type ActionId = u32;

/// A scalar field of a header instance.
#[derive(Debug, Clone)]
pub struct FieldSlot {
    /// Field name.
    pub name: String,
    /// Where its value lives.
    pub slot: Slot,
    /// Width in bits (bool is 1).
    pub width: u32,
}

/// One header instance (a header in the headers struct, a stack element, or a local header).
#[derive(Debug, Clone)]
pub struct HeaderInst {
    /// Path such as `hdr.ipv4` or `hdr.tags[1]`.
    pub name: String,
    /// The header type's name.
    pub type_name: String,
    /// Fields in declaration (wire) order.
    pub fields: Vec<FieldSlot>,
    /// Sum of the field widths.
    pub bits: u32,
}

/// A header stack.
#[derive(Debug, Clone)]
pub struct StackInst {
    /// Path such as `hdr.tags`.
    pub name: String,
    /// The elements, in index order.
    pub elems: Vec<HeaderId>,
    /// The slot holding `nextIndex` (metadata, reset per packet).
    pub next_index: Slot,
}

/// Storage layout of one packet's state.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Total number of slots.
    pub n_slots: u32,
    /// Slots below this index are header fields, kept between packets.
    pub persistent_slots: u32,
    /// Every header instance.
    pub headers: Vec<HeaderInst>,
    /// Every header stack.
    pub stacks: Vec<StackInst>,
}

/// Slots of the `standard_metadata` fields that the engine reads or writes.
#[derive(Debug, Clone, Default)]
pub struct StdMeta {
    pub ingress_port: Slot,
    pub egress_spec: Slot,
    pub egress_port: Slot,
    pub instance_type: Slot,
    pub packet_length: Slot,
    pub enq_timestamp: Slot,
    pub enq_qdepth: Slot,
    pub deq_timedelta: Slot,
    pub deq_qdepth: Slot,
    pub ingress_global_timestamp: Slot,
    pub egress_global_timestamp: Slot,
    pub mcast_grp: Slot,
    pub egress_rid: Slot,
    pub checksum_error: Slot,
    pub parser_error: Slot,
    pub priority: Slot,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// Logical `!` on bool.
    LNot,
    /// `~`.
    BitNot,
    /// Unary `-`.
    Neg,
}

/// Binary operators on `bit<W>`/`int<W>` (operands already of the same type; comparisons use
/// the operand width and signedness and give a bool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    SatAdd,
    SatSub,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// How a stack element is chosen at run time.
#[derive(Debug, Clone)]
pub enum StackIndex {
    /// `stack[e]`.
    Expr(Box<Expr>),
    /// `stack.last` (`nextIndex - 1`).
    Last,
    /// `stack.next` (`nextIndex`).
    Next,
}

/// A reference to a header instance.
#[derive(Debug, Clone)]
pub enum HeaderRef {
    /// Known at compile time.
    Fixed(HeaderId),
    /// A stack element chosen at run time.
    Dyn(StackId, StackIndex),
}

/// An expression; values are `u128` words holding the low `W` bits (bool is 0 or 1).
#[derive(Debug, Clone)]
pub enum Expr {
    Const(u128),
    Slot(Slot),
    /// Field `field` of a stack element chosen at run time.
    DynField {
        stack: StackId,
        index: StackIndex,
        field: u32,
    },
    /// `h.isValid()`.
    IsValid(HeaderRef),
    Unary {
        op: UnOp,
        width: u32,
        e: Box<Expr>,
    },
    Binary {
        op: BinOp,
        width: u32,
        signed: bool,
        a: Box<Expr>,
        b: Box<Expr>,
    },
    /// Short-circuit `&&`.
    And(Box<Expr>, Box<Expr>),
    /// Short-circuit `||`.
    Or(Box<Expr>, Box<Expr>),
    Slice {
        e: Box<Expr>,
        hi: u32,
        lo: u32,
    },
    /// `a ++ b`, `b` of width `wb`.
    Concat {
        a: Box<Expr>,
        b: Box<Expr>,
        wb: u32,
    },
    Cast {
        e: Box<Expr>,
        from_w: u32,
        from_signed: bool,
        to_w: u32,
    },
    Cond {
        c: Box<Expr>,
        a: Box<Expr>,
        b: Box<Expr>,
    },
    /// `t.apply().hit` (`hit == true`) or `.miss`: applies the table.
    TableHit {
        table: TableId,
        hit: bool,
    },
    /// `pkt.lookahead<bit<W>>()` (parser only).
    Lookahead {
        width: u32,
    },
    /// `stack.lastIndex` or `nextIndex` reads, etc.: the value of a metadata slot minus one.
    StackLastIndex(StackId),
}

/// An assignable place.
#[derive(Debug, Clone)]
pub enum LValue {
    /// A whole scalar.
    Slot { slot: Slot, width: u32 },
    /// Bits `hi..=lo` of a scalar.
    Slice { slot: Slot, hi: u32, lo: u32 },
    /// A field of a stack element chosen at run time, optionally sliced.
    DynField {
        stack: StackId,
        index: StackIndex,
        field: u32,
        slice: Option<(u32, u32)>,
    },
    /// An out argument given as `_`.
    Discard,
}

/// A field list element of a hash, checksum or digest: the value and its width.
#[derive(Debug, Clone)]
pub struct ListItem {
    pub e: Expr,
    pub width: u32,
}

/// Calls of v1model externs.
#[derive(Debug, Clone)]
pub enum ExternCall {
    /// `mark_to_drop(sm)`: egress_spec = drop port, mcast_grp = 0.
    MarkToDrop,
    RegisterRead {
        reg: u32,
        dst: LValue,
        index: Expr,
    },
    RegisterWrite {
        reg: u32,
        index: Expr,
        value: Expr,
    },
    CounterCount {
        counter: u32,
        index: Expr,
    },
    MeterExecute {
        meter: u32,
        index: Expr,
        dst: LValue,
    },
    /// `direct_meter.read(out)`: the colour for the entry that matched.
    DirectMeterRead {
        meter: u32,
        dst: LValue,
    },
    Hash {
        dst: LValue,
        out_width: u32,
        algo: HashAlgo,
        base: Expr,
        fields: Vec<ListItem>,
        max: Expr,
    },
    Random {
        dst: LValue,
        width: u32,
        lo: Expr,
        hi: Expr,
    },
    Digest {
        digest: u32,
        fields: Vec<ListItem>,
    },
    VerifyChecksum {
        cond: Expr,
        fields: Vec<ListItem>,
        checksum: Expr,
        width: u32,
        algo: HashAlgo,
    },
    UpdateChecksum {
        cond: Expr,
        fields: Vec<ListItem>,
        dst: LValue,
        width: u32,
        algo: HashAlgo,
    },
}

/// A statement.
#[derive(Debug, Clone)]
pub enum Stmt {
    Assign {
        dst: LValue,
        e: Expr,
    },
    SetValid {
        h: HeaderRef,
        valid: bool,
    },
    /// `dst = src` for whole headers: copies the fields and the validity.
    CopyHeader {
        dst: HeaderRef,
        src: HeaderRef,
    },
    If {
        c: Expr,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
    },
    Block(Vec<Stmt>),
    /// The body of an action called directly: `return` inside ends only the action.
    ActionBody(Vec<Stmt>),
    /// `t.apply();`
    Apply(TableId),
    /// `switch (t.apply().action_run)`: the first case listing the action that ran, else
    /// `default` (empty when absent).
    Switch {
        table: TableId,
        cases: Vec<(Vec<ActionId>, Vec<Stmt>)>,
        default: Vec<Stmt>,
    },
    Extern(ExternCall),
    Exit,
    Return,
    /// `pkt.extract(h)` (parser only).
    Extract(HeaderRef),
    /// `h = pkt.lookahead<H>()` for a header type (parser only): fills `h` and makes it valid.
    LookaheadHeader(HeaderId),
    /// `pkt.advance(bits)` (parser only).
    Advance(Expr),
    /// `verify(cond, error)` (parser only).
    Verify {
        c: Expr,
        error: u32,
    },
}

/// A keyset element of a select case.
#[derive(Debug, Clone, Copy)]
pub enum KeySet {
    Value(u128),
    Mask(u128, u128),
    Range(u128, u128),
    Any,
}

/// Where a parser transition goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Accept,
    /// `reject`: BMv2 treats an explicit reject as the end of parsing without an error.
    Reject,
    State(u32),
}

/// A parser state's transition.
#[derive(Debug, Clone)]
pub enum Transition {
    Direct(Target),
    /// No case matching is the `NoMatch` error.
    Select {
        keys: Vec<Expr>,
        cases: Vec<(Vec<KeySet>, Target)>,
    },
}

/// A parser state.
#[derive(Debug, Clone)]
pub struct ParserState {
    pub name: String,
    pub stmts: Vec<Stmt>,
    pub transition: Transition,
}

/// The parser: `states[start]` runs first.
#[derive(Debug, Clone, Default)]
pub struct Parser {
    pub states: Vec<ParserState>,
    pub start: u32,
}

/// A control's `apply` body, lowered.
#[derive(Debug, Clone, Default)]
pub struct Control {
    pub name: String,
    pub body: Vec<Stmt>,
}

/// A control-plane parameter of an action.
#[derive(Debug, Clone)]
pub struct ActionParam {
    pub name: String,
    /// P4Info id (1-based, declaration order).
    pub id: u32,
    pub width: u32,
    pub slot: Slot,
}

/// An action as tables run it.
#[derive(Debug, Clone)]
pub struct Action {
    /// Fully qualified P4Info name (`MyIngress.drop`, `NoAction`).
    pub name: String,
    pub id: u32,
    pub params: Vec<ActionParam>,
    pub body: Vec<Stmt>,
}

/// Match kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    Lpm,
    Ternary,
    Range,
    Optional,
}

/// A table key element.
#[derive(Debug, Clone)]
pub struct TableKey {
    /// The P4Info match-field name (`hdr.ipv4.dstAddr`, or the `@name`).
    pub name: String,
    /// 1-based.
    pub id: u32,
    pub e: Expr,
    pub width: u32,
    pub kind: MatchKind,
}

/// Where an action may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionScope {
    TableAndDefault,
    /// `@defaultonly`.
    DefaultOnly,
    /// `@tableonly`.
    TableOnly,
}

/// An action with its control-plane arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCall {
    pub action: ActionId,
    pub args: Vec<u128>,
}

/// A match value of one key in an entry (internal canonical form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyMatch {
    Exact(u128),
    Lpm {
        value: u128,
        len: u32,
    },
    Ternary {
        value: u128,
        mask: u128,
    },
    Range {
        lo: u128,
        hi: u128,
    },
    /// `None` is the wildcard.
    Optional(Option<u128>),
}

/// An entry given in the source (`const entries` / `entries`).
#[derive(Debug, Clone)]
pub struct SourceEntry {
    pub matches: Vec<KeyMatch>,
    pub priority: i32,
    pub action: ActionCall,
}

/// A table.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub id: u32,
    pub keys: Vec<TableKey>,
    pub actions: Vec<(ActionId, ActionScope)>,
    pub default_action: ActionCall,
    pub default_is_const: bool,
    /// Entries from the source, in source order.
    pub entries: Vec<SourceEntry>,
    /// `const entries`: the control plane cannot write entries.
    pub entries_const: bool,
    pub size: u32,
    /// Index in [`Program::direct_counters`].
    pub direct_counter: Option<u32>,
    /// Index in [`Program::direct_meters`].
    pub direct_meter: Option<u32>,
    /// A ternary, range or optional key makes priorities required.
    pub needs_priority: bool,
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterUnit {
    Packets,
    Bytes,
    Both,
}

/// `counter` / `direct_counter`.
#[derive(Debug, Clone)]
pub struct CounterDecl {
    pub name: String,
    pub id: u32,
    /// Number of cells (0 for direct counters).
    pub size: u32,
    pub unit: CounterUnit,
    /// Owning table for a direct counter.
    pub table: Option<TableId>,
}

/// `meter` / `direct_meter`.
#[derive(Debug, Clone)]
pub struct MeterDecl {
    pub name: String,
    pub id: u32,
    pub size: u32,
    /// `Packets` or `Bytes`.
    pub unit: CounterUnit,
    pub table: Option<TableId>,
}

/// `register<T>(size)`.
#[derive(Debug, Clone)]
pub struct RegisterDecl {
    pub name: String,
    pub id: u32,
    pub size: u32,
    pub width: u32,
}

/// A `digest<T>` type used by the program.
#[derive(Debug, Clone)]
pub struct DigestDecl {
    /// The struct type name (the P4Info name).
    pub name: String,
    pub id: u32,
    /// Member names and widths.
    pub fields: Vec<(String, u32)>,
}

/// A `@controller_header` header type.
#[derive(Debug, Clone)]
pub struct ControllerHeader {
    /// `packet_in` or `packet_out`.
    pub name: String,
    /// The header type's name (p4c hashes it for the id).
    pub type_name: String,
    pub id: u32,
    /// (metadata id, name, width) in declaration order.
    pub fields: Vec<(u32, String, u32)>,
    /// Total bits.
    pub bits: u32,
}

impl ControllerHeader {
    /// Bytes the header takes on the wire.
    pub fn bytes(&self) -> usize {
        (self.bits as usize).div_ceil(8)
    }
}

/// A compiled program, immutable and shared by every switch that runs it.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// File or name it was compiled from.
    pub name: String,
    pub layout: Layout,
    pub std: StdMeta,
    pub parser: Parser,
    pub verify_checksum: Control,
    pub ingress: Control,
    pub egress: Control,
    pub compute_checksum: Control,
    /// Deparser emit order (stacks already expanded to their elements).
    pub deparser: Vec<HeaderId>,
    pub tables: Vec<Table>,
    pub actions: Vec<Action>,
    pub registers: Vec<RegisterDecl>,
    pub counters: Vec<CounterDecl>,
    pub direct_counters: Vec<CounterDecl>,
    pub meters: Vec<MeterDecl>,
    pub direct_meters: Vec<MeterDecl>,
    pub digests: Vec<DigestDecl>,
    pub packet_in: Option<ControllerHeader>,
    pub packet_out: Option<ControllerHeader>,
    /// Error names by code (`NoError` is 0).
    pub errors: Vec<String>,
    /// The P4Info derived from the program (as p4c would write it).
    pub p4info: crate::p4info::P4Info,
    /// The program reads a global timestamp or uses meters (so the switch reads its clock
    /// for every packet).
    pub uses_clock: bool,
}

/// Error codes of the core errors, in the order `core.p4` declares them.
pub mod errors {
    pub const NO_ERROR: u32 = 0;
    pub const PACKET_TOO_SHORT: u32 = 1;
    pub const NO_MATCH: u32 = 2;
    pub const STACK_OUT_OF_BOUNDS: u32 = 3;
    pub const HEADER_TOO_SHORT: u32 = 4;
    pub const PARSER_TIMEOUT: u32 = 5;
    pub const PARSER_INVALID_ARGUMENT: u32 = 6;
}

impl Program {
    /// The program's P4Info; every id in this program is the P4Info id.
    pub fn p4info(&self) -> &crate::p4info::P4Info {
        &self.p4info
    }

    /// Table index by P4Info id.
    pub fn table_by_id(&self, id: u32) -> Option<TableId> {
        self.tables
            .iter()
            .position(|t| t.id == id)
            .map(|i| i as TableId)
    }
    /// Table index by name.
    pub fn table_by_name(&self, name: &str) -> Option<TableId> {
        self.tables
            .iter()
            .position(|t| t.name == name)
            .map(|i| i as TableId)
    }
    /// Action index by P4Info id.
    pub fn action_by_id(&self, id: u32) -> Option<ActionId> {
        self.actions
            .iter()
            .position(|a| a.id == id)
            .map(|i| i as ActionId)
    }
    /// Action index by name.
    pub fn action_by_name(&self, name: &str) -> Option<ActionId> {
        self.actions
            .iter()
            .position(|a| a.name == name)
            .map(|i| i as ActionId)
    }
    /// Error code by name.
    pub fn error_code(&self, name: &str) -> Option<u32> {
        self.errors.iter().position(|e| e == name).map(|i| i as u32)
    }
}
