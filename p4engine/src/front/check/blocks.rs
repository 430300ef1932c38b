//! Parsers (states, transitions, select keysets), controls (locals, actions, tables,
//! extern instances) and parameters.

use std::collections::HashMap;

use super::{ActionInfo, Checker, Ctx, Sym, TableInfo, TypeEntry};
use crate::front::ast::{
    ActionDecl, ControlDecl, Direction, Expr, ExprKind, InstanceDecl, Local, Param, ParserDecl,
    TableDecl, Transition,
};
use crate::front::checked::{Resolved, Value};
use crate::front::types::Type;

/// Extern types a program may instantiate in a control.
const INSTANTIABLE: &[&str] = &[
    "register",
    "counter",
    "direct_counter",
    "meter",
    "direct_meter",
];

/// Match kinds the target executes.
const SUPPORTED_MATCH_KINDS: &[&str] = &["exact", "ternary", "lpm", "range", "optional"];

impl Checker<'_> {
    pub(super) fn params(
        &mut self,
        params: &[Param],
        allow_none_dir: bool,
    ) -> Vec<(crate::front::ast::NodeId, String, Direction, Type)> {
        let mut out = Vec::new();
        for p in params {
            let ty = self.resolve_type(&p.ty);
            if let Some(d) = &p.default {
                self.error(d.span, "unsupported construct: default parameter values");
            }
            if p.direction == Direction::None
                && !allow_none_dir
                && !matches!(ty, Type::Extern { .. })
            {
                self.error(
                    p.span,
                    format!(
                        "parameter '{}' needs a direction (in, out or inout)",
                        p.name
                    ),
                );
            }
            self.decl_types.insert(p.id, ty.clone());
            self.declare(
                &p.name.name,
                p.name.span,
                Sym::Param {
                    id: p.id,
                    ty: ty.clone(),
                    dir: p.direction,
                },
            );
            out.push((p.id, p.name.name.clone(), p.direction, ty));
        }
        out
    }

    pub(super) fn parser_body(&mut self, p: &ParserDecl) {
        self.push_scope();
        if !p.type_params.is_empty() || !p.ctor_params.is_empty() {
            self.error(
                p.span,
                "unsupported construct: generic parsers or parser constructor parameters",
            );
        }
        self.params(&p.params, false);
        for l in &p.locals {
            self.local(l, Ctx::Parser);
        }
        let names: Vec<&str> = p.states.iter().map(|s| s.name.name.as_str()).collect();
        if !names.contains(&"start") {
            self.error(
                p.name.span,
                format!("parser '{}' has no 'start' state", p.name),
            );
        }
        for (i, s) in p.states.iter().enumerate() {
            if names[..i].contains(&s.name.name.as_str()) {
                self.error(s.name.span, format!("state '{}' is declared twice", s.name));
            }
            if matches!(s.name.name.as_str(), "accept" | "reject") {
                self.error(
                    s.name.span,
                    format!("'{}' is a reserved state name", s.name),
                );
            }
        }
        for s in &p.states {
            self.ctx = Ctx::Parser;
            self.push_scope();
            for st in &s.stmts {
                self.stmt(st);
            }
            let check_next = |ck: &mut Self, n: &crate::front::ast::Ident| {
                if !matches!(n.name.as_str(), "accept" | "reject")
                    && !names.contains(&n.name.as_str())
                {
                    ck.error(n.span, format!("unknown parser state '{}'", n));
                }
            };
            match &s.transition {
                None => {}
                Some(Transition::Direct(n)) => check_next(self, n),
                Some(Transition::Select { exprs, cases, .. }) => {
                    let tys: Vec<Type> = exprs.iter().map(|e| self.expr(e, None)).collect();
                    for (e, t) in exprs.iter().zip(&tys) {
                        if !matches!(
                            t,
                            Type::Bit(_)
                                | Type::Int(_)
                                | Type::Bool
                                | Type::Error
                                | Type::Enum(_)
                                | Type::SerEnum { .. }
                                | Type::Unknown
                        ) {
                            self.error(e.span, format!("cannot select on a value of type {t}"));
                        }
                    }
                    for c in cases {
                        self.keyset(&c.keys, &tys, None, c.span);
                        check_next(self, &c.next);
                    }
                }
            }
            self.pop_scope();
        }
        self.pop_scope();
    }

    /// Check a keyset (select case or table entry) against the key types. `kinds` gives
    /// the match kinds of table keys.
    pub(super) fn keyset(
        &mut self,
        keys: &[Expr],
        tys: &[Type],
        kinds: Option<&[String]>,
        span: crate::front::ast::Span,
    ) {
        if keys.len() == 1 && matches!(keys[0].kind, ExprKind::Default | ExprKind::DontCare) {
            self.set(&keys[0], Type::DontCare, None);
            return;
        }
        if keys.len() != tys.len() {
            self.error(
                span,
                format!(
                    "the keyset has {} element(s) but there are {} key(s)",
                    keys.len(),
                    tys.len()
                ),
            );
            return;
        }
        for (i, (k, t)) in keys.iter().zip(tys).enumerate() {
            let kind = kinds.and_then(|ks| ks.get(i)).map(String::as_str);
            self.keyset_elem(k, t, kind);
        }
    }

    fn const_elem(&mut self, e: &Expr, t: &Type) {
        let et = self.expr(e, Some(t));
        if et == Type::Unknown || *t == Type::Unknown {
            return;
        }
        self.check_assignable(t, &et, e.span);
        if !self.const_values.contains_key(&e.id) {
            self.error(e.span, "keyset values must be compile-time constants");
        }
    }

    fn keyset_elem(&mut self, k: &Expr, t: &Type, kind: Option<&str>) {
        match &k.kind {
            ExprKind::DontCare | ExprKind::Default => {
                if matches!(k.kind, ExprKind::Default) && kind.is_some() {
                    self.error(k.span, "use '_' for a wildcard key in a table entry");
                }
                self.set(k, Type::DontCare, None);
            }
            ExprKind::Mask { value, mask } => {
                self.const_elem(value, t);
                self.const_elem(mask, t);
                if let Some(kd) = kind
                    && !matches!(kd, "ternary" | "lpm")
                {
                    self.error(
                        k.span,
                        format!("a mask ('&&&') is not allowed for a '{kd}' key"),
                    );
                }
                self.set(k, Type::Set(Box::new(t.clone())), None);
            }
            ExprKind::Range { lo, hi } => {
                self.const_elem(lo, t);
                self.const_elem(hi, t);
                if let Some(kd) = kind
                    && kd != "range"
                {
                    self.error(
                        k.span,
                        format!("a range ('..') is not allowed for a '{kd}' key"),
                    );
                }
                self.set(k, Type::Set(Box::new(t.clone())), None);
            }
            _ => self.const_elem(k, t),
        }
    }

    /// Locals of a parser or control.
    fn local(&mut self, l: &Local, ctx: Ctx) {
        match l {
            Local::Const(c) => self.const_decl(c),
            Local::Var(v) => self.var_decl(v),
            Local::Instance(i) => {
                if ctx == Ctx::Parser {
                    self.error(
                        i.span,
                        "unsupported construct: extern instances in a parser",
                    );
                }
                self.instance(i)
            }
            Local::Action(a) => {
                if ctx == Ctx::Parser {
                    self.error(a.span, "actions cannot be declared in a parser");
                }
                self.action_decl(a)
            }
            Local::Table(t) => {
                if ctx == Ctx::Parser {
                    self.error(t.span, "tables cannot be declared in a parser");
                }
                self.table_decl(t)
            }
            Local::Unsupported { what, span } => {
                self.error(*span, format!("unsupported construct: {what}"))
            }
        }
    }

    pub(super) fn control_body(&mut self, c: &ControlDecl) {
        self.push_scope();
        if !c.type_params.is_empty() || !c.ctor_params.is_empty() {
            self.error(
                c.span,
                "unsupported construct: generic controls or control constructor parameters",
            );
        }
        self.params(&c.params, false);
        for l in &c.locals {
            self.local(l, Ctx::ControlApply);
        }
        self.ctx = Ctx::ControlApply;
        self.block(&c.apply);
        self.pop_scope();
    }

    pub(super) fn action_decl(&mut self, a: &ActionDecl) {
        let saved = self.ctx;
        self.ctx = Ctx::Action;
        self.push_scope();
        let params = self.params(&a.params, true);
        // Directionless (control-plane) parameters must come last.
        let mut seen_none = false;
        for (p, (_, _, d, t)) in a.params.iter().zip(&params) {
            if *d == Direction::None {
                seen_none = true;
                if !matches!(
                    t,
                    Type::Bit(_) | Type::Int(_) | Type::Bool | Type::SerEnum { .. } | Type::Unknown
                ) {
                    self.error(
                        p.span,
                        format!(
                            "action data parameter '{}' must be bit<W>, int<W> or bool, not {t}",
                            p.name
                        ),
                    );
                }
            } else if seen_none {
                self.error(
                    p.span,
                    "directional parameters must come before action data parameters",
                );
            }
        }
        self.block(&a.body);
        self.pop_scope();
        self.ctx = saved;
        self.actions.insert(
            a.id,
            ActionInfo {
                name: a.name.name.clone(),
                params,
            },
        );
        self.declare(&a.name.name, a.name.span, Sym::Action { id: a.id });
    }

    pub(super) fn instance(&mut self, i: &InstanceDecl) {
        let ty = self.resolve_type(&i.ty);
        let Type::Extern { name, args: targs } = &ty else {
            if ty != Type::Unknown {
                self.error(i.span, format!("cannot instantiate {ty} here"));
            }
            for a in &i.args {
                self.expr(a, None);
            }
            self.declare(
                &i.name.name,
                i.name.span,
                Sym::Instance {
                    id: i.id,
                    ty: Type::Unknown,
                },
            );
            return;
        };
        if !INSTANTIABLE.contains(&name.as_str()) {
            self.error(
                i.span,
                format!("extern '{name}' cannot be instantiated on this target"),
            );
        }
        if let Some(TypeEntry::Extern(decl)) = self.type_entries.get(name).cloned() {
            match decl
                .methods
                .iter()
                .find(|m| m.ret.is_none() && m.params.len() == i.args.len())
            {
                None => {
                    self.error(
                        i.span,
                        format!(
                            "no constructor of '{name}' takes {} argument(s)",
                            i.args.len()
                        ),
                    );
                }
                Some(ctor) => {
                    let subst: HashMap<String, Type> = decl
                        .type_params
                        .iter()
                        .map(|t| t.name.clone())
                        .zip(targs.iter().cloned())
                        .collect();
                    let tvars: Vec<String> =
                        decl.type_params.iter().map(|t| t.name.clone()).collect();
                    let ctor = ctor.clone();
                    self.generic_call(i.span, &ctor, subst, &tvars, &[], &i.args);
                    for a in &i.args {
                        if !self.const_values.contains_key(&a.id) {
                            self.error(
                                a.span,
                                "constructor arguments must be compile-time constants",
                            );
                        }
                    }
                }
            }
            if (name == "register" || name == "direct_meter")
                && let Some(t) = targs.first()
                && !matches!(t, Type::Bit(_) | Type::Int(_))
            {
                {
                    self.error(
                        i.ty.span(),
                        format!("{name}<{t}> is not supported: use bit<W> or int<W>"),
                    );
                }
            }
        }
        self.decl_types.insert(i.id, ty.clone());
        self.declare(&i.name.name, i.name.span, Sym::Instance { id: i.id, ty });
    }

    fn table_decl(&mut self, t: &TableDecl) {
        let mut key_tys = Vec::new();
        let mut kinds = Vec::new();
        let mut lpm = 0;
        for k in &t.key {
            let ty = self.expr(&k.expr, None);
            if !matches!(
                ty,
                Type::Bit(_)
                    | Type::Int(_)
                    | Type::Bool
                    | Type::Error
                    | Type::SerEnum { .. }
                    | Type::Unknown
            ) {
                self.error(k.expr.span, format!("a table key cannot have type {ty}"));
            }
            let mk = k.match_kind.name.as_str();
            if !self.match_kinds.iter().any(|m| m == mk) {
                self.error(k.match_kind.span, format!("unknown match kind '{mk}'"));
            } else if !SUPPORTED_MATCH_KINDS.contains(&mk) && mk != "selector" {
                self.error(
                    k.match_kind.span,
                    format!("match kind '{mk}' is not supported by this target"),
                );
            } else if mk == "selector" {
                self.error(
                    k.match_kind.span,
                    "unsupported construct: 'selector' match kind (action selectors)",
                );
            }
            if mk == "lpm" {
                lpm += 1;
                if lpm == 2 {
                    self.error(k.span, "a table can have only one 'lpm' key");
                }
            }
            key_tys.push(ty);
            kinds.push(mk.to_string());
        }
        let mut actions: Vec<(String, crate::front::ast::NodeId)> = Vec::new();
        for a in &t.actions {
            match self.lookup(&a.name.name).cloned() {
                Some(Sym::Action { id }) => {
                    self.refs.insert(a.id, Resolved::Action(id));
                    if a.args.as_ref().is_some_and(|v| !v.is_empty()) {
                        self.error(
                            a.span,
                            "unsupported construct: arguments in a table's action list",
                        );
                    }
                    if let Some(info) = self.actions.get(&id)
                        && info.params.iter().any(|p| p.2 != Direction::None)
                    {
                        self.error(
                            a.span,
                            format!("action '{}' has directional parameters and cannot be used in a table", a.name),
                        );
                    }
                    if actions.iter().any(|(n, _)| *n == a.name.name) {
                        self.error(a.name.span, format!("action '{}' is listed twice", a.name));
                    }
                    actions.push((a.name.name.clone(), id));
                }
                _ => self.error(a.name.span, format!("unknown action '{}'", a.name)),
            }
        }
        let info = TableInfo {
            actions: actions.clone(),
        };
        self.tables.insert(t.id, info);
        if let Some(d) = &t.default_action {
            self.action_call(&d.action, &actions, true);
            if crate::front::ast::find_annotation(
                t.actions
                    .iter()
                    .find(|a| a.name.name == d.action.name.name)
                    .map(|a| a.annotations.as_slice())
                    .unwrap_or(&[]),
                "tableonly",
            )
            .is_some()
            {
                self.error(
                    d.span,
                    format!(
                        "action '{}' is @tableonly and cannot be the default action",
                        d.action.name
                    ),
                );
            }
        }
        if let Some(es) = &t.entries {
            if !es.is_const {
                self.error(
                    es.span,
                    "unsupported construct: non-const table entries (use 'const entries')",
                );
            }
            if t.key.is_empty() {
                self.error(es.span, "a table without keys cannot have entries");
            }
            for en in &es.entries {
                self.keyset(&en.keys, &key_tys, Some(&kinds), en.span);
                self.action_call(&en.action, &actions, false);
                if crate::front::ast::find_annotation(
                    t.actions
                        .iter()
                        .find(|a| a.name.name == en.action.name.name)
                        .map(|a| a.annotations.as_slice())
                        .unwrap_or(&[]),
                    "defaultonly",
                )
                .is_some()
                {
                    self.error(
                        en.span,
                        format!(
                            "action '{}' is @defaultonly and cannot be used in an entry",
                            en.action.name
                        ),
                    );
                }
                if let Some(p) = &en.priority {
                    self.const_uint(p, "an entry priority");
                }
            }
        }
        if let Some(s) = &t.size {
            self.const_uint(s, "the table size");
        }
        for o in &t.others {
            match o.name.name.as_str() {
                "counters" | "meters" => {
                    let want = if o.name.name == "counters" {
                        "direct_counter"
                    } else {
                        "direct_meter"
                    };
                    let ty = self.expr(&o.value, None);
                    match ty {
                        Type::Extern { name, .. } if name == want => {}
                        Type::Unknown => {}
                        other => self.error(
                            o.value.span,
                            format!(
                                "table property '{}' needs a {want} instance, not {other}",
                                o.name
                            ),
                        ),
                    }
                }
                "support_timeout" => {
                    let ty = self.expr(&o.value, Some(&Type::Bool));
                    if ty != Type::Bool && ty != Type::Unknown {
                        self.error(o.value.span, "support_timeout must be true or false");
                    }
                }
                "implementation" => self.error(
                    o.span,
                    "unsupported construct: table implementation (action profiles and selectors)",
                ),
                other => self.error(o.name.span, format!("unknown table property '{other}'")),
            }
        }
        self.declare(
            &t.name.name,
            t.name.span,
            Sym::Table {
                id: t.id,
                name: t.name.name.clone(),
            },
        );
    }

    /// An action reference with arguments (default action or entry action).
    fn action_call(
        &mut self,
        a: &crate::front::ast::ActionRef,
        table_actions: &[(String, crate::front::ast::NodeId)],
        is_default: bool,
    ) {
        let Some((_, id)) = table_actions
            .iter()
            .find(|(n, _)| *n == a.name.name)
            .cloned()
        else {
            let what = if is_default {
                "default action"
            } else {
                "entry action"
            };
            if matches!(self.lookup(&a.name.name), Some(Sym::Action { .. })) {
                self.error(
                    a.name.span,
                    format!("{what} '{}' is not in the table's actions list", a.name),
                );
            } else {
                self.error(a.name.span, format!("unknown action '{}'", a.name));
            }
            return;
        };
        self.refs.insert(a.id, Resolved::Action(id));
        let Some(info) = self.actions.get(&id).cloned() else {
            return;
        };
        let args = a.args.clone().unwrap_or_default();
        if a.args.is_none() && !info.params.is_empty() {
            self.error(a.span, format!("action '{}' needs arguments here", a.name));
            return;
        }
        if args.len() != info.params.len() {
            self.error(
                a.span,
                format!(
                    "action '{}' expects {} argument(s), {} given",
                    a.name,
                    info.params.len(),
                    args.len()
                ),
            );
            return;
        }
        for ((_, pname, _, pty), e) in info.params.iter().zip(&args) {
            let at = self.expr(e, Some(pty));
            if at != Type::Unknown && *pty != Type::Unknown {
                if at != *pty && !(at == Type::InfInt && pty.is_fixed_int()) {
                    self.error(
                        e.span,
                        format!("argument '{pname}': expected {pty}, found {at}"),
                    );
                } else if !self.const_values.contains_key(&e.id) {
                    self.error(
                        e.span,
                        format!("argument '{pname}' must be a compile-time constant here"),
                    );
                }
            }
        }
        let _ = Value::Bool(false);
    }
}
