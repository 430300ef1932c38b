//! P4Info derivation as p4c does it, and its text form.
//!
//! # Entry points
//!
//! * [`derive()`]`(&CheckedProgram) -> P4Info`: the P4Info of a checked program.
//! * [`p4info_file`]`(path)` / [`p4info_source`]`(name, text)`: check a program and derive its
//!   P4Info, or return the front end's [`Diagnostics`] (what `flash-switch compile PROG.p4
//!   --p4info OUT.p4info.txtpb` runs).
//! * `compile_file_with_p4info(path)` (feature `interpreter`): the engine's compiled program
//!   and the P4Info together.
//! * [`p4info_text`]`(&P4Info) -> String`: the `.p4info.txtpb` text, as p4c writes it (through
//!   `flashmesh_proto::p4info_to_text`).
//!
//! # Rules (p4c 1.2.4.8, v1model)
//!
//! * Ids: `prefix << 24 | (Jenkins one-at-a-time hash of the name & 0xFFFFFF)`, names taken in
//!   sorted order per kind, linear probing on collisions, `@id(N)` fixes an id. Prefixes:
//!   action 0x01, table 0x02, controller header 0x04, counter 0x12, direct counter 0x13,
//!   meter 0x14, direct meter 0x15, register 0x16, digest 0x17 ([`ids::prefix`]).
//! * Names: control-local entities are `ControlTypeName.local` (`MyIngress.ipv4_lpm`);
//!   top-level actions (`NoAction`) keep their name; `@name("x")` renames (`@name(".x")` is
//!   absolute). Aliases are the shortest unique dot-suffix among names of the same kind.
//!   Controller headers are named by their `@controller_header` argument.
//! * Order: the controls in `V1Switch` order (verify checksum, ingress, egress, compute
//!   checksum, deparser), declarations in source order; top-level actions a control's tables
//!   use (`NoAction`) come before that control's own actions (p4c copies them into the
//!   control). Only actions in some table's action list are listed: p4c's front end inlines
//!   directly called actions and removes unused ones. `@hidden` entities are left out.
//! * Tables: match fields numbered from 1 in key order, named by `@name` or the key
//!   expression's source text (`hdr.ipv4.dstAddr`), with the key's width and match type;
//!   action refs with scope `TABLE_ONLY`/`DEFAULT_ONLY` from `@tableonly`/`@defaultonly`
//!   (and those annotations as text); `const_default_action_id` for a `const default_action`;
//!   `direct_resource_ids` from `counters`/`meters`; `size` (1024 when absent);
//!   `idle_timeout_behavior` from `support_timeout = true`; `is_const_table` for `const
//!   entries`, `has_initial_entries` whenever entries are given. p4c 1.2.4.8 writes no
//!   `initial_default_action`, and neither do we.
//! * Actions: only control-plane (directionless) parameters, numbered from 1.
//! * Counters/meters: size and unit from the constructor; registers: size and the element's
//!   bit/int type; digests: one per struct type passed to `digest()`, with the struct in
//!   `type_info`; controller headers: fields numbered from 1.
//! * Annotations other than `@name`, `@id`, `@hidden`, `@brief`, `@description`,
//!   `@defaultonly` and `@tableonly` are copied into preambles as text (`@noWarn("unused")`).
//! * `pkg_info { arch: "v1model" }`; `type_info` is present (possibly empty) exactly when p4c
//!   would create it: any table, action parameter, register, digest or controller header
//!   field, or an extern function call in a control.

pub mod derive;
pub mod ids;
pub mod names;

use std::path::Path;

pub use derive::derive;
pub use flashmesh_proto::p4::config::v1::P4Info;

use crate::front::{self, Diagnostics};

/// Check the program in `path` and derive its P4Info.
pub fn p4info_file(path: &Path) -> Result<P4Info, Diagnostics> {
    Ok(derive(&front::check_file(path)?))
}

/// Check `text` (named `name` in diagnostics) and derive its P4Info.
pub fn p4info_source(name: &str, text: &str) -> Result<P4Info, Diagnostics> {
    Ok(derive(&front::check_source(name, text)?))
}

/// Compile the program in `path` for the engine and derive its P4Info (what
/// `flash-switch compile PROG.p4 --p4info OUT.p4info.txtpb` needs): the program to run and
/// the P4Info to write, or the diagnostics.
#[cfg(feature = "interpreter")]
pub fn compile_file_with_p4info(
    path: &Path,
) -> Result<(std::sync::Arc<crate::Program>, P4Info), Diagnostics> {
    let info = p4info_file(path)?;
    let program = crate::compile_file(path)?;
    Ok((program, info))
}

/// The P4Info in text format, as p4c writes `.p4info.txtpb` files.
pub fn p4info_text(p4info: &P4Info) -> String {
    flashmesh_proto::p4info_to_text(p4info)
}
