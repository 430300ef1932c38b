//! The checker: resolves names, computes the type of every expression, evaluates constants,
//! checks widths, directions, externs, match kinds and the `V1Switch` instantiation, and
//! produces a [`CheckedProgram`] or diagnostics.

mod blocks;
mod call;
mod consteval;
mod expr;
mod pipeline;
mod stmt;
mod typeres;

use std::collections::HashMap;

use super::ast::{
    ActionDecl, ControlDecl, Decl, Direction, ExprId, ExternDecl, FunctionProto, NodeId,
    ParserDecl, Program, Span, StructDecl, TypeRef,
};
use super::checked::{CheckedProgram, Pipeline, Resolved, Value};
use super::source::{Diagnostic, Diagnostics, SourceMap};
use super::types::{Type, TypeDef};

/// Extern functions declared by v1model that this target does not execute.
const UNSUPPORTED_EXTERN_FUNCTIONS: &[&str] =
    &["clone", "clone3", "resubmit", "recirculate", "truncate"];

/// A name visible as a value.
#[derive(Debug, Clone)]
enum Sym {
    Var {
        id: NodeId,
        ty: Type,
    },
    Param {
        id: NodeId,
        ty: Type,
        dir: Direction,
    },
    Const {
        id: NodeId,
        ty: Type,
        value: Option<Value>,
    },
    Instance {
        id: NodeId,
        ty: Type,
    },
    Action {
        id: NodeId,
    },
    Table {
        id: NodeId,
        name: String,
    },
}

/// A named type declaration.
#[derive(Debug, Clone)]
enum TypeEntry {
    Typedef(TypeRef),
    Header,
    Struct,
    Enum,
    Extern(ExternDecl),
    ParserType(FunctionProto),
    ControlType(FunctionProto),
    Package(FunctionProto),
    Parser,
    Control,
    HeaderUnion,
}

/// What the checker knows about an action.
#[derive(Debug, Clone)]
struct ActionInfo {
    name: String,
    /// (param id, name, direction, type)
    params: Vec<(NodeId, String, Direction, Type)>,
}

/// What the checker knows about a table.
#[derive(Debug, Clone)]
struct TableInfo {
    /// Actions of the `actions` list: (name as written, action id).
    actions: Vec<(String, NodeId)>,
}

/// Where statements are being checked (for `exit`, `return`, `transition`, table apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Parser,
    ControlApply,
    Action,
}

pub(crate) struct Checker<'a> {
    sources: &'a SourceMap,
    diags: Vec<Diagnostic>,
    types: HashMap<ExprId, Type>,
    refs: HashMap<ExprId, Resolved>,
    const_values: HashMap<ExprId, Value>,
    decl_types: HashMap<NodeId, Type>,
    type_defs: HashMap<String, TypeDef>,
    type_entries: HashMap<String, TypeEntry>,
    /// Resolved typedefs.
    typedef_cache: HashMap<String, Type>,
    /// Typedefs being resolved (cycle detection).
    typedef_stack: Vec<String>,
    errors: Vec<String>,
    match_kinds: Vec<String>,
    enum_names: HashMap<String, Vec<String>>,
    extern_fns: HashMap<String, FunctionProto>,
    scopes: Vec<HashMap<String, Sym>>,
    actions: HashMap<NodeId, ActionInfo>,
    tables: HashMap<NodeId, TableInfo>,
    /// Type variables in scope (generic extern methods).
    type_vars: Vec<String>,
    ctx: Ctx,
}

/// Check a parsed program.
pub fn check(program: Program, sources: SourceMap) -> Result<CheckedProgram, Diagnostics> {
    let (pipeline, ck) = {
        let mut ck = Checker::new(&sources);
        let pipeline = ck.run(&program);
        (pipeline, ck.into_tables())
    };
    let (mut diags, types, refs, const_values, decl_types, type_defs, errors) = ck;
    if diags.is_empty() {
        // Safety net for the contract: every expression of an accepted program has a type.
        let mut missing = None;
        super::walk::walk_program(&program, &mut |e| {
            if missing.is_none() && matches!(types.get(&e.id), None | Some(Type::Unknown)) {
                missing = Some(e.span);
            }
        });
        if let Some(span) = missing {
            diags.push(sources.diag(
                span,
                "unsupported construct: this expression could not be typed",
            ));
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    Ok(CheckedProgram {
        program,
        sources,
        types,
        refs,
        const_values,
        decl_types,
        type_defs,
        errors,
        pipeline,
    })
}

type Tables = (
    Vec<Diagnostic>,
    HashMap<ExprId, Type>,
    HashMap<ExprId, Resolved>,
    HashMap<ExprId, Value>,
    HashMap<NodeId, Type>,
    HashMap<String, TypeDef>,
    Vec<String>,
);

impl<'a> Checker<'a> {
    fn new(sources: &'a SourceMap) -> Self {
        Checker {
            sources,
            diags: Vec::new(),
            types: HashMap::new(),
            refs: HashMap::new(),
            const_values: HashMap::new(),
            decl_types: HashMap::new(),
            type_defs: HashMap::new(),
            type_entries: HashMap::new(),
            typedef_cache: HashMap::new(),
            typedef_stack: Vec::new(),
            errors: Vec::new(),
            match_kinds: Vec::new(),
            enum_names: HashMap::new(),
            extern_fns: HashMap::new(),
            scopes: vec![HashMap::new()],
            actions: HashMap::new(),
            tables: HashMap::new(),
            type_vars: Vec::new(),
            ctx: Ctx::ControlApply,
        }
    }

    fn into_tables(self) -> Tables {
        (
            self.diags,
            self.types,
            self.refs,
            self.const_values,
            self.decl_types,
            self.type_defs,
            self.errors,
        )
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        let d = self.sources.diag(span, msg);
        if !self.diags.contains(&d) {
            self.diags.push(d);
        }
    }

    fn push_scope(&mut self) {
        self.scopes.push(HashMap::new());
    }

    fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    fn declare(&mut self, name: &str, span: Span, sym: Sym) {
        let top = self.scopes.last_mut().expect("scope stack is never empty");
        if top.contains_key(name) {
            let msg = format!("'{name}' is declared twice in the same scope");
            self.error(span, msg);
            return;
        }
        top.insert(name.to_string(), sym);
    }

    fn lookup(&self, name: &str) -> Option<&Sym> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// Run all checks; returns the pipeline (default when the program has errors).
    fn run(&mut self, program: &Program) -> Pipeline {
        // Pass 1: register every named type (so declarations may refer to later types only
        // where P4 allows it: we accept any order).
        for d in &program.decls {
            self.register_type(d);
        }
        // Pass 2: check declarations in order.
        let mut pipeline = None;
        for d in &program.decls {
            match d {
                Decl::Const(c) => self.const_decl(c),
                Decl::Typedef(t) => {
                    let ty = self.resolve_type(&TypeRef::Named {
                        name: t.name.clone(),
                        args: Vec::new(),
                    });
                    if matches!(ty, Type::Extern { .. }) {
                        self.error(t.span, "typedef of an extern type is not supported");
                    }
                }
                Decl::Header(s) => self.header_decl(s),
                Decl::Struct(s) => self.struct_decl(s),
                Decl::HeaderUnion(s) => self.error(
                    s.span,
                    format!("unsupported construct: header_union '{}'", s.name),
                ),
                Decl::Enum(e) => self.enum_decl(e),
                Decl::Error(names, _) => {
                    for n in names {
                        if self.errors.contains(&n.name) {
                            self.error(n.span, format!("error member '{}' declared twice", n));
                        } else {
                            self.errors.push(n.name.clone());
                        }
                    }
                }
                Decl::MatchKind(names, _) => {
                    for n in names {
                        if !self.match_kinds.contains(&n.name) {
                            self.match_kinds.push(n.name.clone());
                        }
                    }
                }
                Decl::Extern(_)
                | Decl::ParserType(_)
                | Decl::ControlType(_)
                | Decl::Package(_)
                | Decl::ExternFunction(_) => {
                    // Only the built-in core.p4/v1model.p4 may declare externs and packages:
                    // the target executes exactly those.
                    let span = decl_span(d);
                    if !self.sources.name(span.file).starts_with('<') {
                        self.error(
                            span,
                            "unsupported construct: programs cannot declare their own externs, parser/control types or packages (this target provides core.p4 and v1model.p4)",
                        );
                    }
                }
                Decl::Action(a) => self.top_action(a),
                Decl::Function(f, _) => self.error(
                    f.span,
                    format!("unsupported construct: function '{}'", f.name),
                ),
                Decl::Parser(p) => self.parser_decl(p),
                Decl::Control(c) => self.control_decl(c),
                Decl::Instance(i) => {
                    if let Some(p) = self.package_instance(program, i) {
                        if pipeline.is_some() {
                            self.error(i.span, "more than one package instantiation");
                        }
                        pipeline = Some(p);
                    }
                }
                Decl::Unsupported { what, span } => {
                    self.error(*span, format!("unsupported construct: {what}"))
                }
            }
        }
        if pipeline.is_none() && self.diags.is_empty() {
            let span = program.decls.last().map(decl_span).unwrap_or_default();
            self.error(
                span,
                "the program has no package instantiation: expected 'V1Switch(...) main;'",
            );
        }
        pipeline.unwrap_or_default()
    }

    fn register_type(&mut self, d: &Decl) {
        let (name, entry) = match d {
            Decl::Typedef(t) => (&t.name, TypeEntry::Typedef(t.ty.clone())),
            Decl::Header(s) => (&s.name, TypeEntry::Header),
            Decl::HeaderUnion(s) => (&s.name, TypeEntry::HeaderUnion),
            Decl::Struct(s) => (&s.name, TypeEntry::Struct),
            Decl::Enum(e) => (&e.name, TypeEntry::Enum),
            Decl::Extern(e) => (&e.name, TypeEntry::Extern(e.clone())),
            Decl::ParserType(f) => (&f.name, TypeEntry::ParserType(f.clone())),
            Decl::ControlType(f) => (&f.name, TypeEntry::ControlType(f.clone())),
            Decl::Package(f) => (&f.name, TypeEntry::Package(f.clone())),
            Decl::Parser(p) => (&p.name, TypeEntry::Parser),
            Decl::Control(c) => (&c.name, TypeEntry::Control),
            Decl::ExternFunction(f) => {
                self.extern_fns.insert(f.name.name.clone(), f.clone());
                return;
            }
            _ => return,
        };
        if self.type_entries.contains_key(&name.name) {
            let msg = format!("type '{}' is declared twice", name.name);
            self.error(name.span, msg);
            return;
        }
        self.type_entries.insert(name.name.clone(), entry);
    }

    fn fields_of(&mut self, s: &StructDecl, header: bool) -> Vec<super::types::FieldDef> {
        let mut fields: Vec<super::types::FieldDef> = Vec::new();
        for f in &s.fields {
            let ty = self.resolve_type(&f.ty);
            if fields.iter().any(|g| g.name == f.name.name) {
                self.error(f.name.span, format!("field '{}' declared twice", f.name));
            }
            if header {
                match &ty {
                    Type::Bit(_) | Type::Int(_) | Type::SerEnum { .. } | Type::Unknown => {}
                    Type::Bool => {}
                    other => self.error(
                        f.ty.span(),
                        format!(
                            "header field '{}' has type {other}; header fields must be bit<W>, int<W>, bool or a serializable enum",
                            f.name
                        ),
                    ),
                }
            } else if matches!(ty, Type::Extern { .. } | Type::Void | Type::InfInt) {
                self.error(
                    f.ty.span(),
                    format!("struct field '{}' cannot have type {ty}", f.name),
                );
            }
            fields.push(super::types::FieldDef {
                name: f.name.name.clone(),
                ty,
            });
        }
        fields
    }

    fn header_decl(&mut self, s: &StructDecl) {
        let fields = self.fields_of(s, true);
        let controller_header = super::ast::find_annotation(&s.annotations, "controller_header")
            .and_then(|a| a.string_arg.clone());
        self.type_defs.insert(
            s.name.name.clone(),
            TypeDef::Header {
                fields,
                controller_header,
            },
        );
    }

    fn struct_decl(&mut self, s: &StructDecl) {
        let fields = self.fields_of(s, false);
        self.type_defs
            .insert(s.name.name.clone(), TypeDef::Struct { fields });
    }

    fn top_action(&mut self, a: &ActionDecl) {
        self.ctx = Ctx::Action;
        self.action_decl(a);
        self.ctx = Ctx::ControlApply;
    }

    fn parser_decl(&mut self, p: &ParserDecl) {
        self.ctx = Ctx::Parser;
        self.parser_body(p);
        self.ctx = Ctx::ControlApply;
    }

    fn control_decl(&mut self, c: &ControlDecl) {
        self.control_body(c);
    }
}

fn decl_span(d: &Decl) -> Span {
    match d {
        Decl::Const(c) => c.span,
        Decl::Typedef(t) => t.span,
        Decl::Header(s) | Decl::Struct(s) | Decl::HeaderUnion(s) => s.span,
        Decl::Enum(e) => e.span,
        Decl::Error(_, s) | Decl::MatchKind(_, s) => *s,
        Decl::Extern(e) => e.span,
        Decl::ExternFunction(f)
        | Decl::ParserType(f)
        | Decl::ControlType(f)
        | Decl::Package(f)
        | Decl::Function(f, _) => f.span,
        Decl::Action(a) => a.span,
        Decl::Parser(p) => p.span,
        Decl::Control(c) => c.span,
        Decl::Instance(i) => i.span,
        Decl::Unsupported { span, .. } => *span,
    }
}

#[cfg(test)]
mod tests;
