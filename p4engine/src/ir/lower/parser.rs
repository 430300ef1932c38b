//! Parser and deparser lowering: parser locals, states with their select transitions and
//! keysets, and the deparser's emit order.

use std::collections::HashMap;

use crate::front::ast::{self, Span};
use crate::front::types::Type;

use super::{Loc, Lowerer, R};

impl<'c> Lowerer<'c> {
    pub(super) fn lower_parser(&mut self, pd: &'c ast::ParserDecl) -> R<()> {
        self.scope = pd.name.name.clone();
        self.scope_locals = pd.locals.clone();
        self.in_parser = true;
        let mut init = Vec::new();
        for local in &pd.locals {
            match local {
                ast::Local::Var(v) => {
                    let t = self
                        .c
                        .decl_types
                        .get(&v.id)
                        .cloned()
                        .unwrap_or(Type::Unknown);
                    let loc = self.alloc(&t, &v.name.name, v.span)?;
                    self.env.insert(v.id, loc.clone());
                    if let Some(e) = &v.init {
                        self.assign_loc(&loc, e, &mut init)?;
                    }
                }
                ast::Local::Const(_) => {}
                ast::Local::Instance(i) => self.lower_instance(i)?,
                other => {
                    let span = match other {
                        ast::Local::Action(a) => a.span,
                        ast::Local::Table(t) => t.span,
                        ast::Local::Unsupported { span, .. } => *span,
                        _ => pd.span,
                    };
                    return self.fail(span, "this declaration is not supported in a parser");
                }
            }
        }
        let index: HashMap<&str, u32> = pd
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.name.as_str(), i as u32))
            .collect();
        let target = |l: &mut Self, id: &ast::Ident| -> R<super::super::Target> {
            match id.name.as_str() {
                "accept" => Ok(super::super::Target::Accept),
                "reject" => Ok(super::super::Target::Reject),
                n => match index.get(n) {
                    Some(&i) => Ok(super::super::Target::State(i)),
                    None => l.fail(id.span, format!("unknown parser state {n}")),
                },
            }
        };
        let mut states = Vec::new();
        for s in &pd.states {
            let mut stmts = self.block(&s.stmts)?;
            let transition = match &s.transition {
                None => super::super::Transition::Direct(super::super::Target::Reject),
                Some(ast::Transition::Direct(id)) => {
                    super::super::Transition::Direct(target(self, id)?)
                }
                Some(ast::Transition::Select { exprs, cases, .. }) => {
                    let mut keys = Vec::new();
                    let mut widths = Vec::new();
                    for e in exprs {
                        let ty = self.c.type_of(e.id).clone();
                        widths.push(self.scalar_ty(&ty).map(|t| t.w).unwrap_or(128));
                        keys.push(self.expr(e)?);
                    }
                    let mut out = Vec::new();
                    for c in cases {
                        let all_any = c.keys.len() == 1
                            && exprs.len() != 1
                            && matches!(
                                c.keys[0].kind,
                                ast::ExprKind::Default | ast::ExprKind::DontCare
                            );
                        let mut sets = Vec::new();
                        for (k, w) in widths.iter().enumerate() {
                            let ke = if all_any {
                                &c.keys[0]
                            } else {
                                match c.keys.get(k) {
                                    Some(ke) => ke,
                                    None => {
                                        return self.fail(
                                            c.span,
                                            "keyset has fewer elements than the select",
                                        );
                                    }
                                }
                            };
                            let m = crate::exec::value::mask(*w);
                            sets.push(match &ke.kind {
                                ast::ExprKind::Default | ast::ExprKind::DontCare => {
                                    super::super::KeySet::Any
                                }
                                ast::ExprKind::Mask { value, mask } => {
                                    let mk = self.const_u(mask)? & m;
                                    super::super::KeySet::Mask(self.const_u(value)? & mk, mk)
                                }
                                ast::ExprKind::Range { lo, hi } => super::super::KeySet::Range(
                                    self.const_u(lo)? & m,
                                    self.const_u(hi)? & m,
                                ),
                                _ => super::super::KeySet::Value(self.const_u(ke)? & m),
                            });
                        }
                        out.push((sets, target(self, &c.next)?));
                    }
                    super::super::Transition::Select { keys, cases: out }
                }
            };
            if s.name.name == "start" && !init.is_empty() {
                let mut v = std::mem::take(&mut init);
                v.append(&mut stmts);
                stmts = v;
            }
            states.push(super::super::ParserState {
                name: s.name.name.clone(),
                stmts,
                transition,
            });
        }
        let Some(&start) = index.get("start") else {
            return self.fail(pd.span, "the parser has no start state");
        };
        self.p.parser = super::super::Parser { states, start };
        self.in_parser = false;
        Ok(())
    }

    pub(super) fn lower_deparser(&mut self, dp: &'c ast::ControlDecl) -> R<()> {
        self.scope = dp.name.name.clone();
        for s in &dp.apply.stmts {
            let ast::StmtKind::Call(call) = &s.kind else {
                return self.fail(s.span, "the deparser may only contain emit calls");
            };
            let ast::ExprKind::Call { callee, args, .. } = &call.kind else {
                return self.fail(s.span, "the deparser may only contain emit calls");
            };
            match self.c.refs.get(&callee.id) {
                Some(crate::front::Resolved::ExternMethod { method, .. }) if method == "emit" => {}
                _ => return self.fail(s.span, "the deparser may only contain emit calls"),
            }
            let Some(arg) = args.first() else {
                return self.fail(s.span, "emit needs an argument");
            };
            let loc = self.place(arg)?;
            self.emit_loc(&loc, arg.span)?;
        }
        Ok(())
    }

    fn emit_loc(&mut self, loc: &Loc, span: Span) -> R<()> {
        match loc {
            Loc::Header(super::super::HeaderRef::Fixed(h)) => self.p.deparser.push(*h),
            Loc::Stack(s) => {
                let elems = self.p.layout.stacks[*s as usize].elems.clone();
                self.p.deparser.extend(elems);
            }
            Loc::Struct(fields) => {
                for (_, l) in fields.clone() {
                    self.emit_loc(&l, span)?;
                }
            }
            _ => {
                return self.fail(
                    span,
                    "emit needs a header, a header stack or a struct of headers",
                );
            }
        }
        Ok(())
    }
}
