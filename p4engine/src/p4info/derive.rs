//! Derivation of the P4Info message from a checked program, following p4c 1.2.4.8's
//! P4Runtime serializer for v1model.

use std::collections::{BTreeMap, HashMap, HashSet};

use flashmesh_proto::p4::config::v1 as pi;

use super::ids::{IdAllocator, prefix};
use super::names::{aliases, annotation_text, expr_text, preamble_annotations, qualified};
use crate::front::ast::{
    ActionDecl, Annotation, ControlDecl, Decl, ExprKind, InstanceDecl, Local, NodeId, StructDecl,
    TableDecl, find_annotation,
};
use crate::front::checked::{CheckedProgram, Resolved, Value};
use crate::front::types::{Type, TypeDef};
use crate::front::walk;

/// p4c's table size when the program gives none.
pub const DEFAULT_TABLE_SIZE: i64 = 1024;

struct ActionEnt<'a> {
    decl: &'a ActionDecl,
    name: String,
}

struct TableEnt<'a> {
    decl: &'a TableDecl,
    name: String,
    control: &'a ControlDecl,
}

struct InstEnt<'a> {
    decl: &'a InstanceDecl,
    name: String,
    kind: String,
    control: &'a ControlDecl,
}

/// Entities in the order p4c emits them.
#[derive(Default)]
struct Collected<'a> {
    actions: Vec<ActionEnt<'a>>,
    tables: Vec<TableEnt<'a>>,
    instances: Vec<InstEnt<'a>>,
    digests: Vec<String>,
    controller_headers: Vec<(String, &'a StructDecl)>,
    extern_function_calls: bool,
}

fn hidden(a: &[Annotation]) -> bool {
    find_annotation(a, "hidden").is_some()
}

fn id_annotation(a: &[Annotation]) -> Option<u128> {
    find_annotation(a, "id").and_then(|x| x.int_arg)
}

/// The controls of the pipeline in V1Switch order (each once).
fn pipeline_controls(c: &CheckedProgram) -> Vec<&ControlDecl> {
    let p = &c.pipeline;
    let mut out: Vec<&ControlDecl> = Vec::new();
    for name in [
        &p.verify_checksum,
        &p.ingress,
        &p.egress,
        &p.compute_checksum,
        &p.deparser,
    ] {
        if out.iter().any(|x| x.name.name == *name) {
            continue;
        }
        if let Some(ctl) = c.program.decls.iter().find_map(|d| match d {
            Decl::Control(x) if x.name.name == *name => Some(x),
            _ => None,
        }) {
            out.push(ctl);
        }
    }
    out
}

fn collect(c: &CheckedProgram) -> Collected<'_> {
    let mut col = Collected::default();
    // Actions that anything refers to (tables, entries, direct calls): the others are
    // removed by p4c's front end before P4Info is generated.
    let referenced: HashSet<NodeId> = c
        .refs
        .values()
        .filter_map(|r| match r {
            Resolved::Action(id) => Some(*id),
            _ => None,
        })
        .collect();
    let top_actions: Vec<&ActionDecl> = c
        .program
        .decls
        .iter()
        .filter_map(|d| match d {
            Decl::Action(a) => Some(a),
            _ => None,
        })
        .collect();
    let controls = pipeline_controls(c);
    for ctl in &controls {
        let scope = Some(ctl.name.name.as_str());
        // Actions p4c lists: those of the control's (visible) tables. Directly called
        // actions are inlined by p4c's front end and do not appear on their own.
        let mut in_tables: Vec<NodeId> = Vec::new();
        for l in &ctl.locals {
            if let Local::Table(t) = l
                && !hidden(&t.annotations)
            {
                for a in &t.actions {
                    if let Some(Resolved::Action(id)) = c.refs.get(&a.id)
                        && !in_tables.contains(id)
                    {
                        in_tables.push(*id);
                    }
                }
            }
        }
        // Top-level actions (NoAction) are copied into the control before its own actions.
        for id in &in_tables {
            if let Some(a) = top_actions.iter().find(|a| a.id == *id)
                && !hidden(&a.annotations)
                && !col.actions.iter().any(|x| x.decl.id == a.id)
            {
                col.actions.push(ActionEnt {
                    decl: a,
                    name: qualified(&a.annotations, &a.name.name, None),
                });
            }
        }
        for l in &ctl.locals {
            match l {
                Local::Action(a) if in_tables.contains(&a.id) && !hidden(&a.annotations) => {
                    col.actions.push(ActionEnt {
                        decl: a,
                        name: qualified(&a.annotations, &a.name.name, scope),
                    });
                }
                Local::Table(t) if !hidden(&t.annotations) => col.tables.push(TableEnt {
                    decl: t,
                    name: qualified(&t.annotations, &t.name.name, scope),
                    control: ctl,
                }),
                Local::Instance(i) if !hidden(&i.annotations) => {
                    if let Some(Type::Extern { name, .. }) = c.decl_types.get(&i.id) {
                        col.instances.push(InstEnt {
                            decl: i,
                            name: qualified(&i.annotations, &i.name.name, scope),
                            kind: name.clone(),
                            control: ctl,
                        });
                    }
                }
                _ => {}
            }
        }
        // Extern function calls (digest, and whether any is called at all) in the apply
        // block and in the actions that survive p4c's front end (referenced ones).
        let mut visit = |e: &crate::front::ast::Expr| {
            let ExprKind::Call { callee, args, .. } = &e.kind else {
                return;
            };
            let Some(Resolved::ExternFunction(f)) = c.refs.get(&callee.id) else {
                return;
            };
            col.extern_function_calls = true;
            if f == "digest"
                && let Some(Type::Struct(s)) = args.get(1).map(|a| c.type_of(a.id))
                && !col.digests.contains(s)
            {
                col.digests.push(s.clone());
            }
        };
        for l in &ctl.locals {
            if let Local::Action(a) = l
                && referenced.contains(&a.id)
            {
                walk::walk_action(a, &mut visit);
            }
        }
        walk::walk_block(&ctl.apply, &mut visit);
    }
    for d in &c.program.decls {
        if let Decl::Header(h) = d
            && let Some(kind) = find_annotation(&h.annotations, "controller_header")
                .and_then(|a| a.string_arg.clone())
        {
            col.controller_headers.push((kind, h));
        }
    }
    col
}

/// A preamble; `@brief`/`@description` become its documentation, other annotations text.
fn preamble(id: u32, name: &str, alias: &str, annotations: &[Annotation]) -> pi::Preamble {
    let text = |n: &str| find_annotation(annotations, n).and_then(|a| a.string_arg.clone());
    let (brief, description) = (text("brief"), text("description"));
    let doc = (brief.is_some() || description.is_some()).then(|| pi::Documentation {
        brief: brief.unwrap_or_default(),
        description: description.unwrap_or_default(),
    });
    pi::Preamble {
        id,
        name: name.to_string(),
        alias: alias.to_string(),
        annotations: preamble_annotations(annotations),
        doc,
        ..Default::default()
    }
}

fn const_u(c: &CheckedProgram, e: Option<&crate::front::ast::Expr>) -> Option<u128> {
    e.and_then(|e| c.const_values.get(&e.id))
        .and_then(Value::as_u128)
}

fn enum_member(c: &CheckedProgram, e: Option<&crate::front::ast::Expr>) -> Option<String> {
    match e.and_then(|e| c.const_values.get(&e.id)) {
        Some(Value::Enum { member, .. }) => Some(member.clone()),
        _ => None,
    }
}

fn bitstring(t: &Type) -> Option<pi::P4DataTypeSpec> {
    use pi::p4_bitstring_like_type_spec::TypeSpec as B;
    use pi::p4_data_type_spec::TypeSpec as D;
    let spec = match t {
        Type::Bit(w) => D::Bitstring(pi::P4BitstringLikeTypeSpec {
            type_spec: Some(B::Bit(pi::P4BitTypeSpec {
                bitwidth: *w as i32,
            })),
            ..Default::default()
        }),
        Type::Int(w) => D::Bitstring(pi::P4BitstringLikeTypeSpec {
            type_spec: Some(B::Int(pi::P4IntTypeSpec {
                bitwidth: *w as i32,
            })),
            ..Default::default()
        }),
        Type::Bool => D::Bool(pi::P4BoolType {}),
        _ => return None,
    };
    Some(pi::P4DataTypeSpec {
        type_spec: Some(spec),
    })
}

fn counter_unit(m: Option<String>) -> i32 {
    match m.as_deref() {
        Some("packets") => pi::counter_spec::Unit::Packets as i32,
        Some("bytes") => pi::counter_spec::Unit::Bytes as i32,
        Some("packets_and_bytes") => pi::counter_spec::Unit::Both as i32,
        _ => pi::counter_spec::Unit::Unspecified as i32,
    }
}

fn meter_unit(m: Option<String>) -> i32 {
    match m.as_deref() {
        Some("packets") => pi::meter_spec::Unit::Packets as i32,
        Some("bytes") => pi::meter_spec::Unit::Bytes as i32,
        _ => pi::meter_spec::Unit::Unspecified as i32,
    }
}

/// Derive the P4Info of a checked program.
pub fn derive(c: &CheckedProgram) -> pi::P4Info {
    let col = collect(c);
    // Ids.
    let mut alloc = IdAllocator::default();
    for a in &col.actions {
        alloc.add(prefix::ACTION, &a.name, id_annotation(&a.decl.annotations));
    }
    for t in &col.tables {
        alloc.add(prefix::TABLE, &t.name, id_annotation(&t.decl.annotations));
    }
    for i in &col.instances {
        let p = match i.kind.as_str() {
            "counter" => prefix::COUNTER,
            "direct_counter" => prefix::DIRECT_COUNTER,
            "meter" => prefix::METER,
            "direct_meter" => prefix::DIRECT_METER,
            "register" => prefix::REGISTER,
            _ => continue,
        };
        alloc.add(p, &i.name, id_annotation(&i.decl.annotations));
    }
    for d in &col.digests {
        alloc.add(prefix::DIGEST, d, None);
    }
    // p4c hashes the header type's name (`packet_in_t`) but names the entry by the
    // annotation's argument (`packet_in`).
    for (_, h) in &col.controller_headers {
        alloc.add(
            prefix::CONTROLLER_HEADER,
            &h.name.name,
            id_annotation(&h.annotations),
        );
    }
    let ids = alloc.assign();
    let id = |p: u32, n: &str| ids.get(&(p, n.to_string())).copied().unwrap_or(0);
    let kind_aliases = |p: u32| {
        let names: Vec<String> = if p == prefix::CONTROLLER_HEADER {
            col.controller_headers
                .iter()
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            ids.keys()
                .filter(|(q, _)| *q == p)
                .map(|(_, n)| n.clone())
                .collect()
        };
        aliases(&names)
    };
    let alias_of: BTreeMap<u32, HashMap<String, String>> = [
        prefix::ACTION,
        prefix::TABLE,
        prefix::COUNTER,
        prefix::DIRECT_COUNTER,
        prefix::METER,
        prefix::DIRECT_METER,
        prefix::REGISTER,
        prefix::DIGEST,
        prefix::CONTROLLER_HEADER,
    ]
    .into_iter()
    .map(|p| (p, kind_aliases(p)))
    .collect();
    let alias = |p: u32, n: &str| {
        alias_of[&p]
            .get(n)
            .cloned()
            .unwrap_or_else(|| n.to_string())
    };
    let action_name: HashMap<NodeId, String> = col
        .actions
        .iter()
        .map(|a| (a.decl.id, a.name.clone()))
        .collect();

    let mut info = pi::P4Info {
        pkg_info: Some(pi::PkgInfo {
            arch: "v1model".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    };

    // Tables.
    for t in &col.tables {
        let d = t.decl;
        let mut tbl = pi::Table {
            preamble: Some(preamble(
                id(prefix::TABLE, &t.name),
                &t.name,
                &alias(prefix::TABLE, &t.name),
                &d.annotations,
            )),
            ..Default::default()
        };
        for (i, k) in d.key.iter().enumerate() {
            let name = find_annotation(&k.annotations, "name")
                .and_then(|a| a.string_arg.clone())
                .unwrap_or_else(|| expr_text(&k.expr));
            let mt = match k.match_kind.name.as_str() {
                "exact" => pi::match_field::MatchType::Exact,
                "lpm" => pi::match_field::MatchType::Lpm,
                "ternary" => pi::match_field::MatchType::Ternary,
                "range" => pi::match_field::MatchType::Range,
                "optional" => pi::match_field::MatchType::Optional,
                _ => pi::match_field::MatchType::Unspecified,
            };
            tbl.match_fields.push(pi::MatchField {
                id: id_annotation(&k.annotations)
                    .map(|v| v as u32)
                    .unwrap_or(i as u32 + 1),
                name,
                annotations: preamble_annotations(&k.annotations),
                bitwidth: c.type_of(k.expr.id).bit_width().unwrap_or(0) as i32,
                r#match: Some(pi::match_field::Match::MatchType(mt as i32)),
                ..Default::default()
            });
        }
        for a in &d.actions {
            let Some(Resolved::Action(aid)) = c.refs.get(&a.id) else {
                continue;
            };
            let Some(an) = action_name.get(aid) else {
                continue;
            };
            let scope = if find_annotation(&a.annotations, "tableonly").is_some() {
                pi::action_ref::Scope::TableOnly
            } else if find_annotation(&a.annotations, "defaultonly").is_some() {
                pi::action_ref::Scope::DefaultOnly
            } else {
                pi::action_ref::Scope::TableAndDefault
            };
            tbl.action_refs.push(pi::ActionRef {
                id: id(prefix::ACTION, an),
                scope: scope as i32,
                annotations: a
                    .annotations
                    .iter()
                    .filter(|x| !matches!(x.name.as_str(), "name" | "id"))
                    .map(annotation_text)
                    .collect(),
                ..Default::default()
            });
        }
        if let Some(da) = &d.default_action
            && da.is_const
            && let Some(Resolved::Action(aid)) = c.refs.get(&da.action.id)
            && let Some(an) = action_name.get(aid)
        {
            tbl.const_default_action_id = id(prefix::ACTION, an);
        }
        for o in &d.others {
            let ExprKind::Name(n) = &o.value.kind else {
                if o.name.name == "support_timeout"
                    && c.const_values.get(&o.value.id) == Some(&Value::Bool(true))
                {
                    tbl.idle_timeout_behavior =
                        pi::table::IdleTimeoutBehavior::NotifyControl as i32;
                }
                continue;
            };
            if matches!(o.name.name.as_str(), "counters" | "meters")
                && let Some(inst) = col
                    .instances
                    .iter()
                    .find(|i| std::ptr::eq(i.control, t.control) && i.decl.name.name == n.name)
            {
                let p = if inst.kind == "direct_counter" {
                    prefix::DIRECT_COUNTER
                } else {
                    prefix::DIRECT_METER
                };
                tbl.direct_resource_ids.push(id(p, &inst.name));
            }
        }
        tbl.size = const_u(c, d.size.as_ref())
            .map(|v| v as i64)
            .unwrap_or(DEFAULT_TABLE_SIZE);
        if let Some(es) = &d.entries {
            tbl.is_const_table = es.is_const;
            tbl.has_initial_entries = true;
        }
        info.tables.push(tbl);
    }

    // Actions.
    for a in &col.actions {
        let mut act = pi::Action {
            preamble: Some(preamble(
                id(prefix::ACTION, &a.name),
                &a.name,
                &alias(prefix::ACTION, &a.name),
                &a.decl.annotations,
            )),
            ..Default::default()
        };
        let mut n = 0;
        for p in &a.decl.params {
            if p.direction != crate::front::ast::Direction::None {
                continue;
            }
            n += 1;
            act.params.push(pi::action::Param {
                id: id_annotation(&p.annotations).map(|v| v as u32).unwrap_or(n),
                name: find_annotation(&p.annotations, "name")
                    .and_then(|a| a.string_arg.clone())
                    .unwrap_or_else(|| p.name.name.clone()),
                annotations: preamble_annotations(&p.annotations),
                bitwidth: c
                    .decl_types
                    .get(&p.id)
                    .and_then(Type::bit_width)
                    .unwrap_or(0) as i32,
                ..Default::default()
            });
        }
        info.actions.push(act);
    }

    // Extern instances.
    for i in &col.instances {
        let args = &i.decl.args;
        let ann: &[Annotation] = &i.decl.annotations;
        let direct_table = || {
            col.tables.iter().find_map(|t| {
                let uses = t.decl.others.iter().any(|o| {
                    matches!(o.name.name.as_str(), "counters" | "meters")
                        && matches!(&o.value.kind, ExprKind::Name(n) if n.name == i.decl.name.name)
                });
                (uses && std::ptr::eq(t.control, i.control)).then(|| id(prefix::TABLE, &t.name))
            })
        };
        match i.kind.as_str() {
            "counter" => info.counters.push(pi::Counter {
                preamble: Some(preamble(
                    id(prefix::COUNTER, &i.name),
                    &i.name,
                    &alias(prefix::COUNTER, &i.name),
                    ann,
                )),
                spec: Some(pi::CounterSpec {
                    unit: counter_unit(enum_member(c, args.get(1))),
                }),
                size: const_u(c, args.first()).unwrap_or(0) as i64,
                ..Default::default()
            }),
            "direct_counter" => info.direct_counters.push(pi::DirectCounter {
                preamble: Some(preamble(
                    id(prefix::DIRECT_COUNTER, &i.name),
                    &i.name,
                    &alias(prefix::DIRECT_COUNTER, &i.name),
                    ann,
                )),
                spec: Some(pi::CounterSpec {
                    unit: counter_unit(enum_member(c, args.first())),
                }),
                direct_table_id: direct_table().unwrap_or(0),
            }),
            "meter" => info.meters.push(pi::Meter {
                preamble: Some(preamble(
                    id(prefix::METER, &i.name),
                    &i.name,
                    &alias(prefix::METER, &i.name),
                    ann,
                )),
                spec: Some(pi::MeterSpec {
                    unit: meter_unit(enum_member(c, args.get(1))),
                    ..Default::default()
                }),
                size: const_u(c, args.first()).unwrap_or(0) as i64,
                ..Default::default()
            }),
            "direct_meter" => info.direct_meters.push(pi::DirectMeter {
                preamble: Some(preamble(
                    id(prefix::DIRECT_METER, &i.name),
                    &i.name,
                    &alias(prefix::DIRECT_METER, &i.name),
                    ann,
                )),
                spec: Some(pi::MeterSpec {
                    unit: meter_unit(enum_member(c, args.first())),
                    ..Default::default()
                }),
                direct_table_id: direct_table().unwrap_or(0),
            }),
            "register" => {
                let elem = match c.decl_types.get(&i.decl.id) {
                    Some(Type::Extern { args, .. }) => args.first().cloned(),
                    _ => None,
                };
                info.registers.push(pi::Register {
                    preamble: Some(preamble(
                        id(prefix::REGISTER, &i.name),
                        &i.name,
                        &alias(prefix::REGISTER, &i.name),
                        ann,
                    )),
                    type_spec: elem.as_ref().and_then(bitstring),
                    size: const_u(c, args.first()).unwrap_or(0) as i32,
                    ..Default::default()
                });
            }
            _ => {}
        }
    }

    // Controller packet metadata.
    for (kind, h) in &col.controller_headers {
        let fields = match c.type_defs.get(&h.name.name) {
            Some(TypeDef::Header { fields, .. }) => fields.clone(),
            _ => Vec::new(),
        };
        // Control-plane names of the fields (`@name` overrides).
        let field_name = |n: usize, f: &crate::front::types::FieldDef| {
            h.fields
                .get(n)
                .and_then(|d| find_annotation(&d.annotations, "name"))
                .and_then(|a| a.string_arg.clone())
                .unwrap_or_else(|| f.name.clone())
        };
        info.controller_packet_metadata
            .push(pi::ControllerPacketMetadata {
                preamble: Some(preamble(
                    id(prefix::CONTROLLER_HEADER, &h.name.name),
                    kind,
                    &alias(prefix::CONTROLLER_HEADER, kind),
                    &h.annotations,
                )),
                metadata: fields
                    .iter()
                    .enumerate()
                    .map(|(n, f)| pi::controller_packet_metadata::Metadata {
                        id: n as u32 + 1,
                        name: field_name(n, f),
                        bitwidth: f.ty.bit_width().unwrap_or(0) as i32,
                        ..Default::default()
                    })
                    .collect(),
            });
    }

    // Digests and the type information they need.
    let mut type_info = pi::P4TypeInfo::default();
    for d in &col.digests {
        info.digests.push(pi::Digest {
            preamble: Some(preamble(
                id(prefix::DIGEST, d),
                d,
                &alias(prefix::DIGEST, d),
                &[],
            )),
            type_spec: Some(pi::P4DataTypeSpec {
                type_spec: Some(pi::p4_data_type_spec::TypeSpec::Struct(pi::P4NamedType {
                    name: d.clone(),
                })),
            }),
        });
        if let Some(TypeDef::Struct { fields }) = c.type_defs.get(d) {
            type_info.structs.insert(
                d.clone(),
                pi::P4StructTypeSpec {
                    members: fields
                        .iter()
                        .map(|f| pi::p4_struct_type_spec::Member {
                            name: f.name.clone(),
                            type_spec: bitstring(&f.ty),
                        })
                        .collect(),
                    ..Default::default()
                },
            );
        }
    }
    // p4c creates `type_info` whenever it serializes a table, an action parameter, a register,
    // a digest or a controller header field, or sees an extern function call in a control;
    // otherwise the field stays absent.
    let touched = !info.tables.is_empty()
        || info.actions.iter().any(|a| !a.params.is_empty())
        || !info.registers.is_empty()
        || !info.digests.is_empty()
        || info
            .controller_packet_metadata
            .iter()
            .any(|h| !h.metadata.is_empty())
        || col.extern_function_calls;
    if touched {
        info.type_info = Some(type_info);
    }
    info
}
