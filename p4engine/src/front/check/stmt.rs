//! Statements: assignments (with direction and writability checks), calls, if/else, switch on
//! `action_run`, exit/return, local variables and constants.

use super::{Checker, Ctx, Sym};
use crate::front::ast::{Block, Direction, Expr, ExprKind, Stmt, StmtKind, SwitchLabel, VarDecl};
use crate::front::checked::Resolved;
use crate::front::types::Type;

impl Checker<'_> {
    pub(super) fn block(&mut self, b: &Block) {
        self.push_scope();
        for s in &b.stmts {
            self.stmt(s);
        }
        self.pop_scope();
    }

    pub(super) fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Assign { lhs, rhs } => {
                let lt = self.expr(lhs, None);
                self.check_writable(lhs);
                let rt = self.expr(rhs, Some(&lt));
                self.check_assignable(&lt, &rt, rhs.span);
                if matches!(lt, Type::Extern { .. } | Type::Table(_) | Type::Action) {
                    self.error(lhs.span, format!("cannot assign to a value of type {lt}"));
                }
            }
            StmtKind::Call(e) => {
                if !matches!(e.kind, ExprKind::Call { .. }) {
                    self.error(
                        e.span,
                        "this expression is not a statement (expected a call or an assignment)",
                    );
                    self.expr(e, None);
                    return;
                }
                self.expr(e, None);
            }
            StmtKind::If { cond, then, els } => {
                if self.ctx == Ctx::Parser {
                    self.error(
                        s.span,
                        "unsupported construct: 'if' in a parser state (use select)",
                    );
                }
                let ct = self.expr(cond, Some(&Type::Bool));
                if ct != Type::Bool && ct != Type::Unknown {
                    self.error(cond.span, format!("an if condition must be bool, not {ct}"));
                }
                self.scoped_stmt(then);
                if let Some(e) = els {
                    self.scoped_stmt(e);
                }
            }
            StmtKind::Block(b) => self.block(b),
            StmtKind::Switch { expr, cases } => {
                let t = self.expr(expr, None);
                let table = match &t {
                    Type::ActionRun(tn) => Some(tn.clone()),
                    Type::Unknown => None,
                    other => {
                        self.error(
                            expr.span,
                            format!("unsupported construct: switch on {other} (only switch (t.apply().action_run) is supported)"),
                        );
                        None
                    }
                };
                let table_id = table.as_ref().and_then(|_| self.apply_table_id(expr));
                let mut seen: Vec<String> = Vec::new();
                for (i, c) in cases.iter().enumerate() {
                    match &c.label {
                        SwitchLabel::Default(sp) => {
                            if i + 1 != cases.len() {
                                self.error(*sp, "'default' must be the last switch case");
                            }
                        }
                        SwitchLabel::Name(n, id) => {
                            if seen.contains(&n.name) {
                                self.error(n.span, format!("switch case '{}' appears twice", n));
                            }
                            seen.push(n.name.clone());
                            if let Some(tid) = table_id {
                                let found = self.tables.get(&tid).and_then(|t| {
                                    t.actions.iter().find(|(a, _)| *a == n.name).cloned()
                                });
                                match found {
                                    Some((_, aid)) => {
                                        self.refs.insert(*id, Resolved::Action(aid));
                                    }
                                    None => self.error(
                                        n.span,
                                        format!(
                                            "'{}' is not an action of table '{}'",
                                            n,
                                            table.clone().unwrap_or_default()
                                        ),
                                    ),
                                }
                            }
                        }
                    }
                    if let Some(b) = &c.body {
                        self.block(b);
                    } else if i + 1 == cases.len() {
                        self.error(c.span, "the last switch case needs a body");
                    }
                }
            }
            StmtKind::Exit => {
                if self.ctx == Ctx::Parser {
                    self.error(s.span, "'exit' is not allowed in a parser");
                }
            }
            StmtKind::Return(e) => {
                if self.ctx == Ctx::Parser {
                    self.error(s.span, "'return' is not allowed in a parser");
                }
                if let Some(e) = e {
                    self.error(e.span, "a control or action cannot return a value");
                }
            }
            StmtKind::Var(v) => self.var_decl(v),
            StmtKind::Const(c) => self.const_decl(c),
            StmtKind::Empty => {}
        }
    }

    /// The table of `t.apply().action_run`.
    fn apply_table_id(&self, e: &Expr) -> Option<crate::front::ast::NodeId> {
        let ExprKind::Member { base, .. } = &e.kind else {
            return None;
        };
        let ExprKind::Call { callee, .. } = &base.kind else {
            return None;
        };
        match self.refs.get(&callee.id) {
            Some(Resolved::Builtin(crate::front::checked::Builtin::TableApply(id))) => Some(*id),
            _ => None,
        }
    }

    fn scoped_stmt(&mut self, s: &Stmt) {
        self.push_scope();
        self.stmt(s);
        self.pop_scope();
    }

    pub(super) fn var_decl(&mut self, v: &VarDecl) {
        let ty = self.resolve_type(&v.ty);
        if matches!(
            ty,
            Type::Extern { .. } | Type::Void | Type::InfInt | Type::String
        ) {
            self.error(v.ty.span(), format!("a variable cannot have type {ty}"));
        }
        if let Some(init) = &v.init {
            let it = self.expr(init, Some(&ty));
            self.check_assignable(&ty, &it, init.span);
        }
        self.decl_types.insert(v.id, ty.clone());
        self.declare(&v.name.name, v.name.span, Sym::Var { id: v.id, ty });
    }

    /// Report when `e` (already typed) cannot be written.
    pub(super) fn check_writable(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Name(n) => match self.lookup(&n.name).cloned() {
                Some(Sym::Var { .. }) => {}
                Some(Sym::Param { dir, .. }) => match dir {
                    Direction::Out | Direction::InOut => {}
                    Direction::In => self.error(
                        e.span,
                        format!("cannot assign to '{}': it is an 'in' parameter", n.name),
                    ),
                    Direction::None => self.error(
                        e.span,
                        format!(
                            "cannot assign to '{}': parameters without direction are read-only",
                            n.name
                        ),
                    ),
                },
                Some(Sym::Const { .. }) => {
                    self.error(e.span, format!("cannot assign to constant '{}'", n.name))
                }
                Some(_) => self.error(e.span, format!("cannot assign to '{}'", n.name)),
                None => {}
            },
            ExprKind::Member { base, .. } => {
                if matches!(self.refs.get(&base.id), Some(Resolved::TypeName(_)))
                    || matches!(base.kind, ExprKind::ErrorType)
                {
                    self.error(e.span, "cannot assign to an enum or error member");
                    return;
                }
                self.check_writable(base)
            }
            ExprKind::Index { base, .. } | ExprKind::Slice { base, .. } => {
                self.check_writable(base)
            }
            ExprKind::DontCare => {}
            _ => self.error(e.span, "this expression cannot be assigned to"),
        }
    }
}
