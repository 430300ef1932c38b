//! The P4_16 v1model engine: front end, checker, IR, interpreter and P4Info derivation.
//!
//! `front` turns source text into a checked AST (preprocessor, lexer, parser, checker);
//! `p4info` derives P4Info from it as p4c does; `ir` is the lowered program the
//! interpreter runs; `exec` is the v1model interpreter and the run-time state API.
//!
//! Cargo feature `interpreter` (on by default): `ir`, `exec`, `testkit` and the `compile_*`
//! functions. Without it (`default-features = false`) the crate is `front` and `p4info` only,
//! for users that derive P4Info from source without running programs (the controller).
//!
//! # Using the engine
//!
//! ```text
//! let program: Arc<Program> = flashmesh_p4::compile_file("prog.p4")?;   // or compile_str(name, src)
//! let mut sw = Switch::new(program.clone(), SwitchConfig::default());    // many switches, one program
//! let r: ProcessResult = sw.process(1, &frame);                          // outputs, packet_ins, drops, digests
//! ```
//!
//! * [`Program`] is compiled once and immutable; share it with `Arc` between any number of
//!   [`Switch`] instances. [`Program::p4info`] is its P4Info (derived as p4c does), and the
//!   program's tables, actions, match fields, parameters, counters, meters, registers,
//!   digests and controller headers carry the same names and ids.
//! * [`Switch`] holds one instance's state: table entries and default actions, registers,
//!   counters, meters, digests, and header storage that persists between packets as in BMv2
//!   (an invalid header's fields read what the last packet left there).
//!   `Switch` is `Send` but not internally synchronised: share it behind a `Mutex` (the
//!   P4Runtime thread and the datapath thread lock it per operation / per packet).
//! * Benchmark: `cargo bench -p flashmesh-p4 --bench pipeline` (packets/s through
//!   `tests/programs/router.p4` and memory per instance).
//! * Packets run in two phases so that a traffic manager can sit between them:
//!   [`Switch::ingress`] (parser, checksum verification, ingress) gives an [`IngressOutcome`]:
//!   dropped, or a [`QueuedPacket`] with its egress port and priority; [`Switch::egress`] with a
//!   [`QueueMeta`] runs egress, checksum update and the deparser and gives an
//!   [`EgressOutcome`]: a frame on a port, a [`PacketIn`] when the port is the CPU port (the
//!   `@controller_header("packet_in")` header's bytes are stripped and returned as metadata
//!   `(id, canonical bytes)`), or dropped. [`Switch::process`] runs both with zero queue
//!   metadata. [`Switch::packet_out`] prepends the `packet_out` header built from
//!   `(metadata id, bytes)` and runs the pipeline from the CPU port.
//! * State API (ids are P4Info ids, values big-endian byte strings of any length whose value
//!   fits the width; reads give the P4Runtime canonical form): `insert_entry`, `modify_entry`,
//!   `delete_entry`, `set_default_action`, `reset_default_action`, `read_entries`, `read_entry`,
//!   `read_default_entry`, `read_direct_counter`/`write_direct_counter`,
//!   `read_counter`/`write_counter`, `set_meter_config`/`read_meter_config`,
//!   `set_direct_meter_config`, `read_register`/`write_register`, `take_digests`,
//!   `set_multicast_group`/`multicast_group`. Errors are
//!   [`StateError`]: `AlreadyExists`, `NotFound`, `InvalidArgument(why)`, `ResourceExhausted`.
//! * BMv2 behaviours reproduced (see `exec::switch`): parser errors do not drop, explicit
//!   `reject` is not an error, `mark_to_drop` only sets `egress_spec = 511`, `egress_spec`
//!   reads 0 in egress, `exit` ends ingress only, unparsed bytes follow the deparsed headers,
//!   counter bytes are the ingress frame length, a priority >= the number of priority queues
//!   is dropped.

//!
//! # What the interpreter runs
//!
//! The front end ([`front`]) documents the accepted language subset. Lowering ([`ir::lower`])
//! gives every scalar a slot and every header, table, action and extern an index, so nothing
//! is looked up by name while packets run. Supported v1model externs: `mark_to_drop`,
//! `register` (read/write), `counter`, `direct_counter` (counted on every hit of an entry, as
//! BMv2 does), `meter` and `direct_meter` (RFC 2698 two-rate three-colour, colour-blind,
//! packets or bytes), `hash` (crc16, crc32, csum16, xor16, identity), `random`, `digest`,
//! `verify_checksum`/`update_checksum` (csum16 or any supported hash), `verify`, `log_msg`,
//! `assert`/`assume` (no effect). Tables: exact, lpm (one per table), ternary, range and
//! optional keys, `const entries`/`entries`, `@defaultonly`/`@tableonly`, const defaults,
//! `size`, direct counters and meters, `support_timeout` (the timeout is stored, not enforced).
//!
//! Left out, each a diagnostic at compile time: `clone`/`clone3`, `resubmit`, `recirculate`,
//! `truncate`, `*_with_payload` checksums, custom CRC polynomials and `HashAlgorithm.random`,
//! action profiles/selectors, header unions, `varbit`, value sets, more than one lpm key.
//! Multicast: [`Switch::set_multicast_group`] configures groups; `process` and
//! [`Switch::ingress_all`] replicate a packet whose `mcast_grp` is set (egress sees
//! `egress_rid` and `instance_type` 5 as in BMv2), an unknown group drops it; the
//! single-outcome `ingress` reports multicast packets as `Dropped(Multicast)`. `random` is a
//! per-switch xorshift generator rather than BMv2's.
//!
//! Where BMv2 and the P4_16 specification differ the engine follows BMv2: `setValid()` on an
//! invalid header zeroes its fields (BMv2's `add_header`) while other header storage keeps the
//! previous packet's values; explicit `transition reject` ends parsing without an error; a
//! parser error does not drop the packet; a `select` with no matching case is `NoMatch`.

#[cfg(feature = "interpreter")]
pub mod exec;
pub mod front;
#[cfg(feature = "interpreter")]
pub mod ir;
pub mod p4info;
#[cfg(feature = "interpreter")]
pub mod testkit;

#[cfg(feature = "interpreter")]
mod compile;

#[cfg(feature = "interpreter")]
pub use compile::{compile_file, compile_str};
#[cfg(feature = "interpreter")]
pub use exec::{
    ActionSpec, CounterData, DigestMessage, DropReason, EgressOutcome, FieldMatch, IngressOutcome,
    MatchValue, MeterConfig, PacketIn, ProcessResult, QueueMeta, QueuedPacket, StateError, Switch,
    SwitchConfig, TableEntry,
};
pub use front::{Diagnostic, Diagnostics};
#[cfg(feature = "interpreter")]
pub use ir::Program;
pub use p4info::{P4Info, p4info_file, p4info_source, p4info_text};
