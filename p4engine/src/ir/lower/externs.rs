//! Extern instances: registers, counters, direct counters, meters and direct meters declared
//! in a control or parser, and the digest types that `digest` calls register.

use crate::front::ast;
use crate::front::types::Type;

use super::super::{CounterDecl, CounterUnit, DigestDecl, MeterDecl, RegisterDecl};
use super::{Inst, Lowerer, R};

impl<'c> Lowerer<'c> {
    pub(super) fn lower_instance(&mut self, i: &'c ast::InstanceDecl) -> R<()> {
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
