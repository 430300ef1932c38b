//! Read-only walks over the IR (used to find out what a program needs at run time).

use super::{
    Expr, ExternCall, HeaderRef, LValue, ListItem, Program, Slot, StackIndex, Stmt, Transition,
};

fn expr_reads(e: &Expr, slots: &[Slot]) -> bool {
    let idx = |i: &StackIndex| matches!(i, StackIndex::Expr(x) if expr_reads(x, slots));
    match e {
        Expr::Const(_)
        | Expr::Lookahead { .. }
        | Expr::StackLastIndex(_)
        | Expr::TableHit { .. } => false,
        Expr::Slot(s) => slots.contains(s),
        Expr::DynField { index, .. } => idx(index),
        Expr::IsValid(HeaderRef::Dyn(_, i)) => idx(i),
        Expr::IsValid(HeaderRef::Fixed(_)) => false,
        Expr::Unary { e, .. } | Expr::Slice { e, .. } | Expr::Cast { e, .. } => {
            expr_reads(e, slots)
        }
        Expr::Binary { a, b, .. }
        | Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::Concat { a, b, .. } => expr_reads(a, slots) || expr_reads(b, slots),
        Expr::Cond { c, a, b } => {
            expr_reads(c, slots) || expr_reads(a, slots) || expr_reads(b, slots)
        }
    }
}

fn lvalue_reads(l: &LValue, slots: &[Slot]) -> bool {
    match l {
        LValue::DynField {
            index: StackIndex::Expr(x),
            ..
        } => expr_reads(x, slots),
        // a slice assignment keeps the other bits of the slot
        LValue::Slice { slot, .. } => slots.contains(slot),
        _ => false,
    }
}

fn list_reads(items: &[ListItem], slots: &[Slot]) -> bool {
    items.iter().any(|i| expr_reads(&i.e, slots))
}

fn stmts_read(stmts: &[Stmt], slots: &[Slot]) -> bool {
    stmts.iter().any(|s| stmt_reads(s, slots))
}

fn stmt_reads(s: &Stmt, slots: &[Slot]) -> bool {
    match s {
        Stmt::Assign { dst, e } => lvalue_reads(dst, slots) || expr_reads(e, slots),
        Stmt::If { c, then, els } => {
            expr_reads(c, slots) || stmts_read(then, slots) || stmts_read(els, slots)
        }
        Stmt::Block(b) | Stmt::ActionBody(b) => stmts_read(b, slots),
        Stmt::Switch { cases, default, .. } => {
            cases.iter().any(|(_, b)| stmts_read(b, slots)) || stmts_read(default, slots)
        }
        Stmt::Advance(e) => expr_reads(e, slots),
        Stmt::Verify { c, .. } => expr_reads(c, slots),
        Stmt::Extern(x) => match x {
            ExternCall::MarkToDrop => false,
            ExternCall::RegisterRead { dst, index, .. } => {
                lvalue_reads(dst, slots) || expr_reads(index, slots)
            }
            ExternCall::RegisterWrite { index, value, .. } => {
                expr_reads(index, slots) || expr_reads(value, slots)
            }
            ExternCall::CounterCount { index, .. } => expr_reads(index, slots),
            ExternCall::MeterExecute { index, dst, .. } => {
                expr_reads(index, slots) || lvalue_reads(dst, slots)
            }
            ExternCall::DirectMeterRead { dst, .. } => lvalue_reads(dst, slots),
            ExternCall::Hash {
                dst,
                base,
                fields,
                max,
                ..
            } => {
                lvalue_reads(dst, slots)
                    || expr_reads(base, slots)
                    || list_reads(fields, slots)
                    || expr_reads(max, slots)
            }
            ExternCall::Random { dst, lo, hi, .. } => {
                lvalue_reads(dst, slots) || expr_reads(lo, slots) || expr_reads(hi, slots)
            }
            ExternCall::Digest { fields, .. } => list_reads(fields, slots),
            ExternCall::VerifyChecksum {
                cond,
                fields,
                checksum,
                ..
            } => {
                expr_reads(cond, slots) || list_reads(fields, slots) || expr_reads(checksum, slots)
            }
            ExternCall::UpdateChecksum {
                cond, fields, dst, ..
            } => expr_reads(cond, slots) || list_reads(fields, slots) || lvalue_reads(dst, slots),
        },
        Stmt::SetValid { .. }
        | Stmt::CopyHeader { .. }
        | Stmt::Apply(_)
        | Stmt::Exit
        | Stmt::Return
        | Stmt::Extract(_)
        | Stmt::LookaheadHeader(_) => false,
    }
}

/// True when any expression of the program reads one of `slots` (header copies and
/// deparsing aside, which never involve metadata slots).
pub fn program_reads(p: &Program, slots: &[Slot]) -> bool {
    let parser = p.parser.states.iter().any(|st| {
        stmts_read(&st.stmts, slots)
            || match &st.transition {
                Transition::Direct(_) => false,
                Transition::Select { keys, .. } => keys.iter().any(|k| expr_reads(k, slots)),
            }
    });
    parser
        || [
            &p.verify_checksum,
            &p.ingress,
            &p.egress,
            &p.compute_checksum,
        ]
        .iter()
        .any(|c| stmts_read(&c.body, slots))
        || p.actions.iter().any(|a| stmts_read(&a.body, slots))
        || p.tables
            .iter()
            .any(|t| t.keys.iter().any(|k| expr_reads(&k.e, slots)))
}

/// True when the program needs the clock: it reads a global timestamp or uses meters.
pub fn uses_clock(p: &Program) -> bool {
    !p.meters.is_empty()
        || !p.direct_meters.is_empty()
        || program_reads(
            p,
            &[
                p.std.ingress_global_timestamp,
                p.std.egress_global_timestamp,
            ],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_reads_inside_expressions() {
        let e = Expr::Binary {
            op: super::super::BinOp::Add,
            width: 8,
            signed: false,
            a: Box::new(Expr::Const(1)),
            b: Box::new(Expr::Cast {
                e: Box::new(Expr::Slot(7)),
                from_w: 48,
                from_signed: false,
                to_w: 8,
            }),
        };
        assert!(expr_reads(&e, &[7]));
        assert!(!expr_reads(&e, &[8]));
        let s = Stmt::If {
            c: Expr::Const(1),
            then: vec![],
            els: vec![Stmt::Assign {
                dst: LValue::Discard,
                e,
            }],
        };
        assert!(stmt_reads(&s, &[7]));
    }
}
