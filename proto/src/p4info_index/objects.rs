//! What the index keeps of each P4Info object: match fields and their kinds, tables, actions
//! and their parameters, indexed and direct externs, digests and controller headers.

use std::collections::HashMap;

use crate::p4::config::v1::action_ref::Scope;

/// Match kinds as P4Runtime names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// exact
    Exact,
    /// lpm
    Lpm,
    /// ternary
    Ternary,
    /// range
    Range,
    /// optional
    Optional,
    /// An architecture-specific or unspecified kind.
    Other,
}

impl MatchKind {
    /// The P4Runtime name (`other` for an architecture-specific kind).
    pub fn name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Lpm => "lpm",
            Self::Ternary => "ternary",
            Self::Range => "range",
            Self::Optional => "optional",
            Self::Other => "other",
        }
    }

    /// Whether entries of a table with a key of this kind carry a priority.
    pub fn needs_priority(self) -> bool {
        matches!(self, Self::Ternary | Self::Range | Self::Optional)
    }
}

/// One match field of a table.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    /// Id within the table.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
    /// Kind.
    pub kind: MatchKind,
}

/// A table.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// Match fields in order.
    pub fields: Vec<FieldInfo>,
    /// The table's actions: action id -> scope.
    pub actions: HashMap<u32, Scope>,
    /// The const default action, 0 when there is none.
    pub const_default_action_id: u32,
    /// Id of the table's direct counter.
    pub direct_counter: Option<u32>,
    /// Id of the table's direct meter.
    pub direct_meter: Option<u32>,
    /// Maximum entries.
    pub size: i64,
    /// Entries fixed by the program (`const entries`).
    pub is_const: bool,
    /// Whether entries may carry an idle timeout.
    pub supports_idle_timeout: bool,
    /// Ternary, range or optional keys: entries carry a priority.
    pub needs_priority: bool,
}

/// An action parameter or a controller header field.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Width in bits.
    pub bitwidth: u32,
}

/// An action.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// Id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// Parameters in order.
    pub params: Vec<ParamInfo>,
}

/// An indexed extern (counter, meter, register) or a direct one (direct counter, meter).
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// Id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
    /// Number of cells (0 for direct resources).
    pub size: i64,
    /// The table of a direct resource (0 for indexed ones).
    pub table_id: u32,
    /// Cell width of a register (0 when not a bitstring).
    pub bitwidth: u32,
}

/// A digest.
#[derive(Debug, Clone)]
pub struct DigestInfo {
    /// Id.
    pub id: u32,
    /// Fully qualified name.
    pub name: String,
}

/// A controller header (`packet_in`, `packet_out`).
#[derive(Debug, Clone)]
pub struct ControllerHeaderInfo {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Fields in order.
    pub metadata: Vec<ParamInfo>,
}
