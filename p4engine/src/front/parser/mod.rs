//! Recursive-descent parser from preprocessed tokens to the [`crate::front::ast`]. Expressions
//! use precedence climbing with P4_16's precedence table. The parser keeps the set of type
//! names declared so far to tell declarations from expressions (`T x;` vs `a = b;`) and casts
//! from parenthesised expressions.

mod decl;
mod expr;
mod stmt;
mod typeref;

use std::collections::HashSet;

use super::ast::{Annotation, Ident, NodeId, Program, Span};
use super::lexer::{Tok, Token};
use super::source::{Diagnostic, Diagnostics, SourceMap};

/// Parse a preprocessed token stream (ending with `Eof`) into a program.
pub fn parse(mut tokens: Vec<Token>, sources: &SourceMap) -> Result<Program, Diagnostics> {
    if !matches!(tokens.last(), Some(Token { tok: Tok::Eof, .. })) {
        let span = tokens.last().map(|t| t.span).unwrap_or_default();
        tokens.push(Token {
            tok: Tok::Eof,
            span,
            joined: false,
        });
    }
    let mut p = Parser {
        depth: 0,
        toks: tokens,
        pos: 0,
        next_id: 0,
        type_names: HashSet::new(),
        sources,
    };
    let mut decls = Vec::new();
    while !p.at_eof() {
        match p.top_decl() {
            Ok(d) => decls.push(d),
            Err(e) => return Err(Diagnostics::single(e)),
        }
    }
    Ok(Program {
        decls,
        next_node_id: p.next_id,
    })
}

pub(crate) type PResult<T> = Result<T, Diagnostic>;

/// Deepest nesting of expressions/statements accepted.
const MAX_DEPTH: u32 = 100;

pub(crate) struct Parser<'a> {
    /// Current nesting of expressions and statements (bounded, so deep input cannot exhaust
    /// the stack).
    depth: u32,
    toks: Vec<Token>,
    pos: usize,
    next_id: u32,
    /// Names declared as types so far (headers, structs, typedefs, enums, externs, parser
    /// and control types, packages, and the type parameters in scope).
    type_names: HashSet<String>,
    sources: &'a SourceMap,
}

const KEYWORDS: &[&str] = &[
    "action",
    "apply",
    "bit",
    "bool",
    "const",
    "control",
    "default",
    "else",
    "entries",
    "enum",
    "error",
    "exit",
    "extern",
    "false",
    "header",
    "header_union",
    "if",
    "in",
    "inout",
    "int",
    "key",
    "match_kind",
    "out",
    "package",
    "parser",
    "return",
    "select",
    "state",
    "string",
    "struct",
    "switch",
    "table",
    "transition",
    "true",
    "tuple",
    "type",
    "typedef",
    "varbit",
    "value_set",
    "void",
];

impl Parser<'_> {
    fn new_id(&mut self) -> NodeId {
        let id = NodeId(self.next_id);
        self.next_id += 1;
        id
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    fn span(&self) -> Span {
        self.toks[self.pos].span
    }

    fn at_eof(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn is_punct_at(&self, n: usize, p: &str) -> bool {
        matches!(self.peek_at(n), Tok::Punct(q) if *q == p)
    }

    fn is_kw(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == k)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, k: &str) -> bool {
        if self.is_kw(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn err(&self, span: Span, msg: impl Into<String>) -> Diagnostic {
        self.sources.diag(span, msg)
    }

    fn describe(t: &Tok) -> String {
        match t {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Int(l) => format!("integer {}", l.value),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Directive(d) => format!("'#{d}'"),
            Tok::Eof => "end of file".to_string(),
        }
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        self.err(
            self.span(),
            format!(
                "syntax error: expected {expected}, found {}",
                Self::describe(self.peek())
            ),
        )
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.is_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(&format!("'{p}'")))
        }
    }

    fn expect_kw(&mut self, k: &str) -> PResult<Span> {
        if self.is_kw(k) {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(&format!("'{k}'")))
        }
    }

    /// An identifier that is not a reserved keyword.
    fn ident(&mut self) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Ident(s) if !KEYWORDS.contains(&s.as_str()) => {
                let span = self.bump().span;
                Ok(Ident { name: s, span })
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    /// A name where some keywords are allowed as plain names (member names such as `apply`,
    /// `key`, `entries`, parameter names such as `type`).
    fn ident_or_kw(&mut self) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let span = self.bump().span;
                Ok(Ident { name: s, span })
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    /// Enter one level of nesting; fails beyond [`MAX_DEPTH`].
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                self.span(),
                "expressions or statements are nested too deeply",
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn is_type_name(&self, s: &str) -> bool {
        self.type_names.contains(s)
    }

    /// Zero or more annotations.
    fn annotations(&mut self) -> PResult<Vec<Annotation>> {
        let mut out = Vec::new();
        while self.is_punct("@") {
            let span = self.bump().span;
            let name = self.ident_or_kw()?.name;
            let mut body = None;
            let mut string_arg = None;
            let mut int_arg = None;
            if self.is_punct("(") && self.toks[self.pos - 1].joined {
                self.bump();
                let mut depth = 0usize;
                let mut parts: Vec<String> = Vec::new();
                let mut raw: Vec<Tok> = Vec::new();
                loop {
                    let t = self.peek().clone();
                    match &t {
                        Tok::Eof => return Err(self.unexpected("')' closing the annotation")),
                        Tok::Punct("(") | Tok::Punct("[") => depth += 1,
                        Tok::Punct(")") if depth == 0 => {
                            self.bump();
                            break;
                        }
                        Tok::Punct(")") | Tok::Punct("]") => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    parts.push(match &t {
                        Tok::Ident(s) => s.clone(),
                        Tok::Int(l) => l.value.to_string(),
                        Tok::Str(s) => {
                            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
                        }
                        Tok::Punct(p) => p.to_string(),
                        Tok::Directive(d) => d.clone(),
                        Tok::Eof => String::new(),
                    });
                    raw.push(t);
                    self.bump();
                }
                match raw.as_slice() {
                    [Tok::Str(s)] => string_arg = Some(s.clone()),
                    [Tok::Int(l)] => int_arg = Some(l.value),
                    _ => {}
                }
                body = Some(join_tokens(&raw, &parts));
            }
            out.push(Annotation {
                name,
                body,
                string_arg,
                int_arg,
                span,
            });
        }
        Ok(out)
    }

    /// Run `f` speculatively: on failure restore the position and return `None`.
    fn try_parse<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> Option<T> {
        let save = self.pos;
        match f(self) {
            Ok(v) => Some(v),
            Err(_) => {
                self.pos = save;
                None
            }
        }
    }
}

/// Source-like text of annotation tokens: a space after commas and between words, none
/// around brackets and dots.
fn join_tokens(raw: &[Tok], parts: &[String]) -> String {
    let mut out = String::new();
    for (i, (t, p)) in raw.iter().zip(parts).enumerate() {
        if i > 0 {
            let prev = &raw[i - 1];
            let tight = matches!(
                t,
                Tok::Punct(",") | Tok::Punct(")") | Tok::Punct("]") | Tok::Punct(".")
            ) || matches!(prev, Tok::Punct("(") | Tok::Punct("[") | Tok::Punct("."));
            if !tight {
                out.push(' ');
            }
        }
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests;
