//! Calls: direct action calls, extern functions, extern methods (with type-argument
//! inference), header validity methods and `table.apply()`.

use std::collections::HashMap;

use super::{Checker, Ctx, Sym, TypeEntry, UNSUPPORTED_EXTERN_FUNCTIONS};
use crate::front::ast::{Direction, Expr, ExprKind, FunctionProto, Span, TypeRef};
use crate::front::checked::{Builtin, Resolved};
use crate::front::types::Type;

/// The declared type of a parameter after substitution.
enum ParamTy {
    Known(Type),
    /// An unbound type variable (bound from the argument).
    Var(String),
}

impl Checker<'_> {
    pub(super) fn call_expr(
        &mut self,
        e: &Expr,
        callee: &Expr,
        type_args: &[TypeRef],
        args: &[Expr],
        _expected: Option<&crate::front::types::Type>,
    ) -> Type {
        let ty = match &callee.kind {
            ExprKind::Member { base, member } => {
                self.method_call(e, callee, base, &member.name, type_args, args)
            }
            ExprKind::Name(n) => self.function_call(e, callee, &n.name, type_args, args),
            _ => {
                self.error(callee.span, "this expression cannot be called");
                Type::Unknown
            }
        };
        self.set(e, ty, None)
    }

    fn no_args(&mut self, e: &Expr, args: &[Expr], what: &str) {
        if !args.is_empty() {
            self.error(e.span, format!("{what} takes no arguments"));
        }
    }

    fn method_call(
        &mut self,
        e: &Expr,
        callee: &Expr,
        base: &Expr,
        method: &str,
        type_args: &[TypeRef],
        args: &[Expr],
    ) -> Type {
        let bt = self.expr(base, None);
        self.types.insert(callee.id, Type::Void);
        match &bt {
            Type::Header(_) => {
                let (b, ret) = match method {
                    "isValid" => (Builtin::IsValid, Type::Bool),
                    "setValid" => (Builtin::SetValid, Type::Void),
                    "setInvalid" => (Builtin::SetInvalid, Type::Void),
                    _ => {
                        self.error(
                            callee.span,
                            format!(
                                "headers have no method '{method}' (isValid, setValid, setInvalid)"
                            ),
                        );
                        return Type::Unknown;
                    }
                };
                if b != Builtin::IsValid {
                    self.check_writable(base);
                }
                self.no_args(e, args, method);
                self.refs.insert(callee.id, Resolved::Builtin(b));
                ret
            }
            Type::Stack { .. } => {
                if matches!(method, "push_front" | "pop_front") {
                    self.error(
                        callee.span,
                        format!("unsupported construct: header stack {method}"),
                    );
                } else {
                    self.error(
                        callee.span,
                        format!("a header stack has no method '{method}'"),
                    );
                }
                Type::Unknown
            }
            Type::Table(name) => {
                if method != "apply" {
                    self.error(
                        callee.span,
                        format!("tables have no method '{method}' (use apply)"),
                    );
                    return Type::Unknown;
                }
                if self.ctx != Ctx::ControlApply {
                    self.error(
                        e.span,
                        "tables can only be applied in a control's apply block",
                    );
                }
                self.no_args(e, args, "apply");
                let Some(Resolved::Table(id)) = self.refs.get(&base.id).cloned() else {
                    return Type::Unknown;
                };
                self.refs
                    .insert(callee.id, Resolved::Builtin(Builtin::TableApply(id)));
                Type::ApplyResult(name.clone())
            }
            Type::Extern { name, args: targs } => {
                let Some(TypeEntry::Extern(decl)) = self.type_entries.get(name).cloned() else {
                    return Type::Unknown;
                };
                let Some(proto) = decl
                    .methods
                    .iter()
                    .find(|m| {
                        m.ret.is_some() && m.name.name == method && m.params.len() == args.len()
                    })
                    .or_else(|| {
                        decl.methods
                            .iter()
                            .find(|m| m.ret.is_some() && m.name.name == method)
                    })
                    .cloned()
                else {
                    self.error(
                        callee.span,
                        format!("extern '{name}' has no method '{method}'"),
                    );
                    return Type::Unknown;
                };
                let subst: HashMap<String, Type> = decl
                    .type_params
                    .iter()
                    .map(|t| t.name.clone())
                    .zip(targs.iter().cloned())
                    .collect();
                let mut tvars: Vec<String> =
                    decl.type_params.iter().map(|t| t.name.clone()).collect();
                tvars.extend(proto.type_params.iter().map(|t| t.name.clone()));
                self.refs.insert(
                    callee.id,
                    Resolved::ExternMethod {
                        extern_name: name.clone(),
                        method: method.to_string(),
                    },
                );
                let ret = self.generic_call(e.span, &proto, subst, &tvars, type_args, args);
                self.extern_method_rules(e, name, method, args, &ret);
                ret
            }
            Type::Unknown => Type::Unknown,
            other => {
                self.error(
                    callee.span,
                    format!("a value of type {other} has no method '{method}'"),
                );
                Type::Unknown
            }
        }
    }

    /// Restrictions that the generic signature cannot express.
    fn extern_method_rules(
        &mut self,
        e: &Expr,
        ext: &str,
        method: &str,
        args: &[Expr],
        ret: &Type,
    ) {
        match (ext, method) {
            ("packet_in", "extract") | ("packet_out", "emit") => {
                if self.ctx != Ctx::Parser && method == "extract" {
                    self.error(e.span, "extract can only be called in a parser");
                }
                if let Some(a) = args.first() {
                    let t = self.types.get(&a.id).cloned().unwrap_or(Type::Unknown);
                    let ok = match method {
                        "extract" => matches!(t, Type::Header(_) | Type::Unknown),
                        _ => matches!(
                            t,
                            Type::Header(_) | Type::Stack { .. } | Type::Struct(_) | Type::Unknown
                        ),
                    };
                    if !ok {
                        self.error(a.span, format!("{method} needs a header, not {t}"));
                    }
                }
            }
            ("packet_in", "lookahead")
                if !matches!(
                    ret,
                    Type::Bit(_) | Type::Int(_) | Type::Header(_) | Type::Unknown
                ) =>
            {
                self.error(
                    e.span,
                    format!("lookahead<{ret}> is not supported (use bit<W> or a header type)"),
                );
            }
            ("packet_in", "length") => {
                self.error(e.span, "packet_in.length() is not supported by this target");
            }
            _ => {}
        }
    }

    fn function_call(
        &mut self,
        e: &Expr,
        callee: &Expr,
        name: &str,
        type_args: &[TypeRef],
        args: &[Expr],
    ) -> Type {
        match self.lookup(name).cloned() {
            Some(Sym::Action { id }) => {
                self.refs.insert(callee.id, Resolved::Action(id));
                self.types.insert(callee.id, Type::Action);
                if self.ctx == Ctx::Parser {
                    self.error(e.span, "actions cannot be called in a parser");
                }
                if !type_args.is_empty() {
                    self.error(e.span, "actions take no type arguments");
                }
                let Some(info) = self.actions.get(&id).cloned() else {
                    return Type::Void;
                };
                if info.params.len() != args.len() {
                    self.error(
                        e.span,
                        format!(
                            "action '{}' expects {} argument(s), {} given",
                            info.name,
                            info.params.len(),
                            args.len()
                        ),
                    );
                    return Type::Void;
                }
                for ((_, pname, dir, pty), a) in info.params.iter().zip(args) {
                    let at = self.expr(a, Some(pty));
                    self.check_arg(pname, pty, &at, a.span);
                    if matches!(dir, Direction::Out | Direction::InOut) {
                        self.check_writable(a);
                    }
                }
                Type::Void
            }
            Some(_) => {
                self.error(
                    callee.span,
                    format!("'{name}' is not an action or function"),
                );
                Type::Unknown
            }
            None => {
                let Some(proto) = self.extern_fns.get(name).cloned() else {
                    if matches!(
                        self.type_entries.get(name),
                        Some(TypeEntry::Parser | TypeEntry::Control)
                    ) {
                        self.error(
                            callee.span,
                            format!(
                                "'{name}' can only be instantiated in the package instantiation"
                            ),
                        );
                    } else {
                        self.error(callee.span, format!("unknown function or action '{name}'"));
                    }
                    return Type::Unknown;
                };
                self.types.insert(callee.id, Type::Void);
                self.refs
                    .insert(callee.id, Resolved::ExternFunction(name.to_string()));
                if UNSUPPORTED_EXTERN_FUNCTIONS.contains(&name) {
                    self.error(
                        callee.span,
                        format!("'{name}' is not supported by this target"),
                    );
                    return Type::Void;
                }
                if self.ctx == Ctx::Parser && name != "verify" {
                    self.error(
                        callee.span,
                        format!("'{name}' cannot be called in a parser"),
                    );
                }
                if self.ctx != Ctx::Parser && name == "verify" {
                    self.error(callee.span, "verify can only be called in a parser");
                }
                let tvars: Vec<String> = proto.type_params.iter().map(|t| t.name.clone()).collect();
                let ret =
                    self.generic_call(e.span, &proto, HashMap::new(), &tvars, type_args, args);
                if name == "digest"
                    && let Some(data) = args.get(1)
                {
                    let t = self.types.get(&data.id).cloned().unwrap_or(Type::Unknown);
                    if !matches!(t, Type::Struct(_) | Type::Unknown) {
                        self.error(
                            data.span,
                            format!("digest data must be a struct, not {t}: write digest<my_struct_t>(receiver, {{ ... }})"),
                        );
                    }
                }
                ret
            }
        }
    }

    fn check_arg(&mut self, pname: &str, pty: &Type, at: &Type, span: Span) {
        if *pty == *at || *pty == Type::Unknown || *at == Type::Unknown || *at == Type::DontCare {
            return;
        }
        if *at == Type::InfInt && pty.is_fixed_int() {
            return;
        }
        let what = if pty.is_fixed_int() && at.is_fixed_int() {
            "width mismatch"
        } else {
            "type mismatch"
        };
        self.error(
            span,
            format!("{what} for argument '{pname}': expected {pty}, found {at}"),
        );
    }

    fn param_ty(
        &mut self,
        t: &TypeRef,
        subst: &HashMap<String, Type>,
        tvars: &[String],
    ) -> ParamTy {
        if let TypeRef::Named { name, args } = t
            && args.is_empty()
            && tvars.contains(&name.name)
        {
            return match subst.get(&name.name) {
                Some(t) => ParamTy::Known(t.clone()),
                None => ParamTy::Var(name.name.clone()),
            };
        }
        ParamTy::Known(self.resolve_type(t))
    }

    /// Check a call of a (possibly generic) prototype and return its result type.
    pub(super) fn generic_call(
        &mut self,
        span: Span,
        proto: &FunctionProto,
        mut subst: HashMap<String, Type>,
        tvars: &[String],
        type_args: &[TypeRef],
        args: &[Expr],
    ) -> Type {
        let fname = proto.name.name.clone();
        if !type_args.is_empty() {
            if type_args.len() != proto.type_params.len() {
                self.error(
                    span,
                    format!(
                        "'{fname}' takes {} type argument(s), {} given",
                        proto.type_params.len(),
                        type_args.len()
                    ),
                );
            } else {
                for (p, a) in proto.type_params.iter().zip(type_args) {
                    let t = self.resolve_type(a);
                    subst.insert(p.name.clone(), t);
                }
            }
        }
        if args.len() != proto.params.len() {
            self.error(
                span,
                format!(
                    "'{fname}' expects {} argument(s), {} given",
                    proto.params.len(),
                    args.len()
                ),
            );
            for a in args {
                self.expr(a, None);
            }
        } else {
            for (p, a) in proto.params.iter().zip(args) {
                match self.param_ty(&p.ty, &subst, tvars) {
                    ParamTy::Known(pt) => {
                        let at = self.expr(a, Some(&pt));
                        self.check_arg(&p.name.name, &pt, &at, a.span);
                    }
                    ParamTy::Var(v) => {
                        let at = self.expr(a, None);
                        if at == Type::InfInt {
                            self.error(
                                a.span,
                                format!(
                                    "cannot infer the width of argument '{}' of '{fname}': write a width-annotated literal such as 32w0",
                                    p.name
                                ),
                            );
                        }
                        subst.insert(v, at);
                    }
                }
                if matches!(p.direction, Direction::Out | Direction::InOut)
                    && !matches!(a.kind, ExprKind::DontCare)
                {
                    self.check_writable(a);
                }
                if matches!(a.kind, ExprKind::DontCare) && p.direction != Direction::Out {
                    self.error(a.span, "'_' can only be passed to an out parameter");
                }
            }
        }
        match &proto.ret {
            None => Type::Void,
            Some(r) => match self.param_ty(r, &subst, tvars) {
                ParamTy::Known(t) => t,
                ParamTy::Var(v) => {
                    self.error(
                        span,
                        format!("cannot infer type argument '{v}' of '{fname}': give it explicitly (e.g. {fname}<bit<16>>())"),
                    );
                    Type::Unknown
                }
            },
        }
    }
}
