//! The front end: preprocessor, lexer, parser and checker for the supported P4_16 subset.
//!
//! (Documentation of the checked-program contract follows in this module once the checker
//! lands; the AST in [`ast`], the semantic types in [`types`] and the checker output in
//! [`checked`] are already the published shapes.)

pub mod ast;
pub mod checked;
pub mod lexer;
pub mod parser;
pub mod preprocess;
pub mod source;
pub mod types;

pub use checked::{Builtin, CheckedProgram, Pipeline, Resolved, Value};
pub use source::{Diagnostic, Diagnostics, SourceMap};
