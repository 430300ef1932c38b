//! The v1model interpreter and the run-time state of a switch instance.
//!
//! `value` holds the bit-vector semantics, `bits` field access at bit offsets, `hash` the
//! hash and checksum algorithms, `table` entry storage and matching, `meter` the trTCM meters,
//! `interp` the interpreter over the IR, `switch` the pipeline and packet API, `state` the
//! control-plane API keyed by P4Info ids, `shell_syntax` the p4runtime-shell value syntax.

pub mod bits;
pub mod hash;
pub mod interp;
pub mod meter;
pub mod register;
pub mod shell_syntax;
pub mod state;
pub mod switch;
pub mod table;
pub mod value;

pub use interp::DigestMessage;
pub use meter::MeterConfig;
pub use state::{ActionSpec, FieldMatch, MatchValue, StateError, TableEntry};
pub use switch::{
    DropReason, EgressOutcome, IngressOutcome, PacketIn, ProcessResult, QueueMeta, QueuedPacket,
    Switch, SwitchConfig,
};
pub use table::CounterData;
