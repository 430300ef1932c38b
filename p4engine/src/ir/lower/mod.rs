//! Lowering from the checked AST to the IR: storage allocation (every scalar gets a slot,
//! every header instance an id), name resolution to slots, tables, actions and externs, and
//! v1model's `V1Switch` roles. Constructs outside the supported subset are diagnostics.

mod expr;
mod ids;
mod stmt;

use std::collections::HashMap;

use crate::front::ast::{self, NodeId, Span};
use crate::front::types::{Type, TypeDef};
use crate::front::{CheckedProgram, Diagnostic, Diagnostics, SourceMap};

use super::{
    Action, ActionCall, ActionId, ActionScope, ControllerHeader, CounterDecl, CounterUnit,
    DigestDecl, FieldSlot, HeaderId, HeaderInst, MatchKind, MeterDecl, Program, RegisterDecl, Slot,
    SourceEntry, StackId, StackInst, StdMeta, Table, TableId, TableKey,
};

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

    pub fn scalar_ty(&self, t: &Type) -> Option<Ty> {
        Some(match t {
            Type::Bool => Ty {
                w: 1,
                signed: false,
            },
            Type::Bit(w) => Ty {
                w: *w,
                signed: false,
            },
            Type::Int(w) => Ty {
                w: *w,
                signed: true,
            },
            Type::SerEnum { repr, .. } => return self.scalar_ty(repr),
            Type::Error | Type::Enum(_) => Ty {
                w: 32,
                signed: false,
            },
            Type::InfInt => Ty {
                w: 128,
                signed: true,
            },
            _ => return None,
        })
    }

    fn new_slot(&mut self) -> Slot {
        let s = self.p.layout.n_slots;
        self.p.layout.n_slots += 1;
        s
    }

    fn new_header(&mut self, name: String, type_name: &str, span: Span) -> R<HeaderId> {
        let Some(TypeDef::Header { fields, .. }) = self.c.type_defs.get(type_name) else {
            return self.fail(span, format!("unknown header type {type_name}"));
        };
        let mut fs = Vec::new();
        let mut bits = 0;
        for f in fields {
            let Some(ty) = self.scalar_ty(&f.ty) else {
                return self.fail(
                    span,
                    format!(
                        "header field {}.{} has an unsupported type {}",
                        type_name, f.name, f.ty
                    ),
                );
            };
            let slot = self.new_slot();
            fs.push(FieldSlot {
                name: f.name.clone(),
                slot,
                width: ty.w,
            });
            bits += ty.w;
        }
        let id = self.p.layout.headers.len() as HeaderId;
        self.p.layout.headers.push(HeaderInst {
            name,
            type_name: type_name.to_string(),
            fields: fs,
            bits,
        });
        Ok(id)
    }

    /// Allocates storage for a value of type `t`.
    pub fn alloc(&mut self, t: &Type, name: &str, span: Span) -> R<Loc> {
        if let Some(ty) = self.scalar_ty(t) {
            if ty.w > 128 {
                return self.fail(
                    span,
                    format!("{name}: widths above 128 bits are not supported"),
                );
            }
            return Ok(Loc::Scalar {
                slot: self.new_slot(),
                ty,
            });
        }
        match t {
            Type::Header(n) => Ok(Loc::Header(super::HeaderRef::Fixed(self.new_header(
                name.to_string(),
                n,
                span,
            )?))),
            Type::Struct(n) => {
                let Some(TypeDef::Struct { fields }) = self.c.type_defs.get(n) else {
                    return self.fail(span, format!("unknown struct type {n}"));
                };
                let mut out = Vec::new();
                for f in fields {
                    let l = self.alloc(&f.ty, &format!("{name}.{}", f.name), span)?;
                    out.push((f.name.clone(), l));
                }
                Ok(Loc::Struct(out))
            }
            Type::Stack { elem, size } => {
                let Type::Header(hn) = &**elem else {
                    return self.fail(span, format!("{name}: only header stacks are supported"));
                };
                let mut elems = Vec::new();
                for i in 0..*size {
                    elems.push(self.new_header(format!("{name}[{i}]"), hn, span)?);
                }
                let next_index = u32::MAX; // set after the persistent region is known
                let id = self.p.layout.stacks.len() as StackId;
                self.p.layout.stacks.push(StackInst {
                    name: name.to_string(),
                    elems,
                    next_index,
                });
                Ok(Loc::Stack(id))
            }
            Type::Extern { name: en, .. } if en == "packet_in" || en == "packet_out" => {
                Ok(Loc::Packet)
            }
            other => self.fail(
                span,
                format!("{name}: values of type {other} are not supported here"),
            ),
        }
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

    fn std_meta(&mut self, sm: &Loc, span: Span) -> R<()> {
        let Loc::Struct(fields) = sm else {
            return self.fail(span, "standard_metadata must be a struct");
        };
        let get = |n: &str| -> Slot {
            match fields.iter().find(|(f, _)| f == n) {
                Some((_, Loc::Scalar { slot, .. })) => *slot,
                _ => u32::MAX,
            }
        };
        let mut s = StdMeta {
            ingress_port: get("ingress_port"),
            egress_spec: get("egress_spec"),
            egress_port: get("egress_port"),
            instance_type: get("instance_type"),
            packet_length: get("packet_length"),
            enq_timestamp: get("enq_timestamp"),
            enq_qdepth: get("enq_qdepth"),
            deq_timedelta: get("deq_timedelta"),
            deq_qdepth: get("deq_qdepth"),
            ingress_global_timestamp: get("ingress_global_timestamp"),
            egress_global_timestamp: get("egress_global_timestamp"),
            mcast_grp: get("mcast_grp"),
            egress_rid: get("egress_rid"),
            checksum_error: get("checksum_error"),
            parser_error: get("parser_error"),
            priority: get("priority"),
        };
        // Any field missing from the declaration gets a private slot.
        for slot in [
            &mut s.ingress_port,
            &mut s.egress_spec,
            &mut s.egress_port,
            &mut s.instance_type,
            &mut s.packet_length,
            &mut s.enq_timestamp,
            &mut s.enq_qdepth,
            &mut s.deq_timedelta,
            &mut s.deq_qdepth,
            &mut s.ingress_global_timestamp,
            &mut s.egress_global_timestamp,
            &mut s.mcast_grp,
            &mut s.egress_rid,
            &mut s.checksum_error,
            &mut s.parser_error,
            &mut s.priority,
        ] {
            if *slot == u32::MAX {
                *slot = self.p.layout.n_slots;
                self.p.layout.n_slots += 1;
            }
        }
        self.p.std = s;
        Ok(())
    }

    fn controller_headers(&mut self) {
        let mut names: Vec<&String> = self.c.type_defs.keys().collect();
        names.sort();
        for n in names {
            if let Some(TypeDef::Header {
                fields,
                controller_header: Some(kind),
            }) = self.c.type_defs.get(n)
            {
                let mut fs = Vec::new();
                let mut bits = 0;
                for (i, f) in fields.iter().enumerate() {
                    let w = self.scalar_ty(&f.ty).map(|t| t.w).unwrap_or(0);
                    fs.push((i as u32 + 1, f.name.clone(), w));
                    bits += w;
                }
                let h = ControllerHeader {
                    name: kind.clone(),
                    type_name: n.clone(),
                    id: 0,
                    fields: fs,
                    bits,
                };
                match kind.as_str() {
                    "packet_in" => self.p.packet_in = Some(h),
                    "packet_out" => self.p.packet_out = Some(h),
                    _ => {}
                }
            }
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

    fn lower_instance(&mut self, i: &'c ast::InstanceDecl) -> R<()> {
        let t = self
            .c
            .decl_types
            .get(&i.id)
            .cloned()
            .unwrap_or(Type::Unknown);
        let Type::Extern {
            name: en,
            args: targs,
        } = &t
        else {
            return self.fail(
                i.span,
                format!("instance {} of type {t} is not supported", i.name.name),
            );
        };
        let name = self.qualified(&i.annotations, &i.name.name, false);
        let arg_u = |l: &Self, k: usize| -> Option<u128> {
            i.args
                .get(k)
                .and_then(|a| l.c.const_values.get(&a.id))
                .and_then(|v| v.as_u128())
        };
        let arg_enum = |l: &Self, k: usize| -> Option<String> {
            match i.args.get(k).and_then(|a| l.c.const_values.get(&a.id)) {
                Some(crate::front::Value::Enum { member, .. }) => Some(member.clone()),
                _ => None,
            }
        };
        let unit = |m: Option<String>| match m.as_deref() {
            Some("packets") => CounterUnit::Packets,
            Some("bytes") => CounterUnit::Bytes,
            _ => CounterUnit::Both,
        };
        let inst = match en.as_str() {
            "register" => {
                let width = targs
                    .first()
                    .and_then(|t| self.scalar_ty(t))
                    .map(|t| t.w)
                    .unwrap_or(32);
                let size = arg_u(self, 0).unwrap_or(0) as u32;
                self.p.registers.push(RegisterDecl {
                    name,
                    id: 0,
                    size,
                    width,
                });
                Inst::Register(self.p.registers.len() as u32 - 1)
            }
            "counter" => {
                let size = arg_u(self, 0).unwrap_or(0) as u32;
                let u = unit(arg_enum(self, 1));
                self.p.counters.push(CounterDecl {
                    name,
                    id: 0,
                    size,
                    unit: u,
                    table: None,
                });
                Inst::Counter(self.p.counters.len() as u32 - 1)
            }
            "direct_counter" => {
                let u = unit(arg_enum(self, 0));
                self.p.direct_counters.push(CounterDecl {
                    name,
                    id: 0,
                    size: 0,
                    unit: u,
                    table: None,
                });
                Inst::DirectCounter(self.p.direct_counters.len() as u32 - 1)
            }
            "meter" => {
                let size = arg_u(self, 0).unwrap_or(0) as u32;
                let u = unit(arg_enum(self, 1));
                self.p.meters.push(MeterDecl {
                    name,
                    id: 0,
                    size,
                    unit: u,
                    table: None,
                });
                Inst::Meter(self.p.meters.len() as u32 - 1)
            }
            "direct_meter" => {
                let u = unit(arg_enum(self, 0));
                self.p.direct_meters.push(MeterDecl {
                    name,
                    id: 0,
                    size: 0,
                    unit: u,
                    table: None,
                });
                Inst::DirectMeter(self.p.direct_meters.len() as u32 - 1)
            }
            other => {
                return self.fail(
                    i.span,
                    format!("extern {other} is not supported by this engine"),
                );
            }
        };
        self.insts.insert(i.id, inst);
        Ok(())
    }

    /// Finds an action declaration visible in the current control by name.
    pub fn action_decl(&self, name: &str) -> Option<&'c ast::ActionDecl> {
        for l in &self.scope_locals {
            if let ast::Local::Action(a) = l
                && a.name.name == name
            {
                // scope_locals is a clone; find the same declaration in the program tree
                return self.action_decl_by_id(a.id);
            }
        }
        self.find_decl(|d| match d {
            ast::Decl::Action(a) if a.name.name == name => Some(a),
            _ => None,
        })
    }

    pub fn action_decl_by_id(&self, id: NodeId) -> Option<&'c ast::ActionDecl> {
        for d in &self.c.program.decls {
            match d {
                ast::Decl::Action(a) if a.id == id => return Some(a),
                ast::Decl::Control(cd) => {
                    for l in &cd.locals {
                        if let ast::Local::Action(a) = l
                            && a.id == id
                        {
                            return Some(a);
                        }
                    }
                }
                ast::Decl::Parser(pd) => {
                    for l in &pd.locals {
                        if let ast::Local::Action(a) = l
                            && a.id == id
                        {
                            return Some(a);
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn is_top_level_action(&self, id: NodeId) -> bool {
        self.c
            .program
            .decls
            .iter()
            .any(|d| matches!(d, ast::Decl::Action(a) if a.id == id))
    }

    /// The action as tables run it (control-plane parameters in slots), lowered once.
    pub fn table_action(&mut self, a: &'c ast::ActionDecl) -> R<ActionId> {
        let top = self.is_top_level_action(a.id);
        let name = self.qualified(&a.annotations, &a.name.name, top);
        if let Some(i) = self.p.actions.iter().position(|x| x.name == name) {
            return Ok(i as ActionId);
        }
        let mut params = Vec::new();
        for (k, prm) in a.params.iter().enumerate() {
            if prm.direction != ast::Direction::None {
                return self.fail(
                    prm.span,
                    "actions in tables may only have directionless parameters",
                );
            }
            let t = self
                .c
                .decl_types
                .get(&prm.id)
                .cloned()
                .unwrap_or(Type::Unknown);
            let Some(ty) = self.scalar_ty(&t) else {
                return self.fail(
                    prm.span,
                    format!("action parameter of type {t} is not supported"),
                );
            };
            let slot = self.new_slot();
            self.env.insert(prm.id, Loc::Scalar { slot, ty });
            params.push(super::ActionParam {
                name: prm.name.name.clone(),
                id: k as u32 + 1,
                width: ty.w,
                slot,
            });
        }
        let body = self.block(&a.body.stmts)?;
        self.p.actions.push(Action {
            name,
            id: 0,
            params,
            body,
        });
        Ok(self.p.actions.len() as ActionId - 1)
    }

    fn const_u(&mut self, e: &ast::Expr) -> R<u128> {
        match self.c.const_values.get(&e.id).and_then(|v| v.as_u128()) {
            Some(v) => Ok(v),
            None => match self.c.const_values.get(&e.id) {
                Some(crate::front::Value::InfInt(v)) => Ok(*v as u128),
                _ => self.fail(e.span, "a compile-time constant is required here"),
            },
        }
    }

    fn action_call(&mut self, r: &'c ast::ActionRef) -> R<ActionCall> {
        let Some(decl) = self.action_decl(&r.name.name) else {
            return self.fail(r.span, format!("unknown action {}", r.name.name));
        };
        let action = self.table_action(decl)?;
        let mut args = Vec::new();
        for (k, e) in r.args.iter().flatten().enumerate() {
            let w = self.p.actions[action as usize]
                .params
                .get(k)
                .map(|p| p.width)
                .unwrap_or(128);
            args.push(self.const_u(e)? & crate::exec::value::mask(w));
        }
        if args.len() != self.p.actions[action as usize].params.len() {
            return self.fail(
                r.span,
                format!(
                    "action {} needs constant arguments for all its parameters",
                    r.name.name
                ),
            );
        }
        Ok(ActionCall { action, args })
    }

    fn key_name(&self, e: &ast::Expr) -> String {
        match &e.kind {
            ast::ExprKind::Name(i) => i.name.clone(),
            ast::ExprKind::Member { base, member } => {
                format!("{}.{}", self.key_name(base), member.name)
            }
            ast::ExprKind::Index { base, index } => {
                let i = self
                    .c
                    .const_values
                    .get(&index.id)
                    .and_then(|v| v.as_u128())
                    .unwrap_or(0);
                format!("{}[{}]", self.key_name(base), i)
            }
            ast::ExprKind::Slice { base, hi, lo } => {
                let h = self
                    .c
                    .const_values
                    .get(&hi.id)
                    .and_then(|v| v.as_u128())
                    .unwrap_or(0);
                let l = self
                    .c
                    .const_values
                    .get(&lo.id)
                    .and_then(|v| v.as_u128())
                    .unwrap_or(0);
                format!("{}[{}:{}]", self.key_name(base), h, l)
            }
            ast::ExprKind::Call { callee, args, .. } if args.is_empty() => {
                format!("{}()", self.key_name(callee))
            }
            _ => "key".to_string(),
        }
    }

    fn lower_table(&mut self, t: &'c ast::TableDecl) -> R<TableId> {
        if let Some(&id) = self.tables_by_decl.get(&t.id) {
            return Ok(id);
        }
        let name = self.qualified(&t.annotations, &t.name.name, false);
        let mut keys = Vec::new();
        let mut needs_priority = false;
        for (k, ke) in t.key.iter().enumerate() {
            let kind = match ke.match_kind.name.as_str() {
                "exact" => MatchKind::Exact,
                "lpm" => MatchKind::Lpm,
                "ternary" => MatchKind::Ternary,
                "range" => MatchKind::Range,
                "optional" => MatchKind::Optional,
                other => return self.fail(ke.span, format!("match kind {other} is not supported")),
            };
            if matches!(
                kind,
                MatchKind::Ternary | MatchKind::Range | MatchKind::Optional
            ) {
                needs_priority = true;
            }
            let ty = self.c.type_of(ke.expr.id).clone();
            let Some(sty) = self.scalar_ty(&ty) else {
                return self.fail(ke.span, format!("table key of type {ty} is not supported"));
            };
            let e = self.expr(&ke.expr)?;
            let kname = match ast::find_annotation(&ke.annotations, "name")
                .and_then(|a| a.string_arg.clone())
            {
                Some(n) => n,
                None => self.key_name(&ke.expr),
            };
            keys.push(TableKey {
                name: kname,
                id: k as u32 + 1,
                e,
                width: sty.w,
                kind,
            });
        }
        if keys.iter().filter(|k| k.kind == MatchKind::Lpm).count() > 1 {
            return self.fail(t.span, "a table may have at most one lpm key");
        }
        let mut actions = Vec::new();
        for r in &t.actions {
            let Some(decl) = self.action_decl(&r.name.name) else {
                return self.fail(r.span, format!("unknown action {}", r.name.name));
            };
            if r.args.as_ref().is_some_and(|a| !a.is_empty()) {
                return self.fail(
                    r.span,
                    "action arguments bound in the actions list are not supported",
                );
            }
            let aid = self.table_action(decl)?;
            let scope = if ast::find_annotation(&r.annotations, "defaultonly").is_some() {
                ActionScope::DefaultOnly
            } else if ast::find_annotation(&r.annotations, "tableonly").is_some() {
                ActionScope::TableOnly
            } else {
                ActionScope::TableAndDefault
            };
            actions.push((aid, scope));
        }
        let (default_action, default_is_const) = match &t.default_action {
            Some(d) => (self.action_call(&d.action)?, d.is_const),
            None => {
                let Some(na) = self.action_decl("NoAction") else {
                    return self.fail(t.span, "NoAction is not declared");
                };
                let a = self.table_action(na)?;
                if !actions.iter().any(|(x, _)| *x == a) {
                    actions.push((a, ActionScope::DefaultOnly));
                }
                (
                    ActionCall {
                        action: a,
                        args: vec![],
                    },
                    false,
                )
            }
        };
        let mut entries = Vec::new();
        let mut entries_const = false;
        if let Some(es) = &t.entries {
            entries_const = es.is_const;
            for en in &es.entries {
                let mut matches = Vec::new();
                let all_any = en.keys.len() == 1
                    && keys.len() != 1
                    && matches!(
                        en.keys[0].kind,
                        ast::ExprKind::Default | ast::ExprKind::DontCare
                    );
                for (k, key) in keys.iter().enumerate() {
                    let ke = if all_any {
                        &en.keys[0]
                    } else {
                        en.keys.get(k).ok_or(())?
                    };
                    matches.push(self.entry_key(ke, key.kind, key.width)?);
                }
                let priority = match &en.priority {
                    Some(p) => self.const_u(p)? as i32,
                    None => 0,
                };
                let action = self.action_call(&en.action)?;
                entries.push(SourceEntry {
                    matches,
                    priority,
                    action,
                });
            }
        }
        let mut size = 1024;
        if let Some(s) = &t.size {
            size = self.const_u(s)? as u32;
        }
        let mut direct_counter = None;
        let mut direct_meter = None;
        let tid = self.p.tables.len() as TableId;
        for o in &t.others {
            match o.name.name.as_str() {
                "counters" | "meters" => {
                    let inst = match self.c.refs.get(&o.value.id) {
                        Some(crate::front::Resolved::Instance(id)) => self.insts.get(id).cloned(),
                        _ => None,
                    };
                    match inst {
                        Some(Inst::DirectCounter(i)) if o.name.name == "counters" => {
                            self.p.direct_counters[i as usize].table = Some(tid);
                            direct_counter = Some(i);
                        }
                        Some(Inst::DirectMeter(i)) if o.name.name == "meters" => {
                            self.p.direct_meters[i as usize].table = Some(tid);
                            direct_meter = Some(i);
                        }
                        _ => {
                            return self.fail(
                                o.span,
                                format!("{} must name a direct instance", o.name.name),
                            );
                        }
                    }
                }
                "support_timeout" => {}
                other => {
                    return self.fail(o.span, format!("table property {other} is not supported"));
                }
            }
        }
        self.p.tables.push(Table {
            name,
            id: 0,
            keys,
            actions,
            default_action,
            default_is_const,
            entries,
            entries_const,
            size,
            direct_counter,
            direct_meter,
            needs_priority,
        });
        self.tables_by_decl.insert(t.id, tid);
        Ok(tid)
    }

    fn entry_key(&mut self, e: &ast::Expr, kind: MatchKind, w: u32) -> R<super::KeyMatch> {
        use super::KeyMatch as K;
        let m = crate::exec::value::mask(w);
        Ok(match &e.kind {
            ast::ExprKind::Default | ast::ExprKind::DontCare => match kind {
                MatchKind::Exact => return self.fail(e.span, "an exact key cannot be a wildcard"),
                MatchKind::Lpm => K::Lpm { value: 0, len: 0 },
                MatchKind::Ternary => K::Ternary { value: 0, mask: 0 },
                MatchKind::Range => K::Range { lo: 0, hi: m },
                MatchKind::Optional => K::Optional(None),
            },
            ast::ExprKind::Mask { value, mask } => {
                let v = self.const_u(value)? & m;
                let mk = self.const_u(mask)? & m;
                match kind {
                    MatchKind::Ternary => K::Ternary {
                        value: v & mk,
                        mask: mk,
                    },
                    MatchKind::Lpm => K::Lpm {
                        value: v & mk,
                        len: mk.count_ones(),
                    },
                    _ => return self.fail(e.span, "a mask is only valid for ternary or lpm keys"),
                }
            }
            ast::ExprKind::Range { lo, hi } => {
                let lo = self.const_u(lo)? & m;
                let hi = self.const_u(hi)? & m;
                if kind != MatchKind::Range {
                    return self.fail(e.span, "a range is only valid for range keys");
                }
                K::Range { lo, hi }
            }
            _ => {
                let v = self.const_u(e)? & m;
                match kind {
                    MatchKind::Exact => K::Exact(v),
                    MatchKind::Lpm => K::Lpm { value: v, len: w },
                    MatchKind::Ternary => K::Ternary { value: v, mask: m },
                    MatchKind::Range => K::Range { lo: v, hi: v },
                    MatchKind::Optional => K::Optional(Some(v)),
                }
            }
        })
    }

    fn lower_parser(&mut self, pd: &'c ast::ParserDecl) -> R<()> {
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
        let target = |l: &mut Self, id: &ast::Ident| -> R<super::Target> {
            match id.name.as_str() {
                "accept" => Ok(super::Target::Accept),
                "reject" => Ok(super::Target::Reject),
                n => match index.get(n) {
                    Some(&i) => Ok(super::Target::State(i)),
                    None => l.fail(id.span, format!("unknown parser state {n}")),
                },
            }
        };
        let mut states = Vec::new();
        for s in &pd.states {
            let mut stmts = self.block(&s.stmts)?;
            let transition = match &s.transition {
                None => super::Transition::Direct(super::Target::Reject),
                Some(ast::Transition::Direct(id)) => super::Transition::Direct(target(self, id)?),
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
                                    super::KeySet::Any
                                }
                                ast::ExprKind::Mask { value, mask } => {
                                    let mk = self.const_u(mask)? & m;
                                    super::KeySet::Mask(self.const_u(value)? & mk, mk)
                                }
                                ast::ExprKind::Range { lo, hi } => super::KeySet::Range(
                                    self.const_u(lo)? & m,
                                    self.const_u(hi)? & m,
                                ),
                                _ => super::KeySet::Value(self.const_u(ke)? & m),
                            });
                        }
                        out.push((sets, target(self, &c.next)?));
                    }
                    super::Transition::Select { keys, cases: out }
                }
            };
            if s.name.name == "start" && !init.is_empty() {
                let mut v = std::mem::take(&mut init);
                v.append(&mut stmts);
                stmts = v;
            }
            states.push(super::ParserState {
                name: s.name.name.clone(),
                stmts,
                transition,
            });
        }
        let Some(&start) = index.get("start") else {
            return self.fail(pd.span, "the parser has no start state");
        };
        self.p.parser = super::Parser { states, start };
        self.in_parser = false;
        Ok(())
    }

    fn lower_deparser(&mut self, dp: &'c ast::ControlDecl) -> R<()> {
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
            Loc::Header(super::HeaderRef::Fixed(h)) => self.p.deparser.push(*h),
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

    /// Registers a digest type (by struct name) and returns its index.
    pub fn digest_index(&mut self, type_name: &str, fields: Vec<(String, u32)>) -> u32 {
        if let Some(&i) = self.digest_by_type.get(type_name) {
            return i;
        }
        self.p.digests.push(DigestDecl {
            name: type_name.to_string(),
            id: 0,
            fields,
        });
        let i = self.p.digests.len() as u32 - 1;
        self.digest_by_type.insert(type_name.to_string(), i);
        i
    }
}
