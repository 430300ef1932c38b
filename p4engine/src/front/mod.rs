//! The front end: preprocessor, lexer, parser and checker for the supported P4_16 subset.
//!
//! # Entry points
//!
//! * [`check_file`]`(path)` reads a `.p4` file (with `#include "x.p4"` relative to it) and
//!   returns a [`CheckedProgram`] or [`Diagnostics`].
//! * [`check_source`]`(name, text)` does the same for text in memory (`"x.p4"` includes are
//!   looked up relative to `name`'s folder).
//!
//! Every [`Diagnostic`] carries the file (as given, or `<core.p4>`/`<v1model.p4>` for the
//! built-in declarations), the 1-based line and column, and a message; its `Display` is
//! `file:line:col: error: message`.
//!
//! # The checked program (contract for the lowering)
//!
//! A [`CheckedProgram`] holds the whole [`ast::Program`] (built-in declarations first, then
//! the user's, in source order) and side tables keyed by [`ast::NodeId`]:
//!
//! * `types[expr.id]`: the [`types::Type`] of **every** expression node, including callees
//!   (`Type::Action` for an action callee, `Type::Void` for extern/method callees),
//!   keyset elements (`Type::Set(t)` for `a &&& m` and `a .. b`, `Type::DontCare` for `_` and
//!   `default`) and the arguments of `V1Switch(...)` (`Type::Block(name)`). Unsized literals
//!   carry the type the context gave them: in `x + 1` with `x: bit<8>`, `1` is `bit<8>`.
//!   A list expression `{a, b}` has type `Tuple([..])`, except where a struct or header is
//!   expected (`digest<learn_t>(1, {a, b})`, `s = {a, b}`): there it has that
//!   `Struct(name)`/`Header(name)` type and its elements initialise the fields in order.
//!   In `(bit<16>)(a8 + b8)` the sum is `bit<8>` (it wraps at 8 bits, as in p4c). An
//!   expression left `Type::InfInt` is a compile-time integer (its value is in
//!   `const_values`).
//! * `refs[id]`: what a name or non-field member means ([`Resolved`]):
//!   - `Name` expressions: `Var(VarDecl.id)`, `Param(Param.id)`, `Const(ConstDecl.id)`,
//!     `Instance(InstanceDecl.id)`, `Action(ActionDecl.id)`, `Table(TableDecl.id)`,
//!     `MatchKind(name)`; callee names of extern functions: `ExternFunction(name)`.
//!   - `Member` expressions: `ErrorMember(name)` for `error.X`, `EnumMember{ty, member}` for
//!     `HashAlgorithm.crc16` (the base name gets `TypeName`), `Builtin(StackNext | StackLast
//!     | StackSize | StackLastIndex | Hit | Miss | ActionRun)`; method callees:
//!     `Builtin(IsValid | SetValid | SetInvalid | TableApply(table id))` or
//!     `ExternMethod{extern_name, method}` (the receiver is the member's base, e.g. the
//!     `packet_in` parameter or a `register` instance). Plain field accesses have no entry:
//!     the base's type (`Header(name)`/`Struct(name)`) and `type_defs` give the field.
//!   - `ActionRef.id` (table action lists, default actions, const entries) and
//!     `SwitchLabel::Name(_, id)` resolve to `Action(ActionDecl.id)`.
//!   - Parser transitions name states by [`ast::Ident`]: `accept`, `reject` or a state of
//!     the same parser (checked to exist). A state without `transition` goes to `reject`.
//! * `const_values[id]`: the [`Value`] of every expression that is a compile-time constant
//!   (literals, `#define`d values (they are substituted as tokens), `const`s, enum and error
//!   members, operators and casts on constants), converted to the expression's type
//!   (`Value::Bits{bits, ty}` holds the two's-complement pattern truncated to the width).
//!   Constructor arguments of extern instances, table sizes, entry keys/priorities and
//!   action arguments of default actions/entries are always constant.
//! * `decl_types[id]`: the type of every `Param`, `VarDecl`, `ConstDecl` and `InstanceDecl`
//!   (`Type::Extern{name: "register", args: [Bit(32)]}` etc.); typedefs are resolved and
//!   widths evaluated.
//! * `type_defs[name]`: header/struct fields in order, enum members, serializable enum values,
//!   and a header's `@controller_header` kind.
//! * `errors`: error members in declaration order (core.p4's seven first); a member's code
//!   is its index (`error_code`), as p4c numbers them for BMv2.
//! * `pipeline`: which parser/control declaration (by name) plays each `V1Switch` role.
//!
//! What the checker guarantees for a `CheckedProgram`: all names resolve; every assignment
//! target is writable (no `in`/directionless parameters, constants or enum members); types
//! and widths agree on both sides of every operator, assignment and argument (1 <= W <= 128);
//! slices are in range; tables use declared match kinds (`exact`, `ternary`, `lpm`, `range`,
//! `optional`), at most one `lpm` key, actions of their own list, constant entries whose
//! keysets fit the match kinds; direct calls pass every action parameter; `extract` is only
//! in parsers and takes a header; tables are applied only in apply blocks; extern instances
//! are `register`, `counter`, `direct_counter`, `meter` or `direct_meter` with constant
//! constructor arguments; `clone`, `clone3`, `resubmit`, `recirculate` and `truncate` are
//! rejected. Semantics of `type` declarations are those of `typedef`.

//!
//! # Supported subset
//!
//! Preprocessor: `#include <core.p4>`/`<v1model.p4>` (built in, see `front/builtin/`),
//! `#include "file"` relative to the including file, object-like `#define`/`#undef`,
//! `#ifdef`/`#ifndef`/`#if` (integer, macro or `defined(X)`)/`#else`/`#endif`, `#error`.
//! Declarations: `const`, `typedef`/`type`, `header`, `struct`, header stacks `h[N]`,
//! `enum` and serializable `enum bit<W>`, `error {..}`, `match_kind {..}`, parsers, controls,
//! top-level actions, `V1Switch(...) main`. Types: `bit<W>`/`int<W>` with 1 <= W <= 128,
//! `bool`, `error`, enums, headers, structs, stacks, `tuple<..>`. Literals: `255`, `0x0800`,
//! `0b101`, `8w255`, `16w0x1F`, `8s5`, `8s-1`, strings. Parsers: states, `extract`,
//! `lookahead<T>` (bit/int/header), `advance`, `verify`, local variables, `transition`
//! to a state/`accept`/`reject`, `select` on one or more expressions with values, masks
//! (`&&&`), ranges (`..`), `_` and `default`. Controls: local variables, constants,
//! `register`/`counter`/`direct_counter`/`meter`/`direct_meter` instances, actions with
//! directional and control-plane parameters, direct action calls, tables with `exact`,
//! `lpm`, `ternary`, `range` and `optional` keys, action lists with `@defaultonly`/
//! `@tableonly`, `[const] default_action`, `const entries` (optionally `priority = N:`),
//! `size`, `counters`, `meters`, `support_timeout`. Statements: assignments (fields,
//! slices, stack elements, whole headers/structs, list initialisers), calls, `if`/`else`,
//! `switch (t.apply().action_run)`, `exit`, `return`, blocks, local variables/constants.
//! Expressions: `+ - *` (wrapping), `/ %` on `bit<W>` and constants, `|+| |-|`, `& | ^ ~`,
//! `<< >>`, comparisons, `! && ||`, `++`, slices `[h:l]`, casts, `?:`, `isValid()`/
//! `setValid()`/`setInvalid()`, `t.apply().hit/.miss/.action_run`, `stack.next/.last/
//! .size/.lastIndex/[i]`, enum and error members, `{a, b}` lists. Externs: `mark_to_drop`,
//! `hash`, `random`, `digest` (struct data), `verify_checksum`, `update_checksum`,
//! `packet_in`/`packet_out` methods and the instance methods above. Annotations
//! `@name`, `@id`, `@hidden`, `@controller_header`, `@defaultonly`, `@tableonly`,
//! `@brief`, `@description` have meaning; any other annotation is accepted and ignored
//! (copied into P4Info as p4c does).
//!
//! # Left out (each is a diagnostic, never silently accepted)
//!
//! `clone`, `clone3`, `resubmit`, `recirculate`, `truncate`; `header_union`, `varbit`,
//! `value_set`, action profiles/selectors (`implementation`, `selector`), non-const
//! `entries`, functions, generic or constructor-parameterised parsers/controls, program-
//! declared externs/packages/match kinds, `if` inside parser states, loops, compound
//! assignments, named arguments, `push_front`/`pop_front`, extern instances in parsers,
//! `packet_in.length()`, widths above 128 bits, `switch` on anything but `action_run`,
//! arguments in action lists, actions with directional parameters in tables,
//! function-like macros, `#elif` and other directives (`#pragma`, `#line`).

pub mod ast;
pub mod check;
pub mod checked;
pub mod lexer;
pub mod parser;
pub mod preprocess;
pub mod source;
pub mod types;
pub mod walk;

use std::path::Path;

pub use checked::{Builtin, CheckedProgram, Pipeline, Resolved, Value};
pub use source::{Diagnostic, Diagnostics, SourceMap};

/// Preprocess, parse and check the program in file `path`.
pub fn check_file(path: &Path) -> Result<CheckedProgram, Diagnostics> {
    let mut sources = SourceMap::default();
    let tokens = preprocess::preprocess_file(path, &mut sources)?;
    let program = parser::parse(tokens, &sources)?;
    check::check(program, sources)
}

/// Preprocess, parse and check `text`; `name` is shown in diagnostics and its folder is where
/// `#include "file"` looks.
pub fn check_source(name: &str, text: &str) -> Result<CheckedProgram, Diagnostics> {
    let mut sources = SourceMap::default();
    let dir = Path::new(name).parent();
    let tokens = preprocess::preprocess_source(name, text, dir, &mut sources)?;
    let program = parser::parse(tokens, &sources)?;
    check::check(program, sources)
}
