//! Expression typing: every expression gets a type (unsized literals take the type their
//! context needs), names are resolved, constants are folded.

use super::consteval::{self, mask};
use super::typeres::MAX_WIDTH;
use super::{Checker, Sym, TypeEntry};
use crate::front::ast::{BinOp, Expr, ExprKind, IntLit, UnOp};
use crate::front::checked::{Builtin, Resolved, Value};
use crate::front::types::{Type, TypeDef};

impl Checker<'_> {
    /// Record the type (and constant value) of `e` and return the type.
    pub(super) fn set(&mut self, e: &Expr, ty: Type, value: Option<Value>) -> Type {
        self.types.insert(e.id, ty.clone());
        match value {
            Some(v) => {
                self.const_values.insert(e.id, v);
            }
            None => {
                self.const_values.remove(&e.id);
            }
        }
        ty
    }

    fn value(&self, e: &Expr) -> Option<Value> {
        self.const_values.get(&e.id).cloned()
    }

    /// Type an expression. `expected` is the type the context needs (used to give unsized
    /// literals a width); the caller still checks the returned type against it.
    pub(super) fn expr(&mut self, e: &Expr, expected: Option<&Type>) -> Type {
        match &e.kind {
            ExprKind::Bool(b) => self.set(e, Type::Bool, Some(Value::Bool(*b))),
            ExprKind::Str(s) => self.set(e, Type::String, Some(Value::Str(s.clone()))),
            ExprKind::Int(l) => self.int_lit(e, l, expected),
            ExprKind::Name(n) => self.name_expr(e, &n.name, expected),
            ExprKind::ErrorType => {
                self.error(e.span, "'error' can only be used as 'error.Member'");
                self.set(e, Type::Unknown, None)
            }
            ExprKind::Member { base, member } => self.member_expr(e, base, &member.name),
            ExprKind::Index { base, index } => {
                let bt = self.expr(base, None);
                let it = self.expr(index, Some(&Type::Bit(32)));
                if !it.is_integer() && it != Type::Unknown {
                    self.error(
                        index.span,
                        format!("a stack index must be an integer, not {it}"),
                    );
                }
                match bt {
                    Type::Stack { elem, size } => {
                        if let Some(i) = self.value(index).and_then(|v| v.as_u128())
                            && i >= u128::from(size)
                        {
                            self.error(
                                index.span,
                                format!("index {i} is out of bounds of a stack of size {size}"),
                            );
                        }
                        self.set(e, *elem, None)
                    }
                    Type::Unknown => self.set(e, Type::Unknown, None),
                    other => {
                        self.error(e.span, format!("cannot index a value of type {other}"));
                        self.set(e, Type::Unknown, None)
                    }
                }
            }
            ExprKind::Slice { base, hi, lo } => {
                let bt = self.expr(base, None);
                let h = self.const_uint(hi, "a slice bound");
                let l = self.const_uint(lo, "a slice bound");
                let (Some(h), Some(l)) = (h, l) else {
                    return self.set(e, Type::Unknown, None);
                };
                let Some(w) = (match &bt {
                    Type::Bit(w) | Type::Int(w) => Some(*w),
                    _ => None,
                }) else {
                    if bt != Type::Unknown {
                        self.error(e.span, format!("cannot slice a value of type {bt}"));
                    }
                    return self.set(e, Type::Unknown, None);
                };
                if h < l || h >= u128::from(w) {
                    self.error(
                        e.span,
                        format!(
                            "slice [{h}:{l}] is out of range for {bt} (bits {}..0)",
                            w - 1
                        ),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                let v = self
                    .value(base)
                    .and_then(|v| consteval::slice(&v, h as u32, l as u32));
                self.set(e, Type::Bit((h - l + 1) as u32), v)
            }
            ExprKind::Call {
                callee,
                type_args,
                args,
            } => self.call_expr(e, callee, type_args, args, expected),
            ExprKind::Unary { op, operand } => self.unary_expr(e, *op, operand, expected),
            ExprKind::Binary { op, lhs, rhs } => self.binary_expr(e, *op, lhs, rhs, expected),
            ExprKind::Ternary { cond, then, els } => {
                let ct = self.expr(cond, Some(&Type::Bool));
                if ct != Type::Bool && ct != Type::Unknown {
                    self.error(
                        cond.span,
                        format!("the condition of '?:' must be bool, not {ct}"),
                    );
                }
                let mut tt = self.expr(then, expected);
                let et = self.expr(
                    els,
                    if tt.is_fixed_int() {
                        Some(&tt)
                    } else {
                        expected
                    },
                );
                if tt == Type::InfInt && et.is_fixed_int() {
                    tt = self.expr(then, Some(&et));
                }
                if tt != et && tt != Type::Unknown && et != Type::Unknown {
                    self.error(
                        e.span,
                        format!("the branches of '?:' have different types: {tt} and {et}"),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                let v = match self.value(cond) {
                    Some(Value::Bool(true)) => self.value(then),
                    Some(Value::Bool(false)) => self.value(els),
                    _ => None,
                };
                self.set(e, tt, v)
            }
            ExprKind::Cast { ty, expr } => {
                let target = self.resolve_type(ty);
                let mut src = self.expr(expr, None);
                if src == Type::InfInt
                    && (target.is_fixed_int() || matches!(target, Type::SerEnum { .. }))
                {
                    src = self.expr(expr, Some(&target));
                }
                if target == Type::Unknown || src == Type::Unknown {
                    return self.set(e, target, None);
                }
                if !cast_allowed(&src, &target) {
                    self.error(e.span, format!("cannot cast {src} to {target}"));
                    return self.set(e, Type::Unknown, None);
                }
                let v = self
                    .value(expr)
                    .and_then(|v| consteval::convert(&v, &target));
                self.set(e, target, v)
            }
            ExprKind::List(elems) => {
                // `{a, b}` where a struct or header is expected initialises it field by field.
                if let Some(t @ (Type::Struct(n) | Type::Header(n))) = expected {
                    let fields = self
                        .type_defs
                        .get(n)
                        .map(|d| d.fields().to_vec())
                        .unwrap_or_default();
                    if fields.len() == elems.len() {
                        for (f, el) in fields.iter().zip(elems) {
                            let et = self.expr(el, Some(&f.ty));
                            self.check_assignable(&f.ty, &et, el.span);
                        }
                        return self.set(e, t.clone(), None);
                    }
                    self.error(
                        e.span,
                        format!(
                            "a list of {} element(s) cannot initialise {t}, which has {} field(s)",
                            elems.len(),
                            fields.len()
                        ),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                let exp: Option<Vec<Type>> = match expected {
                    Some(Type::Tuple(ts)) if ts.len() == elems.len() => Some(ts.clone()),
                    _ => None,
                };
                let mut tys = Vec::new();
                for (i, el) in elems.iter().enumerate() {
                    let t = self.expr(el, exp.as_ref().map(|v| &v[i]));
                    tys.push(t);
                }
                self.set(e, Type::Tuple(tys), None)
            }
            ExprKind::Mask { .. } | ExprKind::Range { .. } | ExprKind::Default => {
                self.error(
                    e.span,
                    "masks ('&&&'), ranges ('..') and 'default' are only allowed in select cases and table entries",
                );
                self.set(e, Type::Unknown, None)
            }
            ExprKind::DontCare => self.set(e, Type::DontCare, None),
        }
    }

    fn int_lit(&mut self, e: &Expr, l: &IntLit, expected: Option<&Type>) -> Type {
        if let Some((w, signed)) = l.width {
            if w == 0 || w > MAX_WIDTH {
                self.error(
                    e.span,
                    format!(
                        "literal width {w} is not supported (widths are 1 to {MAX_WIDTH} bits)"
                    ),
                );
                return self.set(e, Type::Unknown, None);
            }
            let ty = if signed { Type::Int(w) } else { Type::Bit(w) };
            if !signed && l.value > mask(w) {
                self.error(
                    e.span,
                    format!("value {:#x} does not fit in bit<{w}>", l.value),
                );
                return self.set(e, Type::Unknown, None);
            }
            let bits = if l.negative {
                l.value.wrapping_neg() & mask(w)
            } else {
                l.value & mask(w)
            };
            return self.set(e, ty.clone(), Some(Value::Bits { bits, ty }));
        }
        match expected {
            Some(t @ (Type::Bit(w) | Type::Int(w))) => {
                if l.value > mask(*w) {
                    self.error(e.span, format!("value {} does not fit in {t}", l.value));
                    return self.set(e, Type::Unknown, None);
                }
                self.set(
                    e,
                    t.clone(),
                    Some(Value::Bits {
                        bits: l.value,
                        ty: t.clone(),
                    }),
                )
            }
            _ => match i128::try_from(l.value) {
                Ok(v) => self.set(e, Type::InfInt, Some(Value::InfInt(v))),
                Err(_) => {
                    self.error(e.span, "an integer this large needs a width (e.g. 128w...)");
                    self.set(e, Type::Unknown, None)
                }
            },
        }
    }

    fn name_expr(&mut self, e: &Expr, name: &str, expected: Option<&Type>) -> Type {
        match self.lookup(name).cloned() {
            Some(Sym::Var { id, ty }) => {
                self.refs.insert(e.id, Resolved::Var(id));
                self.set(e, ty, None)
            }
            Some(Sym::Param { id, ty, .. }) => {
                self.refs.insert(e.id, Resolved::Param(id));
                self.set(e, ty, None)
            }
            Some(Sym::Const { id, ty, value }) => {
                self.refs.insert(e.id, Resolved::Const(id));
                if ty == Type::InfInt
                    && let Some(t) = expected.filter(|t| t.is_fixed_int())
                {
                    let v = value.as_ref().and_then(|v| consteval::convert(v, t));
                    return self.set(e, t.clone(), v);
                }
                self.set(e, ty, value)
            }
            Some(Sym::Instance { id, ty }) => {
                self.refs.insert(e.id, Resolved::Instance(id));
                self.set(e, ty, None)
            }
            Some(Sym::Action { id }) => {
                self.refs.insert(e.id, Resolved::Action(id));
                self.set(e, Type::Action, None)
            }
            Some(Sym::Table { id, name }) => {
                self.refs.insert(e.id, Resolved::Table(id));
                self.set(e, Type::Table(name), None)
            }
            None => {
                if self.match_kinds.iter().any(|m| m == name) {
                    self.refs
                        .insert(e.id, Resolved::MatchKind(name.to_string()));
                    return self.set(e, Type::MatchKind, None);
                }
                if self.type_entries.contains_key(name) {
                    self.error(e.span, format!("type '{name}' cannot be used as a value"));
                } else {
                    self.error(e.span, format!("unknown name '{name}'"));
                }
                self.set(e, Type::Unknown, None)
            }
        }
    }

    fn member_expr(&mut self, e: &Expr, base: &Expr, member: &str) -> Type {
        if matches!(base.kind, ExprKind::ErrorType) {
            self.refs
                .insert(base.id, Resolved::TypeName("error".into()));
            self.types.insert(base.id, Type::Error);
            if !self.errors.iter().any(|x| x == member) {
                self.error(e.span, format!("unknown error member 'error.{member}'"));
                return self.set(e, Type::Unknown, None);
            }
            self.refs
                .insert(e.id, Resolved::ErrorMember(member.to_string()));
            return self.set(e, Type::Error, Some(Value::Error(member.to_string())));
        }
        if let ExprKind::Name(n) = &base.kind
            && self.lookup(&n.name).is_none()
            && matches!(self.type_entries.get(&n.name), Some(TypeEntry::Enum))
        {
            return self.enum_member(e, base, &n.name, member);
        }
        let bt = self.expr(base, None);
        match &bt {
            Type::Header(t) | Type::Struct(t) => {
                let field = self
                    .type_defs
                    .get(t)
                    .and_then(|d| d.fields().iter().find(|f| f.name == member).cloned());
                match field {
                    Some(f) => self.set(e, f.ty, None),
                    None => {
                        let kind = if matches!(bt, Type::Header(_)) {
                            "header"
                        } else {
                            "struct"
                        };
                        self.error(e.span, format!("{kind} type '{t}' has no field '{member}'"));
                        self.set(e, Type::Unknown, None)
                    }
                }
            }
            Type::Stack { .. }
                if matches!(member, "next" | "last") && self.ctx != super::Ctx::Parser =>
            {
                self.error(
                    e.span,
                    format!("stack '.{member}' can only be used in a parser (index the stack with [i] here)"),
                );
                self.set(e, Type::Unknown, None)
            }
            Type::Stack { elem, size } => match member {
                "next" => {
                    self.refs
                        .insert(e.id, Resolved::Builtin(Builtin::StackNext));
                    self.set(e, (**elem).clone(), None)
                }
                "last" => {
                    self.refs
                        .insert(e.id, Resolved::Builtin(Builtin::StackLast));
                    self.set(e, (**elem).clone(), None)
                }
                "size" => {
                    self.refs
                        .insert(e.id, Resolved::Builtin(Builtin::StackSize));
                    let ty = Type::Bit(32);
                    let v = Value::Bits {
                        bits: u128::from(*size),
                        ty: ty.clone(),
                    };
                    self.set(e, ty, Some(v))
                }
                "lastIndex" => {
                    self.refs
                        .insert(e.id, Resolved::Builtin(Builtin::StackLastIndex));
                    self.set(e, Type::Bit(32), None)
                }
                _ => {
                    self.error(e.span, format!("a header stack has no member '{member}'"));
                    self.set(e, Type::Unknown, None)
                }
            },
            Type::ApplyResult(t) => {
                let (b, ty) = match member {
                    "hit" => (Builtin::Hit, Type::Bool),
                    "miss" => (Builtin::Miss, Type::Bool),
                    "action_run" => (Builtin::ActionRun, Type::ActionRun(t.clone())),
                    _ => {
                        self.error(
                            e.span,
                            format!("the result of apply() has no member '{member}' (use hit, miss or action_run)"),
                        );
                        return self.set(e, Type::Unknown, None);
                    }
                };
                self.refs.insert(e.id, Resolved::Builtin(b));
                self.set(e, ty, None)
            }
            Type::Unknown => self.set(e, Type::Unknown, None),
            other => {
                self.error(
                    e.span,
                    format!("a value of type {other} has no member '{member}'"),
                );
                self.set(e, Type::Unknown, None)
            }
        }
    }

    fn enum_member(&mut self, e: &Expr, base: &Expr, enum_name: &str, member: &str) -> Type {
        self.refs
            .insert(base.id, Resolved::TypeName(enum_name.to_string()));
        let def = self.type_defs.get(enum_name).cloned();
        let ty = match &def {
            Some(TypeDef::SerEnum { repr, .. }) => Type::SerEnum {
                name: enum_name.to_string(),
                repr: Box::new(repr.clone()),
            },
            _ => Type::Enum(enum_name.to_string()),
        };
        self.types.insert(base.id, ty.clone());
        let known = self
            .enum_names
            .get(enum_name)
            .is_some_and(|m| m.iter().any(|x| x == member));
        if !known {
            self.error(
                e.span,
                format!("enum '{enum_name}' has no member '{member}'"),
            );
            return self.set(e, Type::Unknown, None);
        }
        self.refs.insert(
            e.id,
            Resolved::EnumMember {
                ty: enum_name.to_string(),
                member: member.to_string(),
            },
        );
        let v = match &def {
            Some(TypeDef::SerEnum { members, .. }) => members
                .iter()
                .find(|(n, _)| n == member)
                .map(|(_, bits)| Value::Bits {
                    bits: *bits,
                    ty: ty.clone(),
                }),
            _ => Some(Value::Enum {
                ty: enum_name.to_string(),
                member: member.to_string(),
            }),
        };
        self.set(e, ty, v)
    }

    fn unary_expr(&mut self, e: &Expr, op: UnOp, operand: &Expr, expected: Option<&Type>) -> Type {
        let t = match op {
            UnOp::Not => self.expr(operand, Some(&Type::Bool)),
            _ => self.expr(operand, expected),
        };
        if t == Type::Unknown {
            return self.set(e, Type::Unknown, None);
        }
        let ok = match op {
            UnOp::Not => t == Type::Bool,
            UnOp::BitNot => t.is_fixed_int(),
            UnOp::Neg | UnOp::Plus => t.is_integer(),
        };
        if !ok {
            let sym = match op {
                UnOp::Not => "!",
                UnOp::BitNot => "~",
                UnOp::Neg => "-",
                UnOp::Plus => "+",
            };
            self.error(e.span, format!("operator '{sym}' cannot be applied to {t}"));
            return self.set(e, Type::Unknown, None);
        }
        let v = self
            .value(operand)
            .and_then(|v| consteval::unary(op, &v, &t));
        self.set(e, t, v)
    }

    /// Type two operands that must have the same type (unsized ones adapt to the other).
    fn unify_operands(&mut self, lhs: &Expr, rhs: &Expr, expected: Option<&Type>) -> (Type, Type) {
        let exp = expected.filter(|t| t.is_fixed_int());
        let mut lt = self.expr(lhs, exp);
        let rt = self.expr(rhs, if lt.is_fixed_int() { Some(&lt) } else { exp });
        if lt == Type::InfInt && (rt.is_fixed_int() || matches!(rt, Type::SerEnum { .. })) {
            lt = self.expr(lhs, Some(&rt));
        }
        (lt, rt)
    }

    fn binary_expr(
        &mut self,
        e: &Expr,
        op: BinOp,
        lhs: &Expr,
        rhs: &Expr,
        expected: Option<&Type>,
    ) -> Type {
        use BinOp::*;
        let sym = op.symbol();
        let result = match op {
            And | Or => {
                let lt = self.expr(lhs, Some(&Type::Bool));
                let rt = self.expr(rhs, Some(&Type::Bool));
                for (t, x) in [(&lt, lhs), (&rt, rhs)] {
                    if *t != Type::Bool && *t != Type::Unknown {
                        self.error(
                            x.span,
                            format!("operator '{sym}' needs bool operands, not {t}"),
                        );
                    }
                }
                Type::Bool
            }
            Eq | Ne | Lt | Le | Gt | Ge => {
                let (lt, rt) = self.unify_operands(lhs, rhs, None);
                if lt == Type::Unknown || rt == Type::Unknown {
                    return self.set(e, Type::Unknown, None);
                }
                if lt != rt {
                    self.error(e.span, mismatch(sym, &lt, &rt));
                    return self.set(e, Type::Unknown, None);
                }
                let ok = if matches!(op, Eq | Ne) {
                    matches!(
                        lt,
                        Type::Bit(_)
                            | Type::Int(_)
                            | Type::InfInt
                            | Type::Bool
                            | Type::Error
                            | Type::Enum(_)
                            | Type::SerEnum { .. }
                    )
                } else {
                    lt.is_integer()
                };
                if !ok {
                    self.error(
                        e.span,
                        format!("operator '{sym}' cannot compare values of type {lt}"),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                Type::Bool
            }
            Shl | Shr => {
                let lt = self.expr(lhs, expected.filter(|t| t.is_fixed_int()));
                let rt = self.expr(rhs, None);
                if lt == Type::Unknown || rt == Type::Unknown {
                    return self.set(e, Type::Unknown, None);
                }
                if !lt.is_integer() {
                    self.error(lhs.span, format!("cannot shift a value of type {lt}"));
                    return self.set(e, Type::Unknown, None);
                }
                match &rt {
                    Type::Bit(_) => {}
                    Type::InfInt
                        if self
                            .value(rhs)
                            .is_some_and(|v| matches!(v, Value::InfInt(i) if i >= 0)) => {}
                    _ => {
                        self.error(
                            rhs.span,
                            format!("a shift amount must be an unsigned bit<W> or a non-negative constant, not {rt}"),
                        );
                        return self.set(e, Type::Unknown, None);
                    }
                }
                if lt == Type::InfInt && self.value(lhs).is_none() {
                    self.error(lhs.span, "the left operand of a shift needs a width");
                    return self.set(e, Type::Unknown, None);
                }
                lt
            }
            Concat => {
                let lt = self.expr(lhs, None);
                let rt = self.expr(rhs, None);
                if lt == Type::Unknown || rt == Type::Unknown {
                    return self.set(e, Type::Unknown, None);
                }
                let (Some(lw), Some(rw)) = (fixed_width(&lt), fixed_width(&rt)) else {
                    self.error(
                        e.span,
                        format!("operator '++' needs operands with a width (bit<W> or int<W>), found {lt} and {rt}"),
                    );
                    return self.set(e, Type::Unknown, None);
                };
                if lw + rw > MAX_WIDTH {
                    self.error(
                        e.span,
                        format!(
                            "the result of '++' would be {} bits wide, more than {MAX_WIDTH}",
                            lw + rw
                        ),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                if matches!(lt, Type::Int(_)) {
                    Type::Int(lw + rw)
                } else {
                    Type::Bit(lw + rw)
                }
            }
            Add | Sub | Mul | Div | Mod | SatAdd | SatSub | BitAnd | BitOr | BitXor => {
                let (lt, rt) = self.unify_operands(lhs, rhs, expected);
                if lt == Type::Unknown || rt == Type::Unknown {
                    return self.set(e, Type::Unknown, None);
                }
                if lt != rt {
                    self.error(e.span, mismatch(sym, &lt, &rt));
                    return self.set(e, Type::Unknown, None);
                }
                if !lt.is_integer() {
                    self.error(
                        e.span,
                        format!("operator '{sym}' cannot be applied to {lt}"),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                if matches!(op, SatAdd | SatSub) && lt == Type::InfInt {
                    self.error(
                        e.span,
                        format!("operator '{sym}' needs operands with a width"),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                if matches!(op, Div | Mod) && matches!(lt, Type::Int(_)) {
                    self.error(
                        e.span,
                        format!("operator '{sym}' is not supported on int<W>"),
                    );
                    return self.set(e, Type::Unknown, None);
                }
                lt
            }
        };
        let v = match (self.value(lhs), self.value(rhs)) {
            (Some(a), Some(b)) => consteval::binary(op, &a, &b, &result),
            _ => None,
        };
        if matches!(op, Div | Mod) && self.value(rhs).and_then(|v| v.as_u128()) == Some(0) {
            self.error(rhs.span, "division by zero");
        }
        self.set(e, result, v)
    }

    /// Report a type mismatch for an assignment or argument.
    pub(super) fn check_assignable(
        &mut self,
        to: &Type,
        from: &Type,
        span: crate::front::ast::Span,
    ) {
        if to == from || *to == Type::Unknown || *from == Type::Unknown {
            return;
        }
        if *from == Type::InfInt && (to.is_fixed_int() || *to == Type::InfInt) {
            return;
        }
        let msg = if to.is_fixed_int() && from.is_fixed_int() {
            format!("width mismatch: expected {to}, found {from}")
        } else {
            format!("type mismatch: expected {to}, found {from}")
        };
        self.error(span, msg);
    }
}

fn fixed_width(t: &Type) -> Option<u32> {
    match t {
        Type::Bit(w) | Type::Int(w) => Some(*w),
        _ => None,
    }
}

fn mismatch(sym: &str, lt: &Type, rt: &Type) -> String {
    if lt.is_fixed_int() && rt.is_fixed_int() {
        format!("width mismatch: operator '{sym}' on {lt} and {rt} (cast one operand)")
    } else {
        format!("type mismatch: operator '{sym}' on {lt} and {rt}")
    }
}

fn cast_allowed(src: &Type, to: &Type) -> bool {
    match (src, to) {
        _ if src == to => true,
        (Type::Bit(_) | Type::Int(_) | Type::InfInt, Type::Bit(_) | Type::Int(_)) => true,
        (Type::Bit(1), Type::Bool) | (Type::Bool, Type::Bit(1)) => true,
        (Type::InfInt, Type::Bool) => true,
        (Type::SerEnum { repr, .. }, t) | (t, Type::SerEnum { repr, .. }) => {
            **repr == *t || *t == Type::InfInt || t.is_fixed_int()
        }
        _ => false,
    }
}
