//! Visitors over the AST: call a function on every expression (pre-order, sub-expressions
//! included) of a program, a declaration, a block or a statement.

use super::ast::{
    ActionDecl, Block, ControlDecl, Decl, Expr, ExprKind, Local, ParserDecl, Program, Stmt,
    StmtKind, SwitchLabel, TableDecl, Transition, TypeRef,
};

/// Every expression of `e` (itself first).
pub fn walk_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Bool(_)
        | ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Name(_)
        | ExprKind::ErrorType
        | ExprKind::DontCare
        | ExprKind::Default => {}
        ExprKind::Member { base, .. } => walk_expr(base, f),
        ExprKind::Index { base, index } => {
            walk_expr(base, f);
            walk_expr(index, f);
        }
        ExprKind::Slice { base, hi, lo } => {
            walk_expr(base, f);
            walk_expr(hi, f);
            walk_expr(lo, f);
        }
        ExprKind::Call {
            callee,
            type_args,
            args,
        } => {
            walk_expr(callee, f);
            for t in type_args {
                walk_type(t, f);
            }
            for a in args {
                walk_expr(a, f);
            }
        }
        ExprKind::Unary { operand, .. } => walk_expr(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            walk_expr(lhs, f);
            walk_expr(rhs, f);
        }
        ExprKind::Ternary { cond, then, els } => {
            walk_expr(cond, f);
            walk_expr(then, f);
            walk_expr(els, f);
        }
        ExprKind::Cast { ty, expr } => {
            walk_type(ty, f);
            walk_expr(expr, f);
        }
        ExprKind::List(es) => {
            for x in es {
                walk_expr(x, f);
            }
        }
        ExprKind::Mask { value, mask } => {
            walk_expr(value, f);
            walk_expr(mask, f);
        }
        ExprKind::Range { lo, hi } => {
            walk_expr(lo, f);
            walk_expr(hi, f);
        }
    }
}

/// Width and size expressions inside a written type.
pub fn walk_type(t: &TypeRef, f: &mut dyn FnMut(&Expr)) {
    match t {
        TypeRef::Bit { width, .. } | TypeRef::Int { width, .. } | TypeRef::VarBit { width, .. } => {
            walk_expr(width, f)
        }
        TypeRef::Stack { elem, size, .. } => {
            walk_type(elem, f);
            walk_expr(size, f);
        }
        TypeRef::Tuple { elems, .. } => {
            for e in elems {
                walk_type(e, f);
            }
        }
        TypeRef::Named { args, .. } => {
            for a in args {
                walk_type(a, f);
            }
        }
        _ => {}
    }
}

pub fn walk_block(b: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &b.stmts {
        walk_stmt(s, f);
    }
}

pub fn walk_stmt(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Assign { lhs, rhs } => {
            walk_expr(lhs, f);
            walk_expr(rhs, f);
        }
        StmtKind::Call(e) => walk_expr(e, f),
        StmtKind::If { cond, then, els } => {
            walk_expr(cond, f);
            walk_stmt(then, f);
            if let Some(e) = els {
                walk_stmt(e, f);
            }
        }
        StmtKind::Block(b) => walk_block(b, f),
        StmtKind::Switch { expr, cases } => {
            walk_expr(expr, f);
            for c in cases {
                let _ = matches!(c.label, SwitchLabel::Default(_));
                if let Some(b) = &c.body {
                    walk_block(b, f);
                }
            }
        }
        StmtKind::Exit | StmtKind::Empty => {}
        StmtKind::Return(e) => {
            if let Some(e) = e {
                walk_expr(e, f);
            }
        }
        StmtKind::Var(v) => {
            walk_type(&v.ty, f);
            if let Some(i) = &v.init {
                walk_expr(i, f);
            }
        }
        StmtKind::Const(c) => {
            walk_type(&c.ty, f);
            walk_expr(&c.value, f);
        }
    }
}

pub fn walk_action(a: &ActionDecl, f: &mut dyn FnMut(&Expr)) {
    for p in &a.params {
        walk_type(&p.ty, f);
    }
    walk_block(&a.body, f);
}

pub fn walk_table(t: &TableDecl, f: &mut dyn FnMut(&Expr)) {
    for k in &t.key {
        walk_expr(&k.expr, f);
    }
    for a in &t.actions {
        for e in a.args.iter().flatten() {
            walk_expr(e, f);
        }
    }
    if let Some(d) = &t.default_action {
        for e in d.action.args.iter().flatten() {
            walk_expr(e, f);
        }
    }
    if let Some(es) = &t.entries {
        for en in &es.entries {
            for k in &en.keys {
                walk_expr(k, f);
            }
            for e in en.action.args.iter().flatten() {
                walk_expr(e, f);
            }
            if let Some(p) = &en.priority {
                walk_expr(p, f);
            }
        }
    }
    if let Some(s) = &t.size {
        walk_expr(s, f);
    }
    for o in &t.others {
        walk_expr(&o.value, f);
    }
}

pub fn walk_local(l: &Local, f: &mut dyn FnMut(&Expr)) {
    match l {
        Local::Const(c) => {
            walk_type(&c.ty, f);
            walk_expr(&c.value, f);
        }
        Local::Var(v) => {
            walk_type(&v.ty, f);
            if let Some(i) = &v.init {
                walk_expr(i, f);
            }
        }
        Local::Instance(i) => {
            walk_type(&i.ty, f);
            for a in &i.args {
                walk_expr(a, f);
            }
        }
        Local::Action(a) => walk_action(a, f),
        Local::Table(t) => walk_table(t, f),
        Local::Unsupported { .. } => {}
    }
}

pub fn walk_control(c: &ControlDecl, f: &mut dyn FnMut(&Expr)) {
    for p in &c.params {
        walk_type(&p.ty, f);
    }
    for l in &c.locals {
        walk_local(l, f);
    }
    walk_block(&c.apply, f);
}

pub fn walk_parser(p: &ParserDecl, f: &mut dyn FnMut(&Expr)) {
    for x in &p.params {
        walk_type(&x.ty, f);
    }
    for l in &p.locals {
        walk_local(l, f);
    }
    for s in &p.states {
        for st in &s.stmts {
            walk_stmt(st, f);
        }
        if let Some(Transition::Select { exprs, cases, .. }) = &s.transition {
            for e in exprs {
                walk_expr(e, f);
            }
            for c in cases {
                for k in &c.keys {
                    walk_expr(k, f);
                }
            }
        }
    }
}

/// Every expression of the user-visible program parts that the checker types: parsers,
/// controls, top-level actions and constants, and the package instantiation.
pub fn walk_program(p: &Program, f: &mut dyn FnMut(&Expr)) {
    for d in &p.decls {
        match d {
            Decl::Const(c) => {
                walk_type(&c.ty, f);
                walk_expr(&c.value, f);
            }
            Decl::Action(a) => walk_action(a, f),
            Decl::Parser(x) => walk_parser(x, f),
            Decl::Control(c) => walk_control(c, f),
            Decl::Instance(i) => {
                for a in &i.args {
                    walk_expr(a, f);
                }
            }
            Decl::Header(s) | Decl::Struct(s) => {
                for fl in &s.fields {
                    walk_type(&fl.ty, f);
                }
            }
            _ => {}
        }
    }
}
