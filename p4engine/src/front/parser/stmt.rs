//! Statement parsing: blocks, assignments, calls, if/else, switch, exit, return, local
//! variable and constant declarations.

use super::{PResult, Parser};
use crate::front::ast::{Block, ConstDecl, Stmt, StmtKind, SwitchCase, SwitchLabel, VarDecl};
use crate::front::lexer::Tok;

impl Parser<'_> {
    pub(super) fn block(&mut self) -> PResult<Block> {
        let span = self.expect_punct("{")?;
        let mut stmts = Vec::new();
        while !self.is_punct("}") {
            if self.at_eof() {
                return Err(self.unexpected("'}'"));
            }
            stmts.push(self.stmt()?);
        }
        self.bump();
        Ok(Block { stmts, span })
    }

    /// Whether the tokens at the current position start a variable declaration.
    pub(super) fn at_var_decl(&self) -> bool {
        let Tok::Ident(s) = self.peek() else {
            return false;
        };
        match s.as_str() {
            "bit" | "int" | "bool" | "varbit" | "tuple" => true,
            "error" => matches!(self.peek_at(1), Tok::Ident(_)),
            _ => {
                self.is_type_name(s)
                    && (matches!(self.peek_at(1), Tok::Ident(_))
                        || self.is_punct_at(1, "<")
                        || self.is_punct_at(1, "["))
            }
        }
    }

    pub(super) fn stmt(&mut self) -> PResult<Stmt> {
        self.enter()?;
        let r = self.stmt_inner();
        self.leave();
        r
    }

    fn stmt_inner(&mut self) -> PResult<Stmt> {
        let annotations = self.annotations()?;
        let span = self.span();
        if self.is_punct("{") {
            let b = self.block()?;
            return Ok(Stmt {
                kind: StmtKind::Block(b),
                span,
            });
        }
        if self.eat_punct(";") {
            return Ok(Stmt {
                kind: StmtKind::Empty,
                span,
            });
        }
        if self.eat_kw("if") {
            self.expect_punct("(")?;
            let cond = self.expr()?;
            self.expect_punct(")")?;
            let then = Box::new(self.stmt()?);
            let els = if self.eat_kw("else") {
                Some(Box::new(self.stmt()?))
            } else {
                None
            };
            return Ok(Stmt {
                kind: StmtKind::If { cond, then, els },
                span,
            });
        }
        if self.eat_kw("exit") {
            self.expect_punct(";")?;
            return Ok(Stmt {
                kind: StmtKind::Exit,
                span,
            });
        }
        if self.eat_kw("return") {
            let e = if self.is_punct(";") {
                None
            } else {
                Some(self.expr()?)
            };
            self.expect_punct(";")?;
            return Ok(Stmt {
                kind: StmtKind::Return(e),
                span,
            });
        }
        if self.eat_kw("switch") {
            return self.switch_stmt(span);
        }
        if self.is_kw("const") {
            let c = self.const_decl(annotations)?;
            return Ok(Stmt {
                kind: StmtKind::Const(c),
                span,
            });
        }
        for kw in ["for", "while", "break", "continue"] {
            if self.is_kw(kw) {
                return Err(self.err(span, format!("unsupported construct: '{kw}' statement")));
            }
        }
        if self.at_var_decl() {
            let v = self.var_decl(annotations)?;
            return Ok(Stmt {
                kind: StmtKind::Var(v),
                span,
            });
        }
        let lhs = self.expr()?;
        if self.eat_punct("=") {
            let rhs = self.expr()?;
            self.expect_punct(";")?;
            return Ok(Stmt {
                kind: StmtKind::Assign { lhs, rhs },
                span,
            });
        }
        if let Tok::Punct(p) = self.peek()
            && p.len() <= 3
            && self.is_punct_at(1, "=")
            && [
                "+", "-", "*", "|", "&", "^", "<<", "/", "%", "|+|", "|-|", "++",
            ]
            .contains(p)
            && self.toks[self.pos].joined
        {
            return Err(self.err(
                self.span(),
                format!("unsupported construct: compound assignment '{p}='"),
            ));
        }
        self.expect_punct(";")?;
        Ok(Stmt {
            kind: StmtKind::Call(lhs),
            span,
        })
    }

    fn switch_stmt(&mut self, span: crate::front::ast::Span) -> PResult<Stmt> {
        self.expect_punct("(")?;
        let expr = self.expr()?;
        self.expect_punct(")")?;
        self.expect_punct("{")?;
        let mut cases = Vec::new();
        while !self.is_punct("}") {
            let cspan = self.span();
            let label = if self.eat_kw("default") {
                SwitchLabel::Default(cspan)
            } else {
                let n = self.ident()?;
                let id = self.new_id();
                SwitchLabel::Name(n, id)
            };
            self.expect_punct(":")?;
            let body = if self.is_punct("{") {
                Some(self.block()?)
            } else {
                None
            };
            cases.push(SwitchCase {
                label,
                body,
                span: cspan,
            });
        }
        self.bump();
        Ok(Stmt {
            kind: StmtKind::Switch { expr, cases },
            span,
        })
    }

    pub(super) fn var_decl(
        &mut self,
        annotations: Vec<crate::front::ast::Annotation>,
    ) -> PResult<VarDecl> {
        let span = self.span();
        let ty = self.type_ref()?;
        let name = self.ident()?;
        let init = if self.eat_punct("=") {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect_punct(";")?;
        let id = self.new_id();
        Ok(VarDecl {
            id,
            annotations,
            ty,
            name,
            init,
            span,
        })
    }

    pub(super) fn const_decl(
        &mut self,
        annotations: Vec<crate::front::ast::Annotation>,
    ) -> PResult<ConstDecl> {
        let span = self.expect_kw("const")?;
        let ty = self.type_ref()?;
        let name = self.ident()?;
        self.expect_punct("=")?;
        let value = self.expr()?;
        self.expect_punct(";")?;
        let id = self.new_id();
        Ok(ConstDecl {
            id,
            annotations,
            ty,
            name,
            value,
            span,
        })
    }
}
