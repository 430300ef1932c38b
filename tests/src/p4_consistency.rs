//! Checks that a P4 program and the Rust wire format agree: the FMH header type's fields
//! (names, order, widths) and named constants (UDP port, message-type numbers, ...), read
//! from the program through the P4 engine's front end.

use flashmesh_p4::front::CheckedProgram;
use flashmesh_p4::front::ast::Decl;
use flashmesh_p4::front::checked::Value;
use flashmesh_p4::front::types::{Type, TypeDef};

/// The header type `name`'s fields as `(name, width in bits)`, in declaration order.
pub fn header_fields(p: &CheckedProgram, name: &str) -> Result<Vec<(String, u32)>, String> {
    match p.type_defs.get(name) {
        Some(TypeDef::Header { fields, .. }) => fields
            .iter()
            .map(|f| match f.ty {
                Type::Bit(w) => Ok((f.name.clone(), w)),
                ref other => Err(format!("{name}.{}: not a bit<W> field ({other:?})", f.name)),
            })
            .collect(),
        Some(_) => Err(format!("{name} is not a header type")),
        None => Err(format!("the program declares no header type {name}")),
    }
}

/// The value of the top-level `const` called `name`.
pub fn const_value(p: &CheckedProgram, name: &str) -> Result<u128, String> {
    let decl = p
        .program
        .decls
        .iter()
        .find_map(|d| match d {
            Decl::Const(c) if c.name.name == name => Some(c),
            _ => None,
        })
        .ok_or_else(|| format!("the program declares no const {name}"))?;
    match p.const_values.get(&decl.value.id) {
        Some(Value::Bits { bits, .. }) => Ok(*bits),
        Some(Value::InfInt(v)) => u128::try_from(*v).map_err(|_| format!("{name} is negative")),
        other => Err(format!("const {name} has no numeric value ({other:?})")),
    }
}

/// Every disagreement between the program and the expected header fields and constants.
pub fn mismatches(
    p: &CheckedProgram,
    header: &str,
    want_fields: &[(&str, usize)],
    want_consts: &[(String, u128)],
) -> Vec<String> {
    let mut out = Vec::new();
    match header_fields(p, header) {
        Err(e) => out.push(e),
        Ok(got) => {
            if got.len() != want_fields.len() {
                out.push(format!(
                    "{header} has {} fields, the wire format {}",
                    got.len(),
                    want_fields.len()
                ));
            }
            for (i, ((gn, gw), (wn, ww))) in got.iter().zip(want_fields).enumerate() {
                if gn != wn || *gw as usize != *ww {
                    out.push(format!(
                        "{header} field {i}: P4 has {gn}: bit<{gw}>, the wire format {wn}: {ww} bits"
                    ));
                }
            }
        }
    }
    for (name, want) in want_consts {
        match const_value(p, name) {
            Ok(v) if v == *want => {}
            Ok(v) => out.push(format!("const {name}: P4 has {v}, Rust has {want}")),
            Err(e) => out.push(e),
        }
    }
    out
}
