//! Lowering from the checked AST to the IR: storage allocation (every scalar gets a slot,
//! every header instance an id), name resolution to slots, tables, actions and externs, and
//! v1model's `V1Switch` roles. Constructs outside the supported subset are diagnostics.
//!
//! This module holds the lowerer itself, the `V1Switch` roles and the controls; the rest is by
//! topic: `storage` (slots, headers, stacks, standard metadata), `externs` (registers,
//! counters, meters, digests), `tables` (tables and their actions), `parser` (parser states and
//! the deparser), `expr` and `stmt` (expressions and statements), `ids` (P4Info ids).

mod expr;
mod externs;
mod ids;
mod parser;
mod stmt;
mod storage;
mod tables;

use std::collections::HashMap;

use crate::front::ast::{self, NodeId, Span};
use crate::front::types::Type;
use crate::front::{CheckedProgram, Diagnostic, Diagnostics, SourceMap};

use super::{Program, Slot, StackId, TableId};

pub use ids::{assign_ids, sync_with_p4info};

/// Runs the front-end checker.
pub fn check(program: ast::Program, sources: SourceMap) -> Result<CheckedProgram, Diagnostics> {
    crate::front::check::check(program, sources)
}

/// Scalar type: width and signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ty {
    pub w: u32,
    pub signed: bool,
}

/// Where a value of the program lives.
#[derive(Debug, Clone)]
pub(crate) enum Loc {
    Scalar {
        slot: Slot,
        ty: Ty,
    },
    DynField {
        stack: StackId,
        index: super::StackIndex,
        field: u32,
    },
    Header(super::HeaderRef),
    Struct(Vec<(String, Loc)>),
    Stack(StackId),
    /// `packet_in` / `packet_out` parameters.
    Packet,
}

/// An extern instance declared in the program.
#[derive(Debug, Clone)]
pub(crate) enum Inst {
    Register(u32),
    Counter(u32),
    DirectCounter(u32),
    Meter(u32),
    DirectMeter(u32),
}

pub(crate) struct Lowerer<'c> {
    pub c: &'c CheckedProgram,
    pub p: Program,
    /// Slots of the persistent (header field) region, allocated first.
    pub env: HashMap<NodeId, Loc>,
    pub insts: HashMap<NodeId, Inst>,
    pub tables_by_decl: HashMap<NodeId, TableId>,
    pub diags: Vec<Diagnostic>,
    /// The control or parser being lowered.
    pub scope: String,
    pub scope_locals: Vec<ast::Local>,
    pub digest_by_type: HashMap<String, u32>,
    pub in_parser: bool,
}

pub(crate) type R<T> = Result<T, ()>;

/// Lowers a checked program (ids are assigned from the program's names as p4c does).
pub fn lower(c: &CheckedProgram) -> Result<Program, Diagnostics> {
    let mut l = Lowerer {
        c,
        p: Program::default(),
        env: HashMap::new(),
        insts: HashMap::new(),
        tables_by_decl: HashMap::new(),
        diags: Vec::new(),
        scope: String::new(),
        scope_locals: Vec::new(),
        digest_by_type: HashMap::new(),
        in_parser: false,
    };
    let ok = l.run().is_ok();
    if !ok && l.diags.is_empty() {
        l.diags.push(Diagnostic {
            file: String::new(),
            line: 0,
            col: 0,
            message: "program could not be lowered (malformed call)".into(),
        });
    }
    if !l.diags.is_empty() {
        return Err(Diagnostics(l.diags));
    }
    let mut p = l.p;
    assign_ids(&mut p);
    p.uses_clock = super::visit::uses_clock(&p);
    Ok(p)
}

impl<'c> Lowerer<'c> {
    pub fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(self.c.sources.diag(span, msg));
    }

    pub fn fail<T>(&mut self, span: Span, msg: impl Into<String>) -> R<T> {
        self.err(span, msg);
        Err(())
    }

    fn find_decl<T>(&self, f: impl Fn(&'c ast::Decl) -> Option<&'c T>) -> Option<&'c T> {
        self.c.program.decls.iter().find_map(f)
    }

    fn parser_decl(&self, name: &str) -> Option<&'c ast::ParserDecl> {
        self.find_decl(|d| match d {
            ast::Decl::Parser(p) if p.name.name == name => Some(p),
            _ => None,
        })
    }

    fn control_decl(&self, name: &str) -> Option<&'c ast::ControlDecl> {
        self.find_decl(|d| match d {
            ast::Decl::Control(p) if p.name.name == name => Some(p),
            _ => None,
        })
    }

    fn run(&mut self) -> R<()> {
        let pl = self.c.pipeline.clone();
        self.p.errors = self.c.errors.clone();
        let Some(parser) = self.parser_decl(&pl.parser) else {
            let span = Span::default();
            return self.fail(span, format!("parser {} not found", pl.parser));
        };
        // Parameter types: parser(packet_in, out H, inout M, inout standard_metadata_t).
        if parser.params.len() != 4 {
            return self.fail(parser.span, "the V1Switch parser must have 4 parameters");
        }
        let ty_of = |p: &ast::Param| {
            self.c
                .decl_types
                .get(&p.id)
                .cloned()
                .unwrap_or(Type::Unknown)
        };
        let h_ty = ty_of(&parser.params[1]);
        let m_ty = ty_of(&parser.params[2]);
        let sm_ty = ty_of(&parser.params[3]);
        let span = parser.span;
        let hdr = self.alloc(&h_ty, "hdr", span)?;
        self.p.layout.persistent_slots = self.p.layout.n_slots;
        // stack next indices live in metadata
        for i in 0..self.p.layout.stacks.len() {
            let s = self.new_slot();
            self.p.layout.stacks[i].next_index = s;
        }
        let meta = self.alloc(&m_ty, "meta", span)?;
        let sm = self.alloc(&sm_ty, "standard_metadata", span)?;
        self.std_meta(&sm, span)?;
        self.controller_headers();

        let globals = [hdr.clone(), meta.clone(), sm.clone()];
        // parser
        self.bind_params(
            &parser.params,
            &[Loc::Packet, hdr.clone(), meta.clone(), sm.clone()],
        );
        self.lower_parser(parser)?;
        let roles = [
            (pl.verify_checksum.clone(), 0usize),
            (pl.ingress.clone(), 1),
            (pl.egress.clone(), 2),
            (pl.compute_checksum.clone(), 3),
        ];
        for (name, role) in roles {
            let Some(cd) = self.control_decl(&name) else {
                return self.fail(span, format!("control {name} not found"));
            };
            let locs: Vec<Loc> = if role == 0 || role == 3 {
                vec![globals[0].clone(), globals[1].clone()]
            } else {
                globals.to_vec()
            };
            self.bind_params(&cd.params, &locs);
            let ctl = self.lower_control(cd)?;
            match role {
                0 => self.p.verify_checksum = ctl,
                1 => self.p.ingress = ctl,
                2 => self.p.egress = ctl,
                _ => self.p.compute_checksum = ctl,
            }
        }
        let Some(dp) = self.control_decl(&pl.deparser) else {
            return self.fail(span, format!("deparser {} not found", pl.deparser));
        };
        self.bind_params(&dp.params, &[Loc::Packet, hdr]);
        self.lower_deparser(dp)?;
        Ok(())
    }

    fn bind_params(&mut self, params: &[ast::Param], locs: &[Loc]) {
        for (p, l) in params.iter().zip(locs) {
            self.env.insert(p.id, l.clone());
        }
    }

    /// The P4Info name of a declaration inside the current control: `@name` (absolute when it
    /// starts with '.') or `Control.name`.
    pub fn qualified(
        &self,
        annotations: &[ast::Annotation],
        name: &str,
        top_level: bool,
    ) -> String {
        if let Some(a) = ast::find_annotation(annotations, "name")
            && let Some(s) = &a.string_arg
        {
            if let Some(abs) = s.strip_prefix('.') {
                return abs.to_string();
            }
            if top_level {
                return s.clone();
            }
            return format!("{}.{}", self.scope, s);
        }
        if top_level {
            name.to_string()
        } else {
            format!("{}.{}", self.scope, name)
        }
    }

    fn lower_control(&mut self, cd: &'c ast::ControlDecl) -> R<super::Control> {
        self.scope = cd.name.name.clone();
        self.scope_locals = cd.locals.clone();
        self.in_parser = false;
        // instances and local variables first (tables and actions are lowered on use)
        for local in &cd.locals {
            match local {
                ast::Local::Instance(i) => self.lower_instance(i)?,
                ast::Local::Var(v) => {
                    let t = self
                        .c
                        .decl_types
                        .get(&v.id)
                        .cloned()
                        .unwrap_or(Type::Unknown);
                    let loc = self.alloc(&t, &v.name.name, v.span)?;
                    self.env.insert(v.id, loc);
                }
                ast::Local::Const(_) | ast::Local::Action(_) | ast::Local::Table(_) => {}
                ast::Local::Unsupported { what, span } => {
                    return self.fail(*span, format!("{what} is not supported"));
                }
            }
        }
        for local in &cd.locals {
            if let ast::Local::Table(t) = local {
                self.lower_table(t)?;
            }
        }
        let mut body = Vec::new();
        // variable initialisers run at the start of apply
        for local in &cd.locals {
            if let ast::Local::Var(v) = local
                && let Some(init) = &v.init
            {
                let loc = self.env.get(&v.id).cloned().ok_or(())?;
                self.assign_loc(&loc, init, &mut body)?;
            }
        }
        body.extend(self.block(&cd.apply.stmts)?);
        Ok(super::Control {
            name: cd.name.name.clone(),
            body,
        })
    }
}
