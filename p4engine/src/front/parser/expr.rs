//! Expression parsing by precedence climbing, with P4_16 precedences (bitwise operators bind
//! tighter than comparisons, unlike C), casts, generic calls, slices and keyset expressions.

use super::{PResult, Parser};
use crate::front::ast::{BinOp, Expr, ExprKind, Ident, Span, UnOp};
use crate::front::lexer::Tok;

/// Binding power of the prefix operators.
const PREFIX_BP: u8 = 12;

impl Parser<'_> {
    fn mk(&mut self, span: Span, kind: ExprKind) -> Expr {
        let id = self.new_id();
        Expr { id, span, kind }
    }

    /// A full expression (including `?:`).
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        self.expr_bp(0)
    }

    /// The binary operator at the current position and its binding power and token count.
    fn binop(&self) -> Option<(BinOp, u8, usize)> {
        let Tok::Punct(p) = self.peek() else {
            return None;
        };
        let r = match *p {
            "||" => (BinOp::Or, 2),
            "&&" => (BinOp::And, 3),
            "==" => (BinOp::Eq, 4),
            "!=" => (BinOp::Ne, 4),
            "<" => (BinOp::Lt, 5),
            "<=" => (BinOp::Le, 5),
            ">=" => (BinOp::Ge, 5),
            ">" => {
                if self.toks[self.pos].joined && self.is_punct_at(1, ">") {
                    return Some((BinOp::Shr, 9, 2));
                }
                (BinOp::Gt, 5)
            }
            "|" => (BinOp::BitOr, 6),
            "^" => (BinOp::BitXor, 7),
            "&" => (BinOp::BitAnd, 8),
            "<<" => (BinOp::Shl, 9),
            "++" => (BinOp::Concat, 10),
            "+" => (BinOp::Add, 10),
            "-" => (BinOp::Sub, 10),
            "|+|" => (BinOp::SatAdd, 10),
            "|-|" => (BinOp::SatSub, 10),
            "*" => (BinOp::Mul, 11),
            "/" => (BinOp::Div, 11),
            "%" => (BinOp::Mod, 11),
            _ => return None,
        };
        Some((r.0, r.1, 1))
    }

    fn expr_bp(&mut self, min_bp: u8) -> PResult<Expr> {
        self.enter()?;
        let r = self.expr_bp_inner(min_bp);
        self.leave();
        r
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            if self.is_punct("?") && min_bp <= 1 {
                let span = self.bump().span;
                let then = self.expr()?;
                self.expect_punct(":")?;
                let els = self.expr_bp(1)?;
                lhs = self.mk(
                    span,
                    ExprKind::Ternary {
                        cond: Box::new(lhs),
                        then: Box::new(then),
                        els: Box::new(els),
                    },
                );
                continue;
            }
            let Some((op, bp, ntok)) = self.binop() else {
                break;
            };
            if bp <= min_bp {
                break;
            }
            let span = self.span();
            for _ in 0..ntok {
                self.bump();
            }
            let rhs = self.expr_bp(bp)?;
            lhs = self.mk(
                span,
                ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
            );
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let op = match self.peek() {
            Tok::Punct("!") => Some(UnOp::Not),
            Tok::Punct("~") => Some(UnOp::BitNot),
            Tok::Punct("-") => Some(UnOp::Neg),
            Tok::Punct("+") => Some(UnOp::Plus),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let operand = self.expr_bp(PREFIX_BP)?;
            return Ok(self.mk(
                span,
                ExprKind::Unary {
                    op,
                    operand: Box::new(operand),
                },
            ));
        }
        if self.is_punct("(") && self.at_cast() {
            self.bump();
            let ty = self.type_ref()?;
            self.expect_punct(")")?;
            let e = self.expr_bp(PREFIX_BP)?;
            return Ok(self.mk(
                span,
                ExprKind::Cast {
                    ty,
                    expr: Box::new(e),
                },
            ));
        }
        let prim = self.primary()?;
        self.postfix(prim)
    }

    /// After `(`: does a type follow, closed by `)`?
    fn at_cast(&self) -> bool {
        match self.peek_at(1) {
            Tok::Ident(s) => match s.as_str() {
                "bit" | "int" | "bool" | "varbit" | "error" | "tuple" => true,
                _ => self.is_type_name(s) && (self.is_punct_at(2, ")") || self.is_punct_at(2, "<")),
            },
            _ => false,
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Int(l) => {
                self.bump();
                Ok(self.mk(span, ExprKind::Int(l)))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(self.mk(span, ExprKind::Str(s)))
            }
            Tok::Punct("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Punct("{") => {
                self.bump();
                let mut elems = Vec::new();
                if !self.is_punct("}") {
                    loop {
                        elems.push(self.expr()?);
                        if !self.eat_punct(",") || self.is_punct("}") {
                            break;
                        }
                    }
                }
                self.expect_punct("}")?;
                Ok(self.mk(span, ExprKind::List(elems)))
            }
            Tok::Punct(".") => Err(self.err(
                span,
                "unsupported construct: top-level scope names ('.name') are not supported",
            )),
            Tok::Ident(s) => {
                match s.as_str() {
                    "true" | "false" => {
                        self.bump();
                        return Ok(self.mk(span, ExprKind::Bool(s == "true")));
                    }
                    "error" => {
                        self.bump();
                        return Ok(self.mk(span, ExprKind::ErrorType));
                    }
                    "_" => {
                        self.bump();
                        return Ok(self.mk(span, ExprKind::DontCare));
                    }
                    "default" => {
                        self.bump();
                        return Ok(self.mk(span, ExprKind::Default));
                    }
                    _ => {}
                }
                let n = self.ident_or_kw_value()?;
                Ok(self.mk(span, ExprKind::Name(n)))
            }
            _ => Err(self.unexpected("an expression")),
        }
    }

    /// A name used as a value: any identifier except statement keywords.
    fn ident_or_kw_value(&mut self) -> PResult<Ident> {
        match self.peek() {
            Tok::Ident(s)
                if matches!(
                    s.as_str(),
                    "if" | "else"
                        | "return"
                        | "exit"
                        | "switch"
                        | "transition"
                        | "state"
                        | "action"
                        | "table"
                        | "control"
                        | "parser"
                        | "header"
                        | "struct"
                        | "const"
                ) =>
            {
                Err(self.unexpected("an expression"))
            }
            _ => self.ident_or_kw(),
        }
    }

    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            // A postfix expression starts where its base starts.
            let span = e.span;
            if self.is_punct(".") {
                self.bump();
                let member = self.ident_or_kw()?;
                e = self.mk(
                    span,
                    ExprKind::Member {
                        base: Box::new(e),
                        member,
                    },
                );
            } else if self.is_punct("[") {
                self.bump();
                let first = self.expr()?;
                if self.eat_punct(":") {
                    let lo = self.expr()?;
                    self.expect_punct("]")?;
                    e = self.mk(
                        span,
                        ExprKind::Slice {
                            base: Box::new(e),
                            hi: Box::new(first),
                            lo: Box::new(lo),
                        },
                    );
                } else {
                    self.expect_punct("]")?;
                    e = self.mk(
                        span,
                        ExprKind::Index {
                            base: Box::new(e),
                            index: Box::new(first),
                        },
                    );
                }
            } else if self.is_punct("(") {
                let args = self.call_args()?;
                e = self.mk(
                    e.span,
                    ExprKind::Call {
                        callee: Box::new(e),
                        type_args: Vec::new(),
                        args,
                    },
                );
            } else if self.is_punct("<")
                && matches!(e.kind, ExprKind::Name(_) | ExprKind::Member { .. })
            {
                // A generic call `f<T>(...)` or a comparison `a < b`.
                let Some(type_args) = self.try_parse(|p| {
                    let t = p.type_args()?;
                    if p.is_punct("(") {
                        Ok(t)
                    } else {
                        Err(p.unexpected("'('"))
                    }
                }) else {
                    break;
                };
                let args = self.call_args()?;
                e = self.mk(
                    e.span,
                    ExprKind::Call {
                        callee: Box::new(e),
                        type_args,
                        args,
                    },
                );
            } else {
                break;
            }
        }
        Ok(e)
    }

    /// `( arg, ... )`; named arguments are outside the subset.
    pub(super) fn call_args(&mut self) -> PResult<Vec<Expr>> {
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if !self.is_punct(")") {
            loop {
                if matches!(self.peek(), Tok::Ident(_)) && self.is_punct_at(1, "=") {
                    return Err(self.err(self.span(), "unsupported construct: named arguments"));
                }
                args.push(self.expr()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        Ok(args)
    }

    /// One keyset element: `e`, `e &&& m`, `lo .. hi`, `_` or `default`.
    pub(super) fn keyset_elem(&mut self) -> PResult<Expr> {
        let span = self.span();
        let e = self.expr()?;
        if self.eat_punct("&&&") {
            let m = self.expr()?;
            return Ok(self.mk(
                span,
                ExprKind::Mask {
                    value: Box::new(e),
                    mask: Box::new(m),
                },
            ));
        }
        if self.eat_punct("..") {
            let hi = self.expr()?;
            return Ok(self.mk(
                span,
                ExprKind::Range {
                    lo: Box::new(e),
                    hi: Box::new(hi),
                },
            ));
        }
        Ok(e)
    }

    /// A keyset: `(k1, k2)` or a single element.
    pub(super) fn keyset(&mut self) -> PResult<Vec<Expr>> {
        if self.is_punct("(") {
            let save = self.pos;
            self.bump();
            let mut keys = Vec::new();
            loop {
                keys.push(self.keyset_elem()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
            if self.is_punct(":") {
                return Ok(keys);
            }
            // A parenthesised expression followed by more: re-parse as one element.
            self.pos = save;
        }
        Ok(vec![self.keyset_elem()?])
    }
}
