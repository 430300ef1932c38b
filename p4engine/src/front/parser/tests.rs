//! Parser tests: the reference programs parse, and syntax errors carry positions.

use super::parse;
use crate::front::ast::{Decl, ExprKind, Local, StmtKind};
use crate::front::preprocess::preprocess_source;
use crate::front::source::{Diagnostics, SourceMap};

fn parse_src(src: &str) -> Result<crate::front::ast::Program, Diagnostics> {
    let mut sm = SourceMap::default();
    let toks = preprocess_source("t.p4", src, None, &mut sm)?;
    parse(toks, &sm)
}

#[test]
fn reference_programs_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} not present", dir.display());
        return;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|s| s.to_str()) != Some("p4") {
            continue;
        }
        let mut sm = SourceMap::default();
        let toks = crate::front::preprocess::preprocess_file(&p, &mut sm).unwrap();
        if let Err(e) = parse(toks, &sm) {
            panic!("{}: {e}", p.display());
        }
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn precedence_bitwise_binds_tighter_than_compare() {
    let p = parse_src("const bool c = 1 & 3 == 1;").unwrap();
    let Decl::Const(c) = &p.decls[0] else {
        panic!()
    };
    let ExprKind::Binary { op, .. } = &c.value.kind else {
        panic!()
    };
    assert_eq!(*op, crate::front::ast::BinOp::Eq);
}

#[test]
fn shift_and_generic_close() {
    let src = "#include <v1model.p4>\ncontrol C(inout bit<8> x) { register<bit<32>>(4) r; apply { x = x >> 2; } }";
    let p = parse_src(src).unwrap();
    let Some(Decl::Control(c)) = p.decls.last() else {
        panic!()
    };
    assert!(matches!(c.locals[0], Local::Instance(_)));
    let StmtKind::Assign { rhs, .. } = &c.apply.stmts[0].kind else {
        panic!()
    };
    assert!(matches!(
        rhs.kind,
        ExprKind::Binary {
            op: crate::front::ast::BinOp::Shr,
            ..
        }
    ));
}

#[test]
fn syntax_error_position() {
    let e = parse_src("header h_t {\n  bit<8> a\n}\n").unwrap_err();
    assert_eq!((e.0[0].line, e.0[0].col), (3, 1));
    assert!(
        e.0[0].message.contains("expected ';'"),
        "{}",
        e.0[0].message
    );
}

#[test]
fn unsupported_statement() {
    let e = parse_src("control C() { apply { for (;;) {} } }").unwrap_err();
    assert!(e.0[0].message.contains("unsupported"), "{}", e.0[0].message);
}
