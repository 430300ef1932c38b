//! Lowering of expressions, places (l-values and header/struct references) and assignments.

use crate::front::ast::{self, ExprKind};
use crate::front::types::Type;
use crate::front::{Builtin, Resolved, Value};
use crate::ir::{BinOp, Expr, HeaderRef, LValue, StackIndex, Stmt, UnOp};

use super::{Loc, Lowerer, R, Ty};

impl<'c> Lowerer<'c> {
    pub(crate) fn ty_of(&self, e: &ast::Expr) -> Option<Ty> {
        self.scalar_ty(self.c.type_of(e.id))
    }

    fn const_of(&self, e: &ast::Expr) -> Option<u128> {
        let v = self.c.const_values.get(&e.id)?;
        let w = self.ty_of(e).map(|t| t.w).unwrap_or(128);
        Some(match v {
            Value::Bool(b) => *b as u128,
            Value::Bits { bits, .. } => *bits,
            Value::InfInt(i) => (*i as u128) & crate::exec::value::mask(w),
            Value::Error(name) => self.c.error_code(name)? as u128,
            Value::Enum { ty, member } => match self.c.type_defs.get(ty) {
                Some(crate::front::types::TypeDef::Enum { members }) => {
                    members.iter().position(|m| m == member)? as u128
                }
                _ => return None,
            },
            Value::Str(_) => return None,
        })
    }

    /// Lowers a scalar-valued expression.
    pub(crate) fn expr(&mut self, e: &'c ast::Expr) -> R<Expr> {
        if let Some(v) = self.const_of(e) {
            return Ok(Expr::Const(v));
        }
        match &e.kind {
            ExprKind::Bool(b) => Ok(Expr::Const(*b as u128)),
            ExprKind::Name(_) | ExprKind::Index { .. } => self.loc_value(e),
            ExprKind::Member { base, member } => {
                match self.c.refs.get(&e.id) {
                    Some(Resolved::Builtin(Builtin::Hit))
                    | Some(Resolved::Builtin(Builtin::Miss)) => {
                        let hit = matches!(
                            self.c.refs.get(&e.id),
                            Some(Resolved::Builtin(Builtin::Hit))
                        );
                        let table = self.applied_table(base)?;
                        return Ok(Expr::TableHit { table, hit });
                    }
                    Some(Resolved::Builtin(Builtin::StackLastIndex)) => {
                        if let Loc::Stack(s) = self.place(base)? {
                            return Ok(Expr::StackLastIndex(s));
                        }
                    }
                    Some(Resolved::Builtin(Builtin::StackSize)) => {
                        if let Loc::Stack(s) = self.place(base)? {
                            return Ok(Expr::Const(
                                self.p.layout.stacks[s as usize].elems.len() as u128
                            ));
                        }
                    }
                    _ => {}
                }
                let _ = member;
                self.loc_value(e)
            }
            ExprKind::Slice { base, hi, lo } => {
                let hi = self
                    .const_of(hi)
                    .ok_or(())
                    .or_else(|_| self.fail(hi.span, "slice bounds must be constants"))?;
                let lo = self
                    .const_of(lo)
                    .ok_or(())
                    .or_else(|_| self.fail(lo.span, "slice bounds must be constants"))?;
                let b = self.expr(base)?;
                Ok(Expr::Slice {
                    e: Box::new(b),
                    hi: hi as u32,
                    lo: lo as u32,
                })
            }
            ExprKind::Call {
                callee,
                type_args,
                args,
            } => self.call_expr(e, callee, type_args, args),
            ExprKind::Unary { op, operand } => {
                let x = self.expr(operand)?;
                let ty = self.ty_of(e).unwrap_or(Ty {
                    w: 128,
                    signed: false,
                });
                Ok(match op {
                    ast::UnOp::Not => Expr::Unary {
                        op: UnOp::LNot,
                        width: 1,
                        e: Box::new(x),
                    },
                    ast::UnOp::BitNot => Expr::Unary {
                        op: UnOp::BitNot,
                        width: ty.w,
                        e: Box::new(x),
                    },
                    ast::UnOp::Neg => Expr::Unary {
                        op: UnOp::Neg,
                        width: ty.w,
                        e: Box::new(x),
                    },
                    ast::UnOp::Plus => x,
                })
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                let lt = self.ty_of(lhs);
                let rt = self.ty_of(rhs);
                let operand = match (lt, rt) {
                    (Some(l), _)
                        if !(l.w == 128
                            && l.signed
                            && matches!(self.c.type_of(lhs.id), Type::InfInt)) =>
                    {
                        l
                    }
                    (_, Some(r)) => r,
                    _ => Ty {
                        w: 128,
                        signed: false,
                    },
                };
                let result = self.ty_of(e).unwrap_or(operand);
                let bin = |op: BinOp, t: Ty| Expr::Binary {
                    op,
                    width: t.w,
                    signed: t.signed,
                    a: Box::new(a.clone()),
                    b: Box::new(b.clone()),
                };
                Ok(match op {
                    ast::BinOp::Add => bin(BinOp::Add, result),
                    ast::BinOp::Sub => bin(BinOp::Sub, result),
                    ast::BinOp::Mul => bin(BinOp::Mul, result),
                    ast::BinOp::Div => bin(BinOp::Div, result),
                    ast::BinOp::Mod => bin(BinOp::Mod, result),
                    ast::BinOp::SatAdd => bin(BinOp::SatAdd, result),
                    ast::BinOp::SatSub => bin(BinOp::SatSub, result),
                    ast::BinOp::Shl => bin(BinOp::Shl, result),
                    ast::BinOp::Shr => bin(BinOp::Shr, result),
                    ast::BinOp::BitAnd => bin(BinOp::BitAnd, result),
                    ast::BinOp::BitOr => bin(BinOp::BitOr, result),
                    ast::BinOp::BitXor => bin(BinOp::BitXor, result),
                    ast::BinOp::Eq => bin(BinOp::Eq, operand),
                    ast::BinOp::Ne => bin(BinOp::Ne, operand),
                    ast::BinOp::Lt => bin(BinOp::Lt, operand),
                    ast::BinOp::Le => bin(BinOp::Le, operand),
                    ast::BinOp::Gt => bin(BinOp::Gt, operand),
                    ast::BinOp::Ge => bin(BinOp::Ge, operand),
                    ast::BinOp::And => Expr::And(Box::new(a), Box::new(b)),
                    ast::BinOp::Or => Expr::Or(Box::new(a), Box::new(b)),
                    ast::BinOp::Concat => {
                        let wb = rt.map(|t| t.w).unwrap_or(0);
                        Expr::Concat {
                            a: Box::new(a),
                            b: Box::new(b),
                            wb,
                        }
                    }
                })
            }
            ExprKind::Ternary { cond, then, els } => {
                let c = self.expr(cond)?;
                let a = self.expr(then)?;
                let b = self.expr(els)?;
                Ok(Expr::Cond {
                    c: Box::new(c),
                    a: Box::new(a),
                    b: Box::new(b),
                })
            }
            ExprKind::Cast { expr, .. } => {
                let x = self.expr(expr)?;
                let from = self.ty_of(expr).unwrap_or(Ty {
                    w: 128,
                    signed: false,
                });
                let Some(to) = self.ty_of(e) else {
                    return self.fail(e.span, "this cast is not supported");
                };
                if matches!(self.c.type_of(e.id), Type::Bool) {
                    return Ok(Expr::Binary {
                        op: BinOp::Ne,
                        width: from.w,
                        signed: false,
                        a: Box::new(x),
                        b: Box::new(Expr::Const(0)),
                    });
                }
                Ok(Expr::Cast {
                    e: Box::new(x),
                    from_w: from.w,
                    from_signed: from.signed,
                    to_w: to.w,
                })
            }
            _ => self.fail(e.span, "this expression is not supported here"),
        }
    }

    fn loc_value(&mut self, e: &'c ast::Expr) -> R<Expr> {
        match self.place(e)? {
            Loc::Scalar { slot, .. } => Ok(Expr::Slot(slot)),
            Loc::DynField {
                stack,
                index,
                field,
                ..
            } => Ok(Expr::DynField {
                stack,
                index,
                field,
            }),
            _ => self.fail(e.span, "a header or struct cannot be used as a value here"),
        }
    }

    /// The table of `t.apply()` in `t.apply().hit` etc.
    pub(crate) fn applied_table(&mut self, call: &'c ast::Expr) -> R<crate::ir::TableId> {
        if let ExprKind::Call { callee, .. } = &call.kind
            && let Some(Resolved::Builtin(Builtin::TableApply(decl))) = self.c.refs.get(&callee.id)
        {
            let decl = *decl;
            return self.table_by_decl(decl, call.span);
        }
        self.fail(call.span, "expected t.apply()")
    }

    pub(crate) fn table_by_decl(
        &mut self,
        decl: ast::NodeId,
        span: ast::Span,
    ) -> R<crate::ir::TableId> {
        match self.tables_by_decl.get(&decl) {
            Some(t) => Ok(*t),
            None => self.fail(span, "table not declared in this control"),
        }
    }

    fn call_expr(
        &mut self,
        e: &'c ast::Expr,
        callee: &'c ast::Expr,
        _targs: &[ast::TypeRef],
        _args: &'c [ast::Expr],
    ) -> R<Expr> {
        match self.c.refs.get(&callee.id).cloned() {
            Some(Resolved::Builtin(Builtin::IsValid)) => {
                let ExprKind::Member { base, .. } = &callee.kind else {
                    return self.fail(e.span, "bad isValid call");
                };
                match self.place(base)? {
                    Loc::Header(h) => Ok(Expr::IsValid(h)),
                    _ => self.fail(e.span, "isValid needs a header"),
                }
            }
            Some(Resolved::ExternMethod { method, .. }) if method == "lookahead" => {
                if !self.in_parser {
                    return self.fail(e.span, "lookahead is only allowed in a parser");
                }
                match self.ty_of(e) {
                    Some(t) => Ok(Expr::Lookahead { width: t.w }),
                    None => self.fail(
                        e.span,
                        "lookahead of a header must be assigned to a header variable",
                    ),
                }
            }
            _ => self.fail(e.span, "this call cannot be used as a value"),
        }
    }

    /// Resolves an expression denoting storage.
    pub(crate) fn place(&mut self, e: &'c ast::Expr) -> R<Loc> {
        match &e.kind {
            ExprKind::Name(id) => match self.c.refs.get(&e.id) {
                Some(Resolved::Var(d)) | Some(Resolved::Param(d)) => match self.env.get(d) {
                    Some(l) => Ok(l.clone()),
                    None => self.fail(e.span, format!("{} has no storage here", id.name)),
                },
                _ => self.fail(e.span, format!("{} is not a variable", id.name)),
            },
            ExprKind::Member { base, member } => {
                match self.c.refs.get(&e.id) {
                    Some(Resolved::Builtin(Builtin::StackNext))
                    | Some(Resolved::Builtin(Builtin::StackLast)) => {
                        let next = matches!(
                            self.c.refs.get(&e.id),
                            Some(Resolved::Builtin(Builtin::StackNext))
                        );
                        let Loc::Stack(s) = self.place(base)? else {
                            return self.fail(e.span, "not a header stack");
                        };
                        let idx = if next {
                            StackIndex::Next
                        } else {
                            StackIndex::Last
                        };
                        return Ok(Loc::Header(HeaderRef::Dyn(s, idx)));
                    }
                    Some(r) if !matches!(r, Resolved::Var(_) | Resolved::Param(_)) => {
                        return self.fail(e.span, format!("{} is not storage", member.name));
                    }
                    _ => {}
                }
                let b = self.place(base)?;
                self.field_of(b, &member.name, e)
            }
            ExprKind::Index { base, index } => {
                let Loc::Stack(s) = self.place(base)? else {
                    return self.fail(e.span, "indexing needs a header stack");
                };
                match self.const_of(index) {
                    Some(i) => {
                        let elems = &self.p.layout.stacks[s as usize].elems;
                        match elems.get(i as usize) {
                            Some(h) => Ok(Loc::Header(HeaderRef::Fixed(*h))),
                            None => {
                                self.fail(e.span, format!("index {i} is out of the stack's bounds"))
                            }
                        }
                    }
                    None => {
                        let ix = self.expr(index)?;
                        Ok(Loc::Header(HeaderRef::Dyn(
                            s,
                            StackIndex::Expr(Box::new(ix)),
                        )))
                    }
                }
            }
            _ => self.fail(e.span, "this expression does not denote storage"),
        }
    }

    fn field_of(&mut self, b: Loc, name: &str, e: &ast::Expr) -> R<Loc> {
        match b {
            Loc::Struct(fields) => match fields.into_iter().find(|(n, _)| n == name) {
                Some((_, l)) => Ok(l),
                None => self.fail(e.span, format!("no field {name}")),
            },
            Loc::Header(HeaderRef::Fixed(h)) => {
                let hd = &self.p.layout.headers[h as usize];
                match hd.fields.iter().position(|f| f.name == name) {
                    Some(i) => {
                        let f = &hd.fields[i];
                        let (slot, w) = (f.slot, f.width);
                        let signed = self.ty_of(e).map(|t| t.signed).unwrap_or(false);
                        Ok(Loc::Scalar {
                            slot,
                            ty: Ty { w, signed },
                        })
                    }
                    None => self.fail(e.span, format!("no field {name}")),
                }
            }
            Loc::Header(HeaderRef::Dyn(s, index)) => {
                let h = self.p.layout.stacks[s as usize].elems[0];
                let hd = &self.p.layout.headers[h as usize];
                match hd.fields.iter().position(|f| f.name == name) {
                    Some(i) => Ok(Loc::DynField {
                        stack: s,
                        index,
                        field: i as u32,
                    }),
                    None => self.fail(e.span, format!("no field {name}")),
                }
            }
            _ => self.fail(e.span, format!("cannot select field {name} here")),
        }
    }

    /// Lowers an assignment target.
    pub(crate) fn lvalue(&mut self, e: &'c ast::Expr) -> R<LValue> {
        if let ExprKind::DontCare = e.kind {
            return Ok(LValue::Discard);
        }
        if let ExprKind::Slice { base, hi, lo } = &e.kind {
            let hi = self
                .const_of(hi)
                .ok_or(())
                .or_else(|_| self.fail(hi.span, "slice bounds must be constants"))?
                as u32;
            let lo = self
                .const_of(lo)
                .ok_or(())
                .or_else(|_| self.fail(lo.span, "slice bounds must be constants"))?
                as u32;
            return match self.place(base)? {
                Loc::Scalar { slot, .. } => Ok(LValue::Slice { slot, hi, lo }),
                Loc::DynField {
                    stack,
                    index,
                    field,
                    ..
                } => Ok(LValue::DynField {
                    stack,
                    index,
                    field,
                    slice: Some((hi, lo)),
                }),
                _ => self.fail(e.span, "cannot assign to a slice of this"),
            };
        }
        match self.place(e)? {
            Loc::Scalar { slot, ty } => Ok(LValue::Slot { slot, width: ty.w }),
            Loc::DynField {
                stack,
                index,
                field,
                ..
            } => Ok(LValue::DynField {
                stack,
                index,
                field,
                slice: None,
            }),
            _ => self.fail(e.span, "expected a scalar l-value"),
        }
    }

    /// `loc = rhs` for any storage type.
    pub(crate) fn assign_loc(
        &mut self,
        loc: &Loc,
        rhs: &'c ast::Expr,
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        match loc {
            Loc::Scalar { slot, ty } => {
                let e = self.expr(rhs)?;
                out.push(Stmt::Assign {
                    dst: LValue::Slot {
                        slot: *slot,
                        width: ty.w,
                    },
                    e,
                });
            }
            Loc::DynField {
                stack,
                index,
                field,
                ..
            } => {
                let e = self.expr(rhs)?;
                out.push(Stmt::Assign {
                    dst: LValue::DynField {
                        stack: *stack,
                        index: index.clone(),
                        field: *field,
                        slice: None,
                    },
                    e,
                });
            }
            Loc::Header(dst) => {
                if let ExprKind::Call { callee, .. } = &rhs.kind
                    && let Some(Resolved::ExternMethod { method, .. }) = self.c.refs.get(&callee.id)
                    && method == "lookahead"
                {
                    let HeaderRef::Fixed(h) = dst else {
                        return self
                            .fail(rhs.span, "lookahead into a stack element is not supported");
                    };
                    out.push(Stmt::LookaheadHeader(*h));
                    return Ok(());
                }
                let Loc::Header(src) = self.place(rhs)? else {
                    return self.fail(rhs.span, "expected a header");
                };
                out.push(Stmt::CopyHeader {
                    dst: dst.clone(),
                    src,
                });
            }
            Loc::Struct(fields) => {
                if let ExprKind::List(items) = &rhs.kind {
                    if items.len() != fields.len() {
                        return self.fail(rhs.span, "list length does not match the struct");
                    }
                    for ((_, l), it) in fields.iter().zip(items) {
                        self.assign_loc(l, it, out)?;
                    }
                    return Ok(());
                }
                let src = self.place(rhs)?;
                self.copy_loc(loc, &src, rhs.span, out)?;
            }
            _ => return self.fail(rhs.span, "this assignment is not supported"),
        }
        Ok(())
    }

    fn copy_loc(&mut self, dst: &Loc, src: &Loc, span: ast::Span, out: &mut Vec<Stmt>) -> R<()> {
        match (dst, src) {
            (Loc::Scalar { slot, ty }, Loc::Scalar { slot: s, .. }) => out.push(Stmt::Assign {
                dst: LValue::Slot {
                    slot: *slot,
                    width: ty.w,
                },
                e: Expr::Slot(*s),
            }),
            (Loc::Header(d), Loc::Header(s)) => out.push(Stmt::CopyHeader {
                dst: d.clone(),
                src: s.clone(),
            }),
            (Loc::Struct(a), Loc::Struct(b)) if a.len() == b.len() => {
                for ((_, x), (_, y)) in a.iter().zip(b) {
                    self.copy_loc(x, y, span, out)?;
                }
            }
            (Loc::Stack(a), Loc::Stack(b)) => {
                let ea = self.p.layout.stacks[*a as usize].elems.clone();
                let eb = self.p.layout.stacks[*b as usize].elems.clone();
                for (x, y) in ea.iter().zip(&eb) {
                    out.push(Stmt::CopyHeader {
                        dst: HeaderRef::Fixed(*x),
                        src: HeaderRef::Fixed(*y),
                    });
                }
            }
            _ => return self.fail(span, "this copy is not supported"),
        }
        Ok(())
    }

    /// Flattens a field list (`{a, b}` or a struct/header value) into (expr, width) items.
    pub(crate) fn field_list(
        &mut self,
        e: &'c ast::Expr,
        out: &mut Vec<crate::ir::ListItem>,
    ) -> R<()> {
        if let ExprKind::List(items) = &e.kind {
            for it in items {
                self.field_list(it, out)?;
            }
            return Ok(());
        }
        if let Some(t) = self.ty_of(e)
            && !matches!(self.c.type_of(e.id), Type::InfInt)
        {
            let x = self.expr(e)?;
            out.push(crate::ir::ListItem { e: x, width: t.w });
            return Ok(());
        }
        let loc = self.place(e)?;
        self.loc_items(&loc, e.span, out)
    }

    fn loc_items(
        &mut self,
        loc: &Loc,
        span: ast::Span,
        out: &mut Vec<crate::ir::ListItem>,
    ) -> R<()> {
        match loc {
            Loc::Scalar { slot, ty } => out.push(crate::ir::ListItem {
                e: Expr::Slot(*slot),
                width: ty.w,
            }),
            Loc::Header(HeaderRef::Fixed(h)) => {
                for f in &self.p.layout.headers[*h as usize].fields {
                    out.push(crate::ir::ListItem {
                        e: Expr::Slot(f.slot),
                        width: f.width,
                    });
                }
            }
            Loc::Struct(fs) => {
                for (_, l) in fs.clone() {
                    self.loc_items(&l, span, out)?;
                }
            }
            _ => return self.fail(span, "this field list element is not supported"),
        }
        Ok(())
    }
}
