//! Resolution of written types to semantic types (typedefs, widths), constants and enums.

use super::{Checker, Sym, TypeEntry};
use crate::front::ast::{ConstDecl, EnumDecl, Expr, Span, TypeRef};
use crate::front::checked::Value;
use crate::front::types::{Type, TypeDef};

/// The widest `bit<W>`/`int<W>` this target supports.
pub(crate) const MAX_WIDTH: u32 = 128;

impl Checker<'_> {
    /// Evaluate a width or size expression to a non-negative integer.
    pub(super) fn const_uint(&mut self, e: &Expr, what: &str) -> Option<u128> {
        let t = self.expr(e, None);
        if t == Type::Unknown {
            return None;
        }
        match self.const_values.get(&e.id).and_then(Value::as_u128) {
            Some(v) => Some(v),
            None => {
                self.error(
                    e.span,
                    format!("{what} must be a non-negative compile-time constant"),
                );
                None
            }
        }
    }

    fn width(&mut self, e: &Expr, kind: &str, span: Span) -> Option<u32> {
        let w = self.const_uint(e, &format!("the width of {kind}"))?;
        if w > u128::from(MAX_WIDTH) {
            self.error(
                span,
                format!(
                    "{kind}<{w}> is wider than {MAX_WIDTH} bits, the widest this target supports"
                ),
            );
            return None;
        }
        if w == 0 {
            self.error(span, format!("{kind}<0> is not supported"));
            return None;
        }
        Some(w as u32)
    }

    /// Resolve a written type. Reports unknown names and bad widths; returns
    /// [`Type::Unknown`] after an error.
    pub(super) fn resolve_type(&mut self, t: &TypeRef) -> Type {
        match t {
            TypeRef::Bool(_) => Type::Bool,
            TypeRef::Error(_) => Type::Error,
            TypeRef::Void(_) => Type::Void,
            TypeRef::String(_) => Type::String,
            TypeRef::MatchKind(_) => Type::MatchKind,
            TypeRef::InfInt(_) => Type::InfInt,
            TypeRef::DontCare(_) => Type::DontCare,
            TypeRef::Bit { width, span } => self
                .width(width, "bit", *span)
                .map(Type::Bit)
                .unwrap_or(Type::Unknown),
            TypeRef::Int { width, span } => self
                .width(width, "int", *span)
                .map(Type::Int)
                .unwrap_or(Type::Unknown),
            TypeRef::VarBit { span, .. } => {
                self.error(*span, "unsupported construct: varbit types");
                Type::Unknown
            }
            TypeRef::Tuple { elems, .. } => {
                Type::Tuple(elems.iter().map(|e| self.resolve_type(e)).collect())
            }
            TypeRef::Stack { elem, size, span } => {
                let et = self.resolve_type(elem);
                let n = self.const_uint(size, "the size of a header stack");
                match (&et, n) {
                    (Type::Unknown, _) | (_, None) => Type::Unknown,
                    (Type::Header(_), Some(n)) if n > 0 && n <= 1024 => Type::Stack {
                        elem: Box::new(et),
                        size: n as u32,
                    },
                    (Type::Header(_), Some(n)) => {
                        self.error(*span, format!("header stack size {n} is out of range"));
                        Type::Unknown
                    }
                    (other, _) => {
                        self.error(*span, format!("only headers can form a stack, not {other}"));
                        Type::Unknown
                    }
                }
            }
            TypeRef::Named { name, args } => {
                if self.type_vars.contains(&name.name) {
                    // A type variable of a generic extern: callers substitute it.
                    return Type::Unknown;
                }
                let Some(entry) = self.type_entries.get(&name.name).cloned() else {
                    self.error(name.span, format!("unknown type '{}'", name.name));
                    return Type::Unknown;
                };
                if !args.is_empty() && !matches!(entry, TypeEntry::Extern(_)) {
                    self.error(
                        name.span,
                        format!("type '{}' does not take type arguments", name.name),
                    );
                }
                match entry {
                    TypeEntry::Typedef(inner) => {
                        if self.typedef_stack.contains(&name.name) {
                            self.error(
                                name.span,
                                format!("typedef '{}' refers to itself", name.name),
                            );
                            return Type::Unknown;
                        }
                        if let Some(t) = self.typedef_cache.get(&name.name) {
                            return t.clone();
                        }
                        self.typedef_stack.push(name.name.clone());
                        let t = self.resolve_type(&inner);
                        self.typedef_stack.pop();
                        self.typedef_cache.insert(name.name.clone(), t.clone());
                        t
                    }
                    TypeEntry::Header => Type::Header(name.name.clone()),
                    TypeEntry::HeaderUnion => {
                        self.error(name.span, "unsupported construct: header_union");
                        Type::Unknown
                    }
                    TypeEntry::Struct => Type::Struct(name.name.clone()),
                    TypeEntry::Enum => match self.type_defs.get(&name.name) {
                        Some(TypeDef::SerEnum { repr, .. }) => Type::SerEnum {
                            name: name.name.clone(),
                            repr: Box::new(repr.clone()),
                        },
                        _ => Type::Enum(name.name.clone()),
                    },
                    TypeEntry::Extern(decl) => {
                        if args.len() != decl.type_params.len() {
                            self.error(
                                name.span,
                                format!(
                                    "extern '{}' takes {} type argument(s), {} given",
                                    name.name,
                                    decl.type_params.len(),
                                    args.len()
                                ),
                            );
                            return Type::Unknown;
                        }
                        let args: Vec<Type> = args.iter().map(|a| self.resolve_type(a)).collect();
                        if args.contains(&Type::Unknown) {
                            return Type::Unknown;
                        }
                        Type::Extern {
                            name: name.name.clone(),
                            args,
                        }
                    }
                    TypeEntry::Parser | TypeEntry::Control => Type::Block(name.name.clone()),
                    TypeEntry::ParserType(_) | TypeEntry::ControlType(_) => {
                        Type::Block(name.name.clone())
                    }
                    TypeEntry::Package(_) => Type::Package(name.name.clone()),
                }
            }
        }
    }

    /// `const T name = value;` (top level or local).
    pub(super) fn const_decl(&mut self, c: &ConstDecl) {
        let ty = self.resolve_type(&c.ty);
        let vt = self.expr(&c.value, Some(&ty));
        let value = self.const_values.get(&c.value.id).cloned();
        if vt != Type::Unknown && ty != Type::Unknown {
            if value.is_none() {
                self.error(
                    c.value.span,
                    format!(
                        "the value of constant '{}' is not a compile-time constant",
                        c.name
                    ),
                );
            }
            self.check_assignable(&ty, &vt, c.value.span);
        }
        self.decl_types.insert(c.id, ty.clone());
        self.declare(
            &c.name.name,
            c.name.span,
            Sym::Const {
                id: c.id,
                ty,
                value,
            },
        );
    }

    pub(super) fn enum_decl(&mut self, e: &EnumDecl) {
        let mut names: Vec<String> = Vec::new();
        for (m, _) in &e.members {
            if names.contains(&m.name) {
                self.error(m.span, format!("enum member '{}' declared twice", m.name));
            }
            names.push(m.name.clone());
        }
        match &e.repr {
            None => {
                if let Some((m, Some(_))) = e.members.iter().find(|(_, v)| v.is_some()) {
                    self.error(
                        m.span,
                        "enum members have values only in a serializable enum (enum bit<W> E)",
                    );
                }
                self.type_defs.insert(
                    e.name.name.clone(),
                    TypeDef::Enum {
                        members: names.clone(),
                    },
                );
            }
            Some(r) => {
                let repr = self.resolve_type(r);
                let mut members = Vec::new();
                for (m, v) in &e.members {
                    let Some(v) = v else {
                        self.error(
                            m.span,
                            format!("member '{}' of a serializable enum needs a value", m.name),
                        );
                        continue;
                    };
                    self.expr(v, Some(&repr));
                    match self.const_values.get(&v.id).and_then(Value::as_u128) {
                        Some(x) => members.push((m.name.clone(), x)),
                        None => self.error(v.span, "enum member value must be a constant"),
                    }
                }
                if repr.is_fixed_int() {
                    self.type_defs
                        .insert(e.name.name.clone(), TypeDef::SerEnum { repr, members });
                }
            }
        }
        self.enum_names.insert(e.name.name.clone(), names);
    }
}
