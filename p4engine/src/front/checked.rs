//! The checker's output: the AST plus side tables (types, resolved names, constant values) and
//! the resolved `V1Switch` instantiation. See the module documentation of [`crate::front`].

use std::collections::HashMap;

use super::ast::{ExprId, NodeId, Program};
use super::source::SourceMap;
use super::types::{Type, TypeDef};

/// A compile-time constant value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Bool(bool),
    /// A `bit<W>`/`int<W>` value: `bits` holds the W-bit two's complement pattern (already
    /// truncated to W bits); `ty` is `Type::Bit(W)` or `Type::Int(W)` (or a serializable enum).
    Bits {
        bits: u128,
        ty: Type,
    },
    /// An integer without width.
    InfInt(i128),
    /// An `error` member by name.
    Error(String),
    /// A member of a (non-serializable) enum.
    Enum {
        ty: String,
        member: String,
    },
    /// A string literal.
    Str(String),
}

impl Value {
    /// The value as an unsigned integer (bit pattern for fixed-width values; `None` for
    /// negative unsized integers and non-integers).
    pub fn as_u128(&self) -> Option<u128> {
        match self {
            Value::Bits { bits, .. } => Some(*bits),
            Value::InfInt(v) if *v >= 0 => Some(*v as u128),
            Value::Bool(b) => Some(u128::from(*b)),
            _ => None,
        }
    }
}

/// A non-field-access built-in member or method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builtin {
    /// `h.isValid()` (the callee member expression).
    IsValid,
    SetValid,
    SetInvalid,
    /// `stack.next` (in `extract` only).
    StackNext,
    /// `stack.last`.
    StackLast,
    /// `stack.lastIndex`.
    StackLastIndex,
    /// `stack.size`.
    StackSize,
    /// `t.apply` (callee of `t.apply()`); the table declaration.
    TableApply(NodeId),
    /// `t.apply().hit`.
    Hit,
    /// `t.apply().miss`.
    Miss,
    /// `t.apply().action_run`.
    ActionRun,
}

/// What a name (or a member expression that is not a field access) refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A local variable ([`super::ast::VarDecl`] id).
    Var(NodeId),
    /// A parameter of the enclosing action, parser or control ([`super::ast::Param`] id).
    Param(NodeId),
    /// A constant ([`super::ast::ConstDecl`] id); its value is in `const_values` of the use.
    Const(NodeId),
    /// An extern instance ([`super::ast::InstanceDecl`] id).
    Instance(NodeId),
    /// An action ([`super::ast::ActionDecl`] id).
    Action(NodeId),
    /// A table ([`super::ast::TableDecl`] id).
    Table(NodeId),
    /// A member of the error type (`error.NoError`), on the member expression.
    ErrorMember(String),
    /// A member of an enum (`HashAlgorithm.crc16`), on the member expression.
    EnumMember { ty: String, member: String },
    /// A match kind name.
    MatchKind(String),
    /// A type name used as the base of a member expression (`HashAlgorithm`).
    TypeName(String),
    /// An extern function (`mark_to_drop`, `hash`, `verify`, ...), on the callee name.
    ExternFunction(String),
    /// An extern method (`r.read`, `pkt.extract`, `c.count`), on the callee member expression;
    /// the receiver is the member's base.
    ExternMethod { extern_name: String, method: String },
    /// A built-in member or method.
    Builtin(Builtin),
}

/// Which parser/control declaration plays each role of `V1Switch(...)` (declaration names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pipeline {
    pub parser: String,
    pub verify_checksum: String,
    pub ingress: String,
    pub egress: String,
    pub compute_checksum: String,
    pub deparser: String,
}

/// A program that passed the checker. See [`crate::front`] for what each table holds.
#[derive(Debug, Clone)]
pub struct CheckedProgram {
    pub program: Program,
    pub sources: SourceMap,
    /// The type of every expression in the program (after unsized literals took the type
    /// their context required, so `x + 1` with `x: bit<8>` types `1` as `bit<8>`).
    pub types: HashMap<ExprId, Type>,
    /// What names, callees and non-field members refer to.
    pub refs: HashMap<ExprId, Resolved>,
    /// The value of every expression that is a compile-time constant (literals, constants,
    /// enum/error members, and operators on them), already converted to the expression's type.
    pub const_values: HashMap<ExprId, Value>,
    /// The type of declarations: parameters, variables, constants, extern instances.
    pub decl_types: HashMap<NodeId, Type>,
    /// Header, struct and enum definitions by name (typedefs resolved away).
    pub type_defs: HashMap<String, TypeDef>,
    /// Error members in declaration order (core.p4's first); a member's code is its index.
    pub errors: Vec<String>,
    /// The resolved `V1Switch` instantiation.
    pub pipeline: Pipeline,
}

impl CheckedProgram {
    /// The type of an expression ([`Type::Unknown`] if absent, which cannot happen for a node
    /// of the checked program).
    pub fn type_of(&self, id: ExprId) -> &Type {
        self.types.get(&id).unwrap_or(&Type::Unknown)
    }

    /// The numeric code of an error member (its index in `errors`).
    pub fn error_code(&self, name: &str) -> Option<u32> {
        self.errors.iter().position(|e| e == name).map(|i| i as u32)
    }
}
