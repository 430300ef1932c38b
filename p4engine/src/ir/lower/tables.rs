//! Tables and the actions they run: action lookup by name, table actions (control-plane
//! parameters in slots), keys and their P4Info names, constant entries, default actions and
//! the direct counter or meter a table owns.

use crate::front::ast::{self, NodeId};
use crate::front::types::Type;

use super::super::{
    Action, ActionCall, ActionId, ActionScope, MatchKind, SourceEntry, Table, TableId, TableKey,
};
use super::{Inst, Loc, Lowerer, R};

impl<'c> Lowerer<'c> {
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
            params.push(super::super::ActionParam {
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

    pub(super) fn const_u(&mut self, e: &ast::Expr) -> R<u128> {
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

    pub(super) fn lower_table(&mut self, t: &'c ast::TableDecl) -> R<TableId> {
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

    fn entry_key(&mut self, e: &ast::Expr, kind: MatchKind, w: u32) -> R<super::super::KeyMatch> {
        use super::super::KeyMatch as K;
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
}
