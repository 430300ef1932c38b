//! Compiling a program for the interpreter: front end, P4Info derivation, lowering, and the
//! lowered program's ids and names taken from its P4Info.

use std::path::Path;
use std::sync::Arc;

use crate::{Diagnostics, Program, front, ir, p4info};

/// Compiles a P4_16 v1model program from a file (`#include "x.p4"` relative to it).
pub fn compile_file(path: impl AsRef<Path>) -> Result<Arc<Program>, Diagnostics> {
    let path = path.as_ref();
    let mut sources = front::SourceMap::default();
    let tokens = front::preprocess::preprocess_file(path, &mut sources)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    compile_tokens(&name, tokens, sources)
}

/// Compiles a program given as text (`name` is used in diagnostics).
pub fn compile_str(name: &str, source: &str) -> Result<Arc<Program>, Diagnostics> {
    let mut sources = front::SourceMap::default();
    let tokens = front::preprocess::preprocess_source(name, source, None, &mut sources)?;
    compile_tokens(name, tokens, sources)
}

fn compile_tokens(
    name: &str,
    tokens: Vec<front::lexer::Token>,
    sources: front::SourceMap,
) -> Result<Arc<Program>, Diagnostics> {
    let ast = front::parser::parse(tokens, &sources)?;
    let checked = ir::lower::check(ast, sources)?;
    let info = p4info::derive(&checked);
    let mut program = ir::lower::lower(&checked)?;
    ir::lower::sync_with_p4info(&mut program, &info);
    program.p4info = info;
    program.name = name.to_string();
    Ok(Arc::new(program))
}
