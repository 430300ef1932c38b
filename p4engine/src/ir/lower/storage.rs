//! Storage allocation: a slot for every scalar, an instance (and its field slots) for every
//! header, header stacks, `standard_metadata` and the controller (`packet_in` / `packet_out`)
//! headers.

use crate::front::ast::Span;
use crate::front::types::{Type, TypeDef};

use super::super::{
    ControllerHeader, FieldSlot, HeaderId, HeaderInst, Slot, StackId, StackInst, StdMeta,
};
use super::{Loc, Lowerer, R, Ty};

impl<'c> Lowerer<'c> {
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

    pub(super) fn new_slot(&mut self) -> Slot {
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
            Type::Header(n) => Ok(Loc::Header(super::super::HeaderRef::Fixed(
                self.new_header(name.to_string(), n, span)?,
            ))),
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

    pub(super) fn std_meta(&mut self, sm: &Loc, span: Span) -> R<()> {
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

    pub(super) fn controller_headers(&mut self) {
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
}
