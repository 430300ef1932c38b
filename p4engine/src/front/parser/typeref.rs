//! Parsing of types: `bit<W>`, `int<W>`, `bool`, named types with type arguments, stacks.

use super::{PResult, Parser};
use crate::front::ast::{Expr, ExprKind, Ident, IntLit, Span, TypeRef};
use crate::front::lexer::Tok;

impl Parser<'_> {
    /// A type, with an optional stack suffix `[N]`.
    pub(super) fn type_ref(&mut self) -> PResult<TypeRef> {
        let base = self.base_type()?;
        if self.is_punct("[") {
            let span = self.bump().span;
            let size = self.expr()?;
            self.expect_punct("]")?;
            return Ok(TypeRef::Stack {
                elem: Box::new(base),
                size: Box::new(size),
                span,
            });
        }
        Ok(base)
    }

    /// A type without stack suffix.
    pub(super) fn base_type(&mut self) -> PResult<TypeRef> {
        let span = self.span();
        let Tok::Ident(name) = self.peek().clone() else {
            return Err(self.unexpected("a type"));
        };
        match name.as_str() {
            "bool" => {
                self.bump();
                Ok(TypeRef::Bool(span))
            }
            "error" => {
                self.bump();
                Ok(TypeRef::Error(span))
            }
            "void" => {
                self.bump();
                Ok(TypeRef::Void(span))
            }
            "string" => {
                self.bump();
                Ok(TypeRef::String(span))
            }
            "match_kind" => {
                self.bump();
                Ok(TypeRef::MatchKind(span))
            }
            "_" => {
                self.bump();
                Ok(TypeRef::DontCare(span))
            }
            "bit" | "int" | "varbit" => {
                self.bump();
                if !self.is_punct("<") {
                    return Ok(match name.as_str() {
                        "bit" => TypeRef::Bit {
                            width: Box::new(self.lit_expr(1, span)),
                            span,
                        },
                        "int" => TypeRef::InfInt(span),
                        _ => return Err(self.unexpected("'<' after varbit")),
                    });
                }
                self.bump();
                let width = if self.is_punct("(") {
                    self.bump();
                    let e = self.expr()?;
                    self.expect_punct(")")?;
                    e
                } else {
                    match self.peek().clone() {
                        Tok::Int(l) => {
                            let sp = self.bump().span;
                            let id = self.new_id();
                            Expr {
                                id,
                                span: sp,
                                kind: ExprKind::Int(l),
                            }
                        }
                        Tok::Ident(_) => {
                            let n = self.ident()?;
                            let id = self.new_id();
                            Expr {
                                id,
                                span: n.span,
                                kind: ExprKind::Name(n),
                            }
                        }
                        _ => return Err(self.unexpected("a width")),
                    }
                };
                self.expect_punct(">")?;
                let width = Box::new(width);
                Ok(match name.as_str() {
                    "bit" => TypeRef::Bit { width, span },
                    "int" => TypeRef::Int { width, span },
                    _ => TypeRef::VarBit { width, span },
                })
            }
            "tuple" => {
                self.bump();
                let elems = self.type_args()?;
                Ok(TypeRef::Tuple { elems, span })
            }
            _ => {
                let n = self.ident()?;
                let args = if self.is_punct("<") {
                    self.type_args()?
                } else {
                    Vec::new()
                };
                Ok(TypeRef::Named { name: n, args })
            }
        }
    }

    /// `<T1, T2, ...>`.
    pub(super) fn type_args(&mut self) -> PResult<Vec<TypeRef>> {
        self.expect_punct("<")?;
        let mut args = Vec::new();
        if !self.is_punct(">") {
            loop {
                args.push(self.type_ref()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(">")?;
        Ok(args)
    }

    /// Optional type parameters `<A, B>` of a declaration; they become type names.
    pub(super) fn type_params(&mut self) -> PResult<Vec<Ident>> {
        let mut out = Vec::new();
        if self.eat_punct("<") {
            loop {
                let n = self.ident()?;
                self.type_names.insert(n.name.clone());
                out.push(n);
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(">")?;
        }
        Ok(out)
    }

    pub(super) fn lit_expr(&mut self, v: u128, span: Span) -> Expr {
        let id = self.new_id();
        Expr {
            id,
            span,
            kind: ExprKind::Int(IntLit {
                value: v,
                width: None,
                negative: false,
            }),
        }
    }
}
