//! The abstract syntax tree of the supported P4_16 subset.
//!
//! Every node carries a [`Span`] (file, line and column of its first token, mapped back through
//! `#include`). Every expression and every declaration that can be referred to by name carries a
//! [`NodeId`], unique in the whole program, so that the checker's side tables (types, resolved
//! references, constant values) can be keyed by it. The built-in `core.p4` and `v1model.p4`
//! declarations are part of the same tree (their spans point at files named `<core.p4>` and
//! `<v1model.p4>`).

use std::fmt;

/// Index of a source file in the [`crate::front::source::SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// Position of a node: the file, 1-based line and 1-based column of its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

/// Stable id of an expression or of a named declaration; unique in one parsed program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Expressions are keyed by their node id.
pub type ExprId = NodeId;

/// A name as written, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `@name`, `@name(body)`. `body` is the source text between the parentheses (tokens joined by
/// single spaces, string literals kept with their quotes), `None` when there are no parentheses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub name: String,
    pub body: Option<String>,
    /// The body's tokens when it is a single string literal (unquoted).
    pub string_arg: Option<String>,
    /// The body's value when it is a single integer literal.
    pub int_arg: Option<u128>,
    pub span: Span,
}

/// Look up an annotation by name.
pub fn find_annotation<'a>(annotations: &'a [Annotation], name: &str) -> Option<&'a Annotation> {
    annotations.iter().find(|a| a.name == name)
}

/// A type as written in the source.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    Bool(Span),
    /// `bit<W>`; `width` is an expression (literal or parenthesised constant expression).
    Bit {
        width: Box<Expr>,
        span: Span,
    },
    /// `int<W>`.
    Int {
        width: Box<Expr>,
        span: Span,
    },
    /// `varbit<W>` (outside the subset: the checker rejects it).
    VarBit {
        width: Box<Expr>,
        span: Span,
    },
    /// `int` without width (compile-time integers, extern signatures).
    InfInt(Span),
    Error(Span),
    Void(Span),
    String(Span),
    MatchKind(Span),
    /// `_` as a type argument.
    DontCare(Span),
    /// A named type (typedef, header, struct, enum, extern, parser/control type or type variable),
    /// with optional type arguments (`register<bit<32>>`).
    Named {
        name: Ident,
        args: Vec<TypeRef>,
    },
    /// A header stack `T[N]`.
    Stack {
        elem: Box<TypeRef>,
        size: Box<Expr>,
        span: Span,
    },
    /// `tuple<A, B>`.
    Tuple {
        elems: Vec<TypeRef>,
        span: Span,
    },
}

impl TypeRef {
    pub fn span(&self) -> Span {
        match self {
            TypeRef::Bool(s)
            | TypeRef::InfInt(s)
            | TypeRef::Error(s)
            | TypeRef::Void(s)
            | TypeRef::String(s)
            | TypeRef::MatchKind(s)
            | TypeRef::DontCare(s) => *s,
            TypeRef::Bit { span, .. }
            | TypeRef::Int { span, .. }
            | TypeRef::VarBit { span, .. }
            | TypeRef::Stack { span, .. }
            | TypeRef::Tuple { span, .. } => *span,
            TypeRef::Named { name, .. } => name.span,
        }
    }
}

/// Direction of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// No direction: a control-plane (action data) or constructor parameter.
    None,
    In,
    Out,
    InOut,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub direction: Direction,
    pub ty: TypeRef,
    pub name: Ident,
    /// Default value (`= expr`), rare; the checker rejects it.
    pub default: Option<Expr>,
    pub span: Span,
}

/// A whole program: the built-in declarations first, then the user's, in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    pub decls: Vec<Decl>,
    /// One more than the largest node id in use.
    pub next_node_id: u32,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Decl {
    Const(ConstDecl),
    /// `typedef T N;` or `type T N;`.
    Typedef(TypedefDecl),
    Header(StructDecl),
    /// `header_union` (outside the subset: the checker rejects it).
    HeaderUnion(StructDecl),
    Struct(StructDecl),
    Enum(EnumDecl),
    /// `error { A, B }` (members added to the single error type).
    Error(Vec<Ident>, Span),
    MatchKind(Vec<Ident>, Span),
    Extern(ExternDecl),
    ExternFunction(FunctionProto),
    /// A top-level action (such as `NoAction`).
    Action(ActionDecl),
    /// A function with a body (outside the subset: the checker rejects it).
    Function(FunctionProto, Block),
    Parser(ParserDecl),
    Control(ControlDecl),
    /// `parser Name<...>(...);` without a body (a parser type, e.g. v1model's `Parser`).
    ParserType(FunctionProto),
    /// `control Name<...>(...);` without a body.
    ControlType(FunctionProto),
    Package(FunctionProto),
    /// A top-level instantiation, e.g. `V1Switch(P(), ...) main;`.
    Instance(InstanceDecl),
    /// `value_set`, `@pragma` top-level etc.: parsed enough to report, never accepted.
    Unsupported {
        what: String,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub ty: TypeRef,
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypedefDecl {
    pub annotations: Vec<Annotation>,
    pub ty: TypeRef,
    pub name: Ident,
    /// `true` for `type T N;` (a new type), `false` for `typedef`.
    pub is_new_type: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub annotations: Vec<Annotation>,
    pub ty: TypeRef,
    pub name: Ident,
}

/// `header`, `header_union` and `struct` declarations.
#[derive(Debug, Clone, PartialEq)]
pub struct StructDecl {
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub fields: Vec<Field>,
    pub span: Span,
}

/// `enum E { A, B }` or a serializable `enum bit<8> E { A = 1, B = 2 }`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDecl {
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub repr: Option<TypeRef>,
    pub members: Vec<(Ident, Option<Expr>)>,
    pub span: Span,
}

/// A function or method prototype (extern functions, extern methods, constructors,
/// parser/control/package types). For a constructor `ret` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionProto {
    pub annotations: Vec<Annotation>,
    pub ret: Option<TypeRef>,
    pub name: Ident,
    pub type_params: Vec<Ident>,
    pub params: Vec<Param>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExternDecl {
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub type_params: Vec<Ident>,
    /// Constructors (`ret == None`) and methods.
    pub methods: Vec<FunctionProto>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionDecl {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Block,
    pub span: Span,
}

/// An instance: `register<bit<32>>(16) r;`, `V1Switch(P(), ...) main;`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceDecl {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub ty: TypeRef,
    pub args: Vec<Expr>,
    pub name: Ident,
    pub span: Span,
}

/// A local variable: `bit<32> t;` or `bit<32> t = e;`.
#[derive(Debug, Clone, PartialEq)]
pub struct VarDecl {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub ty: TypeRef,
    pub name: Ident,
    pub init: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParserDecl {
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub type_params: Vec<Ident>,
    pub params: Vec<Param>,
    pub ctor_params: Vec<Param>,
    pub locals: Vec<Local>,
    pub states: Vec<ParserState>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParserState {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub stmts: Vec<Stmt>,
    /// `None` when the state has no `transition` (the spec makes it `transition reject`).
    pub transition: Option<Transition>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// `transition next;` (`accept`, `reject` or a state name).
    Direct(Ident),
    /// `transition select(e1, e2) { ... }`.
    Select {
        exprs: Vec<Expr>,
        cases: Vec<SelectCase>,
        span: Span,
    },
}

/// One `keyset: state;` line. `keys` has one element per select expression, except when the
/// keyset is a single `default` or `_`, which then matches every expression (one element,
/// [`ExprKind::Default`] or [`ExprKind::DontCare`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectCase {
    pub keys: Vec<Expr>,
    pub next: Ident,
    pub span: Span,
}

/// Declarations allowed inside a parser or control (before `apply`/the states).
#[derive(Debug, Clone, PartialEq)]
pub enum Local {
    Const(ConstDecl),
    Var(VarDecl),
    Instance(InstanceDecl),
    Action(ActionDecl),
    Table(TableDecl),
    /// Something outside the subset (value_set, nested function...), reported by the checker.
    Unsupported {
        what: String,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControlDecl {
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub type_params: Vec<Ident>,
    pub params: Vec<Param>,
    pub ctor_params: Vec<Param>,
    pub locals: Vec<Local>,
    pub apply: Block,
    pub span: Span,
}

/// `expr: match_kind @annotations;`
#[derive(Debug, Clone, PartialEq)]
pub struct KeyElement {
    pub expr: Expr,
    pub match_kind: Ident,
    pub annotations: Vec<Annotation>,
    pub span: Span,
}

/// An action name with optional arguments, as in action lists, default actions and entries.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRef {
    /// Key of `refs` (resolves to [`crate::front::checked::Resolved::Action`]).
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    /// `None` when written without parentheses (`actions = { a; }`).
    pub args: Option<Vec<Expr>>,
    pub span: Span,
}

/// A `const entries` / `entries` element: `keys : action(args);`
/// `keys` follows the rules of [`SelectCase::keys`].
#[derive(Debug, Clone, PartialEq)]
pub struct TableEntry {
    pub annotations: Vec<Annotation>,
    pub keys: Vec<Expr>,
    pub action: ActionRef,
    /// `priority = N :` written explicitly.
    pub priority: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DefaultAction {
    pub is_const: bool,
    pub action: ActionRef,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entries {
    pub is_const: bool,
    pub entries: Vec<TableEntry>,
    pub span: Span,
}

/// Any other table property `[const] name = expr;` (`counters`, `meters`, `implementation`,
/// `support_timeout`, ...). The checker accepts `counters`, `meters` and `support_timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherProperty {
    pub is_const: bool,
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDecl {
    pub id: NodeId,
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    /// Empty when the table has no `key` property.
    pub key: Vec<KeyElement>,
    pub actions: Vec<ActionRef>,
    pub default_action: Option<DefaultAction>,
    pub entries: Option<Entries>,
    pub size: Option<Expr>,
    pub others: Vec<OtherProperty>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `lhs = rhs;` (lhs is a name, member, index or slice expression).
    Assign {
        lhs: Expr,
        rhs: Expr,
    },
    /// A call used as a statement: `a();`, `t.apply();`, `h.setValid();`, `hash(...);`.
    Call(Expr),
    If {
        cond: Expr,
        then: Box<Stmt>,
        els: Option<Box<Stmt>>,
    },
    Block(Block),
    /// `switch (t.apply().action_run) { ... }`.
    Switch {
        expr: Expr,
        cases: Vec<SwitchCase>,
    },
    Exit,
    Return(Option<Expr>),
    Var(VarDecl),
    Const(ConstDecl),
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SwitchLabel {
    /// An action name; `NodeId` keys `refs` (resolves to the action).
    Name(Ident, NodeId),
    Default(Span),
}

/// `label: { body }` or `label:` (falls through to the next case with a body: `body` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchCase {
    pub label: SwitchLabel,
    pub body: Option<Block>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `!`
    Not,
    /// `~`
    BitNot,
    /// `-`
    Neg,
    /// unary `+`
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `|+|`
    SatAdd,
    /// `|-|`
    SatSub,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    /// `++`
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::SatAdd => "|+|",
            BinOp::SatSub => "|-|",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Concat => "++",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// An integer literal. `value` is the magnitude as written (literals are never negative; `-1`
/// is a [`UnOp::Neg`] of `1`). `width` is `Some((w, signed))` for `8w5` / `8s5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntLit {
    pub value: u128,
    pub width: Option<(u32, bool)>,
    /// Set for `8s-1` style literals written with the sign after the width.
    pub negative: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub id: ExprId,
    pub span: Span,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Bool(bool),
    Int(IntLit),
    Str(String),
    /// An unqualified name (variable, parameter, constant, instance, action, table, type name
    /// used as a value such as `HashAlgorithm` in `HashAlgorithm.crc16`, parser state, ...).
    Name(Ident),
    /// `error` used as a value base: `error.NoError` is `Member { base: ErrorType, .. }`.
    ErrorType,
    /// `base.member` (fields, stack `.next`/`.last`/`.size`, enum and error members, methods,
    /// `.hit`/`.miss`/`.action_run`).
    Member {
        base: Box<Expr>,
        member: Ident,
    },
    /// `base[index]` on a header stack.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `base[hi:lo]`.
    Slice {
        base: Box<Expr>,
        hi: Box<Expr>,
        lo: Box<Expr>,
    },
    /// `callee<type_args>(args)`; callee is a `Name` or a `Member` (method call).
    Call {
        callee: Box<Expr>,
        type_args: Vec<TypeRef>,
        args: Vec<Expr>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    Cast {
        ty: TypeRef,
        expr: Box<Expr>,
    },
    /// `{a, b, c}`: a list/tuple expression (field lists of hash, digest and checksums).
    List(Vec<Expr>),
    /// `value &&& mask` (keysets only).
    Mask {
        value: Box<Expr>,
        mask: Box<Expr>,
    },
    /// `lo .. hi` (keysets only).
    Range {
        lo: Box<Expr>,
        hi: Box<Expr>,
    },
    /// `_` (keysets and out arguments).
    DontCare,
    /// `default` (keysets only).
    Default,
}
