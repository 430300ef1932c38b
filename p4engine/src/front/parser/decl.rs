//! Declarations: top-level declarations, parsers with states, controls with actions, tables
//! and instances, externs, packages.

use super::{PResult, Parser};
use crate::front::ast::{
    ActionDecl, ActionRef, Annotation, ControlDecl, Decl, DefaultAction, Direction, Entries,
    EnumDecl, ExternDecl, Field, FunctionProto, Ident, InstanceDecl, KeyElement, Local,
    OtherProperty, Param, ParserDecl, ParserState, SelectCase, Span, StructDecl, TableDecl,
    TableEntry, Transition, TypedefDecl,
};
use crate::front::lexer::Tok;

/// The head of a parser or control declaration (see `Parser::block_head`).
enum BlockHead {
    /// `parser P(...);` / `control C(...);`: a type declaration.
    Prototype(FunctionProto),
    /// A declaration with a body, positioned after its opening `{`.
    Body(BodyHead),
}

/// The head of a parser or control declaration that has a body.
struct BodyHead {
    annotations: Vec<Annotation>,
    name: Ident,
    type_params: Vec<Ident>,
    params: Vec<Param>,
    ctor_params: Vec<Param>,
}

impl Parser<'_> {
    pub(super) fn top_decl(&mut self) -> PResult<Decl> {
        let annotations = self.annotations()?;
        let span = self.span();
        let Tok::Ident(kw) = self.peek().clone() else {
            return Err(self.unexpected("a declaration"));
        };
        match kw.as_str() {
            "const" => Ok(Decl::Const(self.const_decl(annotations)?)),
            "typedef" | "type" => {
                self.bump();
                let ty = self.type_ref()?;
                let name = self.ident()?;
                self.expect_punct(";")?;
                self.type_names.insert(name.name.clone());
                Ok(Decl::Typedef(TypedefDecl {
                    annotations,
                    ty,
                    name,
                    is_new_type: kw == "type",
                    span,
                }))
            }
            "header" | "struct" | "header_union" => {
                self.bump();
                let name = self.ident()?;
                self.type_names.insert(name.name.clone());
                if self.is_punct("<") {
                    return Err(self.err(
                        self.span(),
                        "unsupported construct: generic struct or header types",
                    ));
                }
                self.expect_punct("{")?;
                let mut fields = Vec::new();
                while !self.eat_punct("}") {
                    let fa = self.annotations()?;
                    let ty = self.type_ref()?;
                    let fname = self.ident_or_kw()?;
                    self.expect_punct(";")?;
                    fields.push(Field {
                        annotations: fa,
                        ty,
                        name: fname,
                    });
                }
                let s = StructDecl {
                    annotations,
                    name,
                    fields,
                    span,
                };
                Ok(match kw.as_str() {
                    "header" => Decl::Header(s),
                    "struct" => Decl::Struct(s),
                    _ => Decl::HeaderUnion(s),
                })
            }
            "enum" => {
                self.bump();
                let repr = if self.is_kw("bit") || self.is_kw("int") {
                    Some(self.base_type()?)
                } else {
                    None
                };
                let name = self.ident()?;
                self.type_names.insert(name.name.clone());
                self.expect_punct("{")?;
                let mut members = Vec::new();
                while !self.is_punct("}") {
                    let m = self.ident_or_kw()?;
                    let v = if self.eat_punct("=") {
                        Some(self.expr()?)
                    } else {
                        None
                    };
                    members.push((m, v));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct("}")?;
                Ok(Decl::Enum(EnumDecl {
                    annotations,
                    name,
                    repr,
                    members,
                    span,
                }))
            }
            "error" | "match_kind" => {
                self.bump();
                self.expect_punct("{")?;
                let mut names = Vec::new();
                while !self.is_punct("}") {
                    names.push(self.ident_or_kw()?);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct("}")?;
                Ok(if kw == "error" {
                    Decl::Error(names, span)
                } else {
                    Decl::MatchKind(names, span)
                })
            }
            "extern" => self.extern_decl(annotations, span),
            "action" => Ok(Decl::Action(self.action_decl(annotations)?)),
            "parser" => self.parser_decl(annotations, span),
            "control" => self.control_decl(annotations, span),
            "package" => {
                self.bump();
                let name = self.ident()?;
                self.type_names.insert(name.name.clone());
                let (type_params, params) = self.scoped_signature()?;
                self.expect_punct(";")?;
                Ok(Decl::Package(FunctionProto {
                    annotations,
                    ret: None,
                    name,
                    type_params,
                    params,
                    span,
                }))
            }
            "value_set" | "action_profile" | "action_selector" => {
                Err(self.err(span, format!("unsupported construct: '{kw}'")))
            }
            _ => {
                // An instantiation `T(args) name;` or a function `T name(...) { }`.
                let ty = self.type_ref()?;
                if self.is_punct("(") {
                    let args = self.call_args()?;
                    let name = self.ident()?;
                    self.expect_punct(";")?;
                    let id = self.new_id();
                    return Ok(Decl::Instance(InstanceDecl {
                        id,
                        annotations,
                        ty,
                        args,
                        name,
                        span,
                    }));
                }
                let name = self.ident()?;
                if self.is_punct("(") || self.is_punct("<") {
                    return Err(self.err(
                        span,
                        format!(
                            "unsupported construct: function declaration '{}'",
                            name.name
                        ),
                    ));
                }
                Err(self.err(
                    span,
                    format!(
                        "unsupported construct: top-level variable declaration '{}'",
                        name.name
                    ),
                ))
            }
        }
    }

    /// Type parameters and parameters; the type parameters are type names only inside.
    fn scoped_signature(&mut self) -> PResult<(Vec<Ident>, Vec<Param>)> {
        let before: Vec<String> = Vec::new();
        let tps = self.type_params()?;
        let params = self.params()?;
        self.drop_type_params(&tps, &before);
        Ok((tps, params))
    }

    fn drop_type_params(&mut self, tps: &[Ident], keep: &[String]) {
        for t in tps {
            if !keep.contains(&t.name) {
                self.type_names.remove(&t.name);
            }
        }
    }

    /// `( [annotations] [direction] Type name [= default], ... )`
    pub(super) fn params(&mut self) -> PResult<Vec<Param>> {
        self.expect_punct("(")?;
        let mut out = Vec::new();
        if !self.is_punct(")") {
            loop {
                let annotations = self.annotations()?;
                let span = self.span();
                let direction = if self.eat_kw("in") {
                    Direction::In
                } else if self.eat_kw("out") {
                    Direction::Out
                } else if self.eat_kw("inout") {
                    Direction::InOut
                } else {
                    Direction::None
                };
                let ty = self.type_ref()?;
                let name = self.ident_or_kw()?;
                let default = if self.eat_punct("=") {
                    Some(self.expr()?)
                } else {
                    None
                };
                let id = self.new_id();
                out.push(Param {
                    id,
                    annotations,
                    direction,
                    ty,
                    name,
                    default,
                    span,
                });
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        Ok(out)
    }

    fn extern_decl(&mut self, annotations: Vec<Annotation>, span: Span) -> PResult<Decl> {
        self.bump();
        // `extern Name [<T>] { ... }` or `extern Ret name[<T>](...);`
        let is_object = matches!(self.peek(), Tok::Ident(_))
            && (self.is_punct_at(1, "{")
                || (self.is_punct_at(1, "<") && {
                    let save = self.pos;
                    self.bump();
                    let ok = self
                        .try_parse(|p| {
                            p.expect_punct("<")?;
                            loop {
                                p.ident()?;
                                if !p.eat_punct(",") {
                                    break;
                                }
                            }
                            p.expect_punct(">")?;
                            p.expect_punct("{")
                        })
                        .is_some();
                    self.pos = save;
                    ok
                }));
        if !is_object {
            let ret = self.type_ref()?;
            let name = self.ident()?;
            let tps = self.type_params()?;
            let params = self.params()?;
            self.drop_type_params(&tps, &[]);
            self.expect_punct(";")?;
            return Ok(Decl::ExternFunction(FunctionProto {
                annotations,
                ret: Some(ret),
                name,
                type_params: tps,
                params,
                span,
            }));
        }
        let name = self.ident()?;
        self.type_names.insert(name.name.clone());
        let tps = self.type_params()?;
        self.expect_punct("{")?;
        let mut methods = Vec::new();
        while !self.eat_punct("}") {
            let ma = self.annotations()?;
            let mspan = self.span();
            if self.is_kw("abstract") {
                return Err(self.err(mspan, "unsupported construct: abstract extern methods"));
            }
            let is_ctor =
                matches!(self.peek(), Tok::Ident(s) if *s == name.name) && self.is_punct_at(1, "(");
            let (ret, mname) = if is_ctor {
                (None, self.ident()?)
            } else {
                let r = self.type_ref()?;
                (Some(r), self.ident_or_kw()?)
            };
            let mtps = self.type_params()?;
            let params = self.params()?;
            self.drop_type_params(&mtps, &[]);
            self.expect_punct(";")?;
            methods.push(FunctionProto {
                annotations: ma,
                ret,
                name: mname,
                type_params: mtps,
                params,
                span: mspan,
            });
        }
        self.drop_type_params(&tps, &[]);
        Ok(Decl::Extern(ExternDecl {
            annotations,
            name,
            type_params: tps,
            methods,
            span,
        }))
    }

    pub(super) fn action_decl(&mut self, annotations: Vec<Annotation>) -> PResult<ActionDecl> {
        let span = self.expect_kw("action")?;
        let name = self.ident()?;
        let params = self.params()?;
        let body = self.block()?;
        let id = self.new_id();
        Ok(ActionDecl {
            id,
            annotations,
            name,
            params,
            body,
            span,
        })
    }

    /// What a parser and a control declaration share: the keyword, name, type parameters and
    /// parameters, then either `;` (a type declaration) or constructor parameters and the `{`
    /// that opens the body.
    fn block_head(&mut self, annotations: Vec<Annotation>, span: Span) -> PResult<BlockHead> {
        self.bump();
        let name = self.ident()?;
        let type_params = self.type_params()?;
        let params = self.params()?;
        if self.eat_punct(";") {
            self.drop_type_params(&type_params, &[]);
            self.type_names.insert(name.name.clone());
            return Ok(BlockHead::Prototype(FunctionProto {
                annotations,
                ret: None,
                name,
                type_params,
                params,
                span,
            }));
        }
        let ctor_params = if self.is_punct("(") {
            self.params()?
        } else {
            Vec::new()
        };
        self.expect_punct("{")?;
        Ok(BlockHead::Body(BodyHead {
            annotations,
            name,
            type_params,
            params,
            ctor_params,
        }))
    }

    fn parser_decl(&mut self, annotations: Vec<Annotation>, span: Span) -> PResult<Decl> {
        let head = match self.block_head(annotations, span)? {
            BlockHead::Prototype(proto) => return Ok(Decl::ParserType(proto)),
            BlockHead::Body(head) => head,
        };
        let mut locals = Vec::new();
        let mut states = Vec::new();
        while !self.eat_punct("}") {
            let la = self.annotations()?;
            if self.is_kw("state") {
                states.push(self.parser_state(la)?);
            } else {
                locals.push(self.local(la)?);
            }
        }
        self.drop_type_params(&head.type_params, &[]);
        Ok(Decl::Parser(ParserDecl {
            annotations: head.annotations,
            name: head.name,
            type_params: head.type_params,
            params: head.params,
            ctor_params: head.ctor_params,
            locals,
            states,
            span,
        }))
    }

    fn parser_state(&mut self, annotations: Vec<Annotation>) -> PResult<ParserState> {
        let span = self.expect_kw("state")?;
        let name = self.ident_or_kw()?;
        self.expect_punct("{")?;
        let mut stmts = Vec::new();
        let mut transition = None;
        while !self.eat_punct("}") {
            if self.is_kw("transition") {
                let tspan = self.bump().span;
                transition = Some(if self.eat_kw("select") {
                    self.expect_punct("(")?;
                    let mut exprs = Vec::new();
                    loop {
                        exprs.push(self.expr()?);
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                    self.expect_punct(")")?;
                    self.expect_punct("{")?;
                    let mut cases = Vec::new();
                    while !self.eat_punct("}") {
                        let cspan = self.span();
                        let keys = self.keyset()?;
                        self.expect_punct(":")?;
                        let next = self.ident_or_kw()?;
                        self.expect_punct(";")?;
                        cases.push(SelectCase {
                            keys,
                            next,
                            span: cspan,
                        });
                    }
                    Transition::Select {
                        exprs,
                        cases,
                        span: tspan,
                    }
                } else {
                    let n = self.ident_or_kw()?;
                    self.expect_punct(";")?;
                    Transition::Direct(n)
                });
                if !self.is_punct("}") {
                    return Err(self.unexpected("'}' after the transition"));
                }
            } else {
                stmts.push(self.stmt()?);
            }
        }
        let id = self.new_id();
        Ok(ParserState {
            id,
            annotations,
            name,
            stmts,
            transition,
            span,
        })
    }

    /// A local declaration of a parser or control.
    fn local(&mut self, annotations: Vec<Annotation>) -> PResult<Local> {
        let span = self.span();
        if self.is_kw("const") {
            return Ok(Local::Const(self.const_decl(annotations)?));
        }
        if self.is_kw("action") {
            return Ok(Local::Action(self.action_decl(annotations)?));
        }
        if self.is_kw("table") {
            return Ok(Local::Table(self.table_decl(annotations)?));
        }
        if self.is_kw("value_set") {
            return Err(self.err(span, "unsupported construct: 'value_set'"));
        }
        let ty = self.type_ref()?;
        if self.is_punct("(") {
            let args = self.call_args()?;
            let name = self.ident()?;
            self.expect_punct(";")?;
            let id = self.new_id();
            return Ok(Local::Instance(InstanceDecl {
                id,
                annotations,
                ty,
                args,
                name,
                span,
            }));
        }
        let name = self.ident()?;
        let init = if self.eat_punct("=") {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect_punct(";")?;
        let id = self.new_id();
        Ok(Local::Var(crate::front::ast::VarDecl {
            id,
            annotations,
            ty,
            name,
            init,
            span,
        }))
    }

    fn control_decl(&mut self, annotations: Vec<Annotation>, span: Span) -> PResult<Decl> {
        let head = match self.block_head(annotations, span)? {
            BlockHead::Prototype(proto) => return Ok(Decl::ControlType(proto)),
            BlockHead::Body(head) => head,
        };
        let mut locals = Vec::new();
        loop {
            let la = self.annotations()?;
            if self.is_kw("apply") {
                break;
            }
            if self.is_punct("}") || self.at_eof() {
                return Err(self.unexpected("'apply' block of the control"));
            }
            locals.push(self.local(la)?);
        }
        self.expect_kw("apply")?;
        let apply = self.block()?;
        self.expect_punct("}")?;
        self.drop_type_params(&head.type_params, &[]);
        Ok(Decl::Control(ControlDecl {
            annotations: head.annotations,
            name: head.name,
            type_params: head.type_params,
            params: head.params,
            ctor_params: head.ctor_params,
            locals,
            apply,
            span,
        }))
    }

    fn action_ref(&mut self) -> PResult<ActionRef> {
        let annotations = self.annotations()?;
        let span = self.span();
        let name = self.ident()?;
        let args = if self.is_punct("(") {
            Some(self.call_args()?)
        } else {
            None
        };
        let id = self.new_id();
        Ok(ActionRef {
            id,
            annotations,
            name,
            args,
            span,
        })
    }

    fn table_decl(&mut self, annotations: Vec<Annotation>) -> PResult<TableDecl> {
        let span = self.expect_kw("table")?;
        let name = self.ident()?;
        self.expect_punct("{")?;
        let mut t = TableDecl {
            id: self.new_id(),
            annotations,
            name,
            key: Vec::new(),
            actions: Vec::new(),
            default_action: None,
            entries: None,
            size: None,
            others: Vec::new(),
            span,
        };
        while !self.eat_punct("}") {
            let _pa = self.annotations()?;
            let pspan = self.span();
            let is_const = self.eat_kw("const");
            let pname = self.ident_or_kw()?;
            match pname.name.as_str() {
                "key" => {
                    self.expect_punct("=")?;
                    self.expect_punct("{")?;
                    while !self.eat_punct("}") {
                        let kspan = self.span();
                        let expr = self.expr()?;
                        self.expect_punct(":")?;
                        let match_kind = self.ident_or_kw()?;
                        let ka = self.annotations()?;
                        self.expect_punct(";")?;
                        t.key.push(KeyElement {
                            expr,
                            match_kind,
                            annotations: ka,
                            span: kspan,
                        });
                    }
                }
                "actions" => {
                    self.expect_punct("=")?;
                    self.expect_punct("{")?;
                    while !self.eat_punct("}") {
                        t.actions.push(self.action_ref()?);
                        self.expect_punct(";")?;
                    }
                }
                "default_action" => {
                    self.expect_punct("=")?;
                    let action = self.action_ref()?;
                    self.expect_punct(";")?;
                    t.default_action = Some(DefaultAction {
                        is_const,
                        action,
                        span: pspan,
                    });
                }
                "entries" => {
                    self.expect_punct("=")?;
                    self.expect_punct("{")?;
                    let mut entries = Vec::new();
                    while !self.eat_punct("}") {
                        let ea = self.annotations()?;
                        let espan = self.span();
                        let priority = if self.is_kw("priority") && self.is_punct_at(1, "=") {
                            self.bump();
                            self.bump();
                            let p = self.expr()?;
                            self.expect_punct(":")?;
                            Some(p)
                        } else {
                            None
                        };
                        let keys = self.keyset()?;
                        self.expect_punct(":")?;
                        let action = self.action_ref()?;
                        self.expect_punct(";")?;
                        entries.push(TableEntry {
                            annotations: ea,
                            keys,
                            action,
                            priority,
                            span: espan,
                        });
                    }
                    t.entries = Some(Entries {
                        is_const,
                        entries,
                        span: pspan,
                    });
                }
                "size" => {
                    self.expect_punct("=")?;
                    t.size = Some(self.expr()?);
                    self.expect_punct(";")?;
                }
                _ => {
                    self.expect_punct("=")?;
                    let value = self.expr()?;
                    self.expect_punct(";")?;
                    t.others.push(OtherProperty {
                        is_const,
                        name: pname,
                        value,
                        span: pspan,
                    });
                }
            }
        }
        Ok(t)
    }
}
