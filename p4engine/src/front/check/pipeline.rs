//! The package instantiation `V1Switch(P(), VC(), I(), E(), CC(), D()) main;`: each argument
//! must be a parser/control whose parameters match the role's declared signature, with the
//! header (H) and metadata (M) types the same across all roles.

use std::collections::HashMap;

use super::{Checker, Sym, TypeEntry};
use crate::front::ast::{Decl, ExprKind, InstanceDecl, Param, Program, TypeRef};
use crate::front::checked::Pipeline;
use crate::front::types::Type;

impl Checker<'_> {
    pub(super) fn package_instance(
        &mut self,
        program: &Program,
        i: &InstanceDecl,
    ) -> Option<Pipeline> {
        let ty = self.resolve_type(&i.ty);
        let pkg = match &ty {
            Type::Package(p) => p.clone(),
            Type::Unknown => return None,
            other => {
                self.error(
                    i.span,
                    format!(
                        "only the V1Switch package can be instantiated at top level, not {other}"
                    ),
                );
                return None;
            }
        };
        if pkg != "V1Switch" {
            self.error(
                i.span,
                format!("unsupported package '{pkg}' (this target runs V1Switch)"),
            );
            return None;
        }
        if i.name.name != "main" {
            self.error(i.name.span, "the V1Switch instance must be named 'main'");
        }
        self.decl_types.insert(i.id, ty.clone());
        self.declare(&i.name.name, i.name.span, Sym::Instance { id: i.id, ty });
        let Some(TypeEntry::Package(proto)) = self.type_entries.get(&pkg).cloned() else {
            return None;
        };
        if i.args.len() != proto.params.len() {
            self.error(
                i.span,
                format!(
                    "V1Switch takes {} arguments, {} given",
                    proto.params.len(),
                    i.args.len()
                ),
            );
            return None;
        }
        let mut names = Vec::new();
        let mut bound: HashMap<String, Type> = HashMap::new();
        let mut ok = true;
        for (p, a) in proto.params.iter().zip(&i.args) {
            let ExprKind::Call { callee, args, .. } = &a.kind else {
                self.error(
                    a.span,
                    format!(
                        "argument '{}' of V1Switch must be an instantiation such as MyParser()",
                        p.name
                    ),
                );
                ok = false;
                continue;
            };
            let ExprKind::Name(n) = &callee.kind else {
                self.error(a.span, "expected the name of a parser or control");
                ok = false;
                continue;
            };
            if !args.is_empty() {
                self.error(
                    a.span,
                    "unsupported construct: parser/control constructor arguments",
                );
            }
            // The role's type: e.g. `Parser<H, M>` with the package's type variables.
            let TypeRef::Named {
                name: role,
                args: role_args,
            } = &p.ty
            else {
                continue;
            };
            let role_params = match self.type_entries.get(&role.name).cloned() {
                Some(TypeEntry::ParserType(f)) | Some(TypeEntry::ControlType(f)) => f,
                _ => continue,
            };
            let decl_params: Option<(bool, Vec<Param>)> =
                program.decls.iter().find_map(|d| match d {
                    Decl::Parser(x) if x.name.name == n.name => Some((true, x.params.clone())),
                    Decl::Control(x) if x.name.name == n.name => Some((false, x.params.clone())),
                    _ => None,
                });
            let Some((is_parser, dparams)) = decl_params else {
                self.error(n.span, format!("unknown parser or control '{}'", n));
                ok = false;
                continue;
            };
            let want_parser = matches!(
                self.type_entries.get(&role.name),
                Some(TypeEntry::ParserType(_))
            );
            if is_parser != want_parser {
                let kind = if want_parser { "a parser" } else { "a control" };
                self.error(
                    n.span,
                    format!(
                        "argument '{}' of V1Switch ({}) must be {kind}",
                        p.name, role.name
                    ),
                );
                ok = false;
                continue;
            }
            self.types.insert(callee.id, Type::Block(n.name.clone()));
            self.types.insert(a.id, Type::Block(n.name.clone()));
            // Map the role's type parameters to the package's type variables.
            let var_of: HashMap<String, String> = role_params
                .type_params
                .iter()
                .zip(role_args)
                .filter_map(|(tp, ra)| match ra {
                    TypeRef::Named { name, .. } => Some((tp.name.clone(), name.name.clone())),
                    _ => None,
                })
                .collect();
            if dparams.len() != role_params.params.len() {
                self.error(
                    n.span,
                    format!(
                        "'{}' has {} parameter(s) but the V1Switch role {} needs {}",
                        n,
                        dparams.len(),
                        role.name,
                        role_params.params.len()
                    ),
                );
                ok = false;
                continue;
            }
            for (rp, dp) in role_params.params.iter().zip(&dparams) {
                if rp.direction != dp.direction {
                    self.error(
                        dp.span,
                        format!(
                            "parameter '{}' of '{}' must have direction {} for the V1Switch role {}",
                            dp.name,
                            n,
                            dir_name(rp.direction),
                            role.name
                        ),
                    );
                    ok = false;
                    continue;
                }
                let dt = self
                    .decl_types
                    .get(&dp.id)
                    .cloned()
                    .unwrap_or(Type::Unknown);
                let pkg_var = match &rp.ty {
                    TypeRef::Named { name, args } if args.is_empty() => {
                        var_of.get(&name.name).cloned()
                    }
                    _ => None,
                };
                match pkg_var {
                    Some(v) => {
                        if !matches!(dt, Type::Struct(_) | Type::Header(_) | Type::Unknown) {
                            self.error(
                                dp.ty.span(),
                                format!(
                                    "parameter '{}' of '{}' must be a struct, not {dt}",
                                    dp.name, n
                                ),
                            );
                            ok = false;
                        }
                        match bound.get(&v) {
                            Some(prev) if *prev != dt && dt != Type::Unknown => {
                                self.error(
                                    dp.ty.span(),
                                    format!("parameter '{}' of '{}' has type {dt} but other V1Switch blocks use {prev}", dp.name, n),
                                );
                                ok = false;
                            }
                            _ => {
                                bound.insert(v, dt);
                            }
                        }
                    }
                    None => {
                        let rt = self.resolve_type(&rp.ty);
                        if rt != dt && dt != Type::Unknown {
                            self.error(
                                dp.ty.span(),
                                format!(
                                    "parameter '{}' of '{}' must have type {rt}, not {dt}",
                                    dp.name, n
                                ),
                            );
                            ok = false;
                        }
                    }
                }
            }
            names.push(n.name.clone());
        }
        if !ok || names.len() != 6 {
            return None;
        }
        Some(Pipeline {
            parser: names[0].clone(),
            verify_checksum: names[1].clone(),
            ingress: names[2].clone(),
            egress: names[3].clone(),
            compute_checksum: names[4].clone(),
            deparser: names[5].clone(),
        })
    }
}

fn dir_name(d: crate::front::ast::Direction) -> &'static str {
    match d {
        crate::front::ast::Direction::None => "(none)",
        crate::front::ast::Direction::In => "in",
        crate::front::ast::Direction::Out => "out",
        crate::front::ast::Direction::InOut => "inout",
    }
}
