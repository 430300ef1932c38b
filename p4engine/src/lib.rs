//! The P4_16 v1model engine: front end, checker, IR, interpreter and P4Info derivation.
//!
//! `front` turns source text into a checked AST (preprocessor, lexer, parser, checker);
//! `p4info` derives P4Info from it as p4c does; `ir` is the lowered program the
//! interpreter runs; `exec` is the v1model interpreter and the run-time state API.

pub mod exec;
pub mod front;
pub mod ir;
pub mod p4info;
