//! Lowering of statements, extern calls and direct action calls.

use crate::exec::hash::HashAlgo;
use crate::front::ast::{self, ExprKind, StmtKind};
use crate::front::types::{Type, TypeDef};
use crate::front::{Builtin, Resolved, Value};
use crate::ir::{ExternCall, HeaderRef, LValue, Stmt};

use super::{Inst, Loc, Lowerer, R, Ty};

impl<'c> Lowerer<'c> {
    pub(crate) fn block(&mut self, stmts: &'c [ast::Stmt]) -> R<Vec<Stmt>> {
        let mut out = Vec::new();
        let mut ok = true;
        for s in stmts {
            if self.stmt(s, &mut out).is_err() {
                ok = false;
            }
        }
        if ok { Ok(out) } else { Err(()) }
    }

    fn sub_block(&mut self, s: &'c ast::Stmt) -> R<Vec<Stmt>> {
        match &s.kind {
            StmtKind::Block(b) => self.block(&b.stmts),
            _ => {
                let mut out = Vec::new();
                self.stmt(s, &mut out)?;
                Ok(out)
            }
        }
    }

    fn stmt(&mut self, s: &'c ast::Stmt, out: &mut Vec<Stmt>) -> R<()> {
        match &s.kind {
            StmtKind::Assign { lhs, rhs } => {
                if let ExprKind::Slice { .. } = lhs.kind {
                    let dst = self.lvalue(lhs)?;
                    let e = self.expr(rhs)?;
                    out.push(Stmt::Assign { dst, e });
                } else {
                    let loc = self.place(lhs)?;
                    self.assign_loc(&loc, rhs, out)?;
                }
            }
            StmtKind::Call(e) => self.call_stmt(e, out)?,
            StmtKind::If { cond, then, els } => {
                let c = self.expr(cond)?;
                let t = self.sub_block(then)?;
                let e = match els {
                    Some(e) => self.sub_block(e)?,
                    None => Vec::new(),
                };
                out.push(Stmt::If { c, then: t, els: e });
            }
            StmtKind::Block(b) => {
                let b = self.block(&b.stmts)?;
                out.push(Stmt::Block(b));
            }
            StmtKind::Switch { expr, cases } => {
                let ExprKind::Member { base, member } = &expr.kind else {
                    return self.fail(s.span, "switch is supported on t.apply().action_run only");
                };
                if member.name != "action_run" {
                    return self.fail(s.span, "switch is supported on t.apply().action_run only");
                }
                let table = self.applied_table(base)?;
                let mut lowered = Vec::new();
                let mut default = Vec::new();
                let mut pending: Vec<crate::ir::ActionId> = Vec::new();
                let mut pending_default = false;
                for c in cases {
                    match &c.label {
                        ast::SwitchLabel::Name(n, _) => {
                            let Some(decl) = self.action_decl(&n.name) else {
                                return self.fail(n.span, format!("unknown action {}", n.name));
                            };
                            let a = self.table_action(decl)?;
                            pending.push(a);
                        }
                        ast::SwitchLabel::Default(_) => pending_default = true,
                    }
                    if let Some(b) = &c.body {
                        let body = self.block(&b.stmts)?;
                        if pending_default {
                            default = body.clone();
                        }
                        if !pending.is_empty() {
                            lowered.push((std::mem::take(&mut pending), body));
                        }
                        pending_default = false;
                    }
                }
                out.push(Stmt::Switch {
                    table,
                    cases: lowered,
                    default,
                });
            }
            StmtKind::Exit => out.push(Stmt::Exit),
            StmtKind::Return(None) => out.push(Stmt::Return),
            StmtKind::Return(Some(e)) => {
                return self.fail(e.span, "return with a value is not supported");
            }
            StmtKind::Var(v) => {
                let t = self
                    .c
                    .decl_types
                    .get(&v.id)
                    .cloned()
                    .unwrap_or(Type::Unknown);
                let loc = self.alloc(&t, &v.name.name, v.span)?;
                self.env.insert(v.id, loc.clone());
                if let Some(init) = &v.init {
                    self.assign_loc(&loc, init, out)?;
                }
            }
            StmtKind::Const(_) | StmtKind::Empty => {}
        }
        Ok(())
    }

    fn instance_of(&mut self, receiver: &ast::Expr) -> R<Inst> {
        match self.c.refs.get(&receiver.id) {
            Some(Resolved::Instance(id)) => match self.insts.get(id) {
                Some(i) => Ok(i.clone()),
                None => self.fail(receiver.span, "extern instance not available here"),
            },
            _ => self.fail(receiver.span, "expected an extern instance"),
        }
    }

    fn algo(&mut self, e: &ast::Expr) -> R<HashAlgo> {
        match self.c.const_values.get(&e.id) {
            Some(Value::Enum { member, .. }) => match HashAlgo::from_name(member) {
                Some(a) => Ok(a),
                None => self.fail(e.span, format!("hash algorithm {member} is not supported")),
            },
            _ => self.fail(e.span, "the hash algorithm must be a HashAlgorithm member"),
        }
    }

    fn width_of(&mut self, e: &ast::Expr) -> R<Ty> {
        match self.ty_of(e) {
            Some(t) => Ok(t),
            None => self.fail(e.span, "expected a bit<W> or int<W> value"),
        }
    }

    fn call_stmt(&mut self, e: &'c ast::Expr, out: &mut Vec<Stmt>) -> R<()> {
        let ExprKind::Call { callee, args, .. } = &e.kind else {
            return self.fail(e.span, "expected a call");
        };
        let receiver = match &callee.kind {
            ExprKind::Member { base, .. } => Some(&**base),
            _ => None,
        };
        match self.c.refs.get(&callee.id).cloned() {
            Some(Resolved::Builtin(b @ (Builtin::SetValid | Builtin::SetInvalid))) => {
                let Some(r) = receiver else {
                    return self.fail(e.span, "bad call");
                };
                let Loc::Header(h) = self.place(r)? else {
                    return self.fail(e.span, "expected a header");
                };
                out.push(Stmt::SetValid {
                    h,
                    valid: b == Builtin::SetValid,
                });
            }
            Some(Resolved::Builtin(Builtin::TableApply(decl))) => {
                let t = self.table_by_decl(decl, e.span)?;
                out.push(Stmt::Apply(t));
            }
            Some(Resolved::Builtin(Builtin::IsValid)) => {}
            Some(Resolved::Action(decl)) => {
                let Some(a) = self.action_decl_by_id(decl) else {
                    return self.fail(e.span, "unknown action");
                };
                self.inline_action(a, args, e.span, out)?;
            }
            Some(Resolved::ExternFunction(name)) => match name.as_str() {
                "mark_to_drop" => out.push(Stmt::Extern(ExternCall::MarkToDrop)),
                "hash" => {
                    let d = args.first().ok_or(())?;
                    let out_width = self.width_of(d)?.w;
                    let dst = self.lvalue(d)?;
                    let algo = self.algo(args.get(1).ok_or(())?)?;
                    let base = self.expr(args.get(2).ok_or(())?)?;
                    let mut fields = Vec::new();
                    self.field_list(args.get(3).ok_or(())?, &mut fields)?;
                    let max = self.expr(args.get(4).ok_or(())?)?;
                    out.push(Stmt::Extern(ExternCall::Hash {
                        dst,
                        out_width,
                        algo,
                        base,
                        fields,
                        max,
                    }));
                }
                "verify_checksum" | "update_checksum" => {
                    let cond = self.expr(args.first().ok_or(())?)?;
                    let mut fields = Vec::new();
                    self.field_list(args.get(1).ok_or(())?, &mut fields)?;
                    let ck = args.get(2).ok_or(())?;
                    let width = self.width_of(ck)?.w;
                    let algo = self.algo(args.get(3).ok_or(())?)?;
                    if name == "verify_checksum" {
                        let checksum = self.expr(ck)?;
                        out.push(Stmt::Extern(ExternCall::VerifyChecksum {
                            cond,
                            fields,
                            checksum,
                            width,
                            algo,
                        }));
                    } else {
                        let dst = self.lvalue(ck)?;
                        out.push(Stmt::Extern(ExternCall::UpdateChecksum {
                            cond,
                            fields,
                            dst,
                            width,
                            algo,
                        }));
                    }
                }
                "random" => {
                    let d = args.first().ok_or(())?;
                    let width = self.width_of(d)?.w;
                    let dst = self.lvalue(d)?;
                    let lo = self.expr(args.get(1).ok_or(())?)?;
                    let hi = self.expr(args.get(2).ok_or(())?)?;
                    out.push(Stmt::Extern(ExternCall::Random { dst, width, lo, hi }));
                }
                "digest" => {
                    let data = args.get(1).ok_or(())?;
                    let tname = match self.c.type_of(data.id) {
                        Type::Struct(n) | Type::Header(n) => n.clone(),
                        other => {
                            return self.fail(
                                data.span,
                                format!(
                                    "digest data of type {other} is not supported; use a struct"
                                ),
                            );
                        }
                    };
                    let names: Vec<(String, u32)> = match self.c.type_defs.get(&tname) {
                        Some(TypeDef::Struct { fields }) | Some(TypeDef::Header { fields, .. }) => {
                            fields
                                .iter()
                                .map(|f| {
                                    (
                                        f.name.clone(),
                                        self.scalar_ty(&f.ty).map(|t| t.w).unwrap_or(0),
                                    )
                                })
                                .collect()
                        }
                        _ => Vec::new(),
                    };
                    let mut fields = Vec::new();
                    self.field_list(data, &mut fields)?;
                    let digest = self.digest_index(&tname, names);
                    out.push(Stmt::Extern(ExternCall::Digest { digest, fields }));
                }
                "verify" => {
                    if !self.in_parser {
                        return self.fail(e.span, "verify is only allowed in a parser");
                    }
                    let c = self.expr(args.first().ok_or(())?)?;
                    let er = args.get(1).ok_or(())?;
                    let error = match self.c.const_values.get(&er.id) {
                        Some(Value::Error(n)) => self.c.error_code(n).unwrap_or(0),
                        _ => return self.fail(er.span, "verify needs an error constant"),
                    };
                    out.push(Stmt::Verify { c, error });
                }
                "log_msg" | "assert" | "assume" => {}
                other @ ("clone"
                | "clone3"
                | "clone_preserving_field_list"
                | "resubmit"
                | "resubmit_preserving_field_list"
                | "recirculate"
                | "recirculate_preserving_field_list"
                | "truncate") => {
                    return self.fail(e.span, format!("{other} is not supported by this engine"));
                }
                other => {
                    return self.fail(e.span, format!("extern function {other} is not supported"));
                }
            },
            Some(Resolved::ExternMethod {
                extern_name,
                method,
            }) => {
                let Some(r) = receiver else {
                    return self.fail(e.span, "bad method call");
                };
                match (extern_name.as_str(), method.as_str()) {
                    ("packet_in", "extract") => {
                        if args.len() != 1 {
                            return self.fail(
                                e.span,
                                "extract with a variable-size field is not supported",
                            );
                        }
                        if !self.in_parser {
                            return self.fail(e.span, "extract is only allowed in a parser");
                        }
                        match self.place(&args[0])? {
                            Loc::Header(h) => out.push(Stmt::Extract(h)),
                            _ => return self.fail(e.span, "extract needs a header"),
                        }
                    }
                    ("packet_in", "advance") => {
                        let n = self.expr(args.first().ok_or(())?)?;
                        out.push(Stmt::Advance(n));
                    }
                    ("packet_in", "lookahead") => {}
                    ("register", "read") => {
                        let Inst::Register(reg) = self.instance_of(r)? else {
                            return self.fail(e.span, "not a register");
                        };
                        let dst = self.lvalue(args.first().ok_or(())?)?;
                        let index = self.expr(args.get(1).ok_or(())?)?;
                        out.push(Stmt::Extern(ExternCall::RegisterRead { reg, dst, index }));
                    }
                    ("register", "write") => {
                        let Inst::Register(reg) = self.instance_of(r)? else {
                            return self.fail(e.span, "not a register");
                        };
                        let index = self.expr(args.first().ok_or(())?)?;
                        let value = self.expr(args.get(1).ok_or(())?)?;
                        out.push(Stmt::Extern(ExternCall::RegisterWrite {
                            reg,
                            index,
                            value,
                        }));
                    }
                    ("counter", "count") => {
                        let Inst::Counter(counter) = self.instance_of(r)? else {
                            return self.fail(e.span, "not a counter");
                        };
                        let index = self.expr(args.first().ok_or(())?)?;
                        out.push(Stmt::Extern(ExternCall::CounterCount { counter, index }));
                    }
                    // BMv2 counts a direct counter on every hit of its table's entries.
                    ("direct_counter", "count") => {}
                    ("meter", "execute_meter") => {
                        let Inst::Meter(meter) = self.instance_of(r)? else {
                            return self.fail(e.span, "not a meter");
                        };
                        let index = self.expr(args.first().ok_or(())?)?;
                        let dst = self.lvalue(args.get(1).ok_or(())?)?;
                        out.push(Stmt::Extern(ExternCall::MeterExecute { meter, index, dst }));
                    }
                    ("direct_meter", "read") => {
                        let Inst::DirectMeter(meter) = self.instance_of(r)? else {
                            return self.fail(e.span, "not a meter");
                        };
                        let dst = self.lvalue(args.first().ok_or(())?)?;
                        out.push(Stmt::Extern(ExternCall::DirectMeterRead { meter, dst }));
                    }
                    (x, m) => return self.fail(e.span, format!("{x}.{m} is not supported")),
                }
            }
            _ => return self.fail(e.span, "this call is not supported"),
        }
        Ok(())
    }

    /// A direct action call: directionless/in arguments are copied into fresh slots, out and
    /// inout parameters alias their arguments, and the body is lowered at the call site.
    fn inline_action(
        &mut self,
        a: &'c ast::ActionDecl,
        args: &'c [ast::Expr],
        span: ast::Span,
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        if args.len() != a.params.len() {
            return self.fail(
                span,
                format!("action {} takes {} arguments", a.name.name, a.params.len()),
            );
        }
        let mut body = Vec::new();
        let saved: Vec<_> = a
            .params
            .iter()
            .map(|p| (p.id, self.env.get(&p.id).cloned()))
            .collect();
        for (prm, arg) in a.params.iter().zip(args) {
            match prm.direction {
                ast::Direction::Out | ast::Direction::InOut => {
                    let loc = self.place(arg)?;
                    self.env.insert(prm.id, loc);
                }
                _ => {
                    let t = self
                        .c
                        .decl_types
                        .get(&prm.id)
                        .cloned()
                        .unwrap_or(Type::Unknown);
                    if self.scalar_ty(&t).is_some() {
                        let loc = self.alloc(&t, &prm.name.name, prm.span)?;
                        self.assign_loc(&loc, arg, &mut body)?;
                        self.env.insert(prm.id, loc);
                    } else {
                        let loc = self.place(arg)?;
                        self.env.insert(prm.id, loc);
                    }
                }
            }
        }
        let inner = self.block(&a.body.stmts);
        for (id, old) in saved {
            match old {
                Some(l) => self.env.insert(id, l),
                None => self.env.remove(&id),
            };
        }
        body.push(Stmt::ActionBody(inner?));
        out.push(Stmt::Block(body));
        let _ = (HeaderRef::Fixed(0), LValue::Discard);
        Ok(())
    }
}
