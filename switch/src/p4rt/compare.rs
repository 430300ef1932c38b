//! Semantic comparison of two P4Infos: the one a controller pushes must describe the
//! program the switch compiled (same ids and names of tables, actions, match fields,
//! parameters, externs and controller headers). Annotations, docs and ordering do not
//! matter.

use std::collections::BTreeMap;

use flashmesh_proto::p4::config::v1::{P4Info, Preamble};

/// A flat description: one key per object or member, one value describing it.
fn facts(info: &P4Info) -> BTreeMap<String, String> {
    fn pre(kind: &str, p: Option<&Preamble>) -> (String, String) {
        let p = p.cloned().unwrap_or_default();
        (format!("{kind} {} (id {})", p.name, p.id), String::new())
    }
    let mut f = BTreeMap::new();
    for t in &info.tables {
        let (k, _) = pre("table", t.preamble.as_ref());
        for m in &t.match_fields {
            let kind = match &m.r#match {
                Some(flashmesh_proto::p4::config::v1::match_field::Match::MatchType(t)) => *t,
                _ => 0,
            };
            f.insert(
                format!("{k}: match field {} (id {})", m.name, m.id),
                format!("bitwidth {} match type {}", m.bitwidth, kind),
            );
        }
        for a in &t.action_refs {
            f.insert(
                format!("{k}: action ref {}", a.id),
                format!("scope {}", a.scope),
            );
        }
        let mut resources = t.direct_resource_ids.clone();
        resources.sort();
        f.insert(
            k,
            format!(
                "const default action {} direct resources {resources:?} const {}",
                t.const_default_action_id, t.is_const_table
            ),
        );
    }
    for a in &info.actions {
        let (k, _) = pre("action", a.preamble.as_ref());
        for p in &a.params {
            f.insert(
                format!("{k}: param {} (id {})", p.name, p.id),
                format!("bitwidth {}", p.bitwidth),
            );
        }
        f.insert(k, String::new());
    }
    for c in &info.counters {
        let (k, _) = pre("counter", c.preamble.as_ref());
        f.insert(k, format!("size {}", c.size));
    }
    for c in &info.direct_counters {
        let (k, _) = pre("direct counter", c.preamble.as_ref());
        f.insert(k, format!("table {}", c.direct_table_id));
    }
    for m in &info.meters {
        let (k, _) = pre("meter", m.preamble.as_ref());
        f.insert(k, format!("size {}", m.size));
    }
    for m in &info.direct_meters {
        let (k, _) = pre("direct meter", m.preamble.as_ref());
        f.insert(k, format!("table {}", m.direct_table_id));
    }
    for r in &info.registers {
        let (k, _) = pre("register", r.preamble.as_ref());
        f.insert(k, format!("size {}", r.size));
    }
    for d in &info.digests {
        let (k, _) = pre("digest", d.preamble.as_ref());
        f.insert(k, String::new());
    }
    for c in &info.controller_packet_metadata {
        let (k, _) = pre("controller header", c.preamble.as_ref());
        for m in &c.metadata {
            f.insert(
                format!("{k}: field {} (id {})", m.name, m.id),
                format!("bitwidth {}", m.bitwidth),
            );
        }
        f.insert(k, String::new());
    }
    f
}

/// The differences between the P4Info a client sent and the program's, in words;
/// empty when they describe the same program.
pub fn differences(sent: &P4Info, program: &P4Info) -> Vec<String> {
    let (a, b) = (facts(sent), facts(program));
    let mut out = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            None => out.push(format!("missing {k}")),
            Some(w) if w != v => out.push(format!("{k}: sent {w}, program has {v}")),
            Some(_) => {}
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        out.push(format!("not in the program: {k}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Option<P4Info> {
        let path = format!(
            "{}/../../shared/bmv2-reference/{name}.p4info.txtpb",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).ok()?;
        Some(flashmesh_proto::p4info_from_text(&text).unwrap())
    }

    #[test]
    fn same_p4info_has_no_differences_and_changes_are_named() {
        let Some(info) = load("tables") else {
            println!("skipped: reference corpus not present");
            return;
        };
        assert!(differences(&info, &info).is_empty());

        let mut changed = info.clone();
        changed.tables[0].preamble.as_mut().unwrap().id ^= 1;
        let d = differences(&changed, &info);
        assert!(d.iter().any(|s| s.starts_with("missing table")), "{d:?}");

        let mut changed = info.clone();
        changed.actions[0].params.clear();
        if !info.actions[0].params.is_empty() {
            assert!(!differences(&changed, &info).is_empty());
        }

        // Annotations and order do not matter.
        let mut reordered = info.clone();
        reordered.tables.reverse();
        reordered.actions.reverse();
        assert!(differences(&reordered, &info).is_empty());

        let Some(other) = load("cpu") else { return };
        assert!(!differences(&other, &info).is_empty());
    }
}
