//! Semantic types computed by the checker (typedefs resolved, widths evaluated).

use std::fmt;

/// The type of an expression or declaration after checking. Named types refer to their
/// definition in [`crate::front::checked::CheckedProgram::type_defs`] by name (all type names are
/// global in P4_16).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    /// `bit<W>`, 1 <= W <= 128 (W = 0 is allowed for `bit<0>` only in declarations).
    Bit(u32),
    /// `int<W>` (two's complement), 1 <= W <= 128.
    Int(u32),
    /// An integer without width (unsized literals and compile-time integers).
    InfInt,
    /// The single `error` type.
    Error,
    /// A `match_kind` value.
    MatchKind,
    String,
    Void,
    /// A header type (by name).
    Header(String),
    /// A struct type (by name).
    Struct(String),
    /// A header stack `elem[size]` (elem is a `Header`).
    Stack {
        elem: Box<Type>,
        size: u32,
    },
    /// An enum (non-serializable), by name.
    Enum(String),
    /// A serializable enum `enum bit<W> E`: by name, with its representation.
    SerEnum {
        name: String,
        repr: Box<Type>,
    },
    /// An instance of an extern (`register<bit<32>>`, `packet_in`, ...).
    Extern {
        name: String,
        args: Vec<Type>,
    },
    /// A list/tuple expression `{a, b}` or `tuple<...>`.
    Tuple(Vec<Type>),
    /// A parser or control instance (by declaration name).
    Block(String),
    /// The package instance (by package name).
    Package(String),
    /// A table (by table name within its control; see `refs` for the declaration).
    Table(String),
    /// The result of `t.apply()` for table `t`.
    ApplyResult(String),
    /// `t.apply().action_run` for table `t`.
    ActionRun(String),
    /// An action used as a value (callee of a direct call, action lists).
    Action,
    /// The type of a set expression in a keyset (`a &&& m`, `a .. b`) of the given element.
    Set(Box<Type>),
    /// `_`/`default` in a keyset or a don't-care out argument.
    DontCare,
    /// A type that could not be computed because of an earlier error (never in a checked
    /// program that has no errors).
    Unknown,
}

impl Type {
    /// Width in bits of a `bit`, `int`, `bool` (1) or serializable enum; `None` otherwise.
    pub fn bit_width(&self) -> Option<u32> {
        match self {
            Type::Bit(w) | Type::Int(w) => Some(*w),
            Type::Bool => Some(1),
            Type::SerEnum { repr, .. } => repr.bit_width(),
            _ => None,
        }
    }

    /// `bit<W>` or `int<W>`.
    pub fn is_fixed_int(&self) -> bool {
        matches!(self, Type::Bit(_) | Type::Int(_))
    }

    /// `bit<W>`, `int<W>` or an unsized integer.
    pub fn is_integer(&self) -> bool {
        matches!(self, Type::Bit(_) | Type::Int(_) | Type::InfInt)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => write!(f, "bool"),
            Type::Bit(w) => write!(f, "bit<{w}>"),
            Type::Int(w) => write!(f, "int<{w}>"),
            Type::InfInt => write!(f, "int"),
            Type::Error => write!(f, "error"),
            Type::MatchKind => write!(f, "match_kind"),
            Type::String => write!(f, "string"),
            Type::Void => write!(f, "void"),
            Type::Header(n) | Type::Struct(n) | Type::Enum(n) => write!(f, "{n}"),
            Type::SerEnum { name, .. } => write!(f, "{name}"),
            Type::Stack { elem, size } => write!(f, "{elem}[{size}]"),
            Type::Extern { name, args } => {
                write!(f, "{name}")?;
                if !args.is_empty() {
                    write!(f, "<")?;
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            write!(f, ", ")?;
                        }
                        write!(f, "{a}")?;
                    }
                    write!(f, ">")?;
                }
                Ok(())
            }
            Type::Tuple(ts) => {
                write!(f, "tuple<")?;
                for (i, a) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ">")
            }
            Type::Block(n) => write!(f, "{n}"),
            Type::Package(n) => write!(f, "{n}"),
            Type::Table(n) => write!(f, "table {n}"),
            Type::ApplyResult(n) => write!(f, "{n}.apply() result"),
            Type::ActionRun(n) => write!(f, "{n}.action_run"),
            Type::Action => write!(f, "action"),
            Type::Set(t) => write!(f, "set<{t}>"),
            Type::DontCare => write!(f, "_"),
            Type::Unknown => write!(f, "<unknown>"),
        }
    }
}

/// A field of a header or struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: String,
    pub ty: Type,
}

/// The definition of a named header, struct or enum type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeDef {
    /// Fields in declaration order (all `bit`/`int`/`bool`/serializable enum for headers).
    Header {
        fields: Vec<FieldDef>,
        /// `@controller_header("packet_in")` etc.
        controller_header: Option<String>,
    },
    Struct {
        fields: Vec<FieldDef>,
    },
    /// Members in declaration order.
    Enum {
        members: Vec<String>,
    },
    /// Members with their values (already truncated to the representation width).
    SerEnum {
        repr: Type,
        members: Vec<(String, u128)>,
    },
}

impl TypeDef {
    /// The fields of a header or struct, empty for enums.
    pub fn fields(&self) -> &[FieldDef] {
        match self {
            TypeDef::Header { fields, .. } | TypeDef::Struct { fields } => fields,
            _ => &[],
        }
    }
}
